"""BIDS datasets in: recordings found with their entities, events and sidecar TR (inheritance), the
files refused, the events file read as BIDS defines it, and the official validator on the datasets."""

import json

import bids_datasets
import mne_bids
import numpy as np
import pytest

from braindecode.containers import STIMULUS_COLUMNS, Events
from braindecode.errors import InvalidArgument
from braindecode.jobs import parse_shard, shard_from_environment
from braindecode.recordings import find_bids_recordings


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = bids_datasets.write_eeg_bids(tmp_path_factory.mktemp("bids") / "ds", subjects=("01", "02"))
    bids_datasets.write_meg_bids(root)
    return bids_datasets.write_fmri_bids(root)


def test_eeg_written_by_mne_bids_and_fmri_of_real_nifti_pass_the_validator(tmp_path):
    assert bids_datasets.validate(bids_datasets.write_eeg_bids(tmp_path / "eeg")) == []
    assert bids_datasets.validate(bids_datasets.write_fmri_bids(tmp_path / "fmri")) == []


def test_every_recording_with_the_entities_mne_bids_reads(dataset):
    found, refused = find_bids_recordings(dataset)
    assert refused == []
    expected = {str(p.fpath) for p in mne_bids.find_matching_paths(dataset, datatypes="eeg", suffixes="eeg",
                                                                   extensions=[".vhdr", ".edf", ".bdf", ".set"])}
    assert {str(r.path) for r in found if r.modality == "eeg"} == expected
    meg = mne_bids.find_matching_paths(dataset, datatypes="meg", suffixes="meg", extensions=".fif")
    assert [r.path for r in found if r.modality == "meg"] == [p.fpath for p in meg] and len(meg) == 1
    for recording in found:
        entities = mne_bids.get_entities_from_fname(recording.path)
        run = entities["run"]
        assert (recording.subject, recording.task, recording.run) == (
            entities["subject"], entities["task"], str(int(run)) if run else "")
    assert sorted((r.subject, r.run) for r in found if r.modality == "fmri") == [("01", "1"), ("01", "2"), ("02", "1")]


def test_events_come_from_the_events_file_and_its_stimulus_column(dataset):
    found, _ = find_bids_recordings(dataset, subjects=["sub-01"], tasks=["images"])
    eeg = next(r for r in found if r.path.suffix == ".edf")
    raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(eeg.path), verbose="error")
    np.testing.assert_allclose(eeg.events.onset, raw.annotations.onset, atol=1e-3)
    assert list(eeg.events.stimulus_id) == list(raw.annotations.description)
    bold = next(r for r in found if r.modality == "fmri")
    assert list(bold.events.stimulus_id) == [s for _, _, s, _ in bids_datasets.FMRI_EVENTS], "stim_file comes first"
    assert bold.events.duration[0] == 0.0 and bold.events.duration[1] == 2.0, "n/a is an impulse"
    by_type, _ = find_bids_recordings(dataset, subjects=["01"], stimulus_column="trial_type")
    bold = next(r for r in by_type if r.modality == "fmri")
    assert list(bold.events.stimulus_id) == [k for _, _, _, k in bids_datasets.FMRI_EVENTS]


def test_the_repetition_time_follows_sidecar_inheritance(dataset, tmp_path):
    found, _ = find_bids_recordings(dataset, sessions=None)
    tr = {(r.subject, r.run): r.tr for r in found if r.modality == "fmri"}
    assert tr == {("01", "1"): 1.35, ("01", "2"): 1.35, ("02", "1"): 2.0}
    assert all(r.tr is None for r in found if r.modality == "eeg")
    nearer = dataset / "sub-01" / "func" / "sub-01_task-images_run-2_bold.json"
    nearer.write_text(json.dumps({"RepetitionTime": 0.8}))
    try:
        found, _ = find_bids_recordings(dataset, subjects=["01"])
        assert [r.tr for r in found if r.modality == "fmri"] == [1.35, 0.8]
    finally:
        nearer.unlink()


def test_files_that_cannot_be_uploaded_are_refused_with_the_reason(dataset, tmp_path):
    meg = dataset / "sub-02" / "meg"
    meg.mkdir(exist_ok=True)
    (meg / "sub-02_task-images_meg.sqd").write_bytes(b"KIT")
    (meg / "sub-02_task-images_split-01_meg.fif").write_bytes(b"part")
    try:
        found, refused = find_bids_recordings(dataset, subjects=["02"], stimulus_column="stim_file")
        reasons = {r.path.name: r.reason for r in refused}
        assert reasons["sub-02_task-images_meg.sqd"].startswith(".sqd meg files are not read")
        assert "split FIF" in reasons["sub-02_task-images_split-01_meg.fif"]
        assert "lacks the stimulus column 'stim_file'" in reasons["sub-02_task-images_run-2_eeg.edf"]
        assert [r.modality for r in found] == ["fmri"]
    finally:
        for path in meg.iterdir():
            path.unlink()
        meg.rmdir()
    with pytest.raises(InvalidArgument, match="is not a BIDS dataset: it has no dataset_description.json"):
        find_bids_recordings(tmp_path)


def test_events_tsv_read_as_bids_defines_it(tmp_path):
    path = tmp_path / "sub-01_task-x_events.tsv"
    path.write_text("onset\tduration\ttrial_type\tvalue\n1.5\tn/a\tface\t3\n2.5\t1\tn/a\t4\n4\t0.5\thouse\tn/a\n")
    events = Events.from_tsv(path)
    assert list(events.stimulus_id) == ["face", "house"] and list(events.duration) == [0.0, 0.5]
    assert list(Events.from_tsv(path, "value").stimulus_id) == ["3", "4"]
    assert STIMULUS_COLUMNS == ("stimulus_id", "stim_file", "trial_type", "value")
    path.write_text("onset\tduration\ttrial_type\nn/a\t1\tface\n")
    with pytest.raises(InvalidArgument, match="onset of event 0 must be a number of seconds, got 'n/a'"):
        Events.from_tsv(path)
    path.write_text("onset\tcondition\n1\tface\n")
    with pytest.raises(InvalidArgument, match="lacks column 'duration'; found columns: onset, condition"):
        Events.from_tsv(path)


def test_slurm_array_variables_give_the_shard_whatever_the_numbering():
    assert shard_from_environment({}) == (0, 1)
    for first in (0, 1, 5):
        shards = [shard_from_environment({"SLURM_ARRAY_TASK_ID": str(first + k), "SLURM_ARRAY_TASK_MIN": str(first),
                                          "SLURM_ARRAY_TASK_COUNT": "3"}) for k in range(3)]
        assert shards == [(0, 3), (1, 3), (2, 3)]
    stepped = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3",
               "SLURM_ARRAY_TASK_STEP": "2"}
    assert shard_from_environment(stepped) == (2, 3)
    with pytest.raises(InvalidArgument, match="SLURM_ARRAY_TASK_COUNT is not"):
        shard_from_environment({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1"})
    with pytest.raises(InvalidArgument, match="i counts from 0 to n - 1 \\(here 0 to 1\\)"):
        parse_shard("2/2")
