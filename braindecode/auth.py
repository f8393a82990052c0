"""API keys: bearer tokens bound to a tenant (a lab or project), stored hashed.

A key reads ``bd_<key id>_<secret>``. Only sha256(secret) is stored; the key id
finds the row, and the secret is compared in constant time.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import pathlib
import re
import secrets
import shlex
import threading

from braindecode._io import connect_private, private_dir
from braindecode.errors import InvalidArgument, NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
    created TEXT NOT NULL, revoked TEXT);
"""
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def create_key_command(data_dir=None, tenant: str = "default") -> str:
    """The command line that creates an API key for ``tenant`` in the store at ``data_dir`` (without
    one, a placeholder for the server's ``--data-dir``)."""
    folder = "DATA_DIR" if data_dir is None else shlex.quote(str(data_dir))
    return f"braindecode keys create --tenant {tenant} --data-dir {folder}"


@dataclasses.dataclass
class ApiKey:
    key_id: str
    tenant: str
    name: str
    created: str
    revoked: str | None


class KeyStore:
    """API keys kept in ``<data_dir>/keys.sqlite``."""

    def __init__(self, data_dir):
        root = private_dir(pathlib.Path(data_dir).expanduser())
        self._lock = threading.Lock()
        self._db = connect_private(root / "keys.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, tenant: str, name: str = "") -> tuple:
        """(the full key, to show once; its ApiKey record)."""
        if not _TENANT.match(tenant or ""):
            raise InvalidArgument(f"tenant {tenant!r} must be 1-64 letters, digits, '_', '.' or '-'")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("INSERT INTO api_keys VALUES (?,?,?,?,?,NULL)",
                             (key_id, tenant, name, hashlib.sha256(secret.encode()).hexdigest(), created))
        return f"bd_{key_id}_{secret}", ApiKey(key_id, tenant, name, created, None)

    def list(self, tenant: str | None = None) -> list:
        query, args = "SELECT key_id, tenant, name, created, revoked FROM api_keys", ()
        if tenant:
            query, args = query + " WHERE tenant=?", (tenant,)
        with self._lock:
            return [ApiKey(*row) for row in self._db.execute(query + " ORDER BY created", args)]

    def revoke(self, key_id: str) -> None:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            cursor = self._db.execute("UPDATE api_keys SET revoked=? WHERE key_id=? AND revoked IS NULL",
                                      (now, key_id))
        if cursor.rowcount == 0:
            raise NotFound(f"no active API key {key_id!r}")

    def authenticate(self, key: str) -> str | None:
        """The tenant a valid, unrevoked key belongs to, else None."""
        parts = (key or "").split("_", 2)
        if len(parts) != 3 or parts[0] != "bd":
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT tenant, secret_sha256 FROM api_keys WHERE key_id=? AND revoked IS NULL",
                (parts[1],)).fetchone()
        if row is None:
            return None
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        return row[0] if hmac.compare_digest(digest, row[1]) else None
