"""``Client``: one channel to a braindecode server, and a client per service on it."""

from __future__ import annotations

import os
import pathlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from braindecode.client._activations import ActivationsClient
from braindecode.client._artifacts import ArtifactsClient
from braindecode.client._base import CallOptions
from braindecode.client._comparison import ComparisonClient
from braindecode.client._decoding import DecodingClient
from braindecode.client._encoding import EncodingClient
from braindecode.client._export import ExportClient
from braindecode.client._jobs import JobsClient
from braindecode.client._reconstruction import ReconstructionClient
from braindecode.client._recordings import RecordingsClient
from braindecode.client._replies import from_message

DEFAULT_TARGET = "127.0.0.1:50051"
#: Where a Client (and so every CLI command) takes what it is not given.
ENVIRONMENT = {"target": "BRAINDECODE_SERVER", "api_key": "BRAINDECODE_API_KEY",
               "root_certificates": "BRAINDECODE_CLIENT_TLS_CA", "certificate_chain": "BRAINDECODE_CLIENT_TLS_CERT",
               "private_key": "BRAINDECODE_CLIENT_TLS_KEY"}


def _pem(value, name: str) -> bytes | None:
    """TLS material given as bytes, or else read from the file that the environment variable names."""
    if value is not None:
        return value
    path = os.environ.get(ENVIRONMENT[name])
    return pathlib.Path(path).expanduser().read_bytes() if path else None


class _Delegate:
    """A flat name of :class:`Client`, kept for the callers that use it: ``client.<name>`` is a service
    client's method."""

    def __init__(self, service: str, method: str):
        self.service, self.method = service, method
        self.__doc__ = f"Same as ``Client.{service}.{method}``."

    def __get__(self, client, owner=None):
        if client is None:
            return self
        return getattr(getattr(client, self.service), self.method)


class Client:
    """Connect to a braindecode server.

    Each service has its client on the shared channel: ``recordings``, ``activations``, ``encoding``,
    ``decoding``, ``comparison``, ``reconstruction``, ``jobs``, ``artifacts`` and ``export``.

    What is not given comes from the environment, as for the command line: the target from
    ``BRAINDECODE_SERVER``, the key from ``BRAINDECODE_API_KEY`` and the TLS files from
    ``BRAINDECODE_CLIENT_TLS_CA``, ``BRAINDECODE_CLIENT_TLS_CERT`` and ``BRAINDECODE_CLIENT_TLS_KEY``
    (paths of PEM files).

    Parameters
    ----------
    target : str, optional
        ``host:port`` of the server; default ``BRAINDECODE_SERVER``, else "127.0.0.1:50051".
    api_key : str, optional
        Bearer API key sent with every call; default ``BRAINDECODE_API_KEY``; "" sends none.
    root_certificates, certificate_chain, private_key : bytes, optional
        TLS trust roots and, for mutual TLS, the client's certificate and key (PEM). Any of them
        turns TLS on.
    timeout : float, optional
        Deadline in seconds of each call.
    max_message_bytes : int
        Largest message sent or received.

    Attributes
    ----------
    channel : grpc.Channel
    options : CallOptions
        The API key's metadata and the deadline, shared by every service client.
    recordings : RecordingsClient
    activations : ActivationsClient
    encoding : EncodingClient
    decoding : DecodingClient
    comparison : ComparisonClient
    reconstruction : ReconstructionClient
    jobs : JobsClient
    artifacts : ArtifactsClient
        Every stored result (and job output): list, get, download, delete.
    export : ExportClient
    target : str
        The server's address, as resolved.
    """

    def __init__(self, target: str | None = None, api_key: str | None = None,
                 root_certificates: bytes | None = None, certificate_chain: bytes | None = None,
                 private_key: bytes | None = None, timeout: float | None = None,
                 max_message_bytes: int = 64 * 1024 * 1024):
        self.target = target = target or os.environ.get(ENVIRONMENT["target"]) or DEFAULT_TARGET
        if api_key is None:
            api_key = os.environ.get(ENVIRONMENT["api_key"])
        root_certificates = _pem(root_certificates, "root_certificates")
        certificate_chain = _pem(certificate_chain, "certificate_chain")
        private_key = _pem(private_key, "private_key")
        channel_options = [("grpc.max_receive_message_length", max_message_bytes),
                           ("grpc.max_send_message_length", max_message_bytes)]
        if root_certificates or certificate_chain:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self.channel = grpc.secure_channel(target, credentials, options=channel_options)
        else:
            self.channel = grpc.insecure_channel(target, options=channel_options)
        self.options = CallOptions(metadata=(("authorization", f"Bearer {api_key}"),) if api_key else (),
                                   timeout=timeout)
        self.recordings = RecordingsClient(self.channel, self.options)
        self.activations = ActivationsClient(self.channel, self.options)
        self.encoding = EncodingClient(self.channel, self.options)
        self.decoding = DecodingClient(self.channel, self.options)
        self.comparison = ComparisonClient(self.channel, self.options)
        self.reconstruction = ReconstructionClient(self.channel, self.options)
        self.jobs = JobsClient(self.channel, self.options)
        self.artifacts = ArtifactsClient(self.channel, self.options)
        self.export = ExportClient(self.channel, self.options)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Close the channel (every service client's)."""
        self.channel.close()

    @property
    def metadata(self) -> tuple:
        """The metadata every call sends (the API key), for raw calls on a service client's ``stub``."""
        return self.options.metadata

    def health(self, service: str = "") -> str:
        """The server's standard health status, which needs no API key.

        Parameters
        ----------
        service : str, optional
            A service's full name, e.g. "braindecode.v1.RecordingService"; empty is the whole server.

        Returns
        -------
        str
            "SERVING", "NOT_SERVING" or "UNKNOWN".
        """
        reply = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.options.timeout)
        return from_message(reply).status

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the channel is connected.

        Parameters
        ----------
        timeout : float
            Seconds; ``grpc.FutureTimeoutError`` past them.
        """
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    # Flat names used by the README, the tests and existing lab scripts.
    upload = _Delegate("recordings", "upload")
    upload_bids = _Delegate("recordings", "upload_bids")
    set_events = _Delegate("recordings", "set_events")
    get = _Delegate("recordings", "get")
    list = _Delegate("recordings", "list")
    delete = _Delegate("recordings", "delete")
    stream_data = _Delegate("recordings", "data")
    list_models = _Delegate("activations", "list_models")
    list_layers = _Delegate("activations", "list_layers")
    upload_stimuli = _Delegate("activations", "upload_stimuli")
    list_stimulus_sets = _Delegate("activations", "list_stimulus_sets")
    get_stimulus_set = _Delegate("activations", "get_stimulus_set")
    extract_activations = _Delegate("activations", "extract")
    get_activation_set = _Delegate("activations", "get")
    get_activations = _Delegate("activations", "get_layer")
    fit_encoder = _Delegate("encoding", "fit")
    predict = _Delegate("encoding", "predict")
    score_encoder = _Delegate("encoding", "score")
    fit_decoder = _Delegate("decoding", "fit")
    decode = _Delegate("decoding", "decode")
    decode_stream = _Delegate("decoding", "decode_stream")
    retrieve = _Delegate("decoding", "retrieve")
    retrieve_recordings = _Delegate("decoding", "retrieve_recordings")
    compute_rdm = _Delegate("comparison", "compute_rdm")
    get_rdm = _Delegate("comparison", "get_rdm")
    get_rdm_matrix = _Delegate("comparison", "get_rdm_matrix")
    compare = _Delegate("comparison", "compare")
    score_matrix = _Delegate("comparison", "score_matrix")
    reconstruct = _Delegate("reconstruction", "reconstruct")
    submit_job = _Delegate("jobs", "submit")
    get_job = _Delegate("jobs", "get")
    list_jobs = _Delegate("jobs", "list")
    cancel_job = _Delegate("jobs", "cancel")
    watch_job = _Delegate("jobs", "watch")
    export_bids_derivatives = _Delegate("export", "bids_derivatives")
