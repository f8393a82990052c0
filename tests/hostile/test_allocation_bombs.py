"""Hostile tenant, part one: requests that would make the server allocate far more than they
carry, and inputs that error messages would echo back.

Each attack goes through today's RPCs against the capped server (hostile/arena.py) and is
answered before anything is allocated: with RESOURCE_EXHAUSTED naming the bound and the size,
or INVALID_ARGUMENT; the server stays up and its peak RSS grows by less than the bound.
"""

import functools
import json

import bombs
import grpc
import mne
import numpy as np
import pytest
from bad_inputs import make_corpus
from hostile.arena import N_DIMS, N_STIMULI, TIMEOUT
from service_checks import trial_events, write_trial_run

from braindecode import tensors
from braindecode.v1 import common_pb2, decoding_pb2, jobs_pb2, recordings_pb2

EXHAUSTED, INVALID = grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
EEG_SPEC = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.3, "baseline": None}}
STIMULI = [f"stim-{i:03d}" for i in range(N_STIMULI)]
HALF = N_STIMULI // 2


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


@pytest.fixture(scope="module")
def lab(arena, tmp_path_factory):
    """Mallory's trials on the arena's stimuli: two fMRI runs, two EEG runs, and a ridge decoder
    fitted on the fMRI runs."""
    folder = tmp_path_factory.mktemp("lab")
    rng = np.random.default_rng(1)
    fmri, eeg = [], []
    for run in range(2):
        ids = STIMULI[run * HALF:(run + 1) * HALF]
        path = write_trial_run(folder / f"run-{run}.nii.gz", rng.standard_normal((HALF, 64)), (4, 4, 4), seed=run)
        fmri.append(arena.mallory.upload(path.name, path.read_bytes(), run=str(run), events=_events(trial_events(ids))))
        raw = mne.io.RawArray(rng.standard_normal((4, 50 * (HALF + 2))) * 1e-6,
                              mne.create_info(["Fz", "Cz", "Pz", "Oz"], 100.0, "eeg"), verbose="error")
        raw.save(folder / f"run-{run}_raw.fif", verbose="error")
        events = [{"onset": (k + 1) * 0.5, "duration": 0.1, "stimulus_id": sid} for k, sid in enumerate(ids)]
        eeg.append(arena.mallory.upload(f"run-{run}_raw.fif", (folder / f"run-{run}_raw.fif").read_bytes(),
                                        run=str(run), events=_events(events)))
    fmri_ids, eeg_ids = [r.id for r in fmri], [r.id for r in eeg]
    decoder_id = _fit(arena, fmri_ids, FMRI_SPEC, "ridge", {"alphas": [1.0, 10.0]})[-1].result.decoder_id
    samples = tensors.to_tensor(np.zeros((2, 64), np.float32))
    request = decoding_pb2.DecodeRequest(decoder_id=decoder_id, samples=samples)
    (reply,) = arena.mallory.decoding.Decode(iter([request]), metadata=arena.mallory.metadata, timeout=TIMEOUT)
    assert list(reply.embeddings.shape) == [2, N_DIMS]  # the decoder serves, and is loaded before the attacks
    return {"fmri": fmri_ids, "eeg": eeg_ids, "decoder": decoder_id}


def _events(events) -> list:
    return [common_pb2.Event(**event) for event in events]


def _fit(arena, recording_ids, spec, decoder, params) -> list:
    request = decoding_pb2.FitDecoderRequest(
        recording_ids=recording_ids, preprocessing_json=json.dumps(spec), activation_set_id=arena.activation_set_id,
        layer="pool", decoder=decoder, params_json=json.dumps(params))
    return list(arena.mallory.decoding.FitDecoder(request, metadata=arena.mallory.metadata, timeout=TIMEOUT))


def test_fit_with_the_issue_n_filters(arena, lab):
    arena.attack("FitDecoder eeg n_filters=20000",
                 lambda: _fit(arena, lab["eeg"], EEG_SPEC, "eeg", {"n_filters": 20000}),
                 INVALID, "EEGDecoder n_filters=20000 is out of range: it must be an integer in [1, 256]")


def test_fit_whose_every_value_is_in_range_but_whose_footprint_is_not(arena, lab):
    arena.attack("FitDecoder mlp hidden_dim=8192 n_blocks=16",
                 lambda: _fit(arena, lab["fmri"], FMRI_SPEC, "mlp", {"hidden_dim": 8192, "n_blocks": 16}),
                 EXHAUSTED, "MLPDecoder fitted on", "more than the limit max_fit_bytes=4294967296")


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
