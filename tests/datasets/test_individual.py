"""Individual subjects in the embedded data set: their own ROIs, voxel counts and SNRs; their ROI responses."""

import os

import nibabel as nib
import numpy as np
import pytest

from braindecode.datasets import (
    INDIVIDUAL_DIFFERENCES,
    ROI_BOXES,
    jitter_roi_boxes,
    make_default_dataset,
    roi_responses,
)
from braindecode.errors import InvalidArgument

CONFIG = dict(n_stimuli=24, n_test=6, n_subjects=3, n_runs=2, n_repeats=2, seed=0)


@pytest.fixture(scope="module")
def individual(tmp_path_factory):
    return make_default_dataset(tmp_path_factory.mktemp("individual") / "data", individual=True, **CONFIG)


def test_subjects_have_their_own_rois_voxel_counts_and_snrs(individual):
    truth = individual.ground_truth
    assert truth["individual_differences"] == INDIVIDUAL_DIFFERENCES
    counts = {sub: tuple(roi["n_voxels"] for roi in truth["fmri"][sub]["rois"].values()) for sub in truth["fmri"]}
    assert len(set(counts.values())) == 3, counts
    snrs = [truth["fmri"][sub]["rois"]["early"]["snr"] for sub in truth["fmri"]]
    ratio = INDIVIDUAL_DIFFERENCES["snr_ratio"]
    assert len(set(snrs)) == 3 and all(0.5 / ratio <= snr <= 0.5 * ratio for snr in snrs), snrs
    for sub, masks in individual.files["subject_masks"].items():
        assert set(masks) == set(ROI_BOXES)
        for name, path in masks.items():
            roi = truth["fmri"][sub]["rois"][name]
            assert os.path.join(individual.root, roi["mask"]) == path
            assert (np.asarray(nib.load(path).dataobj) > 0).sum() == roi["n_voxels"]
    assert truth["rois"]["early"]["n_voxels"] != truth["fmri"]["sub-01"]["rois"]["early"]["n_voxels"]  # template


def test_roi_responses_read_a_subjects_own_voxels_run_by_run(individual):
    truth = individual.ground_truth["fmri"]["sub-02"]["rois"]
    responses = roi_responses(individual, "sub-02")
    n_voxels = sum(truth[name]["n_voxels"] for name in ("early", "mid", "late"))
    n_trials = CONFIG["n_stimuli"] + CONFIG["n_test"] * (CONFIG["n_repeats"] - 1)
    assert responses.data.shape == (n_trials, n_voxels)
    assert set(responses.subjects) == {"sub-02"} and set(responses.runs) == {"1", "2"}
    assert sorted(set(responses.stimulus_ids)) == sorted(individual.stimuli.ids)
    early = roi_responses(individual, "sub-02", rois=["early"], runs=[2])
    assert early.data.shape[1] == truth["early"]["n_voxels"] and set(early.runs) == {"2"}
    with pytest.raises(InvalidArgument, match="unknown subject 'sub-09'"):
        roi_responses(individual, "sub-09")
    with pytest.raises(InvalidArgument, match="rois"):
        roi_responses(individual, "sub-02", rois=["v4"])


def test_default_subjects_share_the_template_masks(small_dataset):
    masks = {k: v for k, v in small_dataset.files["masks"].items() if k != "brain"}
    assert small_dataset.files["subject_masks"] == {"sub-01": masks}
    assert "individual_differences" not in small_dataset.ground_truth


def test_jittered_boxes_move_and_resize_within_bounds():
    boxes = jitter_roi_boxes(np.random.default_rng(0), shift_mm=6.0, size_ratio=1.25)
    assert boxes == jitter_roi_boxes(np.random.default_rng(0), shift_mm=6.0, size_ratio=1.25)
    for name, box in boxes.items():
        assert box["description"] == ROI_BOXES[name]["description"] and box["abs_x"][0] >= 0
        for axis in ("y", "z"):  # abs_x ranges are clipped at the midline
            (low, high), (t_low, t_high) = box[axis], ROI_BOXES[name][axis]
            assert abs((low + high) / 2 - (t_low + t_high) / 2) <= 6.0 + 0.1
            assert 1 / 1.25 - 0.01 <= (high - low) / (t_high - t_low) <= 1.25 + 0.01
    assert jitter_roi_boxes(np.random.default_rng(0), shift_mm=0, size_ratio=1) == {
        name: {k: tuple(float(x) for x in v) if k != "description" else v for k, v in box.items()}
        for name, box in ROI_BOXES.items()}
    with pytest.raises(InvalidArgument, match="size_ratio"):
        jitter_roi_boxes(np.random.default_rng(0), shift_mm=1, size_ratio=0.5)
