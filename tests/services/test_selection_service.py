"""Voxel and trial selections through a real server: FitDecoder, Retrieve, FitEncoder, ComputeRDM and StreamData
read the same selected responses as the library, and a bad selection is INVALID_ARGUMENT with nothing stored."""

import grpc
import nibabel
import numpy as np
import pytest

from braindecode.client import Client
from braindecode.containers import ActivationSet, Events
from braindecode.decoding import fit_decoder
from braindecode.store import load_responses, save_activation_set
from service_checks import artifact_ids, assert_nothing_stored, expect_error, trial_events, write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_DIMS, SHAPE, TRIALS_PER_RUN, N_RUNS = 6, (4, 4, 4), 20, 4
N_VOXELS = int(np.prod(SHAPE))
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
RIDGE = {"alphas": [0.1, 1.0, 10.0, 100.0]}
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _labels() -> np.ndarray:
    """A label image on the runs' grid: 1 where x < 2, 2 where x >= 2 and y < 2, 3 elsewhere."""
    x, y, _ = np.indices(SHAPE)
    return np.where(x < 2, 1, np.where(y < 2, 2, 3)).astype(np.int16)


def _save_volume(path, volume, affine=None):
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4) if affine is None else affine), path)
    return path


@pytest.fixture(scope="module")
def world():
    """Stimuli (every 4th one a test stimulus) and a brain that responds in labels 1 and 2 only."""
    rng = np.random.default_rng(1)
    n_stimuli = TRIALS_PER_RUN * N_RUNS
    ids = np.array([f"stim-{i:03d}" for i in range(n_stimuli)])
    split = np.where(np.arange(n_stimuli) % 4 == 0, "test", "train")
    pool = rng.standard_normal((n_stimuli, N_DIMS)).astype(np.float32)
    weights = rng.standard_normal((N_DIMS, N_VOXELS)).astype(np.float32)
    weights[:, _labels().reshape(-1) == 3] = 0.0
    return ids, split, pool, weights


@pytest.fixture
def lab(server, client, tmp_path, world):
    """lab-a's store: N_RUNS runs whose events carry a split and a response time, the activation set, the
    label image and a mask of label 3, uploaded like recordings."""
    ids, split, pool, weights = world
    runs = []
    for run in range(N_RUNS):
        rows = np.arange(run * TRIALS_PER_RUN, (run + 1) * TRIALS_PER_RUN)
        path = write_trial_run(tmp_path / f"run-{run}.nii.gz", pool[rows] @ weights, SHAPE, seed=10 + run, noise=0.5)
        events = [dict(event, columns={"split": str(split[row]), "rt": "n/a" if row % 7 == 0 else f"{row / 100:.2f}"})
                  for event, row in zip(trial_events(ids[rows]), rows)]
        runs.append(client.upload(path, subject="01", run=str(run), events=events).id)
    atlas = client.upload(_save_volume(tmp_path / "atlas.nii.gz", _labels()), subject="template").id
    mask = client.upload(_save_volume(tmp_path / "mask.nii.gz", (_labels() == 3).astype(np.uint8)),
                         subject="template").id
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, {"pool": pool}, model="sim")).id
    return {"runs": runs, "atlas": atlas, "mask": mask, "activations": activations}


def _visual_train(lab) -> dict:
    return {"voxels": {"atlas_id": lab["atlas"], "labels": [1, 2]}, "trials": {"where": "split == 'train'"}}


def test_events_keep_their_columns(client, lab, tmp_path):
    run = client.get(lab["runs"][0])
    assert run.events[0].columns == {"split": "test", "rt": "n/a"}
    assert run.events[1].columns == {"split": "train", "rt": "0.01"}
    table = tmp_path / "events.tsv"
    Events([1.0, 2.0], [0.5, 0.5], ["a", "b"], {"trial_type": ["face", "house"]}).to_tsv(table)
    path = write_trial_run(tmp_path / "small.nii.gz", np.zeros((2, N_VOXELS)), SHAPE, seed=0)
    uploaded = client.upload(path, subject="02", events=table)
    assert [e.columns for e in uploaded.events] == [{"trial_type": "face"}, {"trial_type": "house"}]
    # an event lacking a column the others have gets BIDS's missing value
    mixed = client.upload(path, subject="02", run="2", events=[{"onset": 1.0, "duration": 0.5, "stimulus_id": "a",
                                                       "columns": {"split": "train"}},
                                                      {"onset": 2.0, "duration": 0.5, "stimulus_id": "b"}])
    assert [e.columns for e in mixed.events] == [{"split": "train"}, {"split": "n/a"}]


def test_fit_decoder_on_selected_voxels_and_trials_equals_the_library_on_the_same_subset(server, client, lab, world):
    ids, split, _, _ = world
    result = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", params=RIDGE,
                                selection=_visual_train(lab))
    visual = np.isin(_labels().reshape(-1), [1, 2])
    train = split == "train"
    assert list(result.input_shape) == [int(visual.sum())] and result.n_trials == int(train.sum())

    every = load_responses(server.store, "lab-a", lab["runs"], FMRI_SPEC)
    kept = np.isin(every.stimulus_ids, ids[train])
    subset = every.subset(kept)
    subset.data = subset.data[:, visual]
    activations = ActivationSet(ids, {"pool": world[2]})
    expected = fit_decoder(subset, activations, "pool", "fmri", "ridge", RIDGE)
    assert result.cv_scores == pytest.approx(expected.cv_scores, abs=1e-5)
    test_samples = every.data[~kept][:, visual]
    np.testing.assert_allclose(client.decode(result.decoder_id, test_samples),
                               expected.model.predict(test_samples), atol=1e-4)

    provenance = server.store.get_artifact("lab-a", result.decoder_id, "decoder").provenance["selection"]
    atlas = client.get(lab["atlas"])
    assert provenance == {"voxels": {"atlas_id": lab["atlas"], "labels": [1, 2], "sha256": atlas.sha256,
                                     "n_voxels": int(visual.sum())},
                          "trials": {"where": "split == 'train'", "model_events": "all",
                                     "n_events": int(train.sum())}}


def test_retrieve_decodes_the_selected_trials_on_the_decoders_voxels(server, client, lab, world):
    ids, split, _, _ = world
    decoder = client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", params=RIDGE,
                                 selection=_visual_train(lab)).decoder_id
    found = client.retrieve_recordings(lab["runs"], FMRI_SPEC, decoder, k=3, activation_set_id=lab["activations"],
                                       layer="pool", selection={"trials": {"where": "split == 'test'"}},
                                       average_repeats=False)
    test_ids = ids[split == "test"]
    assert list(found.query_ids) == list(test_ids)  # trial order: runs in turn
    every = load_responses(server.store, "lab-a", lab["runs"], FMRI_SPEC)
    samples = every.data[np.isin(every.stimulus_ids, test_ids)][:, np.isin(_labels().reshape(-1), [1, 2])]
    np.testing.assert_allclose(found.query_embeddings, client.decode(decoder, samples), atol=1e-5)
    assert len(found.matches) == len(test_ids) and all(len(m.stimulus_ids) == 3 for m in found.matches)
    top1 = np.mean([m.stimulus_ids[0] == query for m, query in zip(found.matches, found.query_ids)])
    assert top1 > 0.5  # chance: 1 / 80


def test_stream_data_and_rdms_of_a_mask_equal_those_of_the_same_voxels(server, client, lab, world):
    ids, split, _, _ = world
    chosen = list(ids[[1, 5, 2]])
    data = client.stream_data(lab["runs"][0], FMRI_SPEC,
                              selection={"voxels": {"mask_id": lab["mask"]}, "trials": {"stimulus_ids": chosen}})
    every = client.stream_data(lab["runs"][0], FMRI_SPEC)
    assert list(data.trials) == [1, 2, 5]  # each row names its event among the run's
    np.testing.assert_allclose(data.data, every.data[[1, 2, 5]][:, (_labels() == 3).reshape(-1)], atol=1e-6)

    where = {"where": "split == 'test' and (rt > 0.3 or rt == 'n/a')"}
    selected = client.compute_rdm(lab["runs"], FMRI_SPEC, selection={"voxels": {"mask_id": lab["mask"]},
                                                                      "trials": where})[0]
    rows = np.arange(len(ids))
    matching = list(ids[(split == "test") & ((rows % 7 == 0) | (rows / 100 > 0.3))])
    as_roi = client.compute_rdm(lab["runs"], FMRI_SPEC, roi=_labels() == 3, condition_ids=matching)[0]
    assert list(selected.condition_ids) == matching
    np.testing.assert_allclose(selected.rdm, as_roi.rdm, atol=1e-6)


def test_trials_estimated_with_the_selected_events_only_equal_a_run_uploaded_with_those(client, tmp_path, world):
    ids, split, pool, weights = world
    rows = np.arange(TRIALS_PER_RUN)
    scans = np.concatenate([pool[rows] @ weights, np.zeros((12, N_VOXELS))])  # rest after the last trial
    path = write_trial_run(tmp_path / "long.nii.gz", scans, SHAPE, seed=3, noise=0.5)
    events = [dict(event, columns={"split": str(split[row])}) for event, row in zip(trial_events(ids[rows]), rows)]
    run = client.upload(path, subject="01", events=events).id
    only_test = client.upload(path, subject="01", run="2", events=[e for e in trial_events(ids[rows]) if
                                                          split[int(e["stimulus_id"][5:])] == "test"]).id
    lss = {"modality": "fmri", "mask": None, "trials": {"method": "lss"}}
    selected = client.stream_data(run, lss, selection={"trials": {"where": "split == 'test'",
                                                                  "model_events": "selected"}}).data
    np.testing.assert_allclose(selected, client.stream_data(only_test, lss).data, atol=1e-5)
    every = client.stream_data(run, lss, selection={"trials": {"where": "split == 'test'"}}).data
    n_test = int(np.sum(split[rows] == "test"))
    assert selected.shape == every.shape == (n_test, N_VOXELS) and not np.allclose(selected, every, atol=1e-3)


def test_fit_encoder_on_a_selection_scores_on_its_voxels(server, client, lab, world):
    fit = client.fit_encoder(lab["runs"][:-1], FMRI_SPEC, lab["activations"], "pool", alphas=[1.0, 10.0],
                             selection=_visual_train(lab))
    n_visual = int(np.isin(_labels(), [1, 2]).sum())
    assert fit.n_trials == int(np.sum(world[1][:TRIALS_PER_RUN * (N_RUNS - 1)] == "train"))
    scored = client.score_encoder(fit.encoder_id, [lab["runs"][-1]])
    assert scored.scores.shape[1] == n_visual
    assert np.median(scored.scores[scored.score_names.index("pearson")]) > 0.5


def test_bad_selections_are_invalid_arguments_naming_the_problem(server, client, lab, tmp_path):
    other_shape = client.upload(_save_volume(tmp_path / "m5.nii.gz", np.ones((5, 4, 4), np.uint8)), subject="t").id
    other_affine = client.upload(_save_volume(tmp_path / "m3.nii.gz", np.ones(SHAPE, np.uint8), np.diag([3, 3, 3, 1])),
                                 subject="t").id
    empty = client.upload(_save_volume(tmp_path / "m0.nii.gz", np.zeros(SHAPE, np.uint8)), subject="t").id
    run = lab["runs"][0]
    cases = [
        ({"voxels": {"mask_id": other_shape}}, [f"mask {other_shape!r} lies on another voxel grid than recording "
                                                f"{run!r}", "shape 5 x 4 x 4", "shape 4 x 4 x 4"]),
        ({"voxels": {"mask_id": other_affine}}, [f"mask {other_affine!r}", f"recording {run!r}", "3."]),
        ({"voxels": {"mask_id": empty}}, [f"mask {empty!r} selects no voxel"]),
        ({"voxels": {"atlas_id": lab["atlas"], "labels": [2, 7]}},
         [f"label 7 is absent from atlas {lab['atlas']!r} (its labels: 1, 2, 3)"]),
        ({"voxels": {"atlas_id": lab["atlas"]}}, ["'voxels.atlas_id' needs selection key 'voxels.labels'"]),
        ({"voxels": {"mask_id": lab["mask"], "atlas_id": lab["atlas"], "labels": [1]}},
         ["give exactly one of selection key 'voxels.mask_id' and selection key 'voxels.atlas_id'"]),
        ({"voxels": {"mask_id": lab["runs"][1]}}, ["must be one 3-D NIfTI volume"]),
        ({"trials": {"where": "split == 'validation'"}}, ["keeps none of the"]),
        ({"trials": {"where": "condition == 'a'"}}, ["unknown events column 'condition'", "split", "rt"]),
        ({"trials": {"where": "split = 'train'"}}, ["is not an expression"]),
        ({"trials": {"where": "__import__('os').system('true')"}}, ["uses Call"]),
        ({"trials": {"where": "split > 1"}}, ["events column 'split'", "not a number"]),
        ({"trials": {"stimulus_ids": ["nope"]}}, ["1 selected stimulus ids are in no event"]),
        ({"trials": {}}, ["give exactly one of selection key 'trials.stimulus_ids' and selection key 'trials.where'"]),
    ]
    before = artifact_ids(server)
    for selection, fragments in cases:
        expect_error(lambda: client.fit_decoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool", params=RIDGE,
                                                selection=selection), INVALID, *fragments)
    for selection, fragments in cases[:1] + cases[8:9]:  # every entry point reads responses in one place
        expect_error(lambda: client.fit_encoder(lab["runs"], FMRI_SPEC, lab["activations"], "pool",
                                                selection=selection), INVALID, *fragments)
        expect_error(lambda: client.compute_rdm(lab["runs"], FMRI_SPEC, selection=selection), INVALID, *fragments)
        expect_error(lambda: client.stream_data(run, FMRI_SPEC, selection=selection), INVALID, *fragments)
    expect_error(lambda: client.stream_data(run, selection={"voxels": {"mask_id": lab["mask"]}}),
                 INVALID, "a selection applies to preprocessed data")
    assert_nothing_stored(server, client, before)


def test_another_tenants_mask_is_not_found(server, client, lab, tmp_path):
    key_b, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key_b, timeout=60) as lab_b:
        path = write_trial_run(tmp_path / "b.nii.gz", np.zeros((2, N_VOXELS)), SHAPE, seed=0)
        own = lab_b.upload(path, subject="b1", events=trial_events(["stim-000", "stim-001"])).id
        expect_error(lambda: lab_b.stream_data(own, FMRI_SPEC, selection={"voxels": {"mask_id": lab["mask"]}}),
                     grpc.StatusCode.NOT_FOUND, lab["mask"])
