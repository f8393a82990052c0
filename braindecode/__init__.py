"""braindecode: decode brain recordings into neural-network activation spaces."""

from braindecode.containers import ActivationSet, BrainResponses, Events
from braindecode.errors import (
    BraindecodeError,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)

__version__ = "0.1.0"

__all__ = [
    "ActivationSet",
    "BrainResponses",
    "Events",
    "BraindecodeError",
    "DataLoss",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
]
