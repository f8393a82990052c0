"""Jobs end to end on the local executor: outputs, retries, cancellation, restart recovery."""

import json

import nibabel
import numpy as np
import pytest
import torch
from jobs.jobdata import (
    GRID,
    PREPROCESSING,
    TENANT,
    add_bold,
    add_decoder,
    add_shared_decoder,
    save_tiny_reconstruction_model,
    spec_for,
    wait,
)

from braindecode.config import JobSettings
from braindecode.decoding import retrieve
from braindecode.jobs import JobRunner
from braindecode.reconstruction import reconstruct
from braindecode.store import (
    JOB_OUTPUT_ARTIFACT,
    Store,
    Upload,
    fit_decoder_from_store,
    load_arrays,
    load_responses,
    save_decoder_artifact,
)


def job_outputs(store, job):
    return [a for a in store.list_artifacts(job.tenant, JOB_OUTPUT_ARTIFACT) if a.provenance["job_id"] == job.id]


def test_outputs_equal_the_decoder_on_preprocessed_responses(lab, runner):
    store, model, aset = lab["store"], lab["model"], lab["aset"]
    spec = spec_for([r.id for r in lab["recordings"]], lab["decoder"].id, lab["candidates"].id)
    job = runner.submit(TENANT, spec, request_id="first")
    assert runner.submit(TENANT, spec, request_id="first").id == job.id
    done = wait(runner, TENANT, job.id)
    assert done.state == "completed" and [s.state for s in done.shards] == ["done"] * 3
    for shard, rec in zip(done.shards, lab["recordings"]):
        responses = load_responses(store, TENANT, [rec.id], PREPROCESSING)
        expected = model.predict(responses.data)
        arrays = load_arrays(store, TENANT, shard.output_id, JOB_OUTPUT_ARTIFACT)
        assert sorted(arrays) == ["embeddings", "recording_ids", "retrieval_ids", "retrieval_scores", "stimulus_ids"]
        np.testing.assert_allclose(arrays["embeddings"], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(arrays["stimulus_ids"], responses.stimulus_ids)
        assert set(arrays["recording_ids"]) == {rec.id}
        ids, scores = retrieve(expected, aset["pool"], aset.stimulus_ids, k=3)
        np.testing.assert_array_equal(arrays["retrieval_ids"], ids)
        np.testing.assert_allclose(arrays["retrieval_scores"], scores, atol=1e-5)

        artifact = store.get_artifact(TENANT, shard.output_id, JOB_OUTPUT_ARTIFACT)
        assert artifact.provenance["job_id"] == job.id and artifact.provenance["shard"] == shard.index
        assert artifact.provenance["recordings"] == [{"id": rec.id, "sha256": rec.sha256, "subject": rec.subject}]
        assert artifact.provenance["model"] == {"decoder": lab["decoder"].id}
        assert artifact.provenance["spec"] == done.spec
        summary_text = (store.artifact_dir(TENANT, shard.output_id) / "shard.json").read_text()
        summary = json.loads(summary_text)
        assert summary_text == json.dumps(summary, sort_keys=True, indent=2) + "\n"
        assert summary["n_trials"] == 6 and summary["recordings"][0]["sha256"] == rec.sha256
        assert "created" not in summary_text
    assert not (store.root / "job-work" / job.id).exists()


def test_a_shared_decoder_decodes_each_recording_through_its_subjects_adapter(lab, runner):
    store, recordings = lab["store"], lab["recordings"]  # subjects 01, 01, 02
    decoder, model = add_shared_decoder(store, lab["tmp"], seed=3)
    for model_ref, adapters in (({"decoder": decoder.id}, [r.subject for r in recordings]),
                                ({"decoder": decoder.id, "subject": "02"}, ["02"] * 3)):
        spec = dict(spec_for([r.id for r in recordings], decoder.id), model=model_ref)
        done = wait(runner, TENANT, runner.submit(TENANT, spec).id)
        assert done.state == "completed", [s.error for s in done.shards]
        for shard, rec, subject in zip(done.shards, recordings, adapters):
            expected = model.predict(load_responses(store, TENANT, [rec.id], PREPROCESSING).data, subject)
            arrays = load_arrays(store, TENANT, shard.output_id, JOB_OUTPUT_ARTIFACT)
            np.testing.assert_allclose(arrays["embeddings"], expected, rtol=1e-5, atol=1e-6)
            assert store.get_artifact(TENANT, shard.output_id, JOB_OUTPUT_ARTIFACT).provenance["model"] == model_ref


def test_reconstructions_equal_the_diffusion_model_on_decoded_embeddings(lab, runner):
    store, rec = lab["store"], lab["recordings"][0]
    save_tiny_reconstruction_model(lab["reconstruction_model"], embedding_dim=5)
    decoder, model = add_decoder(store, lab["tmp"], n_dims=5, seed=4)
    spec = spec_for([rec.id], decoder.id)
    spec["outputs"] = {"reconstructions": {"model": "tiny", "n_steps": 2, "seed": 7}}
    done = wait(runner, TENANT, runner.submit(TENANT, spec).id)
    assert done.state == "completed", done.shards[0].error
    arrays = load_arrays(store, TENANT, done.shards[0].output_id)
    assert sorted(arrays) == ["reconstructions", "recording_ids", "stimulus_ids"]
    embeddings = model.predict(load_responses(store, TENANT, [rec.id], PREPROCESSING).data)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker
    try:
        expected = reconstruct(embeddings, model=lab["reconstruction_model"], n_steps=2, seed=7)
    finally:
        torch.set_num_threads(threads)
    assert arrays["reconstructions"].dtype == np.uint8 and arrays["reconstructions"].shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(arrays["reconstructions"], expected)


def test_a_failing_shard_is_retried_then_failed_and_the_job_goes_on(lab, runner):
    odd = add_bold(lab["store"], lab["tmp"], "03", 5, late_trial=True)  # its last trial's window holds no scan
    ids = [lab["recordings"][0].id, odd.id, lab["recordings"][2].id]
    done = wait(runner, TENANT, runner.submit(TENANT, spec_for(ids, lab["decoder"].id)).id)
    assert done.state == "completed_with_failures"
    assert [s.state for s in done.shards] == ["done", "failed", "done"]
    failed = done.shards[1]
    assert failed.failures == 2 and failed.output_id == ""
    assert "1 trials have no scan in the window [3.0, 6.0] s after onset" in failed.error
    assert len(job_outputs(lab["store"], done)) == 2


def test_cancel_mid_job_stops_the_remaining_shards(lab, runner):
    store = lab["store"]
    ids = [add_bold(store, lab["tmp"], "04", 10 + i).id for i in range(8)]
    job = runner.submit(TENANT, spec_for(ids, lab["decoder"].id))
    for seen in runner.watch(TENANT, job.id):
        if seen.count("done") >= 1:
            cancelled = runner.cancel(TENANT, job.id)
            break
    assert cancelled.state == "cancelled" and cancelled.count("cancelled") >= 1
    assert runner.cancel(TENANT, job.id).state == "cancelled"
    after = spec_for([lab["recordings"][0].id], lab["decoder"].id)
    assert wait(runner, TENANT, runner.submit(TENANT, after).id).state == "completed"  # the runner goes on
    final = runner.get(TENANT, job.id)
    assert final.state == "cancelled" and final.count("pending") == final.count("running") == 0
    done = [s for s in final.shards if s.state == "done"]
    assert 1 <= len(done) < 8
    assert sorted(a.id for a in job_outputs(store, final)) == sorted(s.output_id for s in done)


def test_a_restart_keeps_outputs_stored_before_a_crash(tmp_path):
    store = Store(tmp_path / "store")
    rec = add_bold(store, tmp_path, "01", 0)
    decoder, _ = add_decoder(store, tmp_path)
    first = JobRunner(store, JobSettings(workers=1))
    job = first.submit(TENANT, spec_for([rec.id], decoder.id))
    first.jobs.start(job.id)
    first.jobs.shard_running(job.id, 0)
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "embeddings.npy").write_bytes(b"stored before the crash")
    stored = store.add_artifact(TENANT, JOB_OUTPUT_ARTIFACT, {"embeddings.npy": folder / "embeddings.npy"},
                                provenance={"job_id": job.id, "shard": 0})
    (store.root / "job-work" / job.id / ".shard-00000.partial").mkdir(parents=True)
    first.stop()  # the crash: the shard stays 'running', its outputs are stored

    second = JobRunner(store, JobSettings(workers=1)).start()
    try:
        done = wait(second, TENANT, job.id)
    finally:
        second.stop()
    assert done.state == "completed" and done.shards[0].output_id == stored.id
    assert [a.id for a in job_outputs(store, done)] == [stored.id]
    assert not (store.root / "job-work" / job.id).exists()
    store.close()


def test_other_tenants_cannot_see_or_use_a_tenants_jobs(lab, runner):
    from braindecode.errors import NotFound

    job = runner.submit(TENANT, spec_for([lab["recordings"][0].id], lab["decoder"].id))
    for call in (runner.get, runner.cancel):
        with pytest.raises(NotFound):
            call("lab-b", job.id)
    with pytest.raises(NotFound):
        next(runner.watch("lab-b", job.id))
    assert runner.list("lab-b") == ([], "")
    with pytest.raises(NotFound):
        runner.submit("lab-b", spec_for([lab["recordings"][0].id], lab["decoder"].id))
    assert wait(runner, TENANT, job.id).state == "completed"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_shards_decode_on_a_cuda_device(tmp_path):
    store = Store(tmp_path / "store")
    rec = add_bold(store, tmp_path, "01", 0)
    decoder, model = add_decoder(store, tmp_path)
    runner = JobRunner(store, JobSettings(workers=1, device="cuda")).start()
    try:
        done = wait(runner, TENANT, runner.submit(TENANT, spec_for([rec.id], decoder.id)).id)
    finally:
        runner.stop()
    assert done.state == "completed", done.shards[0].error
    expected = model.predict(load_responses(store, TENANT, [rec.id], PREPROCESSING).data)
    embeddings = load_arrays(store, TENANT, done.shards[0].output_id)["embeddings"]
    np.testing.assert_allclose(embeddings, expected, rtol=1e-4, atol=1e-5)
    store.close()


def test_a_decoder_fitted_on_a_voxel_selection_reads_its_voxels(lab, runner):
    store, tmp, recordings = lab["store"], lab["tmp"], lab["recordings"]
    mask = np.zeros(GRID, np.uint8)
    mask[:2] = 1
    nibabel.save(nibabel.Nifti1Image(mask, np.diag([3.0, 3.0, 3.0, 1.0])), tmp / "mask.nii.gz")
    with Upload(store, {"subject": "template", "file_name": "mask.nii.gz"}, 1 << 30, TENANT) as upload:
        upload.write((tmp / "mask.nii.gz").read_bytes())
        mask_id = upload.commit().id
    selection = {"voxels": {"mask_id": mask_id}}
    fit = fit_decoder_from_store(store, TENANT, [r.id for r in recordings], PREPROCESSING, lab["candidates"].id,
                                 "pool", params={"alphas": [1.0]}, selection=selection)
    decoder = save_decoder_artifact(store, TENANT, fit.model, fit.provenance)
    done = wait(runner, TENANT, runner.submit(TENANT, spec_for([recordings[0].id], decoder.id)).id)
    assert done.state == "completed", done.shards[0].error
    responses = load_responses(store, TENANT, [recordings[0].id], PREPROCESSING, selection)
    assert responses.data.shape[1] == int(mask.sum())
    np.testing.assert_allclose(load_arrays(store, TENANT, done.shards[0].output_id)["embeddings"],
                               fit.model.predict(responses.data), rtol=1e-5, atol=1e-6)
