"""DecodingService over a real server on a loopback port: FitDecoder, Decode, Retrieve."""

import json
import threading

import grpc
import mne
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from braindecode.client import Client
from braindecode.containers import ActivationSet
from braindecode.decoding import load_decoder
from braindecode.errors import NotFound
from braindecode.store import save_activation_set
from braindecode.tensors import to_tensor
from braindecode.v1 import decoding_pb2
from services.decoding import DecodingServicer
from service_checks import artifact_ids, assert_nothing_stored, assert_thread_ends, expect_error, trial_events, write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_DIMS, SHAPE, TRIALS_PER_RUN, N_RUNS = 8, (4, 4, 4), 24, 4
N_VOXELS = int(np.prod(SHAPE))
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
EEG_SPEC = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.3, "baseline": None}}
RIDGE = {"alphas": [0.1, 1.0, 10.0, 100.0]}
MLP = {"hidden_dim": 64, "n_blocks": 1, "input_dropout": 0.1,
       "training": {"max_epochs": 20, "batch_size": 16, "patience": 20, "mixco_fraction": 0.0}}


@pytest.fixture(scope="module")
def world():
    """Stimulus embeddings (layer "pool", and a 4-d layer "small") and a linear brain: X = E @ W + noise."""
    rng = np.random.default_rng(0)
    n_stimuli = TRIALS_PER_RUN * (N_RUNS + 1)
    ids = np.array([f"stim-{i:03d}" for i in range(n_stimuli)])
    pool = rng.standard_normal((n_stimuli, N_DIMS)).astype(np.float32)
    small = rng.standard_normal((n_stimuli, 4)).astype(np.float32)
    weights = rng.standard_normal((N_DIMS, N_VOXELS)).astype(np.float32)
    return ids, {"pool": pool, "small": small}, weights


def _write_run(path, stimulus_rows, world, seed, noise=1.0):
    """A run whose scan k + 1 is the brain response to the stimulus of trial k."""
    _, layers, weights = world
    return write_trial_run(path, layers["pool"][stimulus_rows] @ weights, SHAPE, seed, noise)


def _upload_run(client, tmp_path, world, run: int, subject="01"):
    ids = world[0]
    rows = np.arange(run * TRIALS_PER_RUN, (run + 1) * TRIALS_PER_RUN)
    path = _write_run(tmp_path / f"run-{run}.nii.gz", rows, world, seed=100 + run)
    return client.upload(path, subject=subject, run=str(run), events=trial_events(ids[rows]))


@pytest.fixture
def lab(server, client, tmp_path, world):
    """lab-a's store: N_RUNS fMRI runs, one held-out run and the activation set."""
    ids, layers, _ = world
    runs = [_upload_run(client, tmp_path, world, r).id for r in range(N_RUNS)]
    held_out = _upload_run(client, tmp_path, world, N_RUNS).id
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, dict(layers), model="simulated")).id
    return {"runs": runs, "held_out": held_out, "activations": activations}


@pytest.fixture
def ridge_decoder(client, lab):
    return client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", params=RIDGE)


@pytest.mark.parametrize("kind, params", [("ridge", RIDGE), ("mlp", MLP)])
def test_fit_then_retrieve_recovers_held_out_stimuli(server, client, lab, world, kind, params):
    progress = []
    result = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", decoder=kind, params=params,
                                seed=3, on_progress=progress.append)
    assert (result.modality, list(result.input_shape), result.n_dims) == ("fmri", [N_VOXELS], N_DIMS)
    assert result.n_trials == N_RUNS * TRIALS_PER_RUN and len(result.folds) == N_RUNS
    assert sorted(r for f in result.folds for r in f.test_runs) == sorted(lab["runs"])
    chance = 1 / TRIALS_PER_RUN
    assert all(f.n_test_stimuli == TRIALS_PER_RUN for f in result.folds)
    assert result.cv_scores["top_1"] > 10 * chance and result.cv_scores["pearson"] > 0.5
    assert result.cv_scores["top_1"] == pytest.approx(np.mean([f.scores["top_1"] for f in result.folds]))
    stages = [p.stage for p in progress]
    assert stages[0] == "responses" and stages[-1] == "store" and "fit" in stages
    assert stages.count("cross-validation") >= N_RUNS
    assert all(0 <= p.fraction <= 1 for p in progress)

    info = server.store.get_artifact("lab-a", result.decoder_id, kind="decoder")
    assert set(info.files) == {"weights.safetensors", "config.json", "model.onnx"}
    assert info.meta["class"] == {"ridge": "RidgeDecoder", "mlp": "MLPDecoder"}[kind]
    recordings = {r["id"]: r["sha256"] for r in info.provenance["recordings"]}
    assert recordings == {rid: client.get(rid).sha256 for rid in lab["runs"]}
    assert info.provenance["activation_set_id"] == lab["activations"] and info.provenance["layer"] == "pool"
    assert info.provenance["preprocessing"] == FMRI_SPEC and info.provenance["seed"] == 3
    assert info.provenance["cross_validation"]["scores"] == pytest.approx(dict(result.cv_scores))

    # Retrieval of the stimuli of a run the decoder never saw, among all 120 stimuli.
    samples = client.stream_data(lab["held_out"], FMRI_SPEC).data
    truth = world[0][N_RUNS * TRIALS_PER_RUN:]
    ids, scores = client.retrieve(samples, k=5, activation_set_id=lab["activations"], layer="pool",
                                  decoder_id=result.decoder_id)
    assert ids.shape == scores.shape == (TRIALS_PER_RUN, 5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    assert np.mean(ids[:, 0] == truth) > 0.5  # chance: 1 / 120


def test_fit_is_deterministic_under_a_seed(server, client, lab):
    quick = {**MLP, "training": {**MLP["training"], "max_epochs": 3}}

    def weights(seed):
        result = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", decoder="mlp", params=quick,
                                    seed=seed)
        info = server.store.get_artifact("lab-a", result.decoder_id)
        return dict(result.cv_scores), info.files["weights.safetensors"]  # blobs are named by content

    first = weights(5)
    assert weights(5) == first
    assert weights(6)[1] != first[1]


def test_decode_matches_the_stored_torch_decoder(server, client, ridge_decoder, lab):
    samples = client.stream_data(lab["held_out"], FMRI_SPEC).data
    torch_decoder = load_decoder(server.store.artifact_dir("lab-a", ridge_decoder.decoder_id))
    expected = torch_decoder.predict(samples)
    # One stream, messages of 1, 5 and 18 samples: one reply per message, in order.
    replies = list(client.decode_stream(ridge_decoder.decoder_id, [samples[:1], samples[1:6], samples[6:]]))
    assert [r.shape for r in replies] == [(1, N_DIMS), (5, N_DIMS), (18, N_DIMS)]
    np.testing.assert_allclose(np.concatenate(replies), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(client.decode(ridge_decoder.decoder_id, samples[:3]), expected[:3],
                               rtol=1e-4, atol=1e-4)
    # Retrieve from decoded embeddings equals Retrieve from the brain samples through the decoder.
    via_embeddings = client.retrieve(expected, k=3, activation_set_id=lab["activations"], layer="pool")
    via_decoder = client.retrieve(samples, k=3, activation_set_id=lab["activations"], layer="pool",
                                  decoder_id=ridge_decoder.decoder_id)
    np.testing.assert_array_equal(via_embeddings[0], via_decoder[0])
    np.testing.assert_allclose(via_embeddings[1], via_decoder[1], atol=1e-5)


def test_concurrent_decode_streams_get_their_own_embeddings(server, client, ridge_decoder, lab):
    samples = client.stream_data(lab["held_out"], FMRI_SPEC).data
    expected = load_decoder(server.store.artifact_dir("lab-a", ridge_decoder.decoder_id)).predict(samples)
    results, errors = {}, []

    def worker(w):
        try:
            rows = [np.arange(i, i + 1 + (w + i) % 3) % len(samples) for i in range(6)]
            results[w] = (rows, list(client.decode_stream(ridge_decoder.decoder_id, [samples[r] for r in rows])))
        except grpc.RpcError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8
    for rows, replies in results.values():
        for r, reply in zip(rows, replies):
            np.testing.assert_allclose(reply, expected[r], rtol=1e-4, atol=1e-4)


def _cosine(A, B):
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A @ B.T


def test_cv_scores_equal_scikit_learn_on_the_same_folds(client, lab, world):
    """One alpha: each fold's scores against StandardScaler + Ridge fitted under LeaveOneGroupOut."""
    result = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", params={"alphas": [10.0]})
    X = np.concatenate([client.stream_data(r, FMRI_SPEC).data for r in lab["runs"]])
    Y = world[1]["pool"][: N_RUNS * TRIALS_PER_RUN]
    groups = np.repeat(lab["runs"], TRIALS_PER_RUN)
    by_run = {f.test_runs[0]: f.scores for f in result.folds}
    for train, test in LeaveOneGroupOut().split(X, groups=groups):
        predicted = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(X[train], Y[train]).predict(X[test])
        pearson = np.mean([np.corrcoef(Y[test][:, d], predicted[:, d])[0, 1] for d in range(N_DIMS)])
        similarity = _cosine(predicted, Y[test])
        top1 = np.mean(np.argmax(similarity, axis=1) == np.arange(len(test)))
        two_way = np.mean([(similarity[i] < similarity[i, i]).sum() / (len(test) - 1) for i in range(len(test))])
        scores = by_run[groups[test][0]]
        assert scores["pearson"] == pytest.approx(pearson, abs=1e-4)
        assert scores["top_1"] == pytest.approx(top1, abs=1e-9)
        assert scores["two_way"] == pytest.approx(two_way, abs=1e-9)


def test_eeg_decoder_and_modality_mismatches(server, client, tmp_path, world, ridge_decoder):
    ids, layers, _ = world
    rng = np.random.default_rng(7)
    sfreq, n_trials, n_channels = 100.0, 20, 4
    patterns = rng.standard_normal((4, n_channels, 31))
    recordings = []
    for run in range(2):
        rows = np.arange(run * n_trials, (run + 1) * n_trials)
        data = rng.standard_normal((n_channels, int(sfreq * 0.5 * (n_trials + 1)) + 50)) * 0.3
        for k, row in enumerate(rows):
            start = int((k + 1) * 0.5 * sfreq)
            data[:, start:start + 31] += np.einsum("d,dct->ct", layers["small"][row], patterns)
        raw = mne.io.RawArray(data * 1e-6, mne.create_info([f"EEG{c}" for c in range(n_channels)], sfreq, "eeg"),
                              verbose="error")
        path = tmp_path / f"run-{run}_raw.fif"
        raw.save(path, verbose="error")
        events = [{"onset": (k + 1) * 0.5, "duration": 0.1, "stimulus_id": ids[row]} for k, row in enumerate(rows)]
        recordings.append(client.upload(path, subject="02", run=str(run), events=events).id)
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, dict(layers))).id
    params = {"n_filters": 2, "temporal_kernel": 5, "pool_size": 4, "training": {"max_epochs": 2, "batch_size": 8}}
    result = client.fit_decoder(recordings, EEG_SPEC, activations, "small", decoder="eeg", params=params)
    assert (result.modality, list(result.input_shape), result.n_dims) == ("eeg", [n_channels, 31], 4)
    assert len(result.folds) == 2 and all(f.n_test_stimuli == n_trials for f in result.folds)
    epochs = client.stream_data(recordings[0], EEG_SPEC).data
    assert client.decode(result.decoder_id, epochs[:3]).shape == (3, 4)

    before = artifact_ids(server)
    expect_error(lambda: client.decode(result.decoder_id, epochs[:3, 0]), grpc.StatusCode.INVALID_ARGUMENT,
                  "eeg decoder expects 3-D", "fMRI responses")
    expect_error(lambda: client.decode(ridge_decoder.decoder_id, epochs[:1]), grpc.StatusCode.INVALID_ARGUMENT,
                  "fmri decoder expects 2-D", "EEG/MEG epochs")
    expect_error(lambda: client.fit_decoder(recordings, EEG_SPEC, activations, "small", decoder="mlp"),
                  grpc.StatusCode.INVALID_ARGUMENT, "'mlp' takes fmri data but the recordings give eeg")
    expect_error(lambda: client.fit_decoder(recordings, FMRI_SPEC, activations, "small"),
                  grpc.StatusCode.INVALID_ARGUMENT, "modality 'eeg'")
    assert_nothing_stored(server, client, before)


def test_fit_decoder_bad_input(server, client, lab, world):
    first_ten = ActivationSet(world[0][:10], {"pool": world[1]["pool"][:10]})
    partial = save_activation_set(server.store, "lab-a", first_ten).id
    before = artifact_ids(server)
    runs, acts = lab["runs"], lab["activations"]
    invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    cases = [
        (dict(decoder="svm"), invalid, "unknown decoder 'svm'; use one of ridge, mlp, eeg"),
        (dict(params={"alpha": 1.0}), invalid, "unknown ridge decoder parameter 'alpha'"),
        (dict(params={"alphas": "many"}), invalid, "'alphas' must be a non-empty list of non-negative numbers"),
        (dict(params={"cv": -2}), invalid, "'cv' must be a non-negative integer"),
        (dict(decoder="mlp", params={"training": {"epochs": 3}}), invalid, "unknown training parameter 'epochs'"),
        (dict(decoder="mlp", params={"dropout": 1.5}), invalid, "MLPDecoder dropout=1.5 is out of range: it must be a number in [0, 1)"),
        (dict(decoder="mlp", params={"training": {"max_epochs": 100000}}), invalid,
         "training max_epochs=100000 is out of range: it must be an integer in [1, 1000]"),
        (dict(decoder="eeg", params=None), invalid, "'eeg' takes eeg data but the recordings give fmri"),
        (dict(val_fraction=0.2), invalid, "val_fraction applies to the neural decoders"),
        (dict(decoder="mlp", params=MLP, val_fraction=0.95), invalid, "too few samples (72) for val_fraction=0.95"),
        (dict(preprocessing={"modality": "fmri", "mask": None}), invalid, "'epochs' or 'trials' step"),
        (dict(preprocessing={**FMRI_SPEC, "trials": {"method": "boxcar"}}), invalid, "boxcar"),
        (dict(layer="logits"), invalid, "unknown layer 'logits'; available: pool, small"),
        (dict(activation_set_id=partial), invalid, "stimulus ids have no activations"),
        (dict(cv_folds=5), invalid, "5 folds need at least 5 runs, got 4"),
        (dict(cv_folds=1), invalid, "cv must be at least 2 folds"),
        (dict(recording_ids=runs[:1]), invalid, "leave-one-run-out needs at least 2 runs, got 1"),
        (dict(recording_ids=[runs[0], runs[0]]), invalid, "given more than once"),
        (dict(recording_ids=[]), invalid, "no recording ids given"),
        (dict(recording_ids=runs + ["rec_nope"]), not_found, "recording 'rec_nope' not found"),
        (dict(activation_set_id="art_nope"), not_found, "activations 'art_nope' not found"),
    ]
    base = dict(recording_ids=runs, preprocessing=FMRI_SPEC, activation_set_id=acts, layer="pool", params=RIDGE)
    for override, code, fragment in cases:
        kwargs = {**base, **override}
        expect_error(lambda: client.fit_decoder(**kwargs), code, fragment)
    request = decoding_pb2.FitDecoderRequest(recording_ids=runs, activation_set_id=acts, layer="pool")
    for json_fields, fragment in [
            ({}, "preprocessing_json is required"),
            ({"preprocessing_json": "{mask"}, "preprocessing_json is not valid JSON"),
            ({"preprocessing_json": "[1]"}, "preprocessing_json must be a JSON object"),
            ({"preprocessing_json": "{}", "params_json": "nope"}, "params_json is not valid JSON")]:
        bad = decoding_pb2.FitDecoderRequest(**json_fields)
        bad.MergeFrom(request)
        expect_error(lambda: list(client.decoding.stub.FitDecoder(bad, metadata=client.metadata)), invalid, fragment)
    assert_nothing_stored(server, client, before)


def test_decode_bad_input(server, client, ridge_decoder, lab):
    decoder_id, before = ridge_decoder.decoder_id, artifact_ids(server)
    good = np.zeros((1, N_VOXELS), np.float32)
    invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND

    def stream(*requests):
        return lambda: list(client.decoding.stub.Decode(iter(requests), metadata=client.metadata))

    def message(samples=None, decoder=decoder_id, tensor=None):
        if tensor is None and samples is not None:
            tensor = to_tensor(samples)
        return decoding_pb2.DecodeRequest(decoder_id=decoder, samples=tensor)

    nan = good.copy()
    nan[0, 3] = np.nan
    short = to_tensor(good)
    short.data = short.data[:-4]
    cases = [
        (stream(message(good, decoder="")), invalid, "the first Decode message must name a decoder_id"),
        (stream(message(good, decoder="art_nope")), not_found, "decoder 'art_nope' not found"),
        (stream(message(good, decoder=lab["activations"])), not_found, "not found"),
        (stream(message(np.zeros((1, N_VOXELS - 1)))), invalid, f"shape ({N_VOXELS},), got ({N_VOXELS - 1},)"),
        (stream(message(nan)), invalid, "brain data contains 1 NaN or infinite values"),
        (stream(message(tensor=short)), invalid, f"needs {4 * N_VOXELS} bytes, got {4 * N_VOXELS - 4}"),
        (stream(message(None)), invalid, "carries no samples"),
        (stream(message(np.zeros((0, N_VOXELS)))), invalid, "brain data has no samples"),
    ]
    for call, code, fragment in cases:
        expect_error(call, code, fragment)
    # An error ends the stream after the replies to the messages before it.
    replies = client.decoding.stub.Decode(iter([message(good), message(nan)]), metadata=client.metadata)
    assert next(replies).embeddings.shape == [1, N_DIMS]
    expect_error(lambda: next(replies), invalid, "NaN")
    assert client.decode(decoder_id, good).shape == (1, N_DIMS)
    assert_nothing_stored(server, client, before)


def test_retrieve_bad_input(server, client, ridge_decoder, lab):
    before, acts = artifact_ids(server), lab["activations"]
    emb = np.ones((2, N_DIMS), np.float32)
    cands = np.eye(10, N_DIMS, dtype=np.float32)
    nan = emb.copy()
    nan[1, 0] = np.nan
    invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    cases = [
        (dict(queries=emb), invalid, "exactly one of the two"),
        (dict(queries=emb, activation_set_id=acts, layer="pool", candidates=cands, candidate_ids=list("abcdefghij")),
         invalid, "exactly one of the two"),
        (dict(queries=emb, activation_set_id=acts), invalid, "layer is required with activation_set_id"),
        (dict(queries=emb, candidates=cands, candidate_ids=list("abcdefghij"), layer="pool"), invalid,
         "layer applies to activation_set_id candidates only"),
        (dict(queries=emb, activation_set_id=acts, layer="pool", candidate_ids=["a"]), invalid,
         "candidate_ids go with candidates"),
        (dict(queries=emb, candidates=cands), invalid, "(0,) candidate ids for 10 candidates"),
        (dict(queries=emb, activation_set_id=acts, layer="logits"), invalid, "unknown layer 'logits'"),
        (dict(queries=emb, activation_set_id=acts, layer="pool", k=0), invalid,
         "k must be an integer between 1 and the 120 candidates, got 0"),
        (dict(queries=emb, candidates=cands, candidate_ids=list("abcdefghij"), k=11), invalid, "got 11"),
        (dict(queries=emb[:, :4], activation_set_id=acts, layer="pool"), invalid,
         "query embeddings have 4 dimensions but candidates have 8"),
        (dict(queries=nan, activation_set_id=acts, layer="pool"), invalid, "query embeddings contains 1 NaN"),
        (dict(queries=emb, activation_set_id=acts, layer="pool", decoder_id=ridge_decoder.decoder_id), invalid,
         f"decoder was fitted on samples of shape ({N_VOXELS},), got ({N_DIMS},)"),
        (dict(queries=emb, activation_set_id="art_nope", layer="pool"), not_found, "activations 'art_nope'"),
        (dict(queries=emb, activation_set_id=acts, layer="pool", decoder_id="art_nope"), not_found,
         "decoder 'art_nope' not found"),
    ]
    for kwargs, code, fragment in cases:
        kwargs.setdefault("k", 1)
        expect_error(lambda: client.retrieve(**kwargs), code, fragment)
    no_queries = decoding_pb2.RetrieveRequest(activation_set_id=acts, layer="pool", k=1)
    expect_error(lambda: client.decoding.stub.Retrieve(no_queries, metadata=client.metadata), invalid,
                  "give the queries either as queries or as recording_ids with a decoder_id")
    ids, scores = client.retrieve(cands[[3, 7]], k=2, candidates=cands, candidate_ids=list("abcdefghij"))
    assert ids[:, 0].tolist() == ["d", "h"] and scores[:, 0] == pytest.approx([1.0, 1.0])
    assert_nothing_stored(server, client, before)


def test_other_tenants_ids_are_not_found(server, client, tmp_path, world, ridge_decoder, lab):
    key_b, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key_b, timeout=60) as lab_b:
        own_runs = [_upload_run(lab_b, tmp_path, world, r, subject="b1").id for r in range(2)]
        before_a, acts = artifact_ids(server), lab["activations"]
        samples = np.zeros((1, N_VOXELS), np.float32)
        cases = [
            (lambda: lab_b.fit_decoder(lab["runs"], FMRI_SPEC, acts, "pool"), "recording"),
            (lambda: lab_b.fit_decoder(own_runs, FMRI_SPEC, acts, "pool"), f"activations {acts!r} not found"),
            (lambda: lab_b.decode(ridge_decoder.decoder_id, samples), "decoder"),
            (lambda: lab_b.retrieve(np.ones((1, N_DIMS)), activation_set_id=acts, layer="pool"), "activations"),
            (lambda: lab_b.retrieve(samples, decoder_id=ridge_decoder.decoder_id, candidates=np.eye(2, N_DIMS),
                                    candidate_ids=["a", "b"], k=1), "decoder"),
        ]
        for call, fragment in cases:
            expect_error(call, grpc.StatusCode.NOT_FOUND, fragment, "not found")
        assert lab_b.health() == "SERVING"
    assert artifact_ids(server, "lab-b") == [] and artifact_ids(server) == before_a


def test_cancelled_fit_stores_nothing(server, client, lab):
    before = artifact_ids(server)
    long_mlp = {**MLP, "training": {"max_epochs": 1000, "patience": 1000, "batch_size": 16}}
    request = decoding_pb2.FitDecoderRequest(
        recording_ids=lab["runs"], preprocessing_json=json.dumps(FMRI_SPEC), activation_set_id=lab["activations"],
        layer="pool", decoder="mlp", params_json=json.dumps(long_mlp))
    call = client.decoding.stub.FitDecoder(request, metadata=client.metadata)
    for event in call:
        if event.progress.stage == "cross-validation":
            break
    call.cancel()
    assert_thread_ends("decoding-fit", 30)
    assert_nothing_stored(server, client, before)


def test_decoder_cache_is_per_tenant_lru(server, ridge_decoder, client, lab, monkeypatch):
    second = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "small", params=RIDGE).decoder_id
    cache = next(s for s in server._servicers if isinstance(s, DecodingServicer)).decoders
    monkeypatch.setattr(cache, "capacity", 1)
    first = cache.get(("lab-a", ridge_decoder.decoder_id, ""))
    assert cache.get(("lab-a", ridge_decoder.decoder_id, "")) is first
    assert cache.get(("lab-a", second, "")).n_dims_ == 4
    assert cache.get(("lab-a", ridge_decoder.decoder_id, "")) is not first  # evicted by the second
    with pytest.raises(NotFound):
        cache.get(("lab-b", ridge_decoder.decoder_id, ""))
