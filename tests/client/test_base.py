"""The helpers every service client shares (paging, progress streams, call options) over a recorded stub,
and the flat names that ``Client`` keeps."""

import pytest

from braindecode.client import CallOptions, Client, JobsClient, Progress, ServiceClient
from braindecode.client._client import _Delegate
from braindecode.v1 import common_pb2, jobs_pb2, reconstruction_pb2

OPTIONS = CallOptions(metadata=(("authorization", "Bearer bd_k_s"),), timeout=12.0)


class _RecordedStub:
    """Answers each method from a list of replies and records what it was sent with."""

    def __init__(self, replies: dict):
        self.replies, self.sent = replies, []

    def __getattr__(self, method):
        def call(request, metadata, timeout):
            self.sent.append((method, type(request).FromString(request.SerializeToString()), metadata, timeout))
            reply = self.replies[method]
            return reply(request) if callable(reply) else iter(reply)
        return call


def _service(replies) -> ServiceClient:
    class Recorded(ServiceClient):
        stub_class = staticmethod(lambda channel: _RecordedStub(replies))

    return Recorded(channel=None, options=OPTIONS)


def test_paging_reads_every_page_with_the_options():
    pages = {"": (["job_1", "job_2"], "2"), "2": (["job_3", "job_4"], "4"), "4": (["job_5"], "")}

    def list_jobs(request):
        ids, token = pages[request.page.page_token]
        return jobs_pb2.ListJobsResponse(jobs=[jobs_pb2.Job(id=i) for i in ids], next_page_token=token)

    service = _service({"ListJobs": list_jobs})
    jobs = service._list("ListJobs", jobs_pb2.ListJobsRequest(state="completed"), "jobs", page_size=2)
    assert [job.id for job in jobs] == ["job_1", "job_2", "job_3", "job_4", "job_5"]
    sent = service.stub.sent
    assert [(r.page.page_token, r.page.page_size, r.state) for _, r, _, _ in sent] == [
        ("", 2, "completed"), ("2", 2, "completed"), ("4", 2, "completed")]
    assert all(m == OPTIONS.metadata and t == 12.0 for _, _, m, t in sent)


def test_following_a_stream_reports_progress_and_other_events_then_returns_the_result():
    Event = reconstruction_pb2.ReconstructEvent
    events = [Event(progress=common_pb2.Progress(stage="decode", fraction=0.5)),
              Event(image=reconstruction_pb2.ReconstructedImage(stimulus_id="cat", png=b"png")),
              Event(progress=common_pb2.Progress(stage="reconstruct", fraction=1.0, message="done")),
              Event(result=reconstruction_pb2.ReconstructResult(reconstruction_id="art_r", stimulus_ids=["cat"]))]
    progress, images = [], []
    result = _service({"Reconstruct": events})._follow(
        "Reconstruct", reconstruction_pb2.ReconstructRequest(), progress.append, image=images.append)
    assert progress == [Progress("decode", 0.5, ""), Progress("reconstruct", 1.0, "done")]
    assert [image.stimulus_id for image in images] == ["cat"]
    assert (result.reconstruction_id, result.stimulus_ids) == ("art_r", ("cat",))
    # no callback: progress is dropped
    assert _service({"Reconstruct": events})._follow("Reconstruct", reconstruction_pb2.ReconstructRequest(),
                                                     image=images.append) == result


def test_a_stream_without_a_result_is_an_error():
    events = [reconstruction_pb2.ReconstructEvent(progress=common_pb2.Progress(stage="decode"))]
    with pytest.raises(RuntimeError, match="the Reconstruct stream ended without a result"):
        _service({"Reconstruct": events})._follow("Reconstruct", reconstruction_pb2.ReconstructRequest())


def test_watch_has_its_own_deadline():
    service = JobsClient.__new__(JobsClient)
    service.stub, service.options = _RecordedStub({"WatchJob": [jobs_pb2.JobEvent(job_id="job_1")]}), OPTIONS
    assert [event.job_id for event in service.watch("job_1")] == ["job_1"]
    assert list(service.watch("job_1", timeout=600))[0].result is None
    assert [timeout for *_, timeout in service.stub.sent] == [None, 600]


def test_flat_names_are_the_service_methods():
    flat = {name: value for name, value in vars(Client).items() if isinstance(value, _Delegate)}
    assert {"upload", "stream_data", "list", "compare", "submit_job", "watch_job"} <= set(flat)
    with Client("127.0.0.1:9") as client:
        for name, delegate in flat.items():
            service = getattr(client, delegate.service)
            assert getattr(client, name) == getattr(service, delegate.method), name
            assert getattr(service, delegate.method).__doc__, name
            assert delegate.__doc__ == f"Same as ``Client.{delegate.service}.{delegate.method}``."
        assert all(getattr(client, s).options is client.options for s in {d.service for d in flat.values()})
