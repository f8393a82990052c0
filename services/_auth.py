"""Authentication and per-tenant limits, as one server interceptor.

Every RPC but health checking needs ``authorization: Bearer <key>``. The key's
tenant is bound for the call (services/_tenancy.py), and each tenant may hold
at most ``max_concurrent_calls_per_tenant`` calls at once.
"""

from __future__ import annotations

import collections
import threading

import grpc

from braindecode.auth import KeyStore, create_key_command
from services._sync_handlers import guarded, handler_like
from services._tenancy import set_tenant

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
UNAUTHENTICATED = ("missing, unknown or revoked API key: pass one with --api-key or BRAINDECODE_API_KEY (sent as "
                   "'authorization: Bearer <key>'); create one on the server's machine with "
                   f"'{create_key_command(tenant='TENANT')}' (DATA_DIR: the server's --data-dir)")


def _denial_handler(handler, code, message):
    """A handler of the same streaming shape as ``handler`` that only aborts."""
    async def abort(request_or_iterator, context):
        await context.abort(code, message)
    return handler_like(handler, abort)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, keys: KeyStore, max_concurrent_calls: int):
        self.keys, self.max_calls = keys, max_concurrent_calls
        self._active = collections.Counter()
        self._lock = threading.Lock()

    def _tenant(self, metadata) -> str | None:
        for key, value in metadata or ():
            if key == "authorization" and value.startswith("Bearer "):
                return self.keys.authenticate(value[len("Bearer "):].strip())
        return None

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        tenant = self._tenant(details.invocation_metadata)
        if tenant is None:
            return _denial_handler(handler, grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED)
        return self._bind(handler, tenant)

    def _enter(self, tenant) -> bool:
        with self._lock:
            if self._active[tenant] >= self.max_calls:
                return False
            self._active[tenant] += 1
        return True

    def _leave(self, tenant) -> None:
        with self._lock:
            self._active[tenant] -= 1

    def _bind(self, handler, tenant):
        """``handler`` (async, see services/_sync_handlers.py) acting for ``tenant``, within its call limit.

        The tenant is set in the call's own context (each call runs in a task of its own), so it
        needs no reset: the context ends with the call. The slot is freed once ``handler`` has
        returned or, for a stream, has been closed: only then is its worker done.
        """
        async def enter(context):
            if not self._enter(tenant):
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"tenant {tenant} already has {self.max_calls} calls in flight")
            set_tenant(tenant)

        return guarded(handler, enter, lambda: self._leave(tenant))
