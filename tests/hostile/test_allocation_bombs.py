"""Hostile tenant, part one: requests that would make the server allocate far more than they
carry, and inputs that error messages would echo back.

Each attack goes through today's RPCs against the capped server (hostile/arena.py) and is
answered before anything is allocated: with RESOURCE_EXHAUSTED naming the bound and the size,
or INVALID_ARGUMENT; the server stays up and its peak RSS grows by less than the bound. Bombs
in the file are refused at upload; requests for outputs past ``max_request_bytes`` (a
resampling to 10 MHz, five-minute epochs around 40,000 events, a 2 GiB image read raw or
preprocessed) are refused from the recording's header and the spec before anything is read.
"""

import functools

import bombs
import grpc
import numpy as np
import pytest
from bad_inputs import make_corpus
from hostile.arena import ATTACKER, EEG_SPEC, FMRI_SPEC, N_DIMS, N_STIMULI, SETTINGS, TIMEOUT, events

from braindecode.decoding import MLPDecoder
from braindecode.store import MAX_REQUEST_BYTES
from braindecode.v1 import common_pb2, decoding_pb2, jobs_pb2, recordings_pb2

EXHAUSTED, INVALID = grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT
REQUEST_BOUND = f"more than the limit max_request_bytes={MAX_REQUEST_BYTES}; nothing was read"


BOMBS = [
    ("bomb.edf", lambda: bombs.edf_bomb(4096, 244_140),
     ["EDF header (4096 signals read at the 244140 samples per record of the fastest, 1 records) makes MNE "
      "read 7999979520 bytes", "max_expansion=100"]),
    ("bomb.nii.gz", lambda: bombs.nifti_gz_bomb((64, 64, 64, 2048), np.float32),
     ["the NIfTI header (dim 64 x 64 x 64 x 2048 of float32) declares 2147484000 bytes", "max_expansion=100"]),
    ("bomb.zip", lambda: bombs.brainvision_zip_bomb(1_900_000_000),
     ["zip members unpack to 1900001187 bytes", "max_expansion=100"]),
    ("bomb.bdf", lambda: bombs.edf_bomb(2048, 400_000, fmt="bdf"),
     ["BDF header (2048 signals read at the 400000 samples per record", "max_expansion=100"]),
    ("bomb_raw.fif.gz", lambda: bombs.gzip_bomb(make_corpus.fif_bytes(), 2**30),
     ["gzip data inflate past", "max_expansion=100"]),
    ("bomb.func.gii", lambda: bombs.gifti_bomb(200_000_000),
     ["GIfTI data arrays declare 800000000 bytes", "max_expansion=100"]),
]
"""(file name, payload maker, message fragments): the issue's bombs (the first three, 1.5 to
2.1 MB each), then variants of them."""


@pytest.mark.parametrize("file_name, make, fragments", BOMBS, ids=[
    "edf-8GB-as-float64", "nifti-gz-2GiB", "brainvision-zip-1.9GB", "bdf-6.6GB-as-float64", "fif-gz-1GiB",
    "gifti-gz-800MB"])
def test_upload_of_an_allocation_bomb(arena, file_name, make, fragments):
    """Refused at upload, before anything is unpacked or read; nothing stored."""
    payload = make()
    before = arena.mallory.listed()
    details = arena.attack(f"upload {file_name} ({len(payload) / 1e6:.1f} MB)",
                           lambda: arena.mallory.upload(file_name, payload), EXHAUSTED, *fragments)
    assert details.startswith(f"{file_name}: ")
    assert arena.mallory.listed() == before


@pytest.mark.slow
def test_every_bomb_from_both_tenants_at_once_round_after_round(arena):
    """Three rounds of the six bombs from both tenants, four uploads at a time: the peak stays
    bounded and nothing is left behind (no memory or workspace that one refusal leaks)."""
    payloads = [(file_name, make()) for file_name, make, _ in BOMBS]
    calls = [functools.partial(tenant.upload, file_name, payload)
             for _ in range(3) for tenant in (arena.mallory, arena.bob) for file_name, payload in payloads]
    before = arena.mallory.listed()
    arena.barrage("upload of a bomb by either tenant, four at a time", calls, EXHAUSTED, "max_expansion=100")
    assert arena.mallory.listed() == before


@pytest.mark.parametrize("listing", ["ListRecordings", "ListJobs"])
def test_page_token_past_what_sqlite_holds(arena, listing):
    page = common_pb2.PageRequest(page_size=10, page_token="99999999999999999999")
    call = {"ListRecordings": lambda: arena.mallory.recordings.ListRecordings(
                recordings_pb2.ListRecordingsRequest(page=page), metadata=arena.mallory.metadata, timeout=TIMEOUT),
            "ListJobs": lambda: arena.mallory.jobs.ListJobs(
                jobs_pb2.ListJobsRequest(page=page), metadata=arena.mallory.metadata, timeout=TIMEOUT)}[listing]
    arena.attack(f"{listing} page_token=99999999999999999999", call, INVALID,
                 "invalid page_token '99999999999999999999'")


def test_a_megabyte_of_modality_is_not_echoed(arena):
    modality = "eeg" * 350_000
    details = arena.attack("upload with a 1 MB modality",
                           lambda: arena.mallory.upload("rec.edf", bombs.edf_bomb(2, 1), modality=modality),
                           INVALID, "unknown modality 'eegeegeeg", "(1050000 characters)")
    assert len(details) < 300


def _fit(arena, recording_ids, spec, decoder, params) -> list:
    return arena.mallory.fit(recording_ids, spec, arena.activation_sets[ATTACKER], decoder, params)


def test_fit_with_the_issue_n_filters(arena, lab):
    arena.attack("FitDecoder eeg n_filters=20000",
                 lambda: _fit(arena, lab["eeg"], EEG_SPEC, "eeg", {"n_filters": 20000}),
                 INVALID, "EEGDecoder n_filters=20000 is out of range: it must be an integer in [1, 256]")


@pytest.mark.parametrize("params", [{"hidden_dim": 8192, "n_blocks": 16}, {"hidden_dim": 4096, "n_blocks": 4}],
                         ids=["past-the-default", "past-the-configured-bound-only"])
def test_fit_whose_every_value_is_in_range_but_whose_footprint_is_not(arena, lab, params):
    """Refused past the server's configured max_fit_bytes (1 GiB), the second fit also when the
    library's default (4 GiB) would let it through."""
    footprint = MLPDecoder(**params).fit_footprint(N_STIMULI, (64,), N_DIMS)
    assert footprint > int(SETTINGS["BRAINDECODE_MAX_FIT_BYTES"])
    arena.attack(f"FitDecoder mlp hidden_dim={params['hidden_dim']} n_blocks={params['n_blocks']}",
                 lambda: _fit(arena, lab["fmri"], FMRI_SPEC, "mlp", params),
                 EXHAUSTED, "MLPDecoder fitted on", f"more than the limit max_fit_bytes={2**30}")


@pytest.mark.parametrize("tensor, fragment", [
    (common_pb2.Tensor(dtype="float32", shape=[0, 10**12, 10**12]), "spans 1000000000000000000000000 values"),
    (common_pb2.Tensor(dtype="f" * 2**20, shape=[1, 64], data=bytes(256)), "unsupported tensor dtype 'fff"),
], ids=["shape-0x1e12x1e12", "megabyte-dtype"])
def test_decode_samples_that_lie_about_their_size(arena, lab, tensor, fragment):
    request = decoding_pb2.DecodeRequest(decoder_id=lab["decoder"], samples=tensor)
    details = arena.attack(
        f"Decode samples {tensor.dtype[:8]} {list(tensor.shape)}",
        lambda: list(arena.mallory.decoding.Decode(iter([request]), metadata=arena.mallory.metadata, timeout=TIMEOUT)),
        INVALID, fragment)
    assert len(details) < 300


def _stream(arena, recording_id, preprocessing=None):
    return lambda: arena.mallory.read(recording_id, preprocessing)


def test_stream_data_resampled_to_ten_megahertz(arena):
    """The issue's 67 KB FIF (4 channels, 16 s at 256 Hz) read at 1e7 Hz: 640 million values."""
    payload = make_corpus.fif_bytes(n_times=4096)
    assert 60_000 < len(payload) < 70_000
    rec = arena.mallory.upload("small_raw.fif", payload)
    details = arena.attack("StreamData 67 KB FIF resample=1e7", _stream(arena, rec.id, {"modality": "eeg",
                           "resample": 1e7}), EXHAUSTED,
                           f"reading recording '{rec.id}' into a float32 result of shape (4, 160000000)", REQUEST_BOUND)
    assert len(details) < 300
    arena.mallory.delete(rec.id)


def test_five_minute_epochs_around_forty_thousand_events(arena, lab):
    """The issue's 207 KB EDF (one signal, 517 s at 200 Hz) with 40,000 events, cut into epochs of
    -0.5 to 300 s: 40,000 x 60,101 samples. Accepted at upload, refused when read, alone and in a fit."""
    payload = bombs.edf_bomb(1, 200, records=517)
    assert 200_000 < len(payload) < 210_000
    rows = [{"onset": 1.0 + k / 200, "duration": 0.0, "stimulus_id": f"stim-{k % N_STIMULI:03d}"}
            for k in range(40_000)]
    rec = arena.mallory.upload("long.edf", payload, events=events(rows))
    spec = {"modality": "eeg", "epochs": {"tmin": -0.5, "tmax": 300.0, "baseline": None}}
    arena.attack("StreamData epochs -0.5..300 s of 40,000 events", _stream(arena, rec.id, spec), EXHAUSTED,
                 f"reading recording '{rec.id}' into a float32 result of shape (40000, 1, 60101)", REQUEST_BOUND)
    arena.attack("FitDecoder on epochs -0.5..300 s of 40,000 events",
                 lambda: _fit(arena, [rec.id], spec, "ridge", {}), EXHAUSTED,
                 "preprocessing 1 recordings into 40000 trials of shape (1, 60101)", REQUEST_BOUND)
    arena.mallory.delete(rec.id)


@pytest.mark.slow
def test_a_two_gibibyte_image_read_raw_and_preprocessed(arena):
    """A .nii.gz whose header declares 2 GiB of float32 and that compresses no better than the
    readers allow (86 to 1, 25 MB): stored, then refused when read raw or preprocessed."""
    payload = bombs.nifti_gz_bomb((64, 64, 64, 2048), np.float32, bombs.noisy_block(12_000))
    assert 20e6 < len(payload) < 30e6
    rec = arena.mallory.upload("large.nii.gz", payload)
    assert list(rec.shape) == [64, 64, 64, 2048]
    arena.attack("StreamData of a 2 GiB image", _stream(arena, rec.id), EXHAUSTED,
                 f"reading recording '{rec.id}' into a float32 result of shape (64, 64, 64, 2048)", REQUEST_BOUND)
    arena.attack("StreamData of a 2 GiB image preprocessed",
                 _stream(arena, rec.id, {"modality": "fmri", "mask": "auto", "detrend": True}), EXHAUSTED,
                 f"reading recording '{rec.id}' into a float32 result of shape (2048, 262144)", REQUEST_BOUND)
    arena.mallory.delete(rec.id)
