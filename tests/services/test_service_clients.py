"""The per-service clients over a real server: a small pipeline through ``client.<service>.<verb>``, whose
replies are arrays and reply dataclasses only, never protobufs."""

import dataclasses

import numpy as np
import pytest
import real_files
from google.protobuf.message import Message

from braindecode.client import (
    ActivationSetInfo,
    CompareResult,
    FitDecoderResult,
    Progress,
    RDMInfo,
    Recording,
    StimulusSetInfo,
)
from service_checks import artifact_ids, trial_events, write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

SHAPE, N_STIMULI = (3, 3, 3), 8
SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}


def _no_protobuf(value):
    """Fail if ``value`` holds a protobuf message anywhere inside."""
    assert not isinstance(value, Message), type(value)
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            _no_protobuf(getattr(value, field.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_protobuf(item)
    elif isinstance(value, dict):
        for item in value.values():
            _no_protobuf(item)


def test_recordings_client_round_trip(client):
    recordings = client.recordings
    path = real_files.FUNCTIONAL
    rec = recordings.upload(path, subject="01", task="rest", events=[{"onset": 2.0, "duration": 1.0,
                                                                       "stimulus_id": "cat"}])
    again = recordings.upload((path.name, path.read_bytes()), subject="02", task="rest")
    assert isinstance(rec, Recording) and (rec.sha256, rec.shape) == (again.sha256, again.shape)
    assert rec.events[0].stimulus_id == "cat" and recordings.get(rec.id) == rec
    assert [r.id for r in recordings.list(task="rest", page_size=1)] == [rec.id, again.id]
    assert recordings.data(rec.id).shape == tuple(rec.shape)
    assert recordings.delete(again.id) and [r.id for r in recordings.list()] == [rec.id]
    _no_protobuf([rec, recordings.list()])


def test_a_pipeline_through_the_service_clients(server, client, tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"img-{i}" for i in range(N_STIMULI)]
    images = list(rng.integers(0, 256, (N_STIMULI, 32, 32, 3), dtype=np.uint8))
    stimuli = client.activations.upload_stimuli(images=images, ids=ids, name="noise")
    progress = []
    extracted = client.activations.extract("efficientnet-lite0", stimulus_set_id=stimuli.id, layers=["pool"],
                                           on_progress=progress.append)
    assert isinstance(stimuli, StimulusSetInfo) and isinstance(extracted, ActivationSetInfo)
    assert progress and all(isinstance(p, Progress) for p in progress)
    assert client.activations.get(extracted.id) == extracted
    pool = client.activations.get_layer(extracted.id, "pool")
    assert pool.shape == (N_STIMULI, 1280)

    weights = rng.standard_normal((1280, int(np.prod(SHAPE)))).astype(np.float32)
    runs = []
    for run in range(2):
        order = rng.permutation(N_STIMULI)
        path = write_trial_run(tmp_path / f"run-{run}.nii.gz", pool[order] @ weights, SHAPE, seed=run)
        runs.append(client.recordings.upload(path, subject="01", run=str(run),
                                             events=trial_events(np.array(ids)[order])).id)
    fit = client.decoding.fit(runs, SPEC, extracted.id, "pool", params={"alphas": [1.0]})
    assert isinstance(fit, FitDecoderResult) and fit.n_trials == 2 * N_STIMULI and len(fit.folds) == 2

    samples = client.recordings.data(runs[0], SPEC)
    stream = client.decoding.decode_stream(fit.decoder_id, [samples[:3], "not samples", samples[3:]])
    np.testing.assert_allclose(next(stream), client.decoding.decode(fit.decoder_id, samples[:3]), rtol=1e-5)
    with pytest.raises(TypeError, match="samples must be an array of numbers, got str 'not samples'"):
        next(stream)
    found, scores = client.decoding.retrieve(samples, k=1, activation_set_id=extracted.id, layer="pool",
                                             decoder_id=fit.decoder_id)
    assert found.shape == scores.shape == (N_STIMULI, 1)

    (rdm,) = client.comparison.compute_rdm(activation_set_id=extracted.id, layer="pool")
    brain = client.comparison.compute_rdm(runs, SPEC)
    result = client.comparison.compare([r.id for r in brain], {"pool": rdm.id}, n_bootstrap=0, n_permutations=0)
    assert isinstance(rdm, RDMInfo) and rdm.rdm.shape == (N_STIMULI, N_STIMULI)
    assert isinstance(result, CompareResult) and result.models[0].rdm_id == rdm.id
    np.testing.assert_array_equal(client.comparison.get_rdm_matrix(rdm.id), rdm.rdm)
    _no_protobuf([stimuli, extracted, client.activations.list_models(), client.activations.list_stimulus_sets(),
                  fit, rdm, brain, result, client.jobs.list()])

    before = artifact_ids(server)
    with pytest.raises(TypeError, match="model_rdm_ids must be a dict of model name -> RDM id, got list"):
        client.comparison.compare([r.id for r in brain], [rdm.id])
    assert artifact_ids(server) == before and client.health() == "SERVING"
