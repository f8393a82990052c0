"""Selections: trial filters agree with pandas' ``DataFrame.query`` on the same events table; voxel selections,
the typed document and the preprocessing restricted to selected voxels (against nilearn's labels masker)."""

import nibabel
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiLabelsMasker

from braindecode.containers import Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import Selection, matching_events, preprocess, selected_voxels, selection_spec


@pytest.fixture
def events():
    rng = np.random.default_rng(0)
    n = 60
    rt = [("n/a" if k % 9 == 0 else f"{v:.3f}") for k, v in enumerate(rng.uniform(0.2, 0.9, n))]
    return Events(np.arange(n) * 2.0, np.full(n, 0.5), [f"s{k % 15}" for k in range(n)], {
        "split": rng.choice(["train", "test"], n), "trial_type": rng.choice(["face", "house", "tool"], n),
        "response time": rt, "block": [str(k // 20) for k in range(n)]})


def _frame(events: Events) -> pd.DataFrame:
    """The events as a table whose numeric columns are numbers (n/a missing), as pandas reads an events.tsv."""
    table = {"onset": events.onset, "duration": events.duration, "stimulus_id": events.stimulus_id}
    for name, values in events.columns.items():
        numbers = pd.to_numeric(pd.Series(values).replace("n/a", np.nan), errors="coerce")
        table[name] = numbers if numbers.notna().sum() == (np.asarray(values) != "n/a").sum() else values
    return pd.DataFrame(table)


@pytest.mark.parametrize("where", [
    "split == 'train'",
    "split != 'train' and trial_type in ['face', 'house']",
    "trial_type not in ('tool',) or onset < 30",
    "not (split == 'test') and `response time` > 0.5",
    "`response time` <= 0.4 | block == 2",
    "(block >= 1) & ~(trial_type == 'face')",
    "0.3 < `response time` < 0.7",
    "stimulus_id in ['s1', 's3'] and duration == 0.5",
    "onset > -1 and block != 1",
])
def test_trial_filters_agree_with_pandas_query(events, where):
    expected = _frame(events).eval(where, engine="python").to_numpy(bool)
    assert np.array_equal(matching_events(events, where), expected)


@pytest.mark.parametrize("where, match", [
    ("condition == 'a'", "unknown events column 'condition' in the events; its columns are onset, duration"),
    ("split > 1", "events column 'split' of the events holds '(train|test)', not a number"),
    ("split = 'train'", "is not an expression"),
    ("__import__('os').system('true')", "uses Call"),
    ("split.upper() == 'TRAIN'", "uses"),
    ("split", "is not a condition"),
    ("'a' == 'b'", "names no events column"),
    ("split == ['train']", "a list of values goes after in or not in"),
    ("'train' in split", "takes a column on its left and a list of values on its right"),
    ("not " * 100 + "split == 'a'", "nests"),
    ("x" * 1001, "at most 1000 characters"),
])
def test_bad_filters_name_the_problem(events, where, match):
    with pytest.raises(InvalidArgument, match=match):
        matching_events(events, where)


def test_selection_document_lists_every_problem():
    assert selection_spec(None) == Selection()
    spec = selection_spec({"voxels": {"atlas_id": "rec_a", "labels": np.array([1, 2])},
                           "trials": {"stimulus_ids": np.array(["a", "b"])}})
    assert spec.document() == {"voxels": {"atlas_id": "rec_a", "labels": [1, 2]},
                               "trials": {"stimulus_ids": ["a", "b"], "model_events": "all"}}
    with pytest.raises(InvalidArgument) as err:
        selection_spec({"voxels": {"mask_id": "rec_m", "labels": []}, "trials": {"where": "a ="}, "rois": 1})
    text = str(err.value)
    assert "4 problems" in text and "unknown selection key 'rois'" in text
    assert "'voxels.labels'" in text and "'trials.where': trial filter 'a =' is not an expression" in text


def test_selected_voxels_of_a_mask_and_of_labels():
    labels = np.arange(27).reshape(3, 3, 3) % 4
    assert np.array_equal(selected_voxels(labels), labels != 0)
    assert np.array_equal(selected_voxels(labels, [1, 3]), np.isin(labels, [1, 3]))
    with pytest.raises(InvalidArgument, match=r"labels 5, 9 are absent from the voxel selection \(its labels: 0, 1"):
        selected_voxels(labels, [1, 5, 9])
    with pytest.raises(InvalidArgument, match="selects no voxel"):
        selected_voxels(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidArgument, match="not a label image"):
        selected_voxels(labels + 0.5, [1])
    with pytest.raises(InvalidArgument, match="one 3-D volume"):
        selected_voxels(np.ones((2, 2, 2, 2)))


def test_atlas_signals_within_selected_voxels_equal_nilearns_labels_masker():
    rng = np.random.default_rng(3)
    shape, n_scans = (5, 4, 3), 30
    bold = nibabel.Nifti1Image(rng.standard_normal((*shape, n_scans)).astype(np.float32) + 10, np.eye(4))
    bold.header.set_zooms((1.0, 1.0, 1.0, 2.0))
    atlas = (np.arange(np.prod(shape)).reshape(shape) % 3 + 1).astype(np.int16)
    voxels = np.zeros(shape, bool)
    voxels[:3] = True
    spec = {"modality": "fmri", "mask": None, "atlas": atlas, "t_r": 2.0}
    ours = preprocess(bold, spec, voxels=voxels)
    masker = NiftiLabelsMasker(nibabel.Nifti1Image(atlas, np.eye(4)),
                               mask_img=nibabel.Nifti1Image(voxels.astype(np.uint8), np.eye(4)), strategy="mean")
    np.testing.assert_allclose(np.asarray(ours.data if hasattr(ours, "data") else ours).reshape(n_scans, -1),
                               masker.fit_transform(bold), rtol=1e-5)
    with pytest.raises(InvalidArgument, match="a voxel selection applies to fMRI; this is eeg"):
        preprocess(None, {"modality": "eeg"}, voxels=voxels)
