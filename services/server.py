"""Server bootstrap: servicers, health, reflection, transport security and graceful shutdown.

The server is ``grpc.aio`` on an event loop of its own thread. The loop does the network work of
every call; methods written as plain functions run in a pool of ``max_workers`` threads
(services/_sync_handlers.py), and Decode and ModelInfer run on the loop itself (services/decoding.py,
services/inference.py). Beside the braindecode.v1 services it speaks the Open Inference Protocol
(``inference.GRPCInferenceService``) on the same port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import pathlib
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from braindecode.auth import KeyStore
from braindecode.config import Config
from braindecode.errors import InvalidArgument
from braindecode.store import Store
from braindecode.v1 import (
    activations_pb2,
    activations_pb2_grpc,
    comparison_pb2,
    comparison_pb2_grpc,
    decoding_pb2,
    decoding_pb2_grpc,
    encoding_pb2,
    encoding_pb2_grpc,
    inference_pb2,
    inference_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    reconstruction_pb2,
    reconstruction_pb2_grpc,
    recordings_pb2,
    recordings_pb2_grpc,
)
from services._auth import AuthInterceptor
from services._echo import add_echo_service
from services._errors import ErrorInterceptor
from services._reflection import enable_reflection
from services._sync_handlers import SyncHandlers
from services.activations import ActivationServicer
from services.comparison import ComparisonServicer
from services.decoding import DecodingServicer
from services.encoding import EncodingServicer
from services.inference import InferenceServicer
from services.jobs import JobServicer
from services.reconstruction import ReconstructionServicer
from services.recordings import RecordingServicer

log = logging.getLogger("braindecode.server")

#: (messages module, stubs module, servicer class) of every braindecode service; each module holds one service.
_SERVICES = (
    (recordings_pb2, recordings_pb2_grpc, RecordingServicer),
    (jobs_pb2, jobs_pb2_grpc, JobServicer),
    (decoding_pb2, decoding_pb2_grpc, DecodingServicer),
    (activations_pb2, activations_pb2_grpc, ActivationServicer),
    (encoding_pb2, encoding_pb2_grpc, EncodingServicer),
    (comparison_pb2, comparison_pb2_grpc, ComparisonServicer),
    (reconstruction_pb2, reconstruction_pb2_grpc, ReconstructionServicer),
)


def _add_services(server, store: Store, config: Config) -> tuple:
    """Add every braindecode service and the Open Inference Protocol's to ``server`` (on its event
    loop); (full names, servicers)."""
    names, servicers = [], []

    def add(messages, stubs, servicer) -> None:
        (service,) = messages.DESCRIPTOR.services_by_name.values()
        getattr(stubs, f"add_{service.name}Servicer_to_server")(servicer, server)
        names.append(service.full_name)
        servicers.append(servicer)

    for messages, stubs, servicer_class in _SERVICES:
        add(messages, stubs, servicer_class(store, config))
    # ModelInfer serves from the Decode servicer's models and batcher: their callers share batches.
    decoding = next(servicer for servicer in servicers if isinstance(servicer, DecodingServicer))
    add(inference_pb2, inference_pb2_grpc, InferenceServicer(store, config, decoding))
    return names, servicers


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _credentials(config: Config):
    if not config.tls_cert:
        return None
    read = lambda p: pathlib.Path(p).read_bytes()  # noqa: E731
    client_ca = read(config.tls_client_ca) if config.tls_client_ca else None
    return grpc.ssl_server_credentials([(read(config.tls_key), read(config.tls_cert))],
                                       root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


class BraindecodeServer:
    """A running braindecode gRPC server over one store.

    Parameters
    ----------
    config : Config
        ``port=0`` picks a free port; the bound one is in ``self.port``.
    store : Store, optional
        Default: one over ``config.data_dir``.
    echo : bool
        Also serve the echo service, the transport floor that benchmarks measure against
        (services/_echo.py); never on in ``serve``.
    """

    def __init__(self, config: Config, store: Store | None = None, echo: bool = False):
        if config.auth and config.max_concurrent_calls_per_tenant >= config.max_workers:
            raise InvalidArgument(
                f"max_concurrent_calls_per_tenant ({config.max_concurrent_calls_per_tenant}) must be "
                f"below max_workers ({config.max_workers}): one tenant could hold every worker "
                "thread and starve the other tenants and health checks")
        self.config = config
        self.store = store or Store(config.data_dir)
        self.keys = KeyStore(self.store.root)
        credentials = _credentials(config)
        if credentials is None and not _is_loopback(config.host):
            if not config.allow_insecure_remote:
                raise InvalidArgument(
                    f"refusing to serve plaintext on {config.host}: configure TLS "
                    "(tls_cert, tls_key) or set allow_insecure_remote explicitly")
            log.warning("SERVING WITHOUT TLS ON NON-LOOPBACK ADDRESS %s: traffic and API keys "
                        "travel in clear text", config.host)
        self._credentials = credentials
        self._echo = echo
        self._calls = futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="braindecode-call")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="braindecode-server", daemon=True)
        self._loop_thread.start()
        self._stopped = threading.Event()
        try:
            self.port = self._on_loop(self._build())
        except BaseException:
            self._close_loop()
            self._calls.shutdown(wait=False)
            raise

    def _on_loop(self, coroutine):
        """Run ``coroutine`` on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join()
        self._loop.close()

    async def _build(self) -> int:
        """Create the server on the loop, add every service, bind; returns the bound port."""
        config = self.config
        options = [("grpc.max_receive_message_length", config.max_message_bytes),
                   ("grpc.max_send_message_length", config.max_message_bytes)]
        # Outermost first: auth, then library errors -> statuses, then plain functions run in threads.
        interceptors = self._auth() + [ErrorInterceptor(), SyncHandlers(self._calls)]
        self.server = grpc.aio.server(options=options, interceptors=interceptors)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names, self._servicers = _add_services(self.server, self.store, config)
        if self._echo:
            add_echo_service(self.server)
        enable_reflection(self.server, names + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name],
                          pools=[inference_pb2.DESCRIPTOR.pool])
        address = f"{config.host}:{config.port}"
        if self._credentials is None:
            port = self.server.add_insecure_port(address)
        else:
            port = self.server.add_secure_port(address, self._credentials)
        if port == 0:
            raise InvalidArgument(f"cannot bind {address}")
        self._names = names
        return port

    def _auth(self) -> list:
        if not self.config.auth:
            log.warning("authentication is OFF: every caller acts as tenant 'default'")
            return []
        return [AuthInterceptor(self.keys, self.config.max_concurrent_calls_per_tenant)]

    def start(self) -> BraindecodeServer:
        self._on_loop(self.server.start())
        for servicer in self._servicers:  # background work (the job runner) starts with the server
            if hasattr(servicer, "start"):
                servicer.start()
        for name in [""] + self._names:
            self._on_loop(self.health.set(name, health_pb2.HealthCheckResponse.SERVING))
        log.info("braindecode serving on %s:%d (data in %s)", self.config.host, self.port, self.store.root)
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, let those in flight finish within ``grace`` seconds, then close."""
        self._on_loop(self.health.enter_graceful_shutdown())
        self._on_loop(self.server.stop(self.config.grace_seconds if grace is None else grace))
        self._calls.shutdown(wait=True)  # methods still running see their calls ended and return
        self._close_loop()
        for servicer in self._servicers:  # ... and stops before the store closes
            if hasattr(servicer, "close"):
                servicer.close()
        self.store.recover()  # uploads cut off by the shutdown leave nothing behind
        self.store.close()
        self.keys.close()
        self._stopped.set()

    def wait(self) -> None:
        """Block until :meth:`stop` has finished."""
        self._stopped.wait()


def serve(config: Config, echo: bool = False) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully; ``echo`` as in ``BraindecodeServer``
    (benchmarks only: ``braindecode serve`` never sets it)."""
    server = BraindecodeServer(config, echo=echo).start()
    print(f"braindecode listening on {config.host}:{server.port}", flush=True)
    done = threading.Event()

    def on_signal(signum, frame):
        log.info("signal %d: draining calls for up to %.1f s", signum, config.grace_seconds)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    done.wait()
    server.stop()
