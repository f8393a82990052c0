"""Arguments of the wrong type fail in the client, naming the argument and what it takes; nothing is sent
(the client below points at a port where no server listens: a call that went out would fail UNAVAILABLE)."""

import numpy as np
import pytest

from braindecode.client import Client
from braindecode.client._checks import build
from braindecode.v1 import decoding_pb2

SPEC = {"modality": "fmri", "trials": {"method": "lss"}}
WRONG = {
    "model RDMs as a list": (lambda c: c.comparison.compare(["art_b"], ["art_m"]),
                             "model_rdm_ids must be a dict of model name -> RDM id, got list ['art_m']"),
    "one id for a list": (lambda c: c.decoding.fit("rec_a", SPEC, "art_a", "pool"),
                          "recording_ids must be a list of str values, got str 'rec_a'"),
    "ids that are not str": (lambda c: c.encoding.fit([1, 2], SPEC, "art_a", "pool"),
                             "recording_ids must be a list of str values, got list [1, 2]"),
    "spec as JSON text": (lambda c: c.recordings.data("rec_a", preprocessing='{"modality": "fmri"}'),
                          "preprocessing must be a dict, got str"),
    "params as a list": (lambda c: c.decoding.fit(["rec_a"], SPEC, "art_a", "pool", params=[1.0]),
                         "params must be a dict, got list [1.0]"),
    "number for an id": (lambda c: c.recordings.get(7), "id must be a str, got int 7"),
    "text for an integer": (lambda c: c.decoding.retrieve(np.ones((1, 2)), k="5", candidates=np.eye(2),
                                                          candidate_ids=["a", "b"]),
                            "k must be an integer, got str '5'"),
    "float for an integer": (lambda c: c.comparison.compare(["art_b"], {"m": "art_m"}, n_bootstrap=10.5),
                             "n_bootstrap must be an integer, got float 10.5"),
    "integer out of range": (lambda c: c.comparison.compare(["art_b"], {"m": "art_m"}, seed=2 ** 70),
                             "seed must be an integer, got int 1180591620717411303424"),
    "ROI as a dict": (lambda c: c.comparison.compute_rdm(["rec_a"], SPEC, roi={"v1": [1, 2]}),
                      "an ROI must be feature indices, a 3-D mask array, or a NIfTI mask"),
    "ROIs as a list": (lambda c: c.comparison.score_matrix("art_a", ["rec_a"], SPEC, rois=[[1, 2]]),
                       "rois must be a dict of ROI name -> ROI, got list"),
    "time window as one number": (lambda c: c.comparison.compute_rdm(["rec_a"], SPEC, time_window=0.1),
                                  "time_window must be (start, stop) in seconds, got float 0.1"),
    "lags without sfreq": (lambda c: c.encoding.fit(["rec_a"], SPEC, "art_a", "pool", lags=(0.0, 0.5)),
                           "lags must be (tmin, tmax, sfreq)"),
    "samples as text": (lambda c: c.decoding.decode("art_d", "brain"), "samples must be an array of numbers"),
    "one text for a list": (lambda c: c.activations.upload_stimuli(texts="a cat"), "texts must be a list, got str"),
    "an image of another kind": (lambda c: c.activations.upload_stimuli(images=[{"pixels": 1}]),
                                 "an image must be PNG/JPEG bytes, a file path, a uint8 array or a PIL image"),
    "image ids as one text": (lambda c: c.reconstruction.reconstruct(np.ones((2, 4)), ids="ab"),
                              "ids must be a list of ids, got str 'ab'"),
    "upload of a number": (lambda c: c.recordings.upload(42, subject="01"),
                           "path must be a file path or (file name, bytes), got int 42"),
    "content as text": (lambda c: c.recordings.upload(("x.nii", "not bytes"), subject="01"),
                        "path must be a file path or (file name, bytes), got tuple"),
    "events as a number": (lambda c: c.recordings.upload(("x.nii", b"\0"), subject="01", events=3),
                           "events must be an events.tsv path, an Events or a list of dicts"),
    "event with an unknown key": (lambda c: c.recordings.upload(("x.nii", b"\0"), subject="01",
                                                                events=[{"onset": 1.0, "stim": "cat"}]),
                                  "unknown field 'stim'; Event takes onset, duration, stimulus_id"),
    "subject as a number": (lambda c: c.recordings.upload(("x.nii", b"\0"), subject=1),
                            "subject must be a str, got int 1"),
    "job spec of another kind": (lambda c: c.jobs.submit(["recordings"]),
                                 "spec must be a spec file path, a dict or a jobs_pb2.JobSpec, got list"),
    "job id in a watch": (lambda c: list(c.jobs.watch(5)), "id must be a str, got int 5"),
    "a flat name checks too": (lambda c: c.compare(["art_b"], ["art_m"]), "model_rdm_ids must be a dict"),
}


@pytest.fixture(scope="module")
def client():
    with Client("127.0.0.1:9", api_key="bd_x_y", timeout=5) as c:
        yield c


@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_types_are_refused_before_sending(client, case):
    call, message = WRONG[case]
    with pytest.raises(TypeError) as err:
        call(client)
    assert message in str(err.value)


def test_build_passes_values_of_the_right_type_through():
    request = build(decoding_pb2.FitDecoderRequest, recording_ids=np.array(["rec_a", "rec_b"]), cv_folds=np.int64(3),
                    val_fraction=None, seed=7)
    assert list(request.recording_ids) == ["rec_a", "rec_b"] and request.cv_folds == 3
    assert not request.HasField("val_fraction") and request.seed == 7
