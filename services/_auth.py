"""Authentication and per-tenant limits, as one server interceptor.

Every RPC but health checking needs ``authorization: Bearer <key>``. The key's
tenant is bound for the call (services/_tenancy.py), and each tenant may hold
at most ``max_concurrent_calls_per_tenant`` calls at once. A streaming call checks
its key again, at most every ``KEY_RECHECK_SECONDS``, as its messages flow, so that
a revoked key stops the streams it opened (UNAUTHENTICATED).
"""

from __future__ import annotations

import collections
import threading
import time

import grpc

from braindecode.auth import KeyStore, create_key_command
from services._sync_handlers import guarded, handler_like
from services._tenancy import set_tenant

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
UNAUTHENTICATED = ("missing, unknown or revoked API key: pass one with --api-key or BRAINDECODE_API_KEY (sent as "
                   "'authorization: Bearer <key>'); create one on the server's machine with "
                   f"'{create_key_command(tenant='TENANT')}' (DATA_DIR: the server's --data-dir)")
KEY_RECHECK_SECONDS = 2.0
"""Most seconds a streaming call goes on with a key that was not checked again."""


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

    @staticmethod
    def _key(metadata) -> str:
        for key, value in metadata or ():
            if key == "authorization" and value.startswith("Bearer "):
                return value[len("Bearer "):].strip()
        return ""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        key = self._key(details.invocation_metadata)
        tenant = self.keys.authenticate(key) if key else None
        if tenant is None:
            return _denial_handler(handler, grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED)
        return self._bind(handler, key, tenant)

    def _enter(self, tenant) -> bool:
        with self._lock:
            if self._active[tenant] >= self.max_calls:
                return False
            self._active[tenant] += 1
        return True

    def _leave(self, tenant) -> None:
        with self._lock:
            self._active[tenant] -= 1

    def _bind(self, handler, key: str, tenant: str):
        """``handler`` (async, see services/_sync_handlers.py) acting for ``tenant``, within its call limit.

        The tenant is set in the call's own context (each call runs in a task of its own), so it
        needs no reset: the context ends with the call. The slot is freed once ``handler`` has
        returned or, for a stream, has been closed: only then is its worker done. A stream's
        messages check ``key`` again once ``KEY_RECHECK_SECONDS`` have passed since the last check.
        """
        checked = time.monotonic()

        async def enter(context):
            if not self._enter(tenant):
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"tenant {tenant} already has {self.max_calls} calls in flight")
            set_tenant(tenant)

        async def recheck(context):
            nonlocal checked
            if time.monotonic() - checked < KEY_RECHECK_SECONDS:
                return
            checked = time.monotonic()
            if self.keys.authenticate(key) != tenant:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                    "the API key was revoked while this call was open")

        streaming = handler.request_streaming or handler.response_streaming
        return guarded(handler, enter, lambda: self._leave(tenant), recheck if streaming else None)
