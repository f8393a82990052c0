"""One configuration for the server, its batch jobs and reconstruction.

Values come from, later ones winning: the defaults below, a YAML file, ``BRAINDECODE_*``
environment variables and explicit arguments. The server's own settings sit at the top of the
file; ``jobs`` and ``reconstruction`` are sections::

    port: 50051
    data_dir: /srv/braindecode
    jobs:
      executor: ray
      workers: 8
    reconstruction:
      device: cuda

Every key has one environment variable: ``BRAINDECODE_<KEY>`` at the top,
``BRAINDECODE_JOB_<KEY>`` in ``jobs`` and ``BRAINDECODE_RECONSTRUCTION_<KEY>`` in
``reconstruction`` (``BRAINDECODE_JOB_WORKERS=8``). ``ray_address`` and ``max_jobs_per_tenant``
moved into ``jobs``; their former top-level keys and variables are still read.
:func:`config_reference` lists every key.
"""

from __future__ import annotations

import os
import pathlib
from typing import ClassVar, Literal

from pydantic import Field

from braindecode._schema import Checked, Problems, markdown_table, reference
from braindecode._yaml import read_yaml
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound, quoted

EXECUTORS = ("local", "ray")


class JobSettings(Checked):
    """How a job runner executes shards: executor, workers, retries, device."""

    env_prefix: ClassVar[str] = "BRAINDECODE_JOB_"

    executor: Literal[EXECUTORS] = "local"
    """``local``: a process pool on this machine; ``ray``: Ray Data over an actor pool."""
    workers: int = Field(2, ge=1)
    """Shards run at once (processes, or Ray actors)."""
    max_attempts: int = Field(3, ge=1)
    """Failed attempts after which a shard is marked failed (a restart is not an attempt)."""
    threads_per_worker: int = Field(1, ge=1)
    """Torch threads of each worker (fixed, so that outputs are reproducible)."""
    device: str = "cpu"
    """Torch device the decoder and the reconstruction model run on."""
    num_gpus: float = Field(0.0, ge=0)
    """GPUs requested per Ray actor (``ray`` only)."""
    ray_address: str = ""
    """Address of an existing Ray cluster; empty starts a local instance with ``workers`` CPUs."""
    max_jobs_per_tenant: int = Field(4, ge=1)
    """Queued plus running jobs a tenant may hold."""
    reconstruction_model: str = ""
    """Diffusion model folder for ``reconstructions`` outputs; empty means the shipped model."""


class ReconstructionSettings(Checked):
    """How a server reconstructs: its model, device and batch bounds."""

    env_prefix: ClassVar[str] = "BRAINDECODE_RECONSTRUCTION_"

    model: str = ""
    """Pipeline directory; empty means the shipped model."""
    device: str = "cpu"
    """Torch device of the pipeline and of the decoders ("cpu", "cuda[:N]")."""
    max_batch: int = Field(64, ge=1)
    """Most images generated together."""
    max_bytes: int = Field(0, ge=0)
    """Memory bound of one batch (see ``check_memory``); 0 means the free memory of a CUDA device and
    no bound on the CPU."""
    batch_window_ms: float = Field(20.0, ge=0)
    """How long the first of concurrent requests waits for others to join its batch."""

    @property
    def model_name(self) -> str:
        """The model directory's name (recorded in provenance)."""
        from braindecode.reconstruction import DEFAULT_MODEL_DIR

        return pathlib.Path(self.model or DEFAULT_MODEL_DIR).name

    def pipeline(self):
        """The pipeline on ``device``, loaded once; ``FailedPrecondition`` when no model is installed there."""
        from braindecode.reconstruction import load_pipeline

        try:
            return load_pipeline(self.model or None, self.device)
        except NotFound as exc:
            raise FailedPrecondition(f"the server's reconstruction model cannot be loaded: {exc}") from None


class Config(Checked):
    """Settings of a braindecode server and its embedded store, with its ``jobs`` and ``reconstruction``."""

    env_prefix: ClassVar[str] = "BRAINDECODE_"
    moved: ClassVar[dict] = {"ray_address": "jobs", "max_jobs_per_tenant": "jobs"}
    """Keys that moved from the top into a section: their former key and variable are still read."""

    host: str = "127.0.0.1"
    """Address to bind; plaintext (no TLS) binds loopback only unless ``allow_insecure_remote``."""
    port: int = Field(50051, ge=0, le=65535)
    """Port to bind; 0 picks a free one."""
    data_dir: str = str(pathlib.Path.home() / ".braindecode")
    """The store folder."""
    max_upload_bytes: int = Field(2 * 1024**3, ge=1)
    """Largest recording upload."""
    max_message_bytes: int = Field(16 * 1024**2, ge=1)
    """Largest gRPC message, sent or received."""
    chunk_bytes: int = Field(2 * 1024**2, ge=1)
    """Size of the chunks of streamed arrays."""
    max_workers: int = Field(32, ge=1)
    """Threads for calls of methods written as plain functions (all but Decode)."""
    tls_cert: str = ""
    """Server certificate (PEM path); empty serves plaintext."""
    tls_key: str = ""
    """Private key of ``tls_cert`` (PEM path)."""
    tls_client_ca: str = ""
    """CA that client certificates must chain to (PEM path); empty asks for none."""
    allow_insecure_remote: bool = False
    """Serve plaintext on a non-loopback address (traffic and API keys in clear text)."""
    auth: bool = True
    """Every RPC but health needs a bearer API key (``braindecode keys create``)."""
    max_concurrent_calls_per_tenant: int = Field(16, ge=1)
    """Calls one tenant may have running at once; below ``max_workers``, so no tenant holds every thread."""
    grace_seconds: float = Field(10.0, ge=0)
    """How long a shutdown lets the calls in flight finish."""
    jobs: JobSettings = Field(default_factory=JobSettings)
    """Batch jobs (``BRAINDECODE_JOB_<KEY>``)."""
    reconstruction: ReconstructionSettings = Field(default_factory=ReconstructionSettings)
    """Reconstruction (``BRAINDECODE_RECONSTRUCTION_<KEY>``)."""

    @classmethod
    def sections(cls) -> dict:
        """Section name -> its settings class."""
        return {name: field.annotation for name, field in cls.model_fields.items()
                if isinstance(field.annotation, type) and issubclass(field.annotation, Checked)}

    @classmethod
    def load(cls, path=None, **overrides) -> Config:
        """Defaults, then the YAML file at ``path``, then ``BRAINDECODE_*`` variables, then ``overrides``.

        Parameters
        ----------
        path : str or os.PathLike, optional
            A YAML config file.
        **overrides
            Top-level keys, and sections as dicts (``jobs={"workers": 1}``); None values are ignored.

        Raises
        ------
        InvalidArgument
            Unknown keys, or values of the wrong type or out of range (every one listed, with the
            file or environment variable it came from).
        """
        leaves = []
        if path:
            document = read_yaml(path, f"config file {path}") or {}
            if not isinstance(document, dict):
                raise InvalidArgument(f"config file {path} must hold a mapping")
            leaves += cls._leaves(document, str(path))
        leaves += cls._environment()
        leaves += cls._leaves(overrides, "")
        values, sources = {}, {}
        for key, value, source in leaves:
            if len(key) == 1:
                values[key[0]] = value
            elif isinstance(values.setdefault(key[0], {}), dict):  # else the section itself is reported
                values[key[0]][key[1]] = value
            sources[key] = source
        cls._check_keys(values)
        problems = Problems("config", "setting", source=lambda key: sources.get(key, ""))
        config = cls.collect(values, problems)
        problems.raise_if_any()
        return config

    @classmethod
    def _leaves(cls, layer: dict, source: str) -> list:
        """(key path, value, source) of each value a layer sets; former top-level keys first, so that
        a section's own key wins within the layer."""
        former, leaves = [], []
        for key, value in layer.items():
            if key in cls.moved:
                former.append(((cls.moved[key], key), value, source))
            elif key in cls.sections() and isinstance(value, dict):
                leaves += [((key, name), inner, source) for name, inner in value.items()]
            else:
                leaves.append(((key,), value, source))
        return [leaf for leaf in former + leaves if leaf[1] is not None]

    @classmethod
    def _environment(cls) -> list:
        """(key path, value, "NAME='value'") of each ``BRAINDECODE_*`` variable set for a key."""
        names = [((cls.moved[name], name), _variable(cls, name)) for name in cls.moved]
        names += [((name,), _variable(cls, name)) for name in cls.model_fields if name not in cls.sections()]
        for section, settings in cls.sections().items():
            names += [((section, name), _variable(settings, name)) for name in settings.model_fields]
        return [(key, os.environ[variable], f"{variable}={quoted(os.environ[variable])}")
                for key, variable in names if variable in os.environ]

    @classmethod
    def _check_keys(cls, values: dict) -> None:
        unknown = [str(key) for key in values if key not in cls.model_fields]
        for section, settings in cls.sections().items():
            if isinstance(values.get(section), dict):
                unknown += [f"{section}.{key}" for key in values[section] if key not in settings.model_fields]
        if unknown:
            raise InvalidArgument(f"unknown config keys: {', '.join(unknown)}")


def _variable(model, name: str) -> str:
    return model.env_prefix + name.upper()


def config_reference() -> str:
    """Every config key as a Markdown table: its environment variable, type, default and meaning."""
    rows = reference(Config, env=_variable)
    former = ", ".join(f"`{key}` (`{_variable(Config, key)}`) for `{section}.{key}`"
                       for key, section in Config.moved.items())
    return (markdown_table(("key", "environment variable", "value", "default", "description"), rows)
            + f"\nStill read: {former}.\n")
