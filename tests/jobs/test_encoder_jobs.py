"""Encoder jobs: per-recording scores and predictions equal the encoding library's, byte-identical re-runs,
and specs whose outputs or modality do not fit the encoder."""

import gzip
import json

import nibabel
import numpy as np
import pytest
from jobs.jobdata import PREPROCESSING, TENANT, spec_for, wait

from braindecode.errors import InvalidArgument, NotFound
from braindecode.jobs import merge_batch, plan_job, run_batch
from braindecode.store import (
    JOB_OUTPUT_ARTIFACT,
    fit_encoder_from_store,
    load_arrays,
    predict_from_store,
    save_encoder_artifact,
    score_encoder_from_store,
)


@pytest.fixture(scope="module")
def encoder(lab):
    """A ridge encoder from the candidates' 'pool' layer to the voxels of the first two runs."""
    fit = fit_encoder_from_store(lab["store"], TENANT, [r.id for r in lab["recordings"][:2]], PREPROCESSING,
                                 lab["candidates"].id, ["pool"], alphas=[1.0, 10.0])
    return save_encoder_artifact(lab["store"], TENANT, fit.encoder)


def encoder_spec(recording_ids, encoder_id, **outputs):
    spec = spec_for(recording_ids, "")
    spec["model"] = {"encoder": encoder_id}
    spec["outputs"] = outputs or {"score_maps": True, "predictions": True}
    return spec


def test_shards_hold_the_scores_and_predictions_of_the_encoding_library(lab, runner, encoder):
    store, recordings = lab["store"], [lab["recordings"][0], lab["recordings"][2]]
    done = wait(runner, TENANT, runner.submit(TENANT, encoder_spec([r.id for r in recordings], encoder.id)).id)
    assert done.state == "completed", [s.error for s in done.shards]
    assert done.spec["model"] == {"encoder": encoder.id}
    assert done.spec["outputs"] == {"score_maps": True, "predictions": True}
    for shard, rec in zip(done.shards, recordings):
        expected = score_encoder_from_store(store, TENANT, encoder.id, [rec.id], PREPROCESSING)
        arrays = load_arrays(store, TENANT, shard.output_id, JOB_OUTPUT_ARTIFACT)
        assert sorted(arrays) == ["predictions", "recording_ids", "scores", "stimulus_ids"]
        folder = store.artifact_dir(TENANT, shard.output_id)
        summary = json.loads((folder / "shard.json").read_text())
        assert summary["score_names"] == list(expected.target_scores) == ["pearson", "r2"]
        assert summary["model"] == {"encoder": encoder.id} and summary["response_shape"] == [48]
        assert summary["files"] == ["predictions.npy", "recording_ids.npy", "stimulus_ids.npy"]
        assert summary["shard_files"] == ["score_map.nii.gz", "scores.npy"]
        np.testing.assert_allclose(arrays["scores"], np.stack(list(expected.target_scores.values())),
                                   rtol=1e-5, atol=1e-6)
        ours = nibabel.Nifti1Image.from_bytes(gzip.decompress((folder / "score_map.nii.gz").read_bytes()))
        theirs = nibabel.Nifti1Image.from_bytes(gzip.decompress(expected.score_map))
        assert ours.shape == theirs.shape == (4, 4, 3, 2)
        np.testing.assert_array_equal(ours.affine, theirs.affine)
        np.testing.assert_allclose(ours.get_fdata(), theirs.get_fdata(), rtol=1e-5, atol=1e-6)
        predicted = predict_from_store(store, TENANT, encoder.id, activation_set_id=lab["candidates"].id,
                                       stimulus_ids=arrays["stimulus_ids"])
        assert arrays["predictions"].dtype == np.float32 and arrays["predictions"].shape == (6, 48)
        np.testing.assert_allclose(arrays["predictions"], predicted, rtol=1e-5, atol=1e-6)
        assert set(arrays["recording_ids"]) == {rec.id}


def test_a_batch_rerun_writes_the_same_bytes_as_the_server_job(lab, runner, encoder, tmp_path):
    store, rec = lab["store"], lab["recordings"][1]
    spec = encoder_spec([rec.id], encoder.id, score_maps=True)
    done = wait(runner, TENANT, runner.submit(TENANT, spec).id)
    assert done.state == "completed", done.shards[0].error
    stored = store.artifact_dir(TENANT, done.shards[0].output_id)
    names = ["recording_ids.npy", "score_map.nii.gz", "scores.npy", "shard.json", "stimulus_ids.npy"]
    for attempt in range(2):
        out = tmp_path / f"batch-{attempt}"
        assert run_batch(spec, store.root, out, tenant=TENANT)["done"] == [0]
        shard = out / "shard-00000"
        assert sorted(p.name for p in shard.iterdir()) == names
        for name in names:
            assert (shard / name).read_bytes() == (stored / name).read_bytes(), name
    manifest = merge_batch(out)
    assert manifest["files"] == ["recording_ids.npy", "stimulus_ids.npy"] and manifest["n_trials"] == 6


def test_outputs_and_modality_must_fit_the_encoder(lab, encoder, tmp_path):
    store, rec = lab["store"], lab["recordings"][0]
    spec = encoder_spec([rec.id], encoder.id, embeddings=True, score_maps="yes",
                        retrieval={"candidates": lab["candidates"].id, "layer": "pool"}, reconstructions={})
    spec["preprocessing"] = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.2}}
    with pytest.raises(InvalidArgument) as err:
        plan_job(store, TENANT, spec)
    message = str(err.value)
    expected = [f"recordings {rec.id} are not eeg", f"encoder {encoder.id!r} predicts fmri responses, but "
                "'preprocessing.modality' is eeg", "'outputs.embeddings' needs a decoder model; an encoder gives "
                "score_maps, predictions", "'outputs.retrieval' needs a decoder model",
                "'outputs.reconstructions' needs a decoder model", "'outputs.score_maps' must be true or false",
                "'outputs' requests nothing: set score_maps or predictions"]
    for words in expected:
        assert words in message, words
    assert message.startswith(f"job spec has {len(expected)} problems: (1) ")

    decoder_spec = spec_for([rec.id], lab["decoder"].id)
    decoder_spec["outputs"] = {"score_maps": True, "predictions": True}
    with pytest.raises(InvalidArgument) as err:
        plan_job(store, TENANT, decoder_spec)
    for key in ("score_maps", "predictions"):
        assert f"'outputs.{key}' needs an encoder model; a decoder gives embeddings" in str(err.value)

    both = encoder_spec([rec.id], encoder.id)
    both["model"]["decoder"] = lab["decoder"].id
    with pytest.raises(InvalidArgument, match="give 'model.decoder' or 'model.encoder', exactly one of them"):
        plan_job(store, TENANT, both)
    with pytest.raises(NotFound, match=f"encoder '{lab['decoder'].id}' not found"):
        plan_job(store, TENANT, encoder_spec([rec.id], lab["decoder"].id))
    with pytest.raises(NotFound, match=f"encoder '{encoder.id}' not found"):
        plan_job(store, "lab-b", encoder_spec([], encoder.id) | {"recordings": {"ids": ["rec_x"]}})


def test_an_encoder_plan_names_its_activation_set(lab, encoder):
    plan = plan_job(lab["store"], TENANT, encoder_spec([lab["recordings"][0].id], encoder.id, predictions=True))
    assert plan.decoder is None and plan.encoder["activation_set_id"] == lab["candidates"].id
    assert plan.encoder["modality"] == "fmri" and plan.spec["outputs"] == {"score_maps": False, "predictions": True}
