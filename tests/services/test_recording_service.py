"""RecordingService over a real server on a loopback port."""

import hashlib
import threading

import grpc
import mne
import nibabel
import numpy as np
import pytest
import real_files

from braindecode.client import pack_recording
from braindecode.v1 import recordings_pb2


def _nifti_equal(client, path):
    rec = client.upload(path, subject="01", task="rest")
    expected = nibabel.load(path).get_fdata(dtype=np.float32)
    assert rec.modality == "fmri" and rec.format == "nifti"
    assert tuple(rec.shape) == expected.shape
    assert rec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    np.testing.assert_allclose(client.stream_data(rec.id), expected, rtol=1e-6)
    return rec


@pytest.mark.parametrize("path", [real_files.EXAMPLE4D, real_files.FUNCTIONAL, real_files.FMRI1],
                         ids=["example4d", "functional", "nitime-fmri1"])
def test_real_nifti_round_trip(client, path):
    rec = _nifti_equal(client, path)
    img = nibabel.load(path)
    np.testing.assert_allclose(np.reshape(rec.affine, (4, 4)), img.affine, rtol=1e-6)
    np.testing.assert_allclose(rec.voxel_size, img.header.get_zooms()[:3], rtol=1e-6)
    assert rec.tr > 0 and client.get(rec.id) == rec


@pytest.mark.parametrize("path", [real_files.EDF, real_files.BDF], ids=["edf", "bdf"])
def test_pyedflib_files_round_trip(client, path):
    rec = client.upload(path, subject="02")
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    assert rec.modality == "eeg" and rec.format == path.suffix[1:]
    assert [c.name for c in rec.channels] == raw.ch_names
    assert rec.sampling_rate == pytest.approx(raw.info["sfreq"])
    np.testing.assert_allclose(client.stream_data(rec.id), raw.get_data(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("fmt", ["edf", "brainvision", "eeglab"])
def test_mne_exported_eeg_round_trip(client, tmp_path, fmt):
    path = real_files.export_eeg(tmp_path, fmt)
    rec = client.upload(path, subject="03", task="images")
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    assert rec.format == fmt and rec.modality == "eeg"
    assert [c.name for c in rec.channels] == raw.ch_names
    np.testing.assert_allclose(client.stream_data(rec.id), raw.get_data(), rtol=1e-5, atol=1e-9)


def test_list_filter_page_delete(client):
    a = client.upload(real_files.FUNCTIONAL, subject="01", task="a")
    b = client.upload(real_files.EDF, subject="02", task="b")
    assert {r.id for r in client.list()} == {a.id, b.id}
    assert [r.id for r in client.list(modality="eeg")] == [b.id]
    assert [r.id for r in client.list(subject="01", task="a")] == [a.id]
    assert len(client.list(page_size=1)) == 2
    assert client.delete(a.id)
    assert [r.id for r in client.list()] == [b.id]


def test_events_are_stored_and_checked(client):
    events = [{"onset": 1.0, "duration": 2.0, "stimulus_id": "cat"},
              {"onset": 5.0, "duration": 2.0, "stimulus_id": "dog"}]
    rec = client.upload(real_files.FUNCTIONAL, subject="01", events=events)
    assert [(e.onset, e.stimulus_id) for e in rec.events] == [(1.0, "cat"), (5.0, "dog")]
    with pytest.raises(grpc.RpcError) as err:
        client.upload(real_files.FUNCTIONAL, subject="02",
                      events=[{"onset": 999.0, "duration": 1.0, "stimulus_id": "late"}])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "after the recording ends" in err.value.details()


def test_stream_data_chunks_large_arrays(server, client):
    rec = client.upload(real_files.EXAMPLE4D, subject="01")
    stub = client.recordings.stub
    chunks = list(stub.StreamData(recordings_pb2.StreamDataRequest(id=rec.id, chunk_bytes=65536),
                                  metadata=client.metadata))
    assert len(chunks) > 10 and chunks[0].dtype == "float32"


def _raw_upload(client, metadata, payload, chunk=65536):
    def requests():
        if metadata is not None:
            yield recordings_pb2.UploadRecordingRequest(metadata=metadata)
        for start in range(0, len(payload), chunk):
            yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + chunk])
    return client.recordings.stub.UploadRecording(requests(), metadata=client.metadata, timeout=60)


def _assert_refused(client, server, metadata, payload, code, words):
    before = sorted(p.name for p in (server.store.root / "blobs").rglob("*") if p.is_file())
    with pytest.raises(grpc.RpcError) as err:
        _raw_upload(client, metadata, payload)
    assert err.value.code() == code, err.value.details()
    assert words in err.value.details().lower()
    after = sorted(p.name for p in (server.store.root / "blobs").rglob("*") if p.is_file())
    assert after == before and list((server.store.root / "tmp").iterdir()) == []
    assert client.list() == [] and client.health() == "SERVING"


def _meta(**kwargs):
    base = dict(subject="01", file_name="x.nii.gz")
    base.update(kwargs)
    return recordings_pb2.RecordingMetadata(**base)


def test_bad_uploads_get_named_status_and_store_nothing(server, client, tmp_path):
    nii = real_files.EXAMPLE4D.read_bytes()
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    _assert_refused(client, server, _meta(), nii[:5000], invalid, "x.nii.gz")  # truncated
    _assert_refused(client, server, _meta(file_name="x.edf", format="edf"), nii, invalid, "edf")
    _assert_refused(client, server, _meta(sha256="0" * 64), nii, invalid, "sha256 mismatch")
    _assert_refused(client, server, _meta(subject=""), nii, invalid, "missing subject")
    _assert_refused(client, server, None, nii, invalid, "metadata")
    _assert_refused(client, server, _meta(file_name="a.txt"), b"hello world" * 50, invalid, "a.txt")
    _assert_refused(client, server, _meta(file_name="../up.nii"), nii, invalid, "plain file name")
    nan = nibabel.Nifti1Image(np.full((4, 4, 4, 3), np.nan, np.float32), np.eye(4))
    nibabel.save(nan, tmp_path / "nan.nii")
    _assert_refused(client, server, _meta(file_name="nan.nii"), (tmp_path / "nan.nii").read_bytes(),
                    invalid, "nan")
    huge = nibabel.Nifti1Image(np.zeros((2, 2, 2, 2), np.float32), np.eye(4))
    huge.header["dim"][1:5] = [30000, 30000, 30000, 30000]
    payload = huge.header.binaryblock + b"\0" * 4 + b"\0" * 64
    _assert_refused(client, server, _meta(file_name="huge.nii"), payload, grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "more than the limit max_voxels")
    big = b"\0" * (server.config.max_upload_bytes + 10)
    _assert_refused(client, server, _meta(), big, grpc.StatusCode.RESOURCE_EXHAUSTED, "size limit")


def test_unknown_ids_are_not_found(client):
    for call in (client.get, client.delete, lambda i: client.stream_data(i)):
        with pytest.raises(grpc.RpcError) as err:
            call("rec_doesnotexist")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and "rec_doesnotexist" in err.value.details()


def test_concurrent_uploads(client):
    results, errors = [], []

    def upload(i):
        try:
            results.append(client.upload(real_files.FUNCTIONAL, subject=f"s{i}"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len({r.id for r in results}) == 6
    assert len({r.sha256 for r in results}) == 1


def test_pack_recording_zips_brainvision(tmp_path):
    path = real_files.export_eeg(tmp_path, "brainvision")
    name, payload = pack_recording(path)
    assert name == "eeg.zip" and payload[:2] == b"PK"


def test_stream_data_preprocessed_matches_the_library(client, tmp_path):
    from braindecode.containers import Events
    from braindecode.preprocessing import preprocess

    onsets = [4.0, 12.0, 20.0]
    events = [{"onset": o, "duration": 1.0, "stimulus_id": f"s{i}"} for i, o in enumerate(onsets)]
    rec = client.upload(real_files.FUNCTIONAL, subject="01", events=events)
    spec = {"modality": "fmri", "mask": None, "detrend": True, "zscore": True,
            "trials": {"method": "window", "window": [2, 6]}}
    remote = client.stream_data(rec.id, preprocessing=spec)
    image = nibabel.load(real_files.FUNCTIONAL)
    local = preprocess(image, spec, events=Events(onsets, [1.0] * 3, ["s0", "s1", "s2"]))
    assert remote.data.shape == local.data.shape and remote.data.shape[0] == 3
    np.testing.assert_allclose(remote.data, local.data, rtol=1e-5, atol=1e-6)
    assert list(remote.stimulus_ids) == ["s0", "s1", "s2"] and list(remote.trials) == [0, 1, 2]
    assert list(remote.runs) == [rec.id] * 3 and list(remote.subjects) == ["01"] * 3
    assert remote.mask.shape == image.shape[:3] and remote.mask.all()  # mask null: every voxel
    np.testing.assert_allclose(remote.affine, image.affine)
    assert remote.feature_names == local.feature_names and remote.info["n_events"] == 3
    assert client.stream_data(rec.id, preprocessing={"modality": "fmri", "mask": None}).shape[0] == image.shape[3]

    eeg = real_files.export_eeg(tmp_path, "edf")
    rec = client.upload(eeg, subject="01", events=[{"onset": 1.0, "duration": 0.1, "stimulus_id": "a"},
                                                   {"onset": 2.5, "duration": 0.1, "stimulus_id": "b"}])
    epochs = client.stream_data(rec.id, preprocessing={
        "modality": "eeg", "l_freq": 1, "h_freq": 40, "epochs": {"tmin": -0.1, "tmax": 0.4}})
    assert epochs.data.shape[:2] == (2, 8) and epochs.feature_names[:2] == ["Fp1", "Fp2"]
    assert epochs.times[0] == pytest.approx(-0.1, abs=1 / 256) and epochs.mask is None
    with pytest.raises(grpc.RpcError) as err:
        client.stream_data(rec.id, preprocessing={"modality": "eeg", "bogus": 1})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "bogus" in err.value.details()


def test_stream_data_says_which_trials_reject_dropped(client, tmp_path):
    """Events given out of time order, three of ten epochs with a 500 uV step: the rows are the kept trials in
    the order of the events, each with the index of its event, and the dropped ones are listed with their reason."""
    from braindecode.containers import Events
    from braindecode.preprocessing import preprocess

    raw = real_files.make_raw(seconds=12.0, seed=3)
    raw.set_annotations(None)
    onsets = np.array([6.0, 1.0, 3.0, 8.0, 2.0, 5.0, 9.0, 4.0, 7.0, 10.0])
    data = raw.get_data()
    for onset in onsets[[1, 4, 6]]:
        start = int((onset + 0.2) * raw.info["sfreq"])
        data[3, start:start + 20] += 500e-6
    raw = mne.io.RawArray(data, raw.info, verbose="error")
    path = tmp_path / "spiky_raw.fif"
    raw.save(path, verbose="error")
    events = [{"onset": o, "duration": 0.1, "stimulus_id": f"stim-{i}"} for i, o in enumerate(onsets)]
    rec = client.upload(path, subject="sub-07", events=events)
    spec = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.5, "baseline": None}, "reject": {"eeg": 150e-6}}
    remote = client.stream_data(rec.id, preprocessing=spec)
    kept = [i for i in range(10) if i not in (1, 4, 6)]
    assert list(remote.trials) == kept and list(remote.stimulus_ids) == [f"stim-{i}" for i in kept]
    assert sorted(d["trial"] for d in remote.info["dropped"]) == [1, 4, 6]
    assert {d["reason"] for d in remote.info["dropped"]} == {"peak-to-peak"} and remote.info["n_events"] == 10
    local = preprocess(mne.io.read_raw_fif(path, verbose="error"), spec, Events(onsets, [0.1] * 10,
                                                                             [e["stimulus_id"] for e in events]))
    np.testing.assert_allclose(remote.data, local.data, rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(remote.trials, local.trials)
