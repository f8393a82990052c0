"""Concurrent uploads and deletes of the same bytes by different tenants lose nothing."""

import gzip
import threading

import nibabel as nib
import numpy as np
import pytest

from braindecode.errors import DataLoss
from braindecode.store import Store, Upload, load_array

ROUNDS = 300


def _nifti_bytes() -> bytes:
    image = nib.Nifti1Image(np.arange(2 * 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 2, 3), np.eye(4))
    return gzip.compress(image.to_bytes(), mtime=0)


def _upload(store: Store, tenant: str, payload: bytes):
    metadata = {"subject": "01", "file_name": "run.nii.gz", "modality": "fmri"}
    with Upload(store, metadata, max_bytes=1 << 20, tenant=tenant) as upload:
        upload.write(payload)
        return upload.commit()


def test_a_delete_racing_another_tenants_upload_of_the_same_bytes_loses_nothing(tmp_path):
    store = Store(tmp_path)
    payload = _nifti_bytes()
    lost = []
    for _ in range(ROUNDS):
        mine = _upload(store, "lab-a", payload)
        start = threading.Barrier(2)
        theirs = {}

        def delete():
            start.wait()
            store.delete_recording("lab-a", mine.id)

        def upload():
            start.wait()
            theirs["info"] = _upload(store, "lab-b", payload)

        threads = [threading.Thread(target=delete), threading.Thread(target=upload)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not store.blob_path(theirs["info"].blob).is_file():
            lost.append(theirs["info"].id)
        else:
            assert load_array(store, "lab-b", theirs["info"].id).shape == (2, 2, 2, 3)
        store.delete_recording("lab-b", theirs["info"].id)
    assert lost == [] and store.verify() == []


def test_a_missing_blob_is_reported_as_data_loss(tmp_path, caplog):
    store = Store(tmp_path)
    info = _upload(store, "lab-a", _nifti_bytes())
    store.blob_path(info.blob).unlink()
    with pytest.raises(DataLoss, match="missing from the server's store"):
        load_array(store, "lab-a", info.id)
    assert f"references blob {info.blob}" in caplog.text
