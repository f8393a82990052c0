"""Checks shared by the service tests: gRPC errors, the artifacts a tenant has, a server left intact."""

import threading
import time

import grpc
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
