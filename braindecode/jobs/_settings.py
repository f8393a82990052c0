"""How a job runner executes shards: executor, workers, retries, device."""

from __future__ import annotations

import dataclasses
import os

from braindecode.errors import InvalidArgument

EXECUTORS = ("local", "ray")
ENV_PREFIX = "BRAINDECODE_JOB_"


@dataclasses.dataclass
class JobSettings:
    """Settings of a job runner.

    Parameters
    ----------
    executor : {"local", "ray"}
        ``local``: a process pool on this machine; ``ray``: Ray Data over an actor pool.
    workers : int
        Shards run at once (processes, or Ray actors).
    max_attempts : int
        Failed attempts after which a shard is marked failed (a restart is not an attempt).
    threads_per_worker : int
        Torch threads of each worker (fixed, so that outputs are reproducible).
    device : str
        Torch device the decoder and the reconstruction model run on.
    num_gpus : float
        GPUs requested per Ray actor (``ray`` only).
    ray_address : str
        Address of an existing Ray cluster; empty starts a local instance with ``workers`` CPUs.
    max_jobs_per_tenant : int
        Queued plus running jobs a tenant may hold.
    reconstruction_model : str
        Diffusion model folder for ``reconstructions`` outputs; empty means the shipped model.
    """

    executor: str = "local"
    workers: int = 2
    max_attempts: int = 3
    threads_per_worker: int = 1
    device: str = "cpu"
    num_gpus: float = 0.0
    ray_address: str = ""
    max_jobs_per_tenant: int = 4
    reconstruction_model: str = ""

    def __post_init__(self):
        if self.executor not in EXECUTORS:
            raise InvalidArgument(f"job executor {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        for name in ("workers", "max_attempts", "threads_per_worker", "max_jobs_per_tenant"):
            if int(getattr(self, name)) < 1:
                raise InvalidArgument(f"job setting {name} must be at least 1, got {getattr(self, name)}")
        if self.num_gpus < 0:
            raise InvalidArgument(f"job setting num_gpus must be non-negative, got {self.num_gpus}")

    @classmethod
    def from_config(cls, config, **overrides) -> "JobSettings":
        """Settings for a server: ``ray_address`` and ``max_jobs_per_tenant`` from its ``Config``,
        the rest from ``BRAINDECODE_JOB_<NAME>`` environment variables, then ``overrides``."""
        values = {"ray_address": config.ray_address, "max_jobs_per_tenant": config.max_jobs_per_tenant}
        for field in dataclasses.fields(cls):
            env = os.environ.get(ENV_PREFIX + field.name.upper())
            if env is not None and field.name not in values:
                kind = type(field.default)
                try:
                    values[field.name] = kind(env)
                except ValueError:
                    raise InvalidArgument(
                        f"{ENV_PREFIX}{field.name.upper()}={env!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        return cls(**values)
