"""Shared by the service tests: gRPC error checks, the artifacts a tenant has, a server left intact,
and simulated fMRI runs with one trial per scan."""

import threading
import time

import grpc
import nibabel
import numpy as np
import pytest


def artifact_ids(server, tenant="lab-a"):
    """Ids of the tenant's stored artifacts, oldest first."""
    return [a.id for a in server.store.list_artifacts(tenant)]


def expect_error(call, code, *fragments):
    """Run ``call``, check it fails with status ``code`` and details holding each fragment; the details."""
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    for fragment in fragments:
        assert fragment in err.value.details(), err.value.details()
    return err.value.details()


def assert_nothing_stored(server, client, before, tenant="lab-a"):
    """The tenant's artifacts are still ``before`` and the server still answers health checks."""
    assert artifact_ids(server, tenant) == before and client.health() == "SERVING"


def assert_thread_ends(name, timeout):
    """Wait up to ``timeout`` seconds for the threads called ``name`` to end; fail if one is left."""
    deadline = time.monotonic() + timeout
    while any(t.name == name for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == name for t in threading.enumerate())


def write_trial_run(path, responses, shape, seed, noise=1.0, affine=None, zooms=(2.0, 2.0, 2.0), baseline=0.0):
    """A 4-D NIfTI (TR 1 s): scan 0 is rest, scan k + 1 the response to trial k, plus Gaussian noise.

    Parameters
    ----------
    responses : array of shape (n_trials, n_voxels)
        Voxels in C order of ``shape``.
    shape : tuple of 3 int
    baseline : float or array of shape ``shape``
        Added to every scan.
    """
    scans = np.concatenate([np.zeros((1, responses.shape[1])), responses]).T.reshape(*shape, -1)
    scans = scans + np.broadcast_to(baseline, shape)[..., None]
    scans += noise * np.random.default_rng(seed).standard_normal(scans.shape)
    image = nibabel.Nifti1Image(scans.astype(np.float32), np.eye(4) if affine is None else affine)
    image.header.set_zooms((*zooms, 1.0))
    image.header.set_xyzt_units("mm", "sec")
    nibabel.save(image, path)
    return path


def trial_events(stimulus_ids) -> list:
    """The events of :func:`write_trial_run`: trial k at k + 1 s, 0.5 s long."""
    return [{"onset": k + 1.0, "duration": 0.5, "stimulus_id": str(sid)} for k, sid in enumerate(stimulus_ids)]
