"""How a server reconstructs: its model, device and batch bounds."""

from __future__ import annotations

import dataclasses
import os
import pathlib

from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound
from braindecode.reconstruction._reconstruct import DEFAULT_MODEL_DIR, load_pipeline

ENV_PREFIX = "BRAINDECODE_RECONSTRUCTION_"


@dataclasses.dataclass
class ReconstructionSettings:
    """How a server reconstructs.

    Parameters
    ----------
    model : str
        Pipeline directory; empty means the shipped model.
    device : str
        Torch device of the pipeline and of the decoders ("cpu", "cuda[:N]").
    max_batch : int
        Most images generated together.
    max_bytes : int
        Memory bound of one batch (see ``check_memory``); 0 means the free memory of a CUDA
        device and no bound on the CPU.
    batch_window_ms : float
        How long the first of concurrent requests waits for others to join its batch.
    """

    model: str = ""
    device: str = "cpu"
    max_batch: int = 64
    max_bytes: int = 0
    batch_window_ms: float = 20.0

    def __post_init__(self):
        for name in ("max_batch", "max_bytes", "batch_window_ms"):
            if getattr(self, name) < (1 if name == "max_batch" else 0):
                raise InvalidArgument(f"reconstruction setting {name} is out of range: {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, **overrides) -> "ReconstructionSettings":
        """Defaults, then ``BRAINDECODE_RECONSTRUCTION_<NAME>`` environment variables, then ``overrides``."""
        values = {}
        for field in dataclasses.fields(cls):
            env = os.environ.get(ENV_PREFIX + field.name.upper())
            if env is not None:
                kind = type(field.default)
                try:
                    values[field.name] = kind(env)
                except ValueError:
                    raise InvalidArgument(
                        f"{ENV_PREFIX}{field.name.upper()}={env!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def model_name(self) -> str:
        """The model directory's name (recorded in provenance)."""
        return pathlib.Path(self.model or DEFAULT_MODEL_DIR).name

    def pipeline(self):
        """The pipeline on ``device``, loaded once; ``FailedPrecondition`` when no model is installed there."""
        try:
            return load_pipeline(self.model or None, self.device)
        except NotFound as exc:
            raise FailedPrecondition(f"the server's reconstruction model cannot be loaded: {exc}") from None
