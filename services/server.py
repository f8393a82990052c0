"""Server bootstrap: servicers, health, reflection, transport security and graceful shutdown."""

from __future__ import annotations

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
from braindecode.recordings import Store
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from braindecode.v1 import recordings_pb2, recordings_pb2_grpc
from braindecode.v1 import jobs_pb2, jobs_pb2_grpc
from braindecode.v1 import activations_pb2, activations_pb2_grpc
from braindecode.v1 import encoding_pb2, encoding_pb2_grpc
from braindecode.v1 import comparison_pb2, comparison_pb2_grpc
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc
from services._auth import AuthInterceptor
from services._reflection import enable_reflection
from services.decoding import DecodingServicer
from services.recordings import RecordingServicer
from services.jobs import JobServicer
from services.activations import ActivationServicer
from services.encoding import EncodingServicer
from services.comparison import ComparisonServicer
from services.reconstruction import ReconstructionServicer

log = logging.getLogger("braindecode.server")


def _services(store: Store, config: Config) -> list:
    """(full service name, add_to_server function, servicer) for every braindecode service."""
    return [
        (recordings_pb2.DESCRIPTOR.services_by_name["RecordingService"].full_name,
         recordings_pb2_grpc.add_RecordingServiceServicer_to_server, RecordingServicer(store, config)),
        (jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
         jobs_pb2_grpc.add_JobServiceServicer_to_server, JobServicer(store, config)),
        (decoding_pb2.DESCRIPTOR.services_by_name["DecodingService"].full_name,
         decoding_pb2_grpc.add_DecodingServiceServicer_to_server, DecodingServicer(store, config)),
        (activations_pb2.DESCRIPTOR.services_by_name["ActivationService"].full_name,
         activations_pb2_grpc.add_ActivationServiceServicer_to_server, ActivationServicer(store, config)),
        (encoding_pb2.DESCRIPTOR.services_by_name["EncodingService"].full_name,
         encoding_pb2_grpc.add_EncodingServiceServicer_to_server, EncodingServicer(store, config)),
        (comparison_pb2.DESCRIPTOR.services_by_name["ComparisonService"].full_name,
         comparison_pb2_grpc.add_ComparisonServiceServicer_to_server, ComparisonServicer(store, config)),
        (reconstruction_pb2.DESCRIPTOR.services_by_name["ReconstructionService"].full_name,
         reconstruction_pb2_grpc.add_ReconstructionServiceServicer_to_server, ReconstructionServicer(store, config)),
    ]


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
    """

    def __init__(self, config: Config, store: Store | None = None):
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
        options = [("grpc.max_receive_message_length", config.max_message_bytes),
                   ("grpc.max_send_message_length", config.max_message_bytes)]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.max_workers),
                                  options=options, interceptors=self._interceptors())
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names, self._servicers = [], []
        for name, add, servicer in _services(self.store, config):
            add(servicer, self.server)
            names.append(name)
            self._servicers.append(servicer)
        enable_reflection(self.server, names + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name])
        address = f"{config.host}:{config.port}"
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        if self.port == 0:
            raise InvalidArgument(f"cannot bind {address}")
        self._names = names

    def _interceptors(self) -> list:
        if not self.config.auth:
            log.warning("authentication is OFF: every caller acts as tenant 'default'")
            return []
        return [AuthInterceptor(self.keys, self.config.max_concurrent_calls_per_tenant)]

    def start(self) -> "BraindecodeServer":
        self.server.start()
        for servicer in self._servicers:  # background work (the job runner) starts with the server
            if hasattr(servicer, "start"):
                servicer.start()
        for name in [""] + self._names:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("braindecode serving on %s:%d (data in %s)", self.config.host, self.port, self.store.root)
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop taking calls, let those in flight finish within ``grace`` seconds, then close."""
        self.health.enter_graceful_shutdown()
        self.server.stop(self.config.grace_seconds if grace is None else grace).wait()
        for servicer in self._servicers:  # ... and stops before the store closes
            if hasattr(servicer, "close"):
                servicer.close()
        self.store.recover()  # uploads cut off by the shutdown leave nothing behind
        self.store.close()
        self.keys.close()

    def wait(self) -> None:
        self.server.wait_for_termination()


def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    server = BraindecodeServer(config).start()
    print(f"braindecode listening on {config.host}:{server.port}", flush=True)
    done = threading.Event()

    def on_signal(signum, frame):
        log.info("signal %d: draining calls for up to %.1f s", signum, config.grace_seconds)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    done.wait()
    server.stop()
