"""Stored results written out as a BIDS derivatives dataset.

Layout (BIDS 1.10, "Derivatives")::

    dataset_description.json      DatasetType "derivative", GeneratedBy braindecode
    README.md                     what each desc- label holds
    .bidsignore                   the result suffixes BIDS has not defined yet (see below)
    sub-01/[ses-a/]func/sub-01_[ses-a_]task-images[_run-1]_desc-<label>_statmap.nii.gz (+ .json)
    desc-<label>_rsa.tsv (+ .json)

A result sits in the folder of its recordings' subject (and session), named with the entities they
share; results of several subjects (RSA comparisons, model RDMs) sit at the top. Each file has a
JSON sidecar with its artifact id and kind and the provenance the store kept: the recordings (id,
sha256, subject, session, task, run), the model and the parameters. The ``desc-`` label is the
artifact's id (for a batch job's outputs, the job's id and the shard's index).

=========================  ====================================================================
file                       what
=========================  ====================================================================
``_statmap.nii.gz``        an encoder's per-voxel scores in the recordings' space, one volume per
                           score (``Volumes`` in the sidecar)
``_scores.tsv``            an EEG/MEG encoder's per-target scores, one column per score
``_embeddings.tsv``        a batch job's decoded embeddings, one row per trial of the shard
``_retrieval.tsv``         its retrieval: the k candidates most similar to each trial's embedding
``_rdm.tsv``               an RDM, one row and one column per condition
``_rsa.tsv``               a brain-model RSA comparison: one row per model
``_scorematrix.tsv``       layer x ROI (or layer x time) scores
=========================  ====================================================================

BIDS 1.10 has no suffix for statistical results yet (BEP041 proposes ``_statmap``); as the
derivatives specification asks of files it does not cover, these suffixes are listed in
``.bidsignore``. Everything else follows the specification and passes the official validator.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import re
import shutil
import uuid

import numpy as np

from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound
from braindecode.store._kinds import (
    COMPARISON_ARTIFACT,
    JOB_OUTPUT_ARTIFACT,
    RDM_ARTIFACT,
    SCORE_MAP_ARTIFACT,
    SCORE_MATRIX_ARTIFACT,
)
from braindecode.store._store import Store

BIDS_VERSION = "1.10.0"
#: The kinds of artifact exported; the others (models, activations, stimuli, images) are not results.
EXPORTED_KINDS = (SCORE_MAP_ARTIFACT, JOB_OUTPUT_ARTIFACT, RDM_ARTIFACT, COMPARISON_ARTIFACT, SCORE_MATRIX_ARTIFACT)
#: Result suffixes that BIDS does not define yet, as .bidsignore patterns.
RESULT_PATTERNS = ("*_statmap.nii.gz", "*_statmap.json", "*_scores.tsv", "*_scores.json", "*_embeddings.tsv",
                   "*_embeddings.json", "*_retrieval.tsv", "*_retrieval.json", "*_rdm.tsv", "*_rdm.json",
                   "*_rsa.tsv", "*_rsa.json", "*_scorematrix.tsv", "*_scorematrix.json")
_DATATYPES = {"fmri": "func", "eeg": "eeg", "meg": "meg"}
_ENTITIES = (("subject", "sub"), ("session", "ses"), ("task", "task"), ("run", "run"))


def _label(text: str) -> str:
    """A BIDS label: letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", str(text))


class _Writer:
    """Writes the files of one export below ``root`` and remembers each desc- label's description."""

    def __init__(self, root: pathlib.Path, store: Store, tenant: str):
        self.root, self.store, self.tenant = root, store, tenant
        self.files, self.labels = [], {}

    def recordings(self, provenance: list) -> list:
        """The recordings a result came from, as stored now (their provenance when deleted since)."""
        found = []
        for entry in provenance:
            try:
                info = self.store.get_recording(self.tenant, entry["id"])
                found.append({field: getattr(info, field) for field in ("id", "subject", "session", "task", "run",
                                                                         "modality")})
            except NotFound:  # deleted since: named by its provenance
                found.append(entry)
        return found

    def base(self, recordings: list, label: str) -> pathlib.Path:
        """The path stem of a result of ``recordings``: in its subject's folder when they share one."""
        shared = {field: {str(r.get(field) or "") for r in recordings} for field, _ in _ENTITIES}
        shared = {field: values.pop() for field, values in shared.items() if len(values) == 1}
        parts = [f"{key}-{_label(shared[field])}" for field, key in _ENTITIES if shared.get(field)]
        parts.append(f"desc-{label}")
        folder = self.root
        modalities = {r.get("modality") for r in recordings}
        if shared.get("subject"):
            folder = folder / f"sub-{_label(shared['subject'])}"
            if shared.get("session"):
                folder = folder / f"ses-{_label(shared['session'])}"
            if len(modalities) == 1 and modalities <= set(_DATATYPES):
                folder = folder / _DATATYPES[modalities.pop()]
        return folder / "_".join(parts)

    def write(self, base: pathlib.Path, suffix: str, extension: str, data, sidecar: dict) -> None:
        """``<base>_<suffix><extension>`` (bytes, or TSV rows with their header first) and its JSON sidecar."""
        path = base.with_name(f"{base.name}_{suffix}{extension}")
        if path.exists():
            raise RuntimeError(f"two results were named {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            with open(path, "w", newline="") as f:
                csv.writer(f, delimiter="\t", lineterminator="\n").writerows(data)
        path.with_name(path.name[:-len(extension)] + ".json").write_text(
            json.dumps(sidecar, indent=2, sort_keys=True, default=_plain) + "\n")
        self.files += [path, path.with_name(path.name[:-len(extension)] + ".json")]


def _plain(value):
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else str(value)


def _number(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{float(value):.9g}"


def _sidecar(info, description: str, **fields) -> dict:
    return {"Description": description, "Artifact": {"id": info.id, "kind": info.kind, "created": info.created},
            "Provenance": info.provenance, **fields}


def _score_map(writer: _Writer, info, folder: pathlib.Path, label: str) -> None:
    recordings = writer.recordings(info.provenance.get("recordings", []))
    base = writer.base(recordings, label)
    names = info.meta.get("score_names", [])
    _write_scores(writer, info, folder, base, names, f"scores of encoder {info.meta.get('encoder_id', '')}")
    writer.labels[label] = f"encoder {info.meta.get('encoder_id', '')} scored on {len(recordings)} recording(s)"


def _write_scores(writer: _Writer, info, folder: pathlib.Path, base: pathlib.Path, names: list, what: str) -> None:
    """An encoder's scores: the NIfTI map for voxels, else the per-target table."""
    if (folder / "score_map.nii.gz").is_file():
        writer.write(base, "statmap", ".nii.gz", (folder / "score_map.nii.gz").read_bytes(),
                     _sidecar(info, f"Per-voxel {what}, in the recordings' space: one volume per score",
                              Volumes=names))
        return
    scores = np.load(folder / "scores.npy", allow_pickle=False)
    rows = [["target", *names]] + [[str(t), *(_number(v) for v in scores[:, t])] for t in range(scores.shape[1])]
    writer.write(base, "scores", ".tsv", rows, _sidecar(
        info, f"Per-target {what}: one row per target (flattened response index), one column per score",
        **{name: {"Description": f"{name} of the target"} for name in names}))


def _job_output(writer: _Writer, info, folder: pathlib.Path) -> None:
    """One shard of a batch job: its tables are named after the job and the shard."""
    summary = json.loads((folder / "shard.json").read_text())
    job_id = info.meta.get("job_id", info.id)
    label = f"{_label(job_id)}shard{summary['shard']}"
    writer.labels[label] = f"shard {summary['shard']} of batch job {job_id} ({info.provenance.get('model', {})})"
    base = writer.base(writer.recordings(summary.get("recordings", [])), label)
    if (folder / "scores.npy").is_file():
        _write_scores(writer, info, folder, base, summary.get("score_names", []),
                      f"scores of job {job_id}'s encoder on shard {summary['shard']}")
    recording_ids = np.load(folder / "recording_ids.npy", allow_pickle=False).astype(str)
    stimulus_ids = np.load(folder / "stimulus_ids.npy", allow_pickle=False).astype(str)
    sidecar = {"JobID": job_id, "Shard": summary["shard"]}
    if (folder / "embeddings.npy").is_file():
        embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
        table = [["recording_id", "stimulus_id", *(f"dim_{d}" for d in range(embeddings.shape[1]))]]
        table += [[rec, stim, *(_number(v) for v in row)] for rec, stim, row in zip(recording_ids, stimulus_ids,
                                                                                     embeddings)]
        writer.write(base, "embeddings", ".tsv", table, _sidecar(
            info, "Decoded embeddings: one row per trial, in the order of the recordings and their events",
            **sidecar))
    if (folder / "retrieval_ids.npy").is_file():
        ids = np.load(folder / "retrieval_ids.npy", allow_pickle=False).astype(str)
        scores = np.load(folder / "retrieval_scores.npy", allow_pickle=False)
        table = [["trial", "recording_id", "stimulus_id", "rank", "candidate_id", "similarity"]]
        for trial, (rec, stim) in enumerate(zip(recording_ids, stimulus_ids)):
            table += [[str(trial), rec, stim, str(rank), candidate, _number(score)]
                      for rank, (candidate, score) in enumerate(zip(ids[trial], scores[trial]), 1)]
        writer.write(base, "retrieval", ".tsv", table, _sidecar(
            info, "Retrieval: the candidate stimuli most similar (cosine) to each trial's decoded embedding, most "
                  "similar first; trial is the row of the embeddings table", **sidecar))


def _rdm(writer: _Writer, info, folder: pathlib.Path, label: str) -> None:
    rdm = np.load(folder / "rdm.npy", allow_pickle=False)
    conditions = [str(c) for c in np.load(folder / "condition_ids.npy", allow_pickle=False)]
    recordings = writer.recordings(info.provenance.get("recordings", []))
    rows = [["condition", *conditions]] + [[c, *(_number(v) for v in rdm[i])] for i, c in enumerate(conditions)]
    source = f"subject {info.meta['subject']}" if info.meta.get("subject") else "a network layer"
    writer.write(writer.base(recordings, label), "rdm", ".tsv", rows, _sidecar(
        info, f"Representational dissimilarity matrix of {source} ({info.meta.get('method', '')})"))
    writer.labels[label] = f"RDM of {source}"


def _comparison(writer: _Writer, info, folder: pathlib.Path, label: str) -> None:
    meta = info.meta
    columns = ("score", "ci_lower", "ci_upper", "p_values", "p_values_fdr")
    rows = [["model", *columns]]
    for m, name in enumerate(meta["model_names"]):
        rows.append([name, *(_number(meta[c][m]) if meta.get(c) is not None else "n/a" for c in
                             ("scores", *columns[1:]))])
    extra = {key: meta.get(key) for key in ("method", "noise_ceiling", "bootstrap", "ci", "n_bootstrap",
                                             "n_permutations", "seed", "subject_scores")}
    writer.write(writer.base([], label), "rsa", ".tsv", rows, _sidecar(
        info, "Brain-model RSA comparison: one row per model RDM, its mean score over subjects, bootstrap "
              "confidence interval and permutation p-values", **extra))
    writer.labels[label] = f"RSA comparison of {len(meta['model_names'])} model(s)"


def _score_matrix(writer: _Writer, info, folder: pathlib.Path, label: str) -> None:
    meta = info.meta
    recordings = writer.recordings(info.provenance.get("recordings", []))
    rows = [["layer", *(str(c) for c in meta["columns"])]]
    rows += [[layer, *(_number(v) for v in meta["scores"][i])] for i, layer in enumerate(meta["rows"])]
    writer.write(writer.base(recordings, label), "scorematrix", ".tsv", rows, _sidecar(
        info, f"Layer x ROI (or layer x time) scores ({meta.get('method', '')}), averaged over subjects",
        subjects=meta.get("subjects")))
    writer.labels[label] = f"score matrix ({meta.get('method', '')})"


_EXPORTERS = {SCORE_MAP_ARTIFACT: _score_map, RDM_ARTIFACT: _rdm, COMPARISON_ARTIFACT: _comparison,
              SCORE_MATRIX_ARTIFACT: _score_matrix}


def _dataset_files(writer: _Writer) -> None:
    from braindecode import __version__

    root = writer.root
    description = {"Name": "braindecode results", "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
                   "GeneratedBy": [{"Name": "braindecode", "Version": __version__,
                                    "Description": "Encoding, decoding, retrieval and RSA results exported from a "
                                                   "braindecode store"}]}
    (root / "dataset_description.json").write_text(json.dumps(description, indent=2) + "\n")
    lines = ["# braindecode results", "", "Results exported from a braindecode store. Each `desc-` label names "
             "one stored result; its files carry a JSON sidecar with the provenance.", ""]
    lines += [f"- `desc-{label}`: {text}" for label, text in sorted(writer.labels.items())]
    (root / "README.md").write_text("\n".join(lines) + "\n")
    (root / ".bidsignore").write_text("\n".join(RESULT_PATTERNS) + "\n")


def export_bids_derivatives(store: Store, tenant: str, out_dir, artifact_ids=None) -> dict:
    """Write a tenant's stored results as a BIDS derivatives dataset (see the module docstring).

    The dataset is written beside ``out_dir`` and renamed into place, so ``out_dir`` holds all of
    it or nothing.

    Parameters
    ----------
    store : Store
    tenant : str
    out_dir : str or os.PathLike
        A folder that does not exist yet, or an empty one.
    artifact_ids : list of str, optional
        The results to export (of the kinds in :data:`EXPORTED_KINDS`); default: every result of
        the tenant.

    Returns
    -------
    report : dict
        ``{"files": [paths relative to out_dir], "artifacts": [ids exported]}``.
    """
    out = pathlib.Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FailedPrecondition(f"{out} already exists and is not an empty folder; export into a new one")
    if artifact_ids:
        infos = [store.get_artifact(tenant, artifact_id) for artifact_id in dict.fromkeys(artifact_ids)]
        other = [f"{info.id} ({info.kind})" for info in infos if info.kind not in EXPORTED_KINDS]
        if other:
            raise InvalidArgument(f"only results are exported ({', '.join(EXPORTED_KINDS)}), not {', '.join(other)}")
    else:
        infos = [info for kind in EXPORTED_KINDS for info in store.list_artifacts(tenant, kind)]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.{uuid.uuid4().hex}"
    stage.mkdir()
    try:
        writer = _Writer(stage, store, tenant)
        for info in infos:
            folder = store.artifact_dir(tenant, info.id)
            if info.kind == JOB_OUTPUT_ARTIFACT:
                _job_output(writer, info, folder)
            else:
                _EXPORTERS[info.kind](writer, info, folder, _label(info.id))
        _dataset_files(writer)
        if out.exists():
            out.rmdir()
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return {"files": sorted(str(p.relative_to(stage)) for p in writer.files),
            "artifacts": [info.id for info in infos]}
