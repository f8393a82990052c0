"""The kinds of stored artifacts, one constant each, with the files an artifact of the kind holds and
the prefix of its ids.

=================  ======  ======================================================================
kind               ids     files
=================  ======  ======================================================================
activations        act_    ``layer-000.npy``, ... (one per layer) and ``stimulus_ids.npy``
stimuli            stim_   ``000000.png``, ... (image sets) and ``stimuli.json`` (ids, name, texts)
decoder            dec_    ``weights.safetensors``, ``config.json`` and ``model.onnx``
encoder            enc_    ``weights.safetensors``, ``config.json`` and, for voxels, ``mask.nii.gz``
score-map          map_    ``scores.npy`` (n_scores, n_targets) and, for voxels, ``score_map.nii.gz``
                           with its sidecar ``score_map.json`` (what each volume is)
rdm                rdm_    ``rdm.npy``, ``condition_ids.npy`` and, from recordings, ``features.npy``
comparison         cmp_    ``scores.npy``, ``subject_scores.npy``, ``condition_ids.npy`` and the
                           bootstrap and null samples drawn
score_matrix       mat_    ``scores.npy`` (n_layers, n_columns) and ``subject_scores.npy``
reconstruction     img_    ``000000.png``, ... and ``ids.json``
job-output         out_    one shard of a batch job: its arrays and ``shard.json``
=================  ======  ======================================================================

Recordings (``rec_``) and jobs (``job_``) are not artifacts, but their ids say what they are too.
Artifacts stored before ids said their kind keep their ``art_`` ids; the store knows their kind.
"""

from __future__ import annotations

import uuid

from braindecode.errors import NotFound, quoted

ACTIVATIONS_ARTIFACT = "activations"
STIMULI_ARTIFACT = "stimuli"
DECODER_ARTIFACT = "decoder"
ENCODER_ARTIFACT = "encoder"
SCORE_MAP_ARTIFACT = "score-map"
RDM_ARTIFACT = "rdm"
COMPARISON_ARTIFACT = "comparison"
SCORE_MATRIX_ARTIFACT = "score_matrix"
RECONSTRUCTION_ARTIFACT = "reconstruction"
JOB_OUTPUT_ARTIFACT = "job-output"

RECORDING = "recording"
JOB = "job"

#: Artifact kind -> the prefix of its ids.
ID_PREFIXES = {
    ACTIVATIONS_ARTIFACT: "act", STIMULI_ARTIFACT: "stim", DECODER_ARTIFACT: "dec", ENCODER_ARTIFACT: "enc",
    SCORE_MAP_ARTIFACT: "map", RDM_ARTIFACT: "rdm", COMPARISON_ARTIFACT: "cmp", SCORE_MATRIX_ARTIFACT: "mat",
    RECONSTRUCTION_ARTIFACT: "img", JOB_OUTPUT_ARTIFACT: "out",
}
#: The kinds of artifacts, in the order of the table above.
ARTIFACT_KINDS = tuple(ID_PREFIXES)
#: The prefix of the ids of artifacts of any kind stored before ids said their kind.
LEGACY_PREFIX = "art"

_KINDS_BY_PREFIX = {prefix: kind for kind, prefix in ID_PREFIXES.items()} | {"rec": RECORDING, "job": JOB}
#: Kind -> (what one is, what several are), for messages.
_NAMES = {
    ACTIVATIONS_ARTIFACT: ("an activation set", "activation sets"),
    STIMULI_ARTIFACT: ("a stimulus set", "stimulus sets"), DECODER_ARTIFACT: ("a decoder", "decoders"),
    ENCODER_ARTIFACT: ("an encoder", "encoders"), SCORE_MAP_ARTIFACT: ("a score map", "score maps"),
    RDM_ARTIFACT: ("an RDM", "RDMs"), COMPARISON_ARTIFACT: ("a comparison", "comparisons"),
    SCORE_MATRIX_ARTIFACT: ("a score matrix", "score matrices"),
    RECONSTRUCTION_ARTIFACT: ("a reconstruction", "reconstructions"),
    JOB_OUTPUT_ARTIFACT: ("a job's shard output", "jobs' shard outputs"), RECORDING: ("a recording", "recordings"),
    JOB: ("a job", "jobs"),
}


def new_id(kind: str) -> str:
    """A fresh id for an artifact of ``kind`` (``recording`` and ``job`` too): its prefix, then 20 hex digits."""
    prefix = ID_PREFIXES.get(kind) or {RECORDING: "rec", JOB: "job"}.get(kind, LEGACY_PREFIX)
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def kind_of_id(identifier) -> str | None:
    """The kind an id's prefix names (an artifact kind, ``recording`` or ``job``); None for ``art_`` ids
    and ids of no known prefix."""
    prefix, sep, _ = str(identifier).partition("_")
    return _KINDS_BY_PREFIX.get(prefix) if sep else None


def not_found(expected: str, identifier, actual: str | None = None) -> NotFound:
    """The NotFound error of an id looked up as ``expected`` (a kind, "recording", "job" or "artifact").

    The message names what the id is instead: ``actual``, the kind of a stored thing of the caller's
    that has this id, or else the kind its prefix names.

    Parameters
    ----------
    expected : str
    identifier : str
    actual : str, optional

    Returns
    -------
    NotFound
    """
    message = f"{expected} {quoted(identifier)} not found"
    if actual is not None and actual != expected:
        what = _NAMES.get(expected, (f"a {expected}",))[0]
        return NotFound(f"{message}: it is {_NAMES.get(actual, (f'a {actual}',))[0]}, not {what}")
    named = kind_of_id(identifier)
    if named is not None and named != expected:
        prefix = str(identifier).partition("_")[0]
        return NotFound(f"{message}: '{prefix}_' ids are those of {_NAMES[named][1]}")
    return NotFound(message)
