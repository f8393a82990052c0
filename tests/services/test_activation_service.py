"""ActivationService over a real server on a loopback port: models, stimulus sets, extraction."""

import hashlib
import io
import json
import threading
import zlib

import grpc
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from braindecode.activations import extract_activations, get_model_card
from braindecode.client import Client, stimulus_messages
from braindecode.config import Config
from braindecode.v1 import activations_pb2
from services.activations import ActivationServicer
from services.server import BraindecodeServer
from service_checks import artifact_ids
from torch_threads import one_torch_thread_per_module  # noqa: F401 (autouse fixture)

PHOTOS = {"astronaut": "PNG", "coffee": "JPEG", "chelsea": "PNG", "rocket": "JPEG"}
TEXTS = ["A cat sleeps on the warm windowsill.", "Rockets carry satellites into orbit.",
         "Coffee", "An astronaut floats above the blue planet, tethered to the station."]
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module, so that each network is loaded once."""
    config = Config.load(data_dir=str(tmp_path_factory.mktemp("activations") / "store"), port=0,
                         max_upload_bytes=MAX_UPLOAD_BYTES)
    srv = BraindecodeServer(config).start()
    srv.api_key, _ = srv.keys.create("lab-a")
    yield srv
    srv.stop(grace=0)


@pytest.fixture(scope="module")
def client(server):
    with Client(f"127.0.0.1:{server.port}", api_key=server.api_key, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def photos():
    """Four scikit-image photographs, downscaled 5x, encoded as PNG or JPEG bytes, by name."""
    encoded = {}
    for name, image_format in PHOTOS.items():
        image = Image.fromarray(getattr(data, name)())
        image = image.resize((image.width // 5, image.height // 5), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format=image_format)
        encoded[name] = buffer.getvalue()
    return encoded


@pytest.fixture(scope="module")
def photo_set(client, photos):
    return client.upload_stimuli(images=list(photos.values()), ids=list(photos), name="photos")


@pytest.fixture(scope="module")
def photo_activations(client, photo_set):
    return client.extract_activations("efficientnet-lite0", stimulus_set_id=photo_set.id, layers=["pool"])


def _served(server, name):
    """The server's own cached model (so that the tests load each network once)."""
    servicer = next(s for s in server._servicers if isinstance(s, ActivationServicer))
    return servicer.models.get((name, "cpu"))


def _decoded(payloads):
    return [np.asarray(Image.open(io.BytesIO(p)).convert("RGB")) for p in payloads]


def _png_header(width, height) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with a 1-pixel image's data."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    return bytes(png)


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


def test_list_models_includes_the_registry_networks(client):
    models = {m.name: m for m in client.list_models()}
    assert {"efficientnet-lite0", "minilm-l6-v2"} <= set(models)
    for name, modality in (("efficientnet-lite0", "image"), ("minilm-l6-v2", "text")):
        card = get_model_card(name)
        model = models[name]
        assert model.modality == modality and list(model.layers) == card.layers
        assert model.card == card.text and model.license == card.license and model.source == card.source
    assert models["efficientnet-lite0"].summary.startswith("EfficientNet-Lite0 image classifier")
    assert models["minilm-l6-v2"].summary.startswith("all-MiniLM-L6-v2 sentence embedder")


def test_list_layers_gives_shapes_in_order(client):
    image = client.list_layers("efficientnet-lite0")
    assert list(image) == get_model_card("efficientnet-lite0").layers
    assert image["stem"] == [32, 112, 112] and image["head"] == [1280, 7, 7]
    assert image["pool"] == [1280, 1, 1] and image["logits"] == [1000]
    text = client.list_layers("minilm-l6-v2")
    assert list(text) == get_model_card("minilm-l6-v2").layers
    assert text["layer3"] == [-1, 384] and text["sentence_embedding"] == [384]


def test_uploaded_photos_extract_like_the_library(server, client, photos):
    ids = list(photos)
    uploaded = client.upload_stimuli(images=list(photos.values()), ids=ids, name="four photos", chunk_bytes=1)
    assert (uploaded.modality, uploaded.n_stimuli, list(uploaded.stimulus_ids)) == ("image", 4, ids)
    stored = client.get_stimulus_set(uploaded.id)
    assert (stored.name, list(stored.stimulus_ids)) == ("four photos", ids)
    assert uploaded.id in [s.id for s in client.list_stimulus_sets(page_size=1)]

    progress = []
    result = client.extract_activations("efficientnet-lite0", stimulus_set_id=uploaded.id,
                                        layers=["stage4", "pool"], batch_size=3, on_progress=progress.append)
    assert [p.fraction for p in progress] == [0.75, 1.0] and {p.stage for p in progress} == {"extract"}
    assert (result.model, result.stimulus_set_id, result.pooling) == ("efficientnet-lite0", uploaded.id, "avg")
    assert list(result.stimulus_ids) == ids
    assert [(layer.name, list(layer.shape), list(layer.output_shape)) for layer in result.layers] == [
        ("stage4", [4, 80], [80, 14, 14]), ("pool", [4, 1280], [1280, 1, 1])]

    served = _served(server, "efficientnet-lite0")
    expected = extract_activations(served.model, _decoded(photos.values()), layers=["stage4", "pool"],
                                   batch_size=3, stimulus_ids=ids)
    for layer in ("stage4", "pool"):
        np.testing.assert_allclose(client.get_activations(result.id, layer), expected[layer], rtol=1e-5, atol=1e-6)

    provenance = json.loads(result.provenance_json)
    card = get_model_card("efficientnet-lite0").card
    assert provenance["model_card_sha256"] == hashlib.sha256(card.read_bytes()).hexdigest()
    assert len(provenance["weights_sha256"]) == 64 and provenance["stimulus_set_id"] == uploaded.id
    assert (provenance["pooling"], provenance["layers"], provenance["batch_size"]) == ("avg", ["stage4", "pool"], 3)
    assert client.get_activation_set(result.id) == result


def test_inline_images_with_grid_pooling_are_stored_as_a_set(server, client, photos):
    ids = [f"img-{i}" for i in range(len(photos))]
    before = [s.id for s in client.list_stimulus_sets()]
    result = client.extract_activations("efficientnet-lite0", images=list(photos.values()), ids=ids,
                                        layers=["head"], pooling="grid", grid=2, batch_size=4)
    assert [(layer.name, list(layer.shape)) for layer in result.layers] == [("head", [4, 1280 * 4])]
    assert result.stimulus_set_id not in before
    assert list(client.get_stimulus_set(result.stimulus_set_id).stimulus_ids) == ids

    expected = extract_activations(_served(server, "efficientnet-lite0").model, _decoded(photos.values()),
                                   layers=["head"], pooling="grid", grid=2, batch_size=4)
    np.testing.assert_allclose(client.get_activations(result.id, "head"), expected["head"], rtol=1e-5, atol=1e-6)
    again = client.extract_activations("efficientnet-lite0", stimulus_set_id=result.stimulus_set_id,
                                       layers=["head"], pooling="grid", grid=2, batch_size=4)
    np.testing.assert_array_equal(client.get_activations(again.id, "head"), client.get_activations(result.id, "head"))


def test_concurrent_extractions_on_one_model_keep_their_layers_apart(server, client, photos, photo_set):
    """Layers are read with hooks on the shared module: concurrent calls must not see each other's."""
    requests = {"stage2": ("stage2", "avg"), "logits": ("logits", "none"), "stem": ("stem", "grid")}
    results = {}

    def extract(name):
        layer, pooling = requests[name]
        results[name] = client.extract_activations("efficientnet-lite0", stimulus_set_id=photo_set.id,
                                                   layers=[layer], pooling=pooling, batch_size=1)

    threads = [threading.Thread(target=extract, args=(name,)) for name in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    model = _served(server, "efficientnet-lite0").model
    for name, (layer, pooling) in requests.items():
        expected = extract_activations(model, _decoded(photos.values()), layers=[layer], pooling=pooling)
        np.testing.assert_allclose(client.get_activations(results[name].id, layer), expected[layer],
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_extraction_on_cuda_is_close_to_the_cpu(client, photo_set, photo_activations):
    result = client.extract_activations("efficientnet-lite0", stimulus_set_id=photo_set.id, layers=["pool"],
                                        fp16=True, device="cuda")
    assert result.precision.startswith("float16")
    np.testing.assert_allclose(client.get_activations(result.id, "pool"),
                               client.get_activations(photo_activations.id, "pool"), rtol=0.05, atol=0.05)


def test_text_stimuli_on_minilm(server, client):
    ids = [f"sentence-{i}" for i in range(len(TEXTS))]
    uploaded = client.upload_stimuli(texts=TEXTS, ids=ids, name="sentences")
    assert (uploaded.modality, uploaded.n_stimuli) == ("text", 4)
    progress = []
    result = client.extract_activations("minilm-l6-v2", stimulus_set_id=uploaded.id,
                                        layers=["layer3", "sentence_embedding"], batch_size=2,
                                        on_progress=progress.append)
    assert [p.fraction for p in progress] == [0.5, 1.0]
    expected = extract_activations(_served(server, "minilm-l6-v2").model, TEXTS,
                                   layers=["layer3", "sentence_embedding"], batch_size=2)
    for layer in ("layer3", "sentence_embedding"):
        got = client.get_activations(result.id, layer)
        assert got.shape == (4, 384)
        np.testing.assert_allclose(got, expected[layer], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(client.get_activations(result.id, "sentence_embedding"), axis=1),
                               1.0, atol=1e-5)


def test_cancel_stops_the_extraction_and_stores_nothing(server, client, photos):
    images = list(photos.values()) * 6
    stimulus_set = client.upload_stimuli(images=images)
    before = artifact_ids(server)
    request = activations_pb2.ExtractActivationsRequest(model="efficientnet-lite0", layers=["pool"], batch_size=1,
                                                        stimulus_set_id=stimulus_set.id)
    call = client.activations.stub.ExtractActivations(request, metadata=client.metadata)
    first = next(call)
    assert first.progress.fraction == pytest.approx(1 / len(images))
    call.cancel()
    with pytest.raises(grpc.RpcError) as err:
        list(call)
    assert err.value.code() == grpc.StatusCode.CANCELLED
    served = _served(server, "efficientnet-lite0")
    assert served.lock.acquire(timeout=60)  # the extraction thread gave up at its next batch
    served.lock.release()
    assert artifact_ids(server) == before
    assert client.health() == "SERVING"


def _upload_raw(client, *messages):
    return client.activations.stub.UploadStimuli(iter(messages), metadata=client.metadata, timeout=60)


def _extract_raw(client, **fields):
    request = activations_pb2.ExtractActivationsRequest(**fields)
    return list(client.activations.stub.ExtractActivations(request, metadata=client.metadata, timeout=60))


INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
BAD_INPUT = {
    "undecodable image": (lambda c, s: c.upload_stimuli(images=[b"not an image"], ids=["broken"]),
                          INVALID, ["'broken'", "not a PNG or JPEG"]),
    "truncated image": (lambda c, s: c.upload_stimuli(images=[s["photo"][: len(s["photo"]) // 2]], ids=["half"]),
                        INVALID, ["'half'", "cannot decode"]),
    "gif": (lambda c, s: c.upload_stimuli(images=[_gif()], ids=["anim"]), INVALID, ["'anim'", "not a PNG or JPEG"]),
    "decompression bomb": (lambda c, s: c.upload_stimuli(images=[_png_header(100_000, 100_000)], ids=["bomb"]),
                           INVALID, ["'bomb'", "too large"]),
    "too many pixels": (lambda c, s: c.upload_stimuli(images=[_png_header(6000, 6000)], ids=["big"]),
                        INVALID, ["'big'", "6000 x 6000", "too large"]),
    "too long a side": (lambda c, s: c.upload_stimuli(images=[_png_header(20_000, 2)], ids=["strip"]),
                        INVALID, ["'strip'", "20000 x 2"]),
    "empty set": (lambda c, s: c.upload_stimuli(images=[]), INVALID, ["empty"]),
    "duplicate ids": (lambda c, s: c.upload_stimuli(texts=["one", "two", "three"], ids=["a", "b", "a"]),
                      INVALID, ["duplicate stimulus id 'a'"]),
    "missing id": (lambda c, s: _upload_raw(c, activations_pb2.UploadStimuliRequest(
        stimuli=[activations_pb2.Stimulus(text="no id")])), INVALID, ["no id"]),
    "mixed modalities": (lambda c, s: _upload_raw(c, activations_pb2.UploadStimuliRequest(
        stimuli=stimulus_messages(texts=["words"], ids=["t"]) + stimulus_messages(images=[s["photo"]], ids=["i"]))),
        INVALID, ["'i'", "all images or all texts"]),
    "no content": (lambda c, s: _upload_raw(c, activations_pb2.UploadStimuliRequest(
        stimuli=[activations_pb2.Stimulus(id="void")])), INVALID, ["'void'", "neither an image nor a text"]),
    "name after the first message": (lambda c, s: _upload_raw(
        c, activations_pb2.UploadStimuliRequest(name="x", stimuli=stimulus_messages(texts=["a"], ids=["a"])),
        activations_pb2.UploadStimuliRequest(name="y", stimuli=stimulus_messages(texts=["b"], ids=["b"]))),
        INVALID, ["first"]),
    "empty text": (lambda c, s: c.upload_stimuli(texts=[""], ids=["blank"]), INVALID, ["'blank'", "empty"]),
    "over the upload limit": (lambda c, s: c.upload_stimuli(texts=["x" * 100_000] * 25),
                              grpc.StatusCode.RESOURCE_EXHAUSTED, ["size limit"]),
    "unknown model (layers)": (lambda c, s: c.list_layers("alexnet"), NOT_FOUND,
                               ["'alexnet'", "efficientnet-lite0", "minilm-l6-v2"]),
    "unknown model": (lambda c, s: c.extract_activations("alexnet", stimulus_set_id=s["photos"]), NOT_FOUND,
                      ["'alexnet'", "efficientnet-lite0", "minilm-l6-v2"]),
    "import path as model": (lambda c, s: c.extract_activations("os:getcwd", stimulus_set_id=s["photos"]),
                             NOT_FOUND, ["'os:getcwd'"]),
    "unknown layer": (lambda c, s: c.extract_activations("efficientnet-lite0", stimulus_set_id=s["photos"],
                                                         layers=["conv99"]),
                      INVALID, ["'conv99'", "stem, stage1", "logits"]),
    "texts on an image model": (lambda c, s: c.extract_activations("efficientnet-lite0", texts=["a cat"]),
                                INVALID, ["texts", "'efficientnet-lite0'", "image"]),
    "image set on a text model": (lambda c, s: c.extract_activations("minilm-l6-v2", stimulus_set_id=s["photos"]),
                                  INVALID, ["{photos}", "images", "'minilm-l6-v2'", "text"]),
    "undecodable inline image": (lambda c, s: c.extract_activations("efficientnet-lite0", images=[b"\x89PNG"],
                                                                    ids=["inline"]), INVALID, ["'inline'"]),
    "unknown pooling": (lambda c, s: c.extract_activations("efficientnet-lite0", stimulus_set_id=s["photos"],
                                                           pooling="max"), INVALID, ["'max'", "none, avg, grid"]),
    "grid on token states": (lambda c, s: c.extract_activations("minilm-l6-v2", texts=["words"], layers=["layer1"],
                                                                pooling="grid"), INVALID, ["'layer1'", "grid"]),
    "both stimulus sources": (lambda c, s: _extract_raw(c, model="efficientnet-lite0", stimulus_set_id=s["photos"],
                                                        stimuli=stimulus_messages(texts=["a"])),
                              INVALID, ["exactly one"]),
    "no stimuli": (lambda c, s: _extract_raw(c, model="efficientnet-lite0"), INVALID, ["exactly one"]),
    "activation set as stimulus set": (lambda c, s: c.extract_activations("efficientnet-lite0",
                                                                          stimulus_set_id=s["activations"]),
                                       NOT_FOUND, ["{activations}"]),
    "unknown stimulus set": (lambda c, s: c.get_stimulus_set("art_nope"), NOT_FOUND, ["'art_nope'"]),
    "stimulus set as activation set": (lambda c, s: c.get_activation_set(s["photos"]), NOT_FOUND, ["{photos}"]),
    "unknown layer to stream": (lambda c, s: c.get_activations(s["activations"], "stage9"), INVALID,
                                ["'stage9'", "available: pool"]),
    "bad page token": (lambda c, s: c.activations.stub.ListStimulusSets(activations_pb2.ListStimulusSetsRequest(
        page={"page_token": "x"}), metadata=c.metadata), INVALID, ["page_token"]),
}
if not torch.cuda.is_available():
    BAD_INPUT["cuda without a GPU"] = (
        lambda c, s: c.extract_activations("efficientnet-lite0", stimulus_set_id=s["photos"], device="cuda"),
        INVALID, ["CUDA is not available"])


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_and_stores_nothing(server, client, photos, photo_set, photo_activations, case):
    call, code, fragments = BAD_INPUT[case]
    stored = {"photos": photo_set.id, "activations": photo_activations.id, "photo": photos["astronaut"]}
    before = artifact_ids(server)
    with pytest.raises(grpc.RpcError) as err:
        call(client, stored)
    assert err.value.code() == code, err.value.details()
    for fragment in fragments:
        assert fragment.format(**stored) in err.value.details()
    assert artifact_ids(server) == before
    assert client.health() == "SERVING"


def test_other_tenants_ids_are_not_found(server, client, photo_set, photo_activations):
    key_b, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key_b, timeout=60) as lab_b:
        calls = {
            "GetStimulusSet": lambda: lab_b.get_stimulus_set(photo_set.id),
            "ExtractActivations": lambda: lab_b.extract_activations("efficientnet-lite0",
                                                                    stimulus_set_id=photo_set.id),
            "GetActivationSet": lambda: lab_b.get_activation_set(photo_activations.id),
            "StreamActivations": lambda: lab_b.get_activations(photo_activations.id, "pool"),
        }
        for name, call in calls.items():
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == NOT_FOUND, name
            assert "not found" in err.value.details(), name
        assert lab_b.list_stimulus_sets() == []
    assert artifact_ids(server, "lab-b") == []
    assert client.get_stimulus_set(photo_set.id).id == photo_set.id
