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
      models:                         # served by name; "default" is the shipped model
        kandinsky: /models/kandinsky-2-2-decoder

Every key has one environment variable: ``BRAINDECODE_<KEY>`` at the top,
``BRAINDECODE_JOB_<KEY>`` in ``jobs`` and ``BRAINDECODE_RECONSTRUCTION_<KEY>`` in
``reconstruction`` (``BRAINDECODE_JOB_WORKERS=8``); the model mapping's variable holds
``name=directory`` pairs (``BRAINDECODE_RECONSTRUCTION_MODELS=kandinsky=/models/k22,unclip=/models/sd21``).
``ray_address`` and ``max_jobs_per_tenant`` moved into ``jobs``; their former top-level keys and variables
are still read.
:func:`config_reference` lists every key.
"""

from __future__ import annotations

import os
import pathlib
import threading
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, StrictStr

from braindecode._schema import Checked, Expect, Problems, markdown_table, reference
from braindecode._yaml import read_yaml
from braindecode.errors import BraindecodeError, FailedPrecondition, InvalidArgument, NotFound, quoted

EXECUTORS = ("local", "ray")
DEFAULT_RECONSTRUCTION_MODEL = "default"
"""The name the shipped reconstruction model is served under (unless ``reconstruction.models`` maps it)."""
ModelName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
                      Expect("a model name (at most 64 letters, digits, '.', '_' or '-')")]
"""The name of a served reconstruction model."""


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
    max_shards_per_tenant: int = Field(2048, ge=1)
    """Pending plus running shards a tenant's jobs may hold; a job that would pass it is refused. The
    workers take shards from the tenants in turn, so one tenant's long jobs do not hold back another's."""


_SERVED_PIPELINES: dict = {}
"""(directory, device) -> the loaded pipeline of a served reconstruction model (``ReconstructionSettings.pipeline``);
``braindecode.reconstruction.load_pipeline`` alone keeps only the last few."""
_LOADING = threading.Lock()


def _model_pairs(value):
    """A variable's ``name=directory,name=directory`` text as a dict; other values (and text that is not such
    pairs, each name once) as they are, for the type check to take or refuse."""
    if not isinstance(value, str):
        return value
    pairs = [item.partition("=") for item in value.split(",") if item.strip()]
    names = [name.strip() for name, _, _ in pairs]
    if any(not sep for _, sep, _ in pairs) or len(set(names)) != len(names):
        return value
    return {name: directory.strip() for name, (_, _, directory) in zip(names, pairs)}


ModelDirectories = Annotated[
    dict[ModelName, Annotated[StrictStr, Field(min_length=1)]],
    BeforeValidator(_model_pairs),
    Expect("a mapping of model names (at most 64 letters, digits, '.', '_' or '-') to directories; in a "
           "variable, name=directory pairs separated by commas, each name once"),
]


class ReconstructionSettings(Checked):
    """How a server reconstructs: its models by name, device and batch bounds."""

    env_prefix: ClassVar[str] = "BRAINDECODE_RECONSTRUCTION_"

    models: ModelDirectories = {}
    """Model name -> model directory of any supported family (``braindecode.reconstruction.FAMILIES``);
    ``default`` is the shipped model unless named here. Reconstruct calls and job specs name their model."""
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
    def directories(self) -> dict:
        """Model name -> directory of every served model, ``default`` first."""
        from braindecode.reconstruction import DEFAULT_MODEL_DIR

        return {DEFAULT_RECONSTRUCTION_MODEL: str(DEFAULT_MODEL_DIR)} | dict(self.models)

    def directory(self, name: str = DEFAULT_RECONSTRUCTION_MODEL) -> str:
        """The directory of model ``name``; ``NotFound`` listing the served names for any other."""
        directories = self.directories
        if name not in directories:
            raise NotFound(f"no reconstruction model {quoted(name)}; served models: {', '.join(directories)}")
        return directories[name]

    def pipeline(self, name: str = DEFAULT_RECONSTRUCTION_MODEL):
        """Model ``name``'s pipeline on ``device``, loaded on first use and held for the life of the process
        (calls that miss together load it once), so that a server keeps every model it serves.

        Raises ``NotFound`` for a name that is not served, ``FailedPrecondition`` when its directory holds
        no model, and the loader's ``InvalidArgument`` (an unsupported family, a missing or wrong part),
        each message naming the model.
        """
        from braindecode.reconstruction import load_pipeline

        key = (str(pathlib.Path(self.directory(name)).resolve()), self.device)
        if key in _SERVED_PIPELINES:
            return _SERVED_PIPELINES[key]
        with _LOADING:
            if key not in _SERVED_PIPELINES:
                try:
                    _SERVED_PIPELINES[key] = load_pipeline(*key)
                except NotFound as exc:
                    raise FailedPrecondition(f"reconstruction model {name!r} cannot be loaded: {exc}") from None
                except BraindecodeError as exc:
                    raise type(exc)(f"reconstruction model {name!r}: {exc}") from None
        return _SERVED_PIPELINES[key]

    def encoder_source(self, name: str = DEFAULT_RECONSTRUCTION_MODEL) -> str | None:
        """What ``braindecode.activations.load_model`` loads as model ``name``'s image encoder: a registry
        name, or a file or directory on this machine; None when the model names an encoder not held here
        (a published one, by its name). Raises as :meth:`pipeline` does."""
        from braindecode.activations import list_models

        source = self.pipeline(name).encoder["model"]
        if source in {card.name for card in list_models()} or pathlib.Path(source).exists():
            return source
        return None


class Config(Checked):
    """Settings of a braindecode server and its embedded store, with its ``jobs`` and ``reconstruction``."""

    env_prefix: ClassVar[str] = "BRAINDECODE_"
    moved: ClassVar[dict] = {"ray_address": "jobs", "max_jobs_per_tenant": "jobs"}
    """Keys that moved from the top into a section: their former key and variable are still read."""
    replaced: ClassVar[dict] = {
        ("reconstruction", "model"): "reconstruction.models, e.g. {default: DIRECTORY} "
                                     "(BRAINDECODE_RECONSTRUCTION_MODELS=default=DIRECTORY)",
        ("jobs", "reconstruction_model"): "reconstruction.models (BRAINDECODE_RECONSTRUCTION_MODELS), whose "
                                          "names a job spec's outputs.reconstructions.model takes",
    }
    """Keys that are no longer read, and what replaced them: their key or variable is refused, naming it."""

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
    max_request_bytes: int = Field(2 * 1024**3, ge=1)
    """Most bytes one call's reading of recordings, raw or preprocessed, may hold at once, estimated from
    their headers and the spec before anything is read (``braindecode.store.RequestLimits``)."""
    max_fit_bytes: int = Field(4 * 1024**3, ge=1)
    """Most bytes one decoder fit may hold (its ``fit_footprint``), checked before it allocates."""
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
        for (section, key), replacement in cls.replaced.items():
            variable = _variable(cls.sections()[section], key)
            if variable in os.environ:
                raise InvalidArgument(f"{variable} is not read: use {replacement}")
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
        replaced = {".".join(key): replacement for key, replacement in cls.replaced.items()}
        unknown = [f"{key} (replaced by {replaced[key]})" if key in replaced else key for key in unknown]
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
