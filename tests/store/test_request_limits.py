"""Reads of stored recordings keep to ``RequestLimits.max_request_bytes``: the footprint that the
header and the spec give is an upper bound of what reading allocates, and a read past the bound
is refused before anything is read."""

import tracemalloc

import mne
import numpy as np
import pytest
from service_checks import trial_events, write_trial_run

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.preprocessing import footprint
from braindecode.preprocessing._footprint import _BUFFERS
from braindecode.store import RequestLimits, Store, Upload, load_array, load_responses

EEG_SPECS = [
    None,
    {"modality": "eeg"},
    {"modality": "eeg", "picks": ["eeg", "eog"], "reference": "average"},
    {"modality": "eeg", "resample": 512.0, "l_freq": 1.0, "h_freq": 40.0, "notch": 50.0},
    {"modality": "eeg", "resample": 37.0, "epochs": {"tmin": -0.2, "tmax": 0.8}, "reject": {"eeg": 1.0}},
    {"modality": "eeg", "epochs": {"tmin": -0.1, "tmax": 6.0, "baseline": None}},
]
FMRI_SPECS = [
    None,
    {"modality": "fmri", "mask": None},
    {"modality": "fmri", "mask": None, "detrend": True, "zscore": True, "high_pass": 0.05},
    {"modality": "fmri", "mask": None, "high_pass": 0.05, "filter": "butterworth"},
    {"modality": "fmri", "mask": None, "detrend": 2, "trials": {"method": "lss"}},
    {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 2]}},
]


def _upload(store, path, events=(), tenant="lab-a"):
    metadata = {"subject": "01", "file_name": path.name, "events": list(events)}
    with Upload(store, metadata, max_bytes=2**30, tenant=tenant) as upload:
        upload.write(path.read_bytes())
        return upload.commit()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A store with 20 s of 14-channel EEG (12 EEG, 2 EOG) at 256 Hz with 30 events, and a BOLD run
    of 10 x 10 x 10 voxels and 301 scans with 290 trials."""
    tmp = tmp_path_factory.mktemp("reads")
    store = Store(tmp / "store")
    data = np.random.default_rng(0).standard_normal((14, 256 * 20)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(14, 256.0, ["eeg"] * 12 + ["eog"] * 2), verbose="error")
    raw.save(tmp / "eeg_raw.fif", verbose="error")
    eeg = _upload(store, tmp / "eeg_raw.fif",
                  [{"onset": 1.0 + 0.4 * k, "duration": 0.1, "stimulus_id": f"s{k}"} for k in range(30)])
    bold = write_trial_run(tmp / "bold.nii.gz", np.random.default_rng(1).standard_normal((300, 1000)), (10, 10, 10),
                           seed=1)
    fmri = _upload(store, bold, trial_events([f"s{k}" for k in range(290)]))
    yield store, {"eeg": eeg, "fmri": fmri}
    store.close()


def _peak(read) -> tuple:
    """(result, bytes that ``read()`` allocated at its peak, as tracemalloc sees numpy's and Python's)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = read()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("modality, spec", [("eeg", s) for s in EEG_SPECS] + [("fmri", s) for s in FMRI_SPECS])
def test_the_footprint_bounds_what_a_read_allocates(recordings, modality, spec):
    store, infos = recordings
    info = infos[modality]
    planned = footprint(info.meta, spec, len(info.events))
    result, peak = _peak(lambda: load_array(store, "lab-a", info.id, spec))
    result = result.data if isinstance(result, BrainResponses) else result  # per-trial responses come labelled
    assert result.shape == planned.shape and result.dtype == planned.dtype
    assert peak <= planned.peak_bytes
    assert planned.peak_bytes - _BUFFERS <= 3 * peak  # an upper bound, not a wild one


def test_a_read_past_the_bound_is_refused_before_anything_is_read(recordings, monkeypatch):
    store, infos = recordings
    info = infos["eeg"]
    spec = {"modality": "eeg", "resample": 1e7}
    planned = footprint(info.meta, spec)
    assert planned.shape == (12, 200_000_000)
    limited = Store(store.root, RequestLimits(max_request_bytes=2**30))
    monkeypatch.setattr("braindecode.store._recordings.read_recording", pytest.fail)
    with pytest.raises(ResourceExhausted) as err:
        load_array(limited, "lab-a", info.id, spec)
    assert str(err.value) == (
        f"reading recording {info.id!r} into a float32 result of shape (12, 200000000) would hold about "
        f"{planned.peak_bytes} bytes at once, more than the limit max_request_bytes=1073741824; nothing was read")
    with pytest.raises(ResourceExhausted, match="max_request_bytes=1073741824"):
        load_responses(limited, "lab-a", [info.id], {"modality": "eeg", "epochs": {"tmin": -0.5, "tmax": 3000.0}})


def test_responses_of_several_recordings_are_bounded_together(recordings, tmp_path):
    """Each recording's preprocessing runs beside the responses of those before it, then all are
    concatenated: two runs need more than one run's footprint plus its responses."""
    store, infos = recordings
    info = infos["fmri"]
    spec = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 2]}}
    one = footprint(info.meta, spec, len(info.events))
    assert load_responses(Store(store.root, RequestLimits(max_request_bytes=one.peak_bytes)), "lab-a", [info.id],
                          spec).data.shape == (290, 1000)
    bold = write_trial_run(tmp_path / "bold.nii.gz", np.random.default_rng(2).standard_normal((300, 1000)),
                           (10, 10, 10), seed=2)
    other = _upload(store, bold, trial_events([f"s{k}" for k in range(290)]))
    limited = Store(store.root, RequestLimits(max_request_bytes=one.peak_bytes + one.result_bytes - 1))
    with pytest.raises(ResourceExhausted, match=r"preprocessing 2 recordings into 580 trials of shape \(1000,\)"):
        load_responses(limited, "lab-a", [info.id, other.id], spec)
    assert load_responses(store, "lab-a", [info.id, other.id], spec).data.shape == (580, 1000)


def test_a_spec_of_another_modality_is_refused_by_name(recordings):
    store, infos = recordings
    with pytest.raises(InvalidArgument, match="a preprocessing spec of modality eeg cannot preprocess a fmri recording"):
        load_array(store, "lab-a", infos["fmri"].id, {"modality": "eeg"})
