"""Store entry points: the provenance of what they store, and reconstructions alone or batched."""

import numpy as np
import pytest
from jobs.jobdata import N_DIMS, PREPROCESSING, TENANT, save_tiny_reconstruction_model

from braindecode.config import ReconstructionSettings
from braindecode.decoding import RidgeDecoder
from braindecode.errors import InvalidArgument
from braindecode.reconstruction import reconstruct, reconstruct_requests
from braindecode.store import (
    RECONSTRUCTION_ARTIFACT,
    compute_rdms_from_store,
    fit_decoder_from_store,
    fit_encoder_from_store,
    load_decoder_artifact,
    load_responses,
    reconstruct_from_store,
    save_decoder_artifact,
    save_encoder_artifact,
    score_encoder_from_store,
    score_matrix_from_store,
)


def _described(info) -> dict:
    return {"id": info.id, "sha256": info.sha256, "subject": info.subject, "session": info.session,
            "task": info.task, "run": info.run, "modality": info.modality}


def test_every_provenance_describes_each_recording_in_full(lab):
    store, recordings, activations = lab["store"], lab["recordings"], lab["candidates"].id
    ids = [r.id for r in recordings]
    described = [_described(r) for r in recordings]
    assert described[0]["modality"] == "fmri" and described[0]["task"] == "images"

    fit = fit_encoder_from_store(store, TENANT, ids[:2], PREPROCESSING, activations, ["pool"], alphas=[1.0, 10.0])
    assert fit.encoder.provenance["recordings"] == described[:2]
    encoder = save_encoder_artifact(store, TENANT, fit.encoder)
    scored = score_encoder_from_store(store, TENANT, encoder.id, ids[2:])
    assert scored.info.provenance["recordings"] == described[2:]

    decoded = fit_decoder_from_store(store, TENANT, ids, PREPROCESSING, activations, "pool",
                                     params={"alphas": [1.0, 10.0]})
    assert decoded.provenance["recordings"] == described

    rdms = compute_rdms_from_store(store, TENANT, ids, PREPROCESSING)
    assert [rdm.info.provenance["recordings"] for rdm in rdms] == [described[:2], described[2:]]
    matrix = score_matrix_from_store(store, TENANT, activations, ids, PREPROCESSING)
    assert matrix.info.provenance["recordings"] == described


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_reconstruction_model(tmp_path_factory.mktemp("model") / "tiny", embedding_dim=N_DIMS)


def test_reconstruct_from_store_alone_equals_reconstruct(lab, tiny_model):
    store = lab["store"]
    embeddings = np.random.default_rng(3).standard_normal((2, N_DIMS)).astype(np.float32)
    stored = reconstruct_from_store(store, TENANT, ReconstructionSettings(model=str(tiny_model)), embeddings,
                                    ids=["a", "b"], n_steps=2, seed=5)
    np.testing.assert_array_equal(stored.images, reconstruct(embeddings, model=tiny_model, n_steps=2, seed=5))
    info = store.get_artifact(TENANT, stored.id, RECONSTRUCTION_ARTIFACT)
    assert stored.stimulus_ids == ["a", "b"] and len(stored.pngs) == 2 and info.meta["n_images"] == 2
    assert info.provenance["source"] == "embeddings" and info.provenance["n_steps"] == 2


def test_reconstruct_from_store_decodes_recordings_and_generates_through_the_given_function(lab, tiny_model):
    store, rec = lab["store"], lab["recordings"][0]
    rng = np.random.default_rng(0)
    model = RidgeDecoder(alphas=[1.0]).fit(rng.standard_normal((24, 48)), rng.standard_normal((24, N_DIMS)))
    decoder_id = save_decoder_artifact(store, TENANT, model).id
    calls = []

    def generate(sampling, request, progress):
        calls.append(sampling)
        return reconstruct_requests([request], tiny_model, *sampling)[0]

    stored = reconstruct_from_store(store, TENANT, ReconstructionSettings(model=str(tiny_model)),
                                    recording_ids=[rec.id], preprocessing=PREPROCESSING, decoder_id=decoder_id,
                                    n_steps=2, seed=1, generate=generate)
    responses = load_responses(store, TENANT, [rec.id], PREPROCESSING).average_repeats()
    embeddings = load_decoder_artifact(store, TENANT, decoder_id, threads=1).predict(responses.data)
    np.testing.assert_array_equal(stored.images, reconstruct(embeddings, model=tiny_model, n_steps=2, seed=1))
    assert len(calls) == 1 and calls[0][0] == 2 and calls[0][4] == "torch"
    assert stored.stimulus_ids == list(responses.stimulus_ids)
    assert stored.info.provenance["source"] == "recordings" and stored.info.provenance["decoder_id"] == decoder_id


def test_reconstruct_from_store_takes_embeddings_or_recordings(lab, tiny_model):
    store, rec = lab["store"], lab["recordings"][0]
    settings = ReconstructionSettings(model=str(tiny_model))
    before = store.list_artifacts(TENANT, RECONSTRUCTION_ARTIFACT)
    embeddings = np.zeros((1, N_DIMS), np.float32)
    with pytest.raises(InvalidArgument, match="give either embeddings or recording_ids"):
        reconstruct_from_store(store, TENANT, settings)
    with pytest.raises(InvalidArgument, match="go with recording_ids"):
        reconstruct_from_store(store, TENANT, settings, embeddings, preprocessing=PREPROCESSING)
    with pytest.raises(InvalidArgument, match="ids go with embeddings"):
        reconstruct_from_store(store, TENANT, settings, ids=["x"], recording_ids=[rec.id],
                               preprocessing=PREPROCESSING, decoder_id="art_x")
    assert store.list_artifacts(TENANT, RECONSTRUCTION_ARTIFACT) == before
