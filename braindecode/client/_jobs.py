"""``client.jobs``: batch decoding jobs on the server."""

from __future__ import annotations

import json
import pathlib
import uuid
from collections.abc import Mapping

from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, shown
from braindecode.client._replies import Job, from_message
from braindecode.v1 import jobs_pb2, jobs_pb2_grpc


class JobsClient(ServiceClient):
    """Batch jobs: a decoder or encoder applied to many recordings, one shard each (the ``JobService``)."""

    stub_class = jobs_pb2_grpc.JobServiceStub

    def submit(self, spec, request_id: str | None = None) -> Job:
        """Submit a job; the server checks the whole spec and lists every problem at once.

        Parameters
        ----------
        spec : str, pathlib.Path, dict or jobs_pb2.JobSpec
            A YAML/JSON spec file, a spec dict (see ``braindecode.jobs``), or the structured message.
        request_id : str, optional
            Idempotency key: submits with the same key return the same job. Default: a fresh one.

        Returns
        -------
        Job
        """
        request = build(jobs_pb2.SubmitJobRequest, request_id=uuid.uuid4().hex if request_id is None else request_id)
        if isinstance(spec, jobs_pb2.JobSpec):
            request.spec.CopyFrom(spec)
        elif isinstance(spec, (str, pathlib.Path)):
            request.spec_document = pathlib.Path(spec).read_text()
        elif isinstance(spec, Mapping):
            request.spec_document = json.dumps(spec)
        else:
            raise TypeError(f"spec must be a spec file path, a dict or a jobs_pb2.JobSpec, got {shown(spec)}")
        return self._get("SubmitJob", request)

    def get(self, job_id: str) -> Job:
        """The job ``job_id`` of this tenant, with its shards."""
        return self._get("GetJob", build(jobs_pb2.GetJobRequest, id=job_id))

    def list(self, state: str = "", page_size: int = 100) -> list:
        """Every job of this tenant (all pages), oldest first.

        Parameters
        ----------
        state : str, optional
            Only the jobs in this state (queued, running, completed ...).
        page_size : int
            Jobs per page read.

        Returns
        -------
        list of Job
        """
        return self._list("ListJobs", build(jobs_pb2.ListJobsRequest, state=state), "jobs", page_size)

    def cancel(self, job_id: str) -> Job:
        """Cancel the queued or running job ``job_id``; returns the :class:`Job` as the cancel left it."""
        return self._get("CancelJob", build(jobs_pb2.CancelJobRequest, id=job_id))

    def watch(self, job_id: str, timeout: float | None = None):
        """Follow a job until it ends.

        Parameters
        ----------
        job_id : str
        timeout : float, optional
            Deadline of the whole watch in seconds; None (the default, whatever the client's timeout)
            waits as long as the job runs.

        Yields
        ------
        JobEvent
            Progress events; the last one carries ``result``, the job in its final state.
        """
        request = build(jobs_pb2.WatchJobRequest, id=job_id)
        for event in self._call("WatchJob", request, timeout=timeout):
            yield from_message(event)
