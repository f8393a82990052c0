"""Reply types: one frozen dataclass per reply message, with its fields, built from the message."""

import dataclasses

import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from braindecode import tensors
from braindecode.client._replies import REPLY_TYPES, CompareResult, JobEvent, Recording, from_message
from braindecode.v1 import (
    activations_pb2,
    common_pb2,
    comparison_pb2,
    decoding_pb2,
    encoding_pb2,
    jobs_pb2,
    reconstruction_pb2,
    recordings_pb2,
)

MODULES = (activations_pb2, common_pb2, comparison_pb2, decoding_pb2, encoding_pb2, jobs_pb2, reconstruction_pb2,
           recordings_pb2, health_pb2)
MESSAGES = {getattr(module, name).DESCRIPTOR.full_name: getattr(module, name)
            for module in MODULES for name in module.DESCRIPTOR.message_types_by_name}


@pytest.mark.parametrize("name", sorted(REPLY_TYPES))
def test_each_reply_type_has_its_message_fields_and_every_part_is_registered(name):
    cls = REPLY_TYPES[name]
    fields = MESSAGES[name].DESCRIPTOR.fields
    assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in fields]
    for field in fields:
        part = field.message_type
        if part is not None and not part.GetOptions().map_entry and part.full_name != "braindecode.v1.Tensor":
            assert part.full_name in REPLY_TYPES, f"{name}.{field.name}: {part.full_name} has no reply type"


def test_unset_fields_are_none_and_set_ones_convert():
    bare = from_message(comparison_pb2.CompareResult(
        comparison_id="art_c", models=[comparison_pb2.ModelScore(name="late", score=0.5, subject_scores=[0.4, 0.6])]))
    assert isinstance(bare, CompareResult) and bare.noise_ceiling is None and bare.pairwise_p_values is None
    (model,) = bare.models
    assert (model.ci_lower, model.p_value, model.subject_scores) == (None, None, (0.4, 0.6))

    p_values = np.array([[1.0, 0.02], [0.02, 1.0]])
    full = from_message(comparison_pb2.CompareResult(
        models=[comparison_pb2.ModelScore(name="late", ci_lower=0.0, p_value=0.0)],
        noise_ceiling=comparison_pb2.NoiseCeiling(lower=0.3, upper=0.4), pairwise_p_values=tensors.to_tensor(p_values)))
    assert (full.models[0].ci_lower, full.models[0].p_value) == (0.0, 0.0)  # set to zero is not unset
    assert (full.noise_ceiling.lower, full.noise_ceiling.upper) == (0.3, 0.4)
    np.testing.assert_array_equal(full.pairwise_p_values, p_values)
    assert full.pairwise_p_values.dtype == np.float64


def test_nested_repeated_and_map_fields():
    event = from_message(jobs_pb2.JobEvent(job_id="job_1", result=jobs_pb2.Job(
        id="job_1", state="completed", spec=jobs_pb2.JobSpec(model=jobs_pb2.ModelRef(decoder="art_d")),
        shards=[jobs_pb2.Shard(index=0, recording_ids=["rec_a", "rec_b"], state="done")])))
    assert isinstance(event, JobEvent) and event.progress is None
    assert event.result.spec.model.decoder == "art_d" and event.result.spec.outputs is None
    assert event.result.shards[0].recording_ids == ("rec_a", "rec_b")
    fit = from_message(decoding_pb2.FitDecoderResult(decoder_id="art_d", cv_scores={"top_1": 0.5}))
    assert fit.cv_scores == {"top_1": 0.5} and fit.folds == ()


def test_enums_become_their_names():
    serving = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
    assert from_message(serving).status == "SERVING"
    assert from_message(health_pb2.HealthCheckResponse()).status == "UNKNOWN"


def test_replies_are_frozen_and_equal_by_value():
    message = recordings_pb2.Recording(id="rec_a", shape=[4, 4], events=[{"onset": 1.0, "stimulus_id": "cat"}])
    rec = from_message(message)
    assert isinstance(rec, Recording) and rec == from_message(message) and rec.events[0].stimulus_id == "cat"
    assert rec != from_message(recordings_pb2.Recording(id="rec_b"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.id = "rec_b"

    rdm = comparison_pb2.RDM(id="art_r", rdm=tensors.to_tensor(np.eye(3, dtype=np.float32)))
    assert from_message(rdm) == from_message(rdm)
    other = comparison_pb2.RDM(id="art_r", rdm=tensors.to_tensor(np.ones((3, 3), np.float32)))
    assert from_message(rdm) != from_message(other)
    assert from_message(rdm) != from_message(comparison_pb2.RDM(id="art_r"))
