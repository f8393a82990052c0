"""Hostile tenant, part two: what a request says rather than what it makes the server allocate.

Metadata past its bounds or holding control characters, listings of recordings whose metadata
alone would pass the message limit, a megabyte in every string field of every RPC (no error text
echoes more than a short prefix), JSON nested too deep, a YAML alias bomb and a spec of 100,000
unknown keys, and ``braindecode ls`` over names that hold terminal escapes. Each goes to the
capped server (hostile/arena.py), which answers with a clear status and stays up.
"""

import contextlib
import io
import json

import bombs
import grpc
import pytest
from google.protobuf import message_factory
from hostile.arena import ATTACKER, LEGACY_NAMES, TIMEOUT, events

from braindecode.cli import main
from braindecode.store._uploads import MAX_EVENTS
from braindecode.v1 import (
    activations_pb2,
    common_pb2,
    comparison_pb2,
    decoding_pb2,
    encoding_pb2,
    inference_pb2,
    jobs_pb2,
    reconstruction_pb2,
    recordings_pb2,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
MEGABYTE = "A" * 2**20
CLEAR = tuple(code for code in grpc.StatusCode if code not in (
    grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS, grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED))
"""Statuses that say what happened: anything but a fault of the server (OK included: a filter of
a megabyte finds nothing)."""
SHORT = 300
"""Most characters of an error text: a short prefix of the input at most."""


@pytest.mark.parametrize("field, value, fragment", [
    ("file_name", "x" * 10 * 2**20 + ".edf", "metadata file_name is 10485764 characters long, more than the limit of 255"),
    ("subject", "s" * 2**20, "metadata subject is 1048576 characters long, more than the limit of 128"),
    ("file_name", "run\x00.edf", "metadata file_name 'run\\x00.edf' holds the control character '\\x00'"),
    ("file_name", "run\x1b[2J.edf", "holds the control character '\\x1b'"),
    ("subject", "01\nrec_0000 fmri nifti", "metadata subject '01\\nrec_0000 fmri nifti' holds the control character"),
], ids=["10MB-file-name", "1MB-subject", "nul", "ansi-escape", "newline"])
def test_metadata_past_its_bounds_or_with_control_characters(arena, field, value, fragment):
    fields = {"file_name": "rec.edf", "subject": "01", field: value}
    file_name = fields.pop("file_name")
    details = arena.attack(f"upload with {field} {value[:12]!r}... ({len(value)} characters)",
                           lambda: arena.mallory.upload(file_name, bombs.edf_bomb(2, 64), **fields),
                           INVALID, fragment)
    assert len(details) < SHORT


@pytest.mark.parametrize("rows, fragment", [
    ([{"onset": 0.1, "duration": 0.0, "stimulus_id": "s" * 5 * 2**20}],
     "metadata stimulus_id is 5242880 characters long, more than the limit of 128"),
    ([{"onset": 0.5 + k * 1e-6, "duration": 0.0, "stimulus_id": "s"} for k in range(600_000)],
     f"600000 events, more than the limit of {MAX_EVENTS} a recording may carry"),
    ([{"onset": 0.1, "duration": 0.0, "stimulus_id": "face\r\x1b[1A"}], "holds the control character '\\r'"),
], ids=["5MB-stimulus-id", "600000-events", "carriage-return"])
def test_events_past_their_bounds(arena, rows, fragment):
    details = arena.attack(f"upload with {len(rows)} events ({len(rows[0]['stimulus_id'])}-character ids)",
                           lambda: arena.mallory.upload("rec.edf", bombs.edf_bomb(2, 64), events=events(rows)),
                           INVALID, fragment)
    assert len(details) < SHORT


def test_listings_page_by_size_below_the_message_limit(arena):
    """Three recordings of 50,000 events with 128-character stimulus ids (7 MB of metadata each)
    would make a 22 MB page: the listing gives them a page at a time, every page below the limit."""
    rows = [{"onset": 0.5 + k * 1e-5, "duration": 0.0, "stimulus_id": f"{k:0128d}"} for k in range(MAX_EVENTS)]
    made = {arena.mallory.upload(f"dense-{i}.edf", bombs.edf_bomb(2, 64), events=events(rows), run=str(i)).id
            for i in range(3)}  # other runs: the same bytes and labels would be one recording
    pages, token, listed = 0, "", set()
    while True:
        request = recordings_pb2.ListRecordingsRequest(page=common_pb2.PageRequest(page_token=token))
        reply = arena.mallory.recordings.ListRecordings(request, metadata=arena.mallory.metadata, timeout=TIMEOUT)
        assert reply.ByteSize() < 16 * 2**20
        pages, listed, token = pages + 1, listed | {r.id for r in reply.recordings}, reply.next_page_token
        if not token:
            break
    assert made <= listed and pages >= 3
    assert {len(r.events) for r in reply.recordings if r.id in made} <= {MAX_EVENTS}
    for recording_id in made:
        arena.mallory.delete(recording_id)


def _string_paths(descriptor, depth: int = 3, prefix: tuple = ()):
    """Paths (tuples of field descriptors) to every string field of a message, nested ones included."""
    for field in descriptor.fields:
        path = prefix + (field,)
        if field.type == field.TYPE_STRING:
            yield path
        elif field.type == field.TYPE_MESSAGE and depth > 1 and not field.message_type.GetOptions().map_entry:
            yield from _string_paths(field.message_type, depth - 1, path)


def _request(descriptor, path) -> object:
    """A request of ``descriptor`` whose field at ``path`` holds ``MEGABYTE`` (one element of each list)."""
    request = message_factory.GetMessageClass(descriptor)()
    target = request
    for field in path[:-1]:
        target = getattr(target, field.name).add() if field.is_repeated else getattr(target, field.name)
    last = path[-1]
    if last.is_repeated:
        getattr(target, last.name).append(MEGABYTE)
    else:
        setattr(target, last.name, MEGABYTE)
    return request


def _call(tenant, method, request):
    """Call ``method`` (a method descriptor) with ``request`` over the tenant's channel; reads every reply."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    reply = message_factory.GetMessageClass(method.output_type).FromString
    options = {"request_serializer": lambda m: m.SerializeToString(), "response_deserializer": reply}
    shape = {(False, False): tenant.channel.unary_unary, (False, True): tenant.channel.unary_stream,
             (True, False): tenant.channel.stream_unary, (True, True): tenant.channel.stream_stream}
    stub = shape[(method.client_streaming, method.server_streaming)](path, **options)
    answer = stub(iter([request]) if method.client_streaming else request, metadata=tenant.metadata,
                  timeout=TIMEOUT)
    if method.server_streaming:
        list(answer)


SERVICES = [module.DESCRIPTOR.services_by_name[name] for module in (
    recordings_pb2, jobs_pb2, decoding_pb2, activations_pb2, encoding_pb2, comparison_pb2, reconstruction_pb2,
    inference_pb2)
    for name in module.DESCRIPTOR.services_by_name]
PROBES = [(method, path) for service in SERVICES for method in service.methods
          for path in _string_paths(method.input_type)]


def test_a_megabyte_in_every_string_field_of_every_rpc(arena):
    """No answer is a server fault, and no error text echoes more than a short prefix."""
    for method, path in PROBES:
        name = f"{method.name} {'.'.join(f.name for f in path)} of 1 MB"
        details = arena.attack(name, lambda: _call(arena.mallory, method, _request(method.input_type, path)), CLEAR)
        assert len(details) < SHORT and MEGABYTE[:100] not in details, f"{name}: {details[:SHORT]}"
        assert "metadata size exceeds" not in details, f"{name}: the server's error text was too long to send"


@pytest.mark.parametrize("field", ["preprocessing_json", "params_json"])
def test_json_nested_past_what_a_parser_can_follow(arena, lab, field):
    nested = "[" * 200_000 + "]" * 200_000
    fields = {"preprocessing_json": json.dumps({"modality": "fmri"}), "params_json": "{}", field: nested}
    request = decoding_pb2.FitDecoderRequest(recording_ids=lab["fmri"], activation_set_id=arena.activation_sets[
        ATTACKER], layer="pool", decoder="ridge", **fields)
    arena.attack(f"FitDecoder {field} nested 200,000 deep",
                 lambda: list(arena.mallory.decoding.FitDecoder(request, metadata=arena.mallory.metadata,
                                                                timeout=TIMEOUT)),
                 INVALID, f"{field} nests lists or objects too deeply")


BILLION_LAUGHS = "\n".join(  # 10 levels of 9 aliases each: 9 ** 10 = 3.5e9 strings from 376 bytes
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefghi", "bcdefghij")])


def test_the_yaml_alias_bomb_through_submit_job(arena):
    """The issue's bomb (3.5e9 strings in a few hundred bytes): refused as it is parsed, before a
    single alias expands."""
    assert len(BILLION_LAUGHS) < 436
    request = jobs_pb2.SubmitJobRequest(spec_document=BILLION_LAUGHS)
    arena.attack(f"SubmitJob with a {len(BILLION_LAUGHS)}-byte YAML alias bomb",
                 lambda: arena.mallory.jobs.SubmitJob(request, metadata=arena.mallory.metadata, timeout=TIMEOUT),
                 INVALID, "spec_document uses the alias *a: YAML aliases are not allowed")


def test_a_spec_of_fifty_thousand_unknown_keys(arena):
    """A spec document within the size limit (1 MiB) that holds 50,000 unknown keys: every problem
    is found, the first 20 are listed and the rest counted, so the message stays short."""
    document = json.dumps({f"k{i}": i for i in range(50_000)})
    request = jobs_pb2.SubmitJobRequest(spec_document=document)
    details = arena.attack("SubmitJob with 50,000 unknown keys",
                           lambda: arena.mallory.jobs.SubmitJob(request, metadata=arena.mallory.metadata,
                                                                timeout=TIMEOUT),
                           INVALID, "unknown key 'k0'")
    assert details.count("unknown key") == 20 and len(details) < 20 * SHORT
    listed = int(details.split(" problems: ")[0].rsplit(" ", 1)[1])
    assert listed > 50_000 and details.endswith(f"; and {listed - 20} more")


def test_ls_prints_no_terminal_escapes(arena, capsys):
    """Names stored before they were checked (the arena's legacy recording) are printed escaped."""
    key = arena.server.api_keys[ATTACKER]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["ls", "--server", f"127.0.0.1:{arena.server.port}", "--api-key", key]) == 0
    printed = out.getvalue()
    assert not any(c in printed for c in "\x00\x07\x1b\r")
    row = next(line for line in printed.splitlines() if line.startswith(arena.legacy_id))
    assert repr(LEGACY_NAMES["file_name"])[1:-1] in row and repr(LEGACY_NAMES["subject"])[1:-1] in row
