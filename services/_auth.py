"""Authentication and per-tenant limits, as one server interceptor.

Every RPC but health checking needs ``authorization: Bearer <key>``. The key's
tenant is bound for the call (services/_tenancy.py), and each tenant may hold
at most ``max_concurrent_calls_per_tenant`` calls at once.
"""

from __future__ import annotations

import collections
import threading

import grpc

from braindecode.auth import KeyStore
from services._tenancy import reset_tenant, set_tenant

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _denial_handler(handler, code, message):
    """A handler of the same streaming shape as ``handler`` that only aborts."""
    def abort(request_or_iterator, context):
        context.abort(code, message)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(abort)
    return grpc.unary_unary_rpc_method_handler(abort)


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, keys: KeyStore, max_concurrent_calls: int):
        self.keys, self.max_calls = keys, max_concurrent_calls
        self._active = collections.Counter()
        self._lock = threading.Lock()

    def _tenant(self, metadata) -> str | None:
        for key, value in metadata or ():
            if key == "authorization" and value.startswith("Bearer "):
                return self.keys.authenticate(value[len("Bearer "):].strip())
        return None

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        tenant = self._tenant(details.invocation_metadata)
        if tenant is None:
            return _denial_handler(handler, grpc.StatusCode.UNAUTHENTICATED,
                                   "missing, unknown or revoked API key (send 'authorization: Bearer <key>')")
        return self._bind(handler, tenant)

    def _enter(self, tenant, context) -> bool:
        with self._lock:
            if self._active[tenant] >= self.max_calls:
                return False
            self._active[tenant] += 1
        return True

    def _leave(self, tenant) -> None:
        with self._lock:
            self._active[tenant] -= 1

    def _bind(self, handler, tenant):
        too_many = (grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"tenant {tenant} already has {self.max_calls} calls in flight")

        if handler.response_streaming:
            def behaviour(request, context, inner):
                if not self._enter(tenant, context):
                    context.abort(*too_many)
                token = set_tenant(tenant)
                try:
                    yield from inner(request, context)
                finally:
                    reset_tenant(token)
                    self._leave(tenant)
        else:
            def behaviour(request, context, inner):
                if not self._enter(tenant, context):
                    context.abort(*too_many)
                token = set_tenant(tenant)
                try:
                    return inner(request, context)
                finally:
                    reset_tenant(token)
                    self._leave(tenant)

        kind = {(False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
                (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
                (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
                (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler)}
        name, make = kind[(handler.request_streaming, handler.response_streaming)]
        inner = getattr(handler, name)
        return make(lambda request, context: behaviour(request, context, inner),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer)
