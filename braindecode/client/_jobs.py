"""``client.jobs``: batch decoding jobs on the server."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import uuid
from collections.abc import Mapping

import grpc
from google.protobuf import json_format

from braindecode.client._artifacts import ArtifactsClient
from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, shown
from braindecode.client._replies import Job, from_message
from braindecode.v1 import jobs_pb2, jobs_pb2_grpc


def _spec_dict(spec: jobs_pb2.JobSpec) -> dict:
    """A job's checked spec as the dict of a spec file (the preprocessing as an object, not JSON)."""
    fields = json_format.MessageToDict(spec, preserving_proto_field_name=True)
    fields["preprocessing"] = json.loads(fields.pop("preprocessing_json", "null"))
    return fields


class JobsClient(ServiceClient):
    """Batch jobs: a decoder or encoder applied to many recordings, one shard each (the ``JobService``)."""

    stub_class = jobs_pb2_grpc.JobServiceStub

    def __init__(self, channel, options):
        super().__init__(channel, options)
        self._artifacts = ArtifactsClient(channel, options)

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

    def download(self, job_id: str, directory) -> dict:
        """Write a job's outputs into ``directory`` as ``braindecode batch run`` and ``batch merge`` lay
        them out (``braindecode.jobs``): ``job.json``, one ``shard-XXXXX/`` folder per finished shard (the
        files of its "job-output" artifact, checked against their sha256) and, once every shard is done,
        ``merged/`` (the per-trial arrays of all shards in order, and ``manifest.json``).

        Shard folders already there are kept, so calling it again while the job runs fetches only the
        shards finished since.

        Parameters
        ----------
        job_id : str
        directory : str or pathlib.Path
            Created if needed; refused when it holds another job's outputs.

        Returns
        -------
        dict
            ``{"job": Job, "shards": {index: folder}, "missing": {index: state}, "merged": folder or None}``:
            the folders written or found, and the shards with no outputs (not done, or whose output
            artifact was deleted).
        """
        from braindecode.jobs import MERGED, SUMMARY, merge_batch, shard_name, write_job_file

        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a folder path, got {shown(directory)}")
        message = self._call("GetJob", build(jobs_pb2.GetJobRequest, id=job_id))
        out = pathlib.Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        write_job_file(out, {"job_id": message.id, "spec": _spec_dict(message.spec),
                             "shards": [{"index": s.index, "recording_ids": list(s.recording_ids)}
                                        for s in message.shards]})
        folders, missing = {}, {}
        for shard in message.shards:
            folder = out / shard_name(shard.index)
            if not (folder / SUMMARY).is_file():
                if shard.state != "done":
                    missing[shard.index] = shard.state
                    continue
                staging = out / f".{folder.name}.download"
                shutil.rmtree(staging, ignore_errors=True)
                try:
                    self._artifacts.download(shard.output_id, staging)
                except grpc.RpcError as exc:
                    shutil.rmtree(staging, ignore_errors=True)
                    if exc.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                    missing[shard.index] = f"done, but its output {shard.output_id} was deleted"
                    continue
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(staging, folder)
            folders[shard.index] = folder
        merged = None
        if not missing:
            merge_batch(out)
            merged = out / MERGED
        return {"job": from_message(message), "shards": folders, "missing": missing, "merged": merged}
