"""Server and store configuration: defaults < YAML file < environment variables < explicit arguments."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import yaml

from braindecode.errors import InvalidArgument

ENV_PREFIX = "BRAINDECODE_"


@dataclasses.dataclass
class Config:
    """Settings of a braindecode server and its embedded store."""

    host: str = "127.0.0.1"
    port: int = 50051
    data_dir: str = str(pathlib.Path.home() / ".braindecode")
    max_upload_bytes: int = 2 * 1024**3
    max_message_bytes: int = 16 * 1024**2
    chunk_bytes: int = 2 * 1024**2
    max_workers: int = 32  # threads for calls of methods written as plain functions (all but Decode)
    # TLS (certificate paths); empty means plaintext, which binds loopback only.
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    allow_insecure_remote: bool = False
    # Authentication: every RPC but health needs a bearer API key (braindecode keys create).
    auth: bool = True
    max_concurrent_calls_per_tenant: int = 16  # below max_workers: no tenant holds every thread
    max_jobs_per_tenant: int = 4
    ray_address: str = ""
    grace_seconds: float = 10.0

    @classmethod
    def load(cls, path=None, **overrides) -> "Config":
        """Defaults, then the YAML file at ``path``, then ``BRAINDECODE_*`` variables, then ``overrides``."""
        values = {}
        if path:
            try:
                loaded = yaml.safe_load(pathlib.Path(path).read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise InvalidArgument(f"cannot read config file {path}: {exc}") from None
            if not isinstance(loaded, dict):
                raise InvalidArgument(f"config file {path} must hold a mapping")
            values.update(loaded)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name in fields:
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise InvalidArgument(f"unknown config keys: {', '.join(unknown)}")
        return cls(**{k: _coerce(fields[k].type, v, k) for k, v in values.items()})


def _coerce(kind, value, name):
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "bool" and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        return {"int": int, "float": float, "bool": bool, "str": str}[kind](value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"config {name}: {value!r} is not a valid {kind}") from None
