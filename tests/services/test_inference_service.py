"""The Open Inference Protocol (inference.GRPCInferenceService) over a real server, called with tritonclient.

Models are stored decoders and encoders fitted on random data in the test; every answer is
compared with our own RPCs (Decode, Predict) or the same model run in this process.
"""

import pathlib
import subprocess
import sys
import threading

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from braindecode.client import Client
from braindecode.config import Config
from braindecode.decoding import MLPDecoder, RidgeDecoder, TrainingConfig
from braindecode.encoding import BrainSpace, Encoder, RidgeCV
from braindecode.store import load_decoder_artifact, save_decoder_artifact, save_encoder_artifact
from braindecode.v1 import inference_pb2, inference_pb2_grpc
from services._batching import WaitPolicy
from services._echo import REPLY_BYTES
from services.decoding import DecodingServicer
from services.server import BraindecodeServer
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_VOXELS, N_DIMS, N_FEATURES, RESPONSE_SHAPE = 40, 6, 12, (3, 5)
TENANT, OTHER = "lab-a", "lab-b"
N_CLIENTS = 32


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A server whose tenant may hold 2 calls per client at once, with a ridge and an MLP decoder and
    an encoder with delays of lab-a, a ridge decoder of lab-b and the echo service."""
    folder = tmp_path_factory.mktemp("oip")
    config = Config.load(data_dir=str(folder / "store"), port=0, max_concurrent_calls_per_tenant=2 * N_CLIENTS + 8,
                         max_workers=2 * N_CLIENTS + 24)
    server = BraindecodeServer(config, echo=True).start()
    keys = {tenant: server.keys.create(tenant)[0] for tenant in (TENANT, OTHER)}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, N_VOXELS)).astype(np.float32)
    Y = (X[:, :N_DIMS] + 0.3 * rng.standard_normal((96, N_DIMS))).astype(np.float32)
    mlp = MLPDecoder(hidden_dim=32, n_blocks=1,
                     training=TrainingConfig(max_epochs=2, batch_size=32, val_fraction=0.0, mixco_fraction=0.0))
    features = rng.standard_normal((80, N_FEATURES)).astype(np.float32)
    responses = rng.standard_normal((80, int(np.prod(RESPONSE_SHAPE)))).astype(np.float32)
    estimator = RidgeCV(alphas=(1.0, 10.0), cv=2).fit(np.hstack([features, np.roll(features, 1, axis=0)]), responses)
    encoder = Encoder(estimator, delays=(0, 1), space=BrainSpace("eeg", RESPONSE_SHAPE))
    ids = {
        "ridge": save_decoder_artifact(server.store, TENANT, RidgeDecoder(alphas=(1.0, 100.0), cv=2).fit(X, Y)).id,
        "mlp": save_decoder_artifact(server.store, TENANT, mlp.fit(X, Y)).id,
        "encoder": save_encoder_artifact(server.store, TENANT, encoder).id,
        "other": save_decoder_artifact(server.store, OTHER, RidgeDecoder(alphas=(1.0,), cv=2).fit(X, Y)).id,
    }
    server.lab = {"keys": keys, "ids": ids, "url": f"127.0.0.1:{server.port}", "encoder": encoder}
    yield server
    server.stop(grace=0)


def _headers(lab, tenant=TENANT) -> dict:
    return {"authorization": f"Bearer {lab.lab['keys'][tenant]}"}


@pytest.fixture
def triton_client(lab):
    client = triton.InferenceServerClient(lab.lab["url"])
    yield client
    client.close()


def _input(values, name="brain", datatype="FP32"):
    tensor = triton.InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values)
    return tensor


def _samples(seed, n=3, width=N_VOXELS):
    return np.random.default_rng(seed).standard_normal((n, width)).astype(np.float32)


def _status(call) -> tuple:
    """(status name, message) of a tritonclient call that must fail."""
    with pytest.raises(InferenceServerException) as err:
        call()
    return err.value.status(), err.value.message()


@pytest.mark.parametrize("first", ["braindecode", "tritonclient"])
def test_our_stubs_import_beside_tritonclient_in_either_order(first):
    imports = ["from braindecode.v1 import inference_pb2, inference_pb2_grpc",
               "import tritonclient.grpc; from tritonclient.grpc import service_pb2"]
    if first == "tritonclient":
        imports.reverse()
    check = (
        "; ".join(imports) + "\n"
        "request = inference_pb2.ModelInferRequest(model_name='m', raw_input_contents=[b'1234'])\n"
        "request.inputs.add(name='brain', datatype='FP32', shape=[1, 1])\n"
        "theirs = service_pb2.ModelInferRequest.FromString(request.SerializeToString())\n"
        "assert (theirs.model_name, list(theirs.inputs[0].shape)) == ('m', [1, 1])\n"
        "assert inference_pb2.ModelInferRequest.DESCRIPTOR.full_name == 'inference.ModelInferRequest'\n")
    subprocess.run([sys.executable, "-c", check], check=True, timeout=120)


def test_in_one_process_both_message_sets_speak_the_same_wire():
    request = service_pb2.ModelInferRequest(model_name="m", id="7", raw_input_contents=[b"\0" * 8])
    request.inputs.add(name="brain", datatype="FP32", shape=[2, 1]).parameters["p"].int64_param = 3
    ours = inference_pb2.ModelInferRequest.FromString(request.SerializeToString())
    assert ours.inputs[0].parameters["p"].int64_param == 3
    assert ours.SerializeToString() == request.SerializeToString()


def test_server_live_ready_and_metadata(lab, triton_client):
    headers = _headers(lab)
    assert triton_client.is_server_live(headers=headers) and triton_client.is_server_ready(headers=headers)
    metadata = triton_client.get_server_metadata(headers=headers)
    assert (metadata.name, metadata.version) == ("braindecode", "0.1.0")
    status, message = _status(lambda: triton_client.is_server_live())  # no key
    assert status == "StatusCode.UNAUTHENTICATED" and "API key" in message


def test_model_metadata_of_decoders_and_encoders(lab, triton_client):
    ids, headers = lab.lab["ids"], _headers(lab)
    for kind in ("ridge", "mlp"):
        metadata = triton_client.get_model_metadata(ids[kind], headers=headers, as_json=True)
        assert metadata["name"] == ids[kind] and metadata["versions"] == ["1"]
        assert metadata["platform"] == "onnxruntime_onnx"
        assert metadata["inputs"] == [{"name": "brain", "datatype": "FP32", "shape": ["-1", str(N_VOXELS)]}]
        assert metadata["outputs"] == [{"name": "embedding", "datatype": "FP32", "shape": ["-1", str(N_DIMS)]}]
    metadata = triton_client.get_model_metadata(ids["encoder"], "1", headers=headers)
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("features", "FP32", [-1, N_FEATURES])]
    assert [(t.name, list(t.shape)) for t in metadata.outputs] == [("responses", [-1, *RESPONSE_SHAPE])]
    assert metadata.platform == "braindecode_encoder"


def test_model_ready_and_not_found(lab, triton_client):
    ids, headers = lab.lab["ids"], _headers(lab)
    assert triton_client.is_model_ready(ids["ridge"], headers=headers)
    assert triton_client.is_model_ready(ids["encoder"], "1", headers=headers)
    # Another tenant's model, an unknown name and a version other than "1" are none of the caller's models.
    for name, version in ((ids["other"], ""), ("art_missing", ""), (ids["ridge"], "2")):
        assert not triton_client.is_model_ready(name, version, headers=headers)
        status, message = _status(lambda: triton_client.get_model_metadata(name, version, headers=headers))
        assert status == "StatusCode.NOT_FOUND" and "model" in message
        status, _ = _status(lambda: triton_client.infer(name, [_input(_samples(0))], model_version=version,
                                                         headers=headers))
        assert status == "StatusCode.NOT_FOUND"
    assert triton_client.is_model_ready(ids["other"], headers=_headers(lab, OTHER))


@pytest.mark.parametrize("kind", ["ridge", "mlp"])
def test_infer_gives_what_decode_gives(lab, triton_client, kind):
    decoder_id, samples = lab.lab["ids"][kind], _samples(1, n=5)
    with Client(lab.lab["url"], api_key=lab.lab["keys"][TENANT], timeout=60) as client:
        decoded = client.decoding.decode(decoder_id, samples)
    result = triton_client.infer(decoder_id, [_input(samples)], request_id="r-1",
                                 outputs=[triton.InferRequestedOutput("embedding")], headers=_headers(lab))
    embeddings = result.as_numpy("embedding")
    assert embeddings.dtype == np.float32 and embeddings.shape == (5, N_DIMS)
    np.testing.assert_allclose(embeddings, decoded, rtol=1e-6, atol=1e-6)
    response = result.get_response()
    assert (response.model_name, response.model_version, response.id) == (decoder_id, "1", "r-1")
    # The typed contents (fp32_contents) give the same numbers.
    request = inference_pb2.ModelInferRequest(model_name=decoder_id)
    request.inputs.add(name="brain", datatype="FP32", shape=samples.shape).contents.fp32_contents.extend(
        samples.ravel().tolist())
    with grpc.insecure_channel(lab.lab["url"]) as channel:
        reply = inference_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=tuple(_headers(lab).items()))
    typed = np.frombuffer(reply.raw_output_contents[0], dtype="<f4").reshape(tuple(reply.outputs[0].shape))
    np.testing.assert_allclose(typed, decoded, rtol=1e-6, atol=1e-6)


def test_infer_on_an_encoder_takes_each_request_as_one_run(lab, triton_client):
    encoder_id, encoder = lab.lab["ids"]["encoder"], lab.lab["encoder"]
    features = [_samples(seed, n=n, width=N_FEATURES) for seed, n in ((2, 4), (3, 1), (4, 7))]
    with Client(lab.lab["url"], api_key=lab.lab["keys"][TENANT], timeout=60) as client:
        predicted = [client.encoding.predict(encoder_id, block) for block in features]
    answers = {}

    def call(index, block):
        answers[index] = triton_client.infer(encoder_id, [_input(block, "features")], headers=_headers(lab))

    threads = [threading.Thread(target=call, args=item) for item in enumerate(features)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for index, block in enumerate(features):
        responses = answers[index].as_numpy("responses")
        assert responses.shape == (len(block), *RESPONSE_SHAPE)
        np.testing.assert_allclose(responses, predicted[index], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(responses, encoder.predict(block), rtol=1e-5, atol=1e-5)


def test_async_infer_from_32_clients_answers_every_call(lab):
    decoder_id, headers = lab.lab["ids"]["ridge"], _headers(lab)
    reference = load_decoder_artifact(lab.store, TENANT, decoder_id)
    calls_per_client = 2
    inputs = {(c, k): _samples(100 + 2 * c + k, n=1 + (c + k) % 3) for c in range(N_CLIENTS)
              for k in range(calls_per_client)}
    results, done = {}, threading.Semaphore(0)

    def callback(key, result, error):
        results[key] = error if error is not None else result.as_numpy("embedding")
        done.release()

    clients = [triton.InferenceServerClient(lab.lab["url"]) for _ in range(N_CLIENTS)]
    try:
        for (c, k), samples in inputs.items():
            clients[c].async_infer(decoder_id, [_input(samples)], lambda result, error, key=(c, k):
                                   callback(key, result, error), request_id=f"{c}-{k}", headers=headers)
        for _ in inputs:
            assert done.acquire(timeout=120)
    finally:
        for client in clients:
            client.close()
    assert sorted(results) == sorted(inputs)
    for key, samples in inputs.items():
        assert not isinstance(results[key], Exception), results[key]
        np.testing.assert_allclose(results[key], reference.predict(samples), rtol=1e-6, atol=1e-6)


@pytest.fixture
def one_window(lab, monkeypatch):
    """The shared batcher waits out a 2 s window: calls made together share one batch."""
    batcher = next(s for s in lab._servicers if isinstance(s, DecodingServicer)).batches
    monkeypatch.setattr(batcher, "_policy", WaitPolicy(2.0, window=True))
    return batcher


def test_model_infer_and_decode_callers_share_batches(lab, triton_client, one_window):
    decoder_id, samples = lab.lab["ids"]["ridge"], _samples(5, n=2)
    answers = {}

    def decode():
        with Client(lab.lab["url"], api_key=lab.lab["keys"][TENANT], timeout=60) as client:
            answers["decode"] = client.decoding.decode(decoder_id, samples[:1])

    thread = threading.Thread(target=decode)
    thread.start()
    answers["infer"] = triton_client.infer(decoder_id, [_input(samples[1:])], headers=_headers(lab)).as_numpy(
        "embedding")
    thread.join(60)
    assert one_window.batch_sizes[-1] == 2  # one batch held the Decode sample and the ModelInfer one
    reference = load_decoder_artifact(lab.store, TENANT, decoder_id).predict(samples)
    np.testing.assert_allclose(np.concatenate([answers["decode"], answers["infer"]]), reference, rtol=1e-6, atol=1e-6)


def test_past_its_deadline_a_call_ends_and_the_server_goes_on(lab, triton_client, one_window):
    decoder_id = lab.lab["ids"]["ridge"]
    status, _ = _status(lambda: triton_client.infer(decoder_id, [_input(_samples(6))], client_timeout=0.3,
                                                     headers=_headers(lab)))
    assert status == "StatusCode.DEADLINE_EXCEEDED"
    one_window._policy = WaitPolicy()
    assert triton_client.infer(decoder_id, [_input(_samples(6))], headers=_headers(lab)).as_numpy(
        "embedding").shape == (3, N_DIMS)


def _request(model, samples=None, **fields):
    """A ModelInferRequest of tritonclient's own messages: one FP32 input 'brain' with raw contents,
    changed by ``fields``."""
    samples = _samples(7) if samples is None else samples
    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name="brain", datatype="FP32", shape=samples.shape)
    request.raw_input_contents.append(samples.tobytes())
    for name, change in fields.items():
        change(request)
    return request


def _set(attribute, value):
    return lambda request: setattr(request.inputs[0], attribute, value)


BAD_INPUTS = {
    "wrong datatype": ({"datatype": _set("datatype", "FP64")}, "is FP32, got datatype 'FP64'"),
    "unknown datatype": ({"datatype": _set("datatype", "X" * 500)}, "got datatype 'XXXX"),
    "wrong sample shape": ({"shape": lambda r: r.inputs[0].shape.__setitem__(1, N_VOXELS - 1)},
                           f"expected [-1, {N_VOXELS}]"),
    "a million dimensions": ({"shape": lambda r: r.inputs[0].shape.extend([1] * 10**6)},
                             "... (1000002 dimensions)]"),
    "missing dimension": ({"shape": lambda r: r.inputs[0].shape.pop()}, "unexpected shape for input 'brain'"),
    "empty batch": ({"shape": lambda r: r.inputs[0].shape.__setitem__(0, 0)}, "a batch of 1 or more"),
    "negative batch": ({"shape": lambda r: r.inputs[0].shape.__setitem__(0, -3)}, "got [-3, "),
    "short raw bytes": ({"raw": lambda r: r.raw_input_contents.__setitem__(0, r.raw_input_contents[0][:-4])},
                        "input byte size mismatch for input 'brain'", f"takes {3 * N_VOXELS * 4} bytes"),
    "long raw bytes": ({"raw": lambda r: r.raw_input_contents.__setitem__(0, r.raw_input_contents[0] + b"1234")},
                       "input byte size mismatch"),
    "huge declared batch": ({"shape": lambda r: r.inputs[0].shape.__setitem__(0, 2**40)}, "input byte size mismatch"),
    "two raw tensors": ({"raw": lambda r: r.raw_input_contents.append(b"")}, "holds 2 tensors for 1 input"),
    "missing input": ({"inputs": lambda r: (r.ClearField("inputs"), r.ClearField("raw_input_contents"))},
                      "expects 1 input, 'brain', got none"),
    "extra input": ({"extra": lambda r: r.inputs.add(name="mask", datatype="FP32", shape=[1])},
                    "unexpected inference input 'mask'"),
    "input given twice": ({"twice": lambda r: r.inputs.add().CopyFrom(r.inputs[0])}, "is given 2 times"),
    "misnamed input": ({"name": _set("name", "samples")}, "unexpected inference input 'samples'", "'brain'"),
    "long input name": ({"name": _set("name", "n" * 100_000)}, "(100000 characters)"),
    "unknown output": ({"output": lambda r: r.outputs.add(name="logits")}, "unexpected inference output 'logits'"),
    "output parameters": ({"output": lambda r: setattr(
        r.outputs.add(name="embedding").parameters["classification"], "int64_param", 3)},
        "output parameters are not supported", "'classification'"),
    "shared memory input": ({"param": lambda r: setattr(
        r.inputs[0].parameters["shared_memory_region"], "string_param", "region")}, "input parameters"),
    "raw and typed contents": ({"typed": lambda r: r.inputs[0].contents.fp32_contents.append(1.0)},
                               "both contents and raw_input_contents"),
    "typed contents of another type": (
        {"typed": lambda r: (r.ClearField("raw_input_contents"), r.inputs[0].contents.int_contents.extend([1] * 3))},
        "its values go in fp32_contents, got int_contents"),
    "too few typed values": (
        {"typed": lambda r: (r.ClearField("raw_input_contents"), r.inputs[0].contents.fp32_contents.extend([1.0]))},
        f"holds {3 * N_VOXELS} values, got 1 in fp32_contents"),
    "NaN values": ({"raw": lambda r: r.raw_input_contents.__setitem__(
        0, np.full((3, N_VOXELS), np.nan, dtype=np.float32).tobytes())}, "NaN"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_invalid_argument_and_the_server_goes_on(lab, case):
    changes, *fragments = BAD_INPUTS[case]
    decoder_id = lab.lab["ids"]["ridge"]
    metadata = tuple(_headers(lab).items())
    with grpc.insecure_channel(lab.lab["url"]) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ModelInfer(_request(decoder_id, **changes), metadata=metadata, timeout=60)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        for fragment in fragments:
            assert fragment in err.value.details(), err.value.details()
        assert len(err.value.details()) < 400
        reply = stub.ModelInfer(_request(decoder_id), metadata=metadata, timeout=60)
        assert tuple(reply.outputs[0].shape) == (3, N_DIMS)


def test_model_name_is_required_and_keys_are_checked(lab):
    with grpc.insecure_channel(lab.lab["url"]) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ModelInfer(_request(""), metadata=tuple(_headers(lab).items()), timeout=60)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "model name is required" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.ModelInfer(_request(lab.lab["ids"]["ridge"]), metadata=(("authorization", "Bearer nope"),))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_reflection_describes_the_protocol(lab):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    from google.protobuf import descriptor_pb2

    with grpc.insecure_channel(lab.lab["url"]) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="inference.GRPCInferenceService"),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="braindecode.v1.DecodingService")]
        listed, described, ours = stub.ServerReflectionInfo(iter(requests), metadata=tuple(_headers(lab).items()))
    assert "inference.GRPCInferenceService" in {s.name for s in listed.list_services_response.service}
    proto = descriptor_pb2.FileDescriptorProto.FromString(described.file_descriptor_response.file_descriptor_proto[0])
    assert proto.package == "inference"
    assert [m.name for m in proto.service[0].method] == [
        "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]
    assert ours.file_descriptor_response.file_descriptor_proto


def test_echo_answers_only_where_enabled(lab, server):
    metadata = tuple(_headers(lab).items()) + ((REPLY_BYTES, "3"),)
    with grpc.insecure_channel(lab.lab["url"]) as channel:
        stream = channel.stream_stream("/braindecode.bench.Echo/Stream")
        assert list(stream(iter([b"abcdef", b"xyz12"]), metadata=metadata)) == [b"abc", b"xyz"]
        assert channel.unary_unary("/braindecode.bench.Echo/Call")(b"hello", metadata=metadata[:1]) == b"hello"
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary("/braindecode.bench.Echo/Call")(b"hello")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary("/braindecode.bench.Echo/Call")(b"hello", metadata=metadata[:1] + ((REPLY_BYTES, "-1"),))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:  # a server made without echo=True
        with pytest.raises(grpc.RpcError) as err:
            channel.unary_unary("/braindecode.bench.Echo/Call")(
                b"hello", metadata=(("authorization", f"Bearer {server.api_key}"),))
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_readme_example_runs_as_written(tmp_path):
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Open Inference Protocol clients", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, cwd=tmp_path)
