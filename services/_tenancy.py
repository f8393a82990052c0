"""The tenant a call acts for. The auth interceptor sets it per call; without auth it is 'default'."""

import contextvars

from braindecode.recordings import DEFAULT_TENANT

_tenant = contextvars.ContextVar("braindecode_tenant", default=DEFAULT_TENANT)


def current_tenant() -> str:
    """The tenant of the call being served."""
    return _tenant.get()


def set_tenant(tenant: str):
    """Bind the tenant for the rest of this call; returns the token to reset it."""
    return _tenant.set(tenant)


def reset_tenant(token) -> None:
    _tenant.reset(token)
