"""Several reconstruction models served by name over a real server: ListReconstructionModels, Reconstruct
with a model name (equal to the library on the same directory), their image encoders through
ActivationService, job specs naming a model, and every refusal of the error table with nothing stored."""

import json
import shutil

import grpc
import numpy as np
import pytest
from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip

from braindecode.activations import extract_activations, load_model
from braindecode.client import Client
from braindecode.config import Config
from braindecode.reconstruction import DEFAULT_MODEL_DIR, FAMILIES, describe_model, reconstruct
from braindecode.store import RECONSTRUCTION_ARTIFACT
from braindecode.v1 import jobs_pb2
from services.server import BraindecodeServer
from service_checks import artifact_ids, assert_nothing_stored, expect_error
from torch_threads import one_torch_thread_per_module  # noqa: F401 (autouse fixture)

KANDINSKY_DIM, UNCLIP_DIM = 24, 16  # other sizes than the tiny builders' defaults
MAX_BATCH = 4


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """Model name -> directory: two tiny families, and four directories that cannot be served."""
    root = tmp_path_factory.mktemp("models")
    kandinsky = save_tiny_kandinsky(root / "kandinsky", embedding_dim=KANDINSKY_DIM, image_size=32, seed=3,
                                    prediction_type="v_prediction")
    unclip = save_tiny_stable_unclip(root / "unclip", embedding_dim=UNCLIP_DIM, image_size=16, seed=4)
    unsupported = root / "stable-diffusion"
    unsupported.mkdir()
    (unsupported / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    no_movq = shutil.copytree(kandinsky, root / "no-movq")
    shutil.rmtree(no_movq / "movq")
    wrong_vae = shutil.copytree(unclip, root / "wrong-vae")
    index = json.loads((wrong_vae / "model_index.json").read_text())
    (wrong_vae / "model_index.json").write_text(json.dumps(index | {"vae": ["diffusers", "VQModel"]}))
    return {"kandinsky": kandinsky, "unclip": unclip, "gone": root / "nothing-here",
            "stable-diffusion": unsupported, "no-movq": no_movq, "wrong-vae": wrong_vae}


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dirs):
    """One server for the module, each model loaded once; the variable form of the mapping."""
    models = ",".join(f"{name}={directory}" for name, directory in model_dirs.items())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAINDECODE_RECONSTRUCTION_MODELS", models)
        config = Config.load(data_dir=str(tmp_path_factory.mktemp("store")), port=0,
                             reconstruction={"max_batch": MAX_BATCH})
        srv = BraindecodeServer(config).start()
        srv.api_key, _ = srv.keys.create("lab-a")
        yield srv
        srv.stop(grace=0)


@pytest.fixture(scope="module")
def client(server):
    with Client(f"127.0.0.1:{server.port}", api_key=server.api_key, timeout=120) as c:
        yield c


def _embeddings(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_the_models_are_listed_by_name_with_their_space_images_and_sampling(client, model_dirs):
    models = {m.name: m for m in client.reconstruction.models()}
    assert list(models) == ["default", *model_dirs]
    for name, directory in [("default", DEFAULT_MODEL_DIR), ("kandinsky", model_dirs["kandinsky"]),
                            ("unclip", model_dirs["unclip"])]:
        described, listed = describe_model(directory), models[name]
        assert (listed.family, listed.embedding_dim, listed.encoder_output, listed.max_steps, listed.error) == (
            described.family, described.embedding_dim, described.encoder_output, described.max_steps, "")
        assert (listed.image_height, listed.image_width) == described.image_size
        sampling = listed.sampling
        assert {"n_steps": sampling.n_steps, "scheduler": sampling.scheduler, "guidance_scale": sampling.guidance,
                "strength": sampling.strength, **sampling.family_settings} == described.sampling
    assert (models["default"].encoder, models["default"].encoder_served) == ("efficientnet-lite0", True)
    assert models["default"].embedding_dim == 1280 and models["default"].encoder_output == "pool"
    assert (models["kandinsky"].family, models["kandinsky"].embedding_dim) == ("KandinskyV22Pipeline", KANDINSKY_DIM)
    assert not models["kandinsky"].encoder_served and "ViT-bigG/14" in models["kandinsky"].encoder
    assert (models["unclip"].encoder, models["unclip"].encoder_served) == ("reconstruction/unclip", True)
    assert models["unclip"].sampling.family_settings == {"noise_level": 0.0}
    assert (models["unclip"].image_height, models["unclip"].image_width) == (16, 16)
    assert "cannot be loaded" in models["gone"].error and models["gone"].family == ""
    assert all(family in models["stable-diffusion"].error for family in FAMILIES)
    assert "'movq'" in models["no-movq"].error and "'vae'" in models["wrong-vae"].error
    assert str(model_dirs["kandinsky"]) not in models["kandinsky"].encoder


@pytest.mark.parametrize("name", ["kandinsky", "unclip"])
def test_reconstruct_by_name_equals_the_library_and_is_stored(server, client, model_dirs, name):
    dim = {"kandinsky": KANDINSKY_DIM, "unclip": UNCLIP_DIM}[name]
    embeddings = _embeddings(3, dim, seed=5)
    images, artifact_id = client.reconstruct(embeddings, model=name, n_steps=2, seed=9, ids=["a", "b", "c"])
    expected = reconstruct(embeddings, model_dirs[name], n_steps=2, seed=9)
    assert np.array_equal(np.stack([image for _, image in images]), expected)
    info = server.store.get_artifact("lab-a", artifact_id, RECONSTRUCTION_ARTIFACT)
    assert (info.provenance["model"], info.provenance["model_family"]) == (name, FAMILIES_BY_NAME[name])
    assert (info.provenance["n_steps"], info.provenance["scheduler"]) == (2, "ddim")  # the family's recommendation
    assert info.meta == {"n_images": 3, "height": expected.shape[1], "width": expected.shape[2]}


FAMILIES_BY_NAME = {"kandinsky": "KandinskyV22Pipeline", "unclip": "StableUnCLIPImg2ImgPipeline"}


def test_every_refusal_names_the_problem_stores_nothing_and_the_server_stays_up(server, client):
    before = artifact_ids(server)
    good = _embeddings(2, KANDINSKY_DIM)
    nan, inf, zero = good.copy(), good.copy(), good.copy()
    nan[0, 1], inf[1, 0], zero[1] = np.nan, np.inf, 0
    invalid = [
        (dict(embeddings=_embeddings(2, 12)), ["24-dimensional", "got 12-dimensional"]),
        (dict(embeddings=_embeddings(2, KANDINSKY_DIM), model="unclip"), ["16-dimensional", "got 24-dimensional"]),
        (dict(embeddings=nan), ["finite"]),
        (dict(embeddings=inf), ["finite"]),
        (dict(embeddings=zero), ["embedding 1 is all zeros"]),
        (dict(embeddings=good, init_images=np.zeros((2, 16, 16, 3), np.uint8)), ["init_images", "(2, 32, 32, 3)"]),
        (dict(embeddings=good, init_images=np.zeros((3, 32, 32, 3), np.uint8)), ["init_images", "(2, 32, 32, 3)"]),
        (dict(embeddings=good, n_steps=101), ["n_steps", "[1, 100]"]),
        (dict(embeddings=good, model="stable-diffusion"), ["'stable-diffusion'", "StableDiffusionPipeline",
                                                          ", ".join(FAMILIES)]),
        (dict(embeddings=good, model="no-movq"), ["'no-movq'", "'movq'"]),
        (dict(embeddings=_embeddings(2, UNCLIP_DIM), model="wrong-vae"), ["'wrong-vae'", "part 'vae'", "VQModel"]),
    ]
    for kwargs, fragments in invalid:
        call = {"model": "kandinsky", "n_steps": 1, **kwargs}
        expect_error(lambda: client.reconstruct(**call), grpc.StatusCode.INVALID_ARGUMENT,  # noqa: B023
                     *fragments)
    expect_error(lambda: client.reconstruct(good, model="kandinsky-3", n_steps=1), grpc.StatusCode.NOT_FOUND,
                 "no reconstruction model 'kandinsky-3'", "default, kandinsky, unclip")
    expect_error(lambda: client.reconstruct(good, model="gone", n_steps=1), grpc.StatusCode.FAILED_PRECONDITION,
                 "reconstruction model 'gone' cannot be loaded")
    assert_nothing_stored(server, client, before)
    images, _ = client.reconstruct(good, model="kandinsky", n_steps=1)  # the same model still serves
    assert len(images) == 2


def test_a_served_encoder_extracts_the_space_its_model_is_conditioned_on(server, client, model_dirs):
    rng = np.random.default_rng(6)
    images = [(rng.random((24, 24, 3)) * 255).astype(np.uint8) for _ in range(3)]
    layers = client.activations.list_layers("reconstruction/unclip")
    assert layers["image_embeds"] == [UNCLIP_DIM]
    info = client.activations.extract("reconstruction/unclip", images=images, ids=["x", "y", "z"],
                                      layers=["image_embeds"])
    assert info.model == "reconstruction/unclip"  # by its served name: no server path
    expected = extract_activations(load_model(model_dirs["unclip"] / "image_encoder"), images,
                                   layers=["image_embeds"])["image_embeds"]
    np.testing.assert_allclose(client.activations.get_layer(info.id, "image_embeds"), np.asarray(expected),
                               rtol=1e-5, atol=1e-6)
    expect_error(lambda: client.activations.list_layers("reconstruction/kandinsky"), grpc.StatusCode.NOT_FOUND,
                 "does not hold the image encoder of reconstruction model 'kandinsky'", "ViT-bigG/14")
    expect_error(lambda: client.activations.list_layers("reconstruction/nope"), grpc.StatusCode.NOT_FOUND,
                 "no reconstruction model 'nope'")
    for path in (str(model_dirs["unclip"] / "image_encoder"), "reconstruction/../unclip"):  # never a path
        expect_error(lambda: client.activations.list_layers(path), grpc.StatusCode.NOT_FOUND)  # noqa: B023


def test_job_specs_name_the_model(server, client):
    spec = {"recordings": {"ids": ["rec_missing"]}, "preprocessing": {"modality": "fmri", "trials": {}},
            "model": {"decoder": "art_missing"}, "outputs": {"reconstructions": {"model": "kandinsky-3"}}}
    details = expect_error(lambda: client.jobs.submit(spec), grpc.StatusCode.NOT_FOUND)
    assert "'outputs.reconstructions': no reconstruction model 'kandinsky-3'" in details
    spec["outputs"]["reconstructions"] = {"model": "kandinsky", "n_steps": 101}
    details = expect_error(lambda: client.jobs.submit(spec), grpc.StatusCode.INVALID_ARGUMENT)
    assert "reconstruction model 'kandinsky': n_steps must be an integer in [1, 100]" in details
    structured = jobs_pb2.JobSpec(  # the wire's form of a spec names the model too
        recordings=jobs_pb2.RecordingSelection(ids=["rec_missing"]),
        preprocessing_json=json.dumps(spec["preprocessing"]), model=jobs_pb2.ModelRef(decoder="art_missing"),
        outputs=jobs_pb2.JobOutputs(reconstructions=jobs_pb2.ReconstructionOutput(model="kandinsky-3")))
    details = expect_error(lambda: client.jobs.submit(structured), grpc.StatusCode.NOT_FOUND)
    assert "no reconstruction model 'kandinsky-3'" in details
