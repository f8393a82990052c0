"""JobService: submit, inspect, cancel and watch batch decoding jobs (braindecode.jobs.JobRunner)."""

from __future__ import annotations

import datetime
import json

from google.protobuf import json_format

from braindecode.errors import InvalidArgument
from braindecode.jobs import JobRunner, parse_spec
from braindecode.store import Store
from braindecode.v1 import common_pb2, jobs_pb2, jobs_pb2_grpc
from services._tenancy import current_tenant
from services._wire import json_object


def spec_from_request(request: jobs_pb2.SubmitJobRequest) -> dict:
    """The job spec a SubmitJobRequest carries, as the library's dict."""
    source = request.WhichOneof("source")
    if source is None:
        raise InvalidArgument("SubmitJob needs a spec or a spec_document")
    if source == "spec_document":
        return parse_spec(request.spec_document, "spec_document")
    spec = json_format.MessageToDict(request.spec, preserving_proto_field_name=True)
    preprocessing = json_object(spec.pop("preprocessing_json", ""), "spec.preprocessing_json")
    if preprocessing is not None:
        spec["preprocessing"] = preprocessing
    return spec


def spec_message(spec: dict) -> jobs_pb2.JobSpec:
    """A checked job spec (dict) as its wire message."""
    fields = {k: v for k, v in spec.items() if k != "preprocessing"}
    fields["preprocessing_json"] = json.dumps(spec["preprocessing"], sort_keys=True)
    return json_format.ParseDict(fields, jobs_pb2.JobSpec())


def _iso(seconds) -> str:
    if seconds is None:
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")


def job_message(job) -> jobs_pb2.Job:
    """A JobInfo as its wire message."""
    return jobs_pb2.Job(
        id=job.id, state=job.state, spec=spec_message(job.spec), request_id=job.request_id,
        shards_total=len(job.shards), shards_done=job.count("done"), shards_failed=job.count("failed"),
        shards_running=job.count("running"),
        shards=[jobs_pb2.Shard(index=s.index, recording_ids=s.recording_ids, state=s.state, failures=s.failures,
                               error=s.error, output_id=s.output_id, seconds=s.seconds) for s in job.shards],
        created=_iso(job.created), started=_iso(job.started), finished=_iso(job.finished), error=job.error)


def job_event(job) -> jobs_pb2.JobEvent:
    """A progress event for a running job; the result event once it has ended."""
    rate, eta = job.throughput()
    done, failed, running, total = job.count("done"), job.count("failed"), job.count("running"), len(job.shards)
    event = jobs_pb2.JobEvent(job_id=job.id, state=job.state, shards_total=total, shards_done=done,
                              shards_failed=failed, shards_running=running, shards_per_second=rate,
                              eta_seconds=eta)
    if job.terminal:
        event.result.CopyFrom(job_message(job))
    else:
        event.progress.CopyFrom(common_pb2.Progress(
            stage=job.state, fraction=(done + failed) / max(total, 1),
            message=f"{done} done, {failed} failed, {running} running of {total} shards"))
    return event


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """The service over one JobRunner; the server calls ``start`` and ``close`` with its own lifecycle."""

    def __init__(self, store: Store, config):
        self.runner = JobRunner(store, config.jobs)

    def start(self) -> None:
        self.runner.start()

    def close(self) -> None:
        self.runner.stop()

    def SubmitJob(self, request, context):
        return job_message(self.runner.submit(current_tenant(), spec_from_request(request), request.request_id))

    def GetJob(self, request, context):
        return job_message(self.runner.get(current_tenant(), request.id))

    def ListJobs(self, request, context):
        jobs, token = self.runner.list(current_tenant(), request.state, request.page.page_size,
                                       request.page.page_token)
        return jobs_pb2.ListJobsResponse(jobs=[job_message(j) for j in jobs], next_page_token=token)

    def CancelJob(self, request, context):
        return job_message(self.runner.cancel(current_tenant(), request.id))

    def WatchJob(self, request, context):
        for job in self.runner.watch(current_tenant(), request.id, context.is_active):
            yield job_event(job)
