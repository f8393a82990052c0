"""Stored results exported as a BIDS derivatives dataset: what each file holds, its sidecar's
provenance, the official validator's verdict, and the refusals."""

import csv
import json

import bids_datasets
import nibabel
import numpy as np
import pytest
from jobs.jobdata import PREPROCESSING, TENANT, add_bold, add_candidates, add_decoder, spec_for, wait

from braindecode.config import JobSettings
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound
from braindecode.jobs import JobRunner
from braindecode.store import (
    RESULT_PATTERNS,
    Store,
    compare_from_store,
    compute_rdms_from_store,
    export_bids_derivatives,
    fit_encoder_from_store,
    load_arrays,
    save_encoder_artifact,
    score_encoder_from_store,
    score_matrix_from_store,
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A store holding one result of each exported kind: a batch job's outputs (embeddings and
    retrieval), an fMRI encoder's score map, RDMs, an RSA comparison and a score matrix."""
    tmp = tmp_path_factory.mktemp("results")
    store = Store(tmp / "store")
    runs = [add_bold(store, tmp, "01", 0), add_bold(store, tmp, "01", 1), add_bold(store, tmp, "02", 2)]
    decoder, _ = add_decoder(store, tmp)
    candidates, _ = add_candidates(store)
    runner = JobRunner(store, JobSettings(workers=1, max_attempts=1)).start()
    try:
        job = runner.submit(TENANT, spec_for([r.id for r in runs[:2]], decoder.id, candidates.id))
        job = wait(runner, TENANT, job.id)
    finally:
        runner.stop()
    assert job.state == "completed"
    fit = fit_encoder_from_store(store, TENANT, [r.id for r in runs[:2]], PREPROCESSING, candidates.id, ["pool"],
                                 alphas=[1.0, 10.0], cv_folds=2)
    encoder = save_encoder_artifact(store, TENANT, fit.encoder)
    scores = score_encoder_from_store(store, TENANT, encoder.id, [runs[0].id])
    brains = compute_rdms_from_store(store, TENANT, [r.id for r in runs], PREPROCESSING)
    (layer,) = compute_rdms_from_store(store, TENANT, activation_set_id=candidates.id, layer="pool")
    comparison = compare_from_store(store, TENANT, [b.id for b in brains], {"pool": layer.id}, n_bootstrap=20,
                                    n_permutations=20)
    matrix = score_matrix_from_store(store, TENANT, candidates.id, [r.id for r in runs], PREPROCESSING)
    yield {"store": store, "tmp": tmp, "runs": runs, "job": job, "scores": scores, "brains": brains,
           "layer": layer, "comparison": comparison, "matrix": matrix}
    store.close()


def _table(path):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def exported(results):
    out = results["tmp"] / "derivatives"
    report = export_bids_derivatives(results["store"], TENANT, out)
    return out, report


def test_the_dataset_is_described_and_passes_the_bids_validator(results, exported):
    out, report = exported
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "braindecode"
    assert bids_datasets.validate(out) == []
    assert (out / ".bidsignore").read_text().split() == list(RESULT_PATTERNS)
    assert all(pattern.startswith("*_") for pattern in RESULT_PATTERNS), "only result suffixes are ignored"
    assert {"dataset_description.json", "README.md"} <= {p.name for p in out.iterdir()}
    assert sorted(report["artifacts"]) == sorted(
        [*(shard.output_id for shard in results["job"].shards), results["scores"].id,
         *(brain.id for brain in results["brains"]), results["layer"].id, results["comparison"].id,
         results["matrix"].id])


def test_the_score_map_is_the_encoders_nifti_in_the_recordings_space(results, exported):
    out, _ = exported
    run = results["runs"][0]
    label = results["scores"].id.replace("_", "")
    path = out / "sub-01" / "func" / f"sub-01_task-images_desc-{label}_statmap.nii.gz"
    stored = results["store"].artifact_dir(TENANT, results["scores"].id) / "score_map.nii.gz"
    assert path.read_bytes() == stored.read_bytes()
    np.testing.assert_allclose(nibabel.load(path).affine, np.reshape(run.meta["affine"], (4, 4)))
    sidecar = json.loads(path.with_name(path.name.replace(".nii.gz", ".json")).read_text())
    assert sidecar["Volumes"] == results["scores"].info.meta["score_names"]
    assert [r["id"] for r in sidecar["Provenance"]["recordings"]] == [run.id]
    assert sidecar["Provenance"]["encoder_id"] == results["scores"].info.meta["encoder_id"]
    assert sidecar["Artifact"] == {"id": results["scores"].id, "kind": "score-map",
                                   "created": results["scores"].info.created}


def test_embeddings_and_retrieval_are_one_table_per_shard(results, exported):
    out, _ = exported
    store, job = results["store"], results["job"]
    for shard in job.shards:
        arrays = load_arrays(store, TENANT, shard.output_id)
        base = out / "sub-01" / "func" / f"sub-01_task-images_desc-{job.id.replace('_', '')}shard{shard.index}"
        table = _table(base.with_name(base.name + "_embeddings.tsv"))
        assert table[0][:3] == ["recording_id", "stimulus_id", "dim_0"]
        assert [r[0] for r in table[1:]] == list(arrays["recording_ids"]) == [shard.recording_ids[0]] * 6
        assert [r[1] for r in table[1:]] == list(arrays["stimulus_ids"])
        np.testing.assert_allclose(np.array([r[2:] for r in table[1:]], float), arrays["embeddings"], rtol=1e-6)
        retrieval = _table(base.with_name(base.name + "_retrieval.tsv"))
        assert [r[4] for r in retrieval[1:] if r[3] == "1"] == list(arrays["retrieval_ids"][:, 0])
        np.testing.assert_allclose([float(r[5]) for r in retrieval[1:]], arrays["retrieval_scores"].ravel(), rtol=1e-6)
        sidecar = json.loads(base.with_name(base.name + "_embeddings.json").read_text())
        assert sidecar["JobID"] == job.id and sidecar["Provenance"]["recordings"] == shard.recordings


def test_rdms_rsa_and_score_matrix_tables(results, exported):
    out, _ = exported
    for brain in results["brains"]:
        path = out / f"sub-{brain.subject}" / "func" / f"sub-{brain.subject}_task-images_desc-{brain.id.replace('_', '')}_rdm.tsv"
        table = _table(path)
        assert table[0][1:] == [str(c) for c in brain.condition_ids]
        np.testing.assert_allclose(np.array([r[1:] for r in table[1:]], float), brain.rdm, rtol=1e-5, atol=1e-6)
    layer = _table(out / f"desc-{results['layer'].id.replace('_', '')}_rdm.tsv")
    assert len(layer) == len(results["layer"].condition_ids) + 1, "a network's RDM sits at the top"
    comparison = results["comparison"]
    rsa = _table(out / f"desc-{comparison.id.replace('_', '')}_rsa.tsv")
    assert rsa[0] == ["model", "score", "ci_lower", "ci_upper", "p_values", "p_values_fdr"]
    assert rsa[1][0] == "pool" and float(rsa[1][1]) == pytest.approx(float(comparison.result.scores[0]), abs=1e-5)
    matrix = results["matrix"]
    table = _table(out / f"task-images_desc-{matrix.id.replace('_', '')}_scorematrix.tsv")
    np.testing.assert_allclose(np.array([r[1:] for r in table[1:]], float), matrix.matrix.scores, atol=1e-5)


def test_export_refuses_a_used_folder_models_and_other_tenants_results(results, exported, tmp_path):
    store = results["store"]
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(FailedPrecondition, match="not an empty folder"):
        export_bids_derivatives(store, TENANT, tmp_path / "used")
    encoder_id = results["scores"].info.meta["encoder_id"]
    with pytest.raises(InvalidArgument, match=f"{encoder_id} \\(encoder\\)"):
        export_bids_derivatives(store, TENANT, tmp_path / "models", [encoder_id])
    with pytest.raises(NotFound):
        export_bids_derivatives(store, "lab-b", tmp_path / "theirs", [results["scores"].id])
    assert not (tmp_path / "models").exists() and not (tmp_path / "theirs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"], "nothing half-written"
    only = export_bids_derivatives(store, TENANT, tmp_path / "one", [results["scores"].id])
    assert only["artifacts"] == [results["scores"].id]
    empty = export_bids_derivatives(store, "lab-b", tmp_path / "empty")
    assert empty["files"] == [] and bids_datasets.validate(tmp_path / "empty") == []
