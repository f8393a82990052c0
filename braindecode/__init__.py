"""braindecode: decode brain recordings into neural-network activation spaces."""

from braindecode.containers import ActivationSet, BrainResponses, Events
from braindecode.errors import (
    AlreadyExists,
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
    "AlreadyExists",
    "BraindecodeError",
    "DataLoss",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
]
