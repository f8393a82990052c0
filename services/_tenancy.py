"""The tenant a call acts for. The auth interceptor sets it per call; without auth it is 'default'."""

import contextvars

from braindecode.store import DEFAULT_TENANT

_tenant = contextvars.ContextVar("braindecode_tenant", default=DEFAULT_TENANT)


def current_tenant() -> str:
    """The tenant of the call being served."""
    return _tenant.get()


def set_tenant(tenant: str) -> None:
    """Bind the tenant for the rest of this call (the call's task has a context of its own)."""
    _tenant.set(tenant)
