"""Job specs: read from YAML or JSON, typed and checked as a whole against the store, planned into shards.

A spec is a mapping (its keys: :class:`JobSpec`, or :func:`job_spec_reference`)::

    name: nightly-decoding                 # optional label
    recordings:                            # ids, or a filter over the tenant's recordings
      ids: [rec_0123, rec_4567]
      # filter: {subject: "01", task: images, modality: fmri}
    preprocessing:                         # a braindecode.preprocessing.preprocess spec with
      modality: fmri                       # a per-trial step (fMRI "trials", EEG/MEG "epochs")
      mask: null
      trials: {method: lss}
    model:                                 # exactly one of
      decoder: dec_89ab                    # a "decoder" artifact (braindecode.store.save_decoder_artifact)
      # encoder: enc_4567                  # an "encoder" artifact (braindecode.store.save_encoder_artifact)
      # subject: "04"                      # a shared decoder's adapter for every recording (default:
                                           # each recording's subject label)
    outputs:                               # a decoder's: at least one of
      embeddings: true
      retrieval: {candidates: act_cdef, layer: pool, k: 5}          # an "activations" artifact
      reconstructions: {model: default, seed: 0}  # a served model; its recommended sampling unless given
      # an encoder's: at least one of
      # score_maps: true                   # per-target scores against the encoder's activation set
      # predictions: true                  # predicted responses to the trials' stimuli
    shard_by: recording                    # or subject: one shard per subject's recordings
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from braindecode._schema import (
    INVALID,
    Checked,
    Problems,
    markdown_table,
    parameter_default,
    reference,
    valid,
)
from braindecode._yaml import load_yaml, read_yaml
from braindecode.config import DEFAULT_RECONSTRUCTION_MODEL, ModelName, ReconstructionSettings
from braindecode.decoding import read_decoder_config, retrieve
from braindecode.errors import BraindecodeError, InvalidArgument, NotFound, quoted
from braindecode.preprocessing import FMRISpec, PreprocessingSpec, preprocessing_reference
from braindecode.reconstruction import SCHEDULERS, check_sampling, reconstruct
from braindecode.store import ACTIVATIONS_ARTIFACT, DECODER_ARTIFACT, ENCODER_ARTIFACT

DECODER_OUTPUTS = ("embeddings", "retrieval", "reconstructions")
ENCODER_OUTPUTS = ("score_maps", "predictions")
SHARD_BY = ("recording", "subject")

ArtifactId = Annotated[StrictStr, Field(min_length=1)]


def canonical_json(value) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal specs give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_spec(text, source: str = "job spec") -> dict:
    """A job spec from YAML or JSON text (JSON is YAML), within the bounds of ``braindecode._yaml``."""
    return _mapping(load_yaml(text, source), source)


def read_spec(path) -> dict:
    """A job spec from a YAML or JSON file."""
    source = f"job spec {path}"
    return _mapping(read_yaml(path, source), source)


def _mapping(spec, source: str) -> dict:
    if not isinstance(spec, dict):
        raise InvalidArgument(f"{source} must hold a mapping, got {type(spec).__name__}")
    return spec


class RecordingFilter(Checked):
    """The tenant's recordings that match every term given."""

    subject: StrictStr | None = None
    """The subject label."""
    task: StrictStr | None = None
    """The task label."""
    modality: StrictStr | None = None
    """``eeg``, ``meg`` or ``fmri``."""


class RecordingSelection(Checked):
    """The recordings a job reads: ``ids``, or a ``filter`` (exactly one of them)."""

    ids: Annotated[list[ArtifactId], Field(min_length=1)] | None = None
    """Recording ids."""
    filter: RecordingFilter | None = None
    """Terms the recordings match, e.g. ``{subject: "01", task: images, modality: fmri}``."""


class ModelRef(Checked):
    """The model a job applies: a ``decoder`` or an ``encoder`` (exactly one of them)."""

    decoder: ArtifactId | None = None
    """A "decoder" artifact (``braindecode.store.save_decoder_artifact``)."""
    encoder: ArtifactId | None = None
    """An "encoder" artifact (``braindecode.store.save_encoder_artifact``)."""
    subject: Annotated[StrictStr, Field(min_length=1)] | None = None
    """A shared decoder's subject whose adapter decodes every recording (default: each recording's subject)."""


class Retrieval(Checked):
    """Top-k retrieval of each trial's decoded embedding among candidate stimuli."""

    candidates: ArtifactId
    """An "activations" artifact: the candidate stimuli."""
    layer: Annotated[StrictStr, Field(min_length=1)]
    """The candidates' layer, of the decoder's embedding size."""
    k: Annotated[int, Field(ge=1, strict=True)] = parameter_default(retrieve, "k")
    """Candidates kept per trial."""


class Reconstructions(Checked):
    """Images of each trial's decoded embedding by one of the served diffusion models."""

    model: ModelName = DEFAULT_RECONSTRUCTION_MODEL
    """A model of the config's ``reconstruction.models`` (``default``: the shipped model)."""
    n_steps: Annotated[int, Field(ge=1, strict=True)] | None = None
    """Denoising steps, at most the model's ``max_steps``; null: the model's recommendation."""
    seed: Annotated[int, Field(ge=0, strict=True)] = parameter_default(reconstruct, "seed")
    """Seed of the initial noise."""
    guidance: Annotated[float, Field(ge=1, strict=True)] | None = None
    """Classifier-free guidance scale (1: none); null: the model's recommendation."""
    scheduler: Literal[tuple(SCHEDULERS)] | None = None
    """The diffusion scheduler; null: the model's recommendation."""


class Outputs(Checked):
    """What a job writes per trial: a decoder's ``embeddings``, ``retrieval``, ``reconstructions``;
    an encoder's ``score_maps`` and ``predictions``."""

    embeddings: StrictBool = False
    """Decoded embeddings."""
    retrieval: Retrieval | None = None
    """The k most similar candidate stimuli."""
    reconstructions: Reconstructions | None = None
    """Images from the diffusion model."""
    score_maps: StrictBool = False
    """Per-target scores against the encoder's activation set."""
    predictions: StrictBool = False
    """Predicted responses to the trials' stimuli."""


class JobSpec(Checked):
    """A batch job: a model applied to stored recordings, one shard per recording or per subject."""

    name: StrictStr = ""
    """A label."""
    recordings: RecordingSelection
    """The recordings: ``ids``, or a ``filter`` over the tenant's recordings."""
    preprocessing: PreprocessingSpec
    """A ``braindecode.preprocessing.preprocess`` spec with a per-trial step (EEG/MEG ``epochs``, fMRI ``trials``)."""
    model: ModelRef
    """The decoder or the encoder."""
    outputs: Outputs
    """What to write; a decoder gives embeddings, retrieval, reconstructions, an encoder score_maps, predictions."""
    shard_by: Literal[SHARD_BY] = "recording"
    """One shard per recording, or per subject (with all its recordings)."""

    @property
    def kind(self) -> str:
        """"decoder" or "encoder": the model the spec names (a decoder where it names both or neither)."""
        named = [key for key in ("decoder", "encoder") if valid(self.model) and key in self.model.model_fields_set]
        return named[0] if len(named) == 1 else DECODER_ARTIFACT

    def rules(self, problems: Problems) -> None:
        if valid(self.recordings):
            _check_selection(self.recordings, problems)
        if valid(self.model) and len([k for k in ("decoder", "encoder") if k in self.model.model_fields_set]) != 1:
            problems.add_text("give 'model.decoder' or 'model.encoder', exactly one of them")
        if valid(self.model) and self.model.subject is not None and self.kind != DECODER_ARTIFACT:
            problems.add_text("'model.subject' names an adapter of a shared decoder; an encoder takes none")
        if valid(self.preprocessing):
            _check_per_trial_step(self.preprocessing, problems)
        if valid(self.outputs):
            _check_outputs(self.outputs, self.kind, problems)

    def normalized(self, spec: dict) -> dict:
        """The checked ``spec`` with the defaults of its outputs filled in (recordings and preprocessing as sent)."""
        outputs = self.outputs
        if self.kind == DECODER_ARTIFACT:
            given = {"embeddings": outputs.embeddings, "retrieval": outputs.retrieval,
                     "reconstructions": outputs.reconstructions}
        else:
            given = {"score_maps": outputs.score_maps, "predictions": outputs.predictions}
        return {"name": self.name, "recordings": spec["recordings"], "preprocessing": spec["preprocessing"],
                "model": {self.kind: getattr(self.model, self.kind),
                          **({} if self.model.subject is None else {"subject": self.model.subject})},
                "outputs": {key: value.model_dump() if isinstance(value, Checked) else value
                            for key, value in given.items() if value is not None},
                "shard_by": self.shard_by}


def _few(ids) -> str:
    ids = list(ids)
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _check_selection(selection: RecordingSelection, problems: Problems) -> None:
    if (selection.ids is None) == (selection.filter is None):
        problems.add_text("give 'recordings.ids' or 'recordings.filter', exactly one of them")
    if valid(selection.ids):
        repeated = sorted({i for i in selection.ids if selection.ids.count(i) > 1})
        if repeated:
            problems.add("{0} lists {ids} more than once", ("recordings", "ids"), ids=_few(repeated))
    if valid(selection.filter) and not selection.filter.model_dump(exclude_none=True):
        problems.add("{0} must name at least one of subject, task, modality", ("recordings", "filter"))


def _check_per_trial_step(spec, problems: Problems) -> None:
    step = "trials" if isinstance(spec, FMRISpec) else "epochs"
    if getattr(spec, step) is None:
        problems.add("{0} needs a '{step}' step: models take per-trial responses", ("preprocessing",), step=step)
    if isinstance(spec, FMRISpec):
        if spec.atlas is not None:
            problems.add("{0} needs an image and is available from Python only", ("preprocessing", "atlas"))
        if spec.mask is not INVALID and spec.mask not in ("auto", None):
            problems.add("{0} must be 'auto' or null in a job spec", ("preprocessing", "mask"))


def _check_outputs(outputs: Outputs, kind: str, problems: Problems) -> None:
    """Each requested output the model kind does not give, and a request for nothing."""
    if kind == DECODER_ARTIFACT:
        other, gives, needs, model = ENCODER_OUTPUTS, DECODER_OUTPUTS, "an encoder", "a decoder"
    else:
        other, gives, needs, model = DECODER_OUTPUTS, ENCODER_OUTPUTS, "a decoder", "an encoder"
    for key in other:
        if getattr(outputs, key) not in (None, False):
            problems.add("{0} needs {needs} model; {model} gives {gives}", ("outputs", key), needs=needs,
                         model=model, gives=", ".join(gives))
    requested = [key for key in gives if getattr(outputs, key) is True or isinstance(getattr(outputs, key), Checked)]
    if not requested:
        problems.add("{0} requests nothing: set {choices}", ("outputs",),
                     choices=", ".join(gives[:-1]) + " or " + gives[-1])


@dataclasses.dataclass
class ShardPlan:
    """One shard: its index and its recordings (``{"id", "sha256", "subject"}`` each)."""

    index: int
    recordings: list


@dataclasses.dataclass
class JobPlan:
    """A checked spec: the spec with defaults filled in, its shards, and the decoder's config
    (decoder jobs) or the encoder artifact's meta (encoder jobs)."""

    spec: dict
    shards: list
    decoder: dict | None = None
    encoder: dict | None = None


def _not_found(problems: Problems, error, tenant: str) -> None:
    """A missing recording or artifact, with the tenant that was searched (the likely cause when a
    batch run names none)."""
    problems.add_text(f"{error} (searched tenant {tenant!r})", not_found=True)


def _select_recordings(store, tenant: str, selection, problems: Problems) -> list:
    if not valid(selection) or (selection.ids is None) == (selection.filter is None):
        return []
    if selection.ids is not None:
        found = []
        for rid in dict.fromkeys(selection.ids if valid(selection.ids) else []):
            try:
                found.append(store.get_recording(tenant, rid))
            except NotFound as exc:
                _not_found(problems, exc, tenant)
        return found
    terms = selection.filter.model_dump(exclude_none=True) if valid(selection.filter) else {}
    if not terms:
        return []
    found, token = [], ""
    while True:
        page, token = store.list_recordings(tenant, page_size=1000, page_token=token, **terms)
        found.extend(page)
        if not token:
            break
    if not found:
        problems.add("{0} {terms} matches no recording of tenant {tenant}", ("recordings", "filter"),
                     terms=canonical_json(terms), tenant=repr(tenant))
    return found


def _check_recordings(recordings: list, modality, problems: Problems) -> None:
    if modality is not None:
        other = [r.id for r in recordings if r.modality != modality]
        if other:
            problems.add_text(f"recordings {_few(other)} are not {modality} as 'preprocessing.modality' says")
    silent = [r.id for r in recordings if not r.events]
    if silent:
        problems.add_text(f"recordings {_few(silent)} have no events, so no trials to decode")


def _check_subject(decoder_id: str, config: dict, subject, recordings: list, problems: Problems) -> None:
    """A shared decoder must have an adapter for ``subject``, or else for each recording's subject
    label; the other decoders take no subject."""
    if "input_shapes" not in config:
        if subject is not None:
            problems.add_text(f"'model.subject' names an adapter of a shared decoder, but decoder {decoder_id!r} is "
                              f"a {config['class']} of one subject's data")
        return
    known = list(config["input_shapes"])
    wanted = [subject] if subject is not None else list(dict.fromkeys(r.subject for r in recordings))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        where = "'model.subject'" if subject is not None else "the recordings' subjects"
        problems.add_text(f"{where} {_few(map(repr, unknown))} have no adapter in shared decoder {decoder_id!r}; "
                          f"its subjects are {_few(map(repr, known))}")


def _check_decoder(store, tenant: str, decoder_id: str, subject, modality, recordings: list, problems: Problems):
    """The decoder's saved config, or None when it cannot be used."""
    try:
        store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)
        config = read_decoder_config(store.artifact_dir(tenant, decoder_id))
    except NotFound as exc:
        _not_found(problems, exc, tenant)
        return None
    except InvalidArgument as exc:
        problems.add_text(f"decoder {quoted(decoder_id)} cannot be read: {exc}")
        return None
    decodes = "eeg" if modality == "meg" else modality
    if modality is not None and config["modality"] != decodes:
        problems.add_text(f"decoder {decoder_id!r} decodes {config['modality']} responses, "
                          f"but 'preprocessing.modality' is {modality}")
    _check_subject(decoder_id, config, subject, recordings, problems)
    return config


def _fitted_on_voxel_selection(store, tenant: str, model_id: str) -> bool:
    """Whether a stored model was fitted on a voxel selection, which it then reads from every run."""
    provenance = store.get_artifact(tenant, model_id).provenance
    return bool((provenance.get("selection") or {}).get("voxels"))


def _check_encoder(store, tenant: str, encoder_id: str, modality, problems: Problems):
    """The encoder artifact's meta, or None when it cannot be used; its activation set must exist."""
    try:
        artifact = store.get_artifact(tenant, encoder_id, ENCODER_ARTIFACT)
    except NotFound as exc:
        _not_found(problems, exc, tenant)
        return None
    encodes = artifact.meta.get("modality")
    if encodes is None:
        problems.add_text(f"encoder {encoder_id!r} has no brain space (modality, response shape) to predict")
    elif modality is not None and encodes != modality:
        problems.add_text(f"encoder {encoder_id!r} predicts {encodes} responses, "
                          f"but 'preprocessing.modality' is {modality}")
    activation_set_id = artifact.provenance.get("activation_set_id")
    if not activation_set_id:
        problems.add_text(f"encoder {encoder_id!r} names no activation set to take the stimuli's features from")
    else:
        try:
            store.get_artifact(tenant, activation_set_id, ACTIVATIONS_ARTIFACT)
        except NotFound as exc:
            _not_found(problems, f"the activation set of encoder {encoder_id!r}: {exc}", tenant)
    return {**artifact.meta, "activation_set_id": activation_set_id}


def _check_candidates(store, tenant: str, retrieval: Retrieval, n_dims, problems: Problems) -> None:
    if not valid(retrieval.candidates):
        return
    try:
        meta = store.get_artifact(tenant, retrieval.candidates, ACTIVATIONS_ARTIFACT).meta
    except NotFound as exc:
        _not_found(problems, exc, tenant)
        return
    if valid(retrieval.layer) and retrieval.layer not in meta["layers"]:
        problems.add_text(f"activation set {retrieval.candidates!r} has no layer {retrieval.layer!r}; "
                          f"layers: {', '.join(meta['layers'])}")
    elif valid(retrieval.layer):
        width = math.prod(meta["shapes"][retrieval.layer][1:])
        if n_dims is not None and width != n_dims:
            problems.add_text(f"layer {retrieval.layer!r} has {width} features but the decoder gives "
                              f"{n_dims}-dimensional embeddings")
    if valid(retrieval.k) and retrieval.k > meta["n_stimuli"]:
        problems.add("{0} = {k} exceeds the {n} candidate stimuli", ("outputs", "retrieval", "k"), k=retrieval.k,
                     n=meta["n_stimuli"])


def _check_voxel_counts(recordings: list, preprocessing, decoder, problems: Problems) -> None:
    """fMRI with ``mask: null`` feeds every voxel of a run to the decoder: the counts must be its input's."""
    if decoder is None or "input_shape" not in decoder or not isinstance(preprocessing, FMRISpec) or preprocessing.mask:
        return
    expected = list(decoder["input_shape"])
    wrong = {r.id: math.prod(r.meta["shape"][:3]) for r in recordings
             if r.modality == "fmri" and [math.prod(r.meta["shape"][:3])] != expected}
    if wrong:
        counts = ", ".join(sorted({str(n) for n in wrong.values()}))
        problems.add_text(f"recordings {_few(wrong)} have {counts} voxels but the decoder takes inputs of shape "
                          f"{tuple(expected)}, and 'preprocessing.mask: null' keeps every voxel; use the decoder's "
                          "mask")


def _check_reconstructions(reconstructions: Reconstructions, n_dims, settings: ReconstructionSettings,
                           problems: Problems) -> dict | None:
    """The outputs' reconstruction settings with the model's recommendations in place of nulls, or None when
    the model cannot take them (each problem added)."""
    where = ("outputs", "reconstructions")
    if not valid(reconstructions.model):
        return None
    try:
        pipeline = settings.pipeline(reconstructions.model)
    except (BraindecodeError, OSError, ValueError) as exc:
        problems.add("{0}: {error}", where, error=str(exc), not_found=isinstance(exc, NotFound))
        return None
    if n_dims is not None and pipeline.embedding_dim != n_dims:
        problems.add("{0}: reconstruction model {model!r} takes {m}-dimensional embeddings but the decoder gives {n}",
                     where, model=reconstructions.model, m=pipeline.embedding_dim, n=n_dims)
    given = (reconstructions.n_steps, reconstructions.guidance, reconstructions.scheduler)
    if any(value is INVALID for value in given):
        return None
    try:  # each setting is valid alone: does this model take them, and does one image fit?
        sampling = check_sampling(pipeline, *given)
    except BraindecodeError as exc:
        problems.add("{0}: reconstruction model {model!r}: {error}", where, model=reconstructions.model,
                     error=str(exc))
        return None
    return reconstructions.model_dump() | {"n_steps": sampling["n_steps"], "scheduler": sampling["scheduler"],
                                           "guidance": sampling["guidance_scale"]}


def _shards(recordings: list, shard_by: str) -> list:
    groups = {}
    for rec in recordings:
        key = rec.id if shard_by == "recording" else rec.subject
        groups.setdefault(key, []).append({"id": rec.id, "sha256": rec.sha256, "subject": rec.subject})
    return [ShardPlan(i, group) for i, group in enumerate(groups.values())]


def plan_job(store, tenant: str, spec, reconstruction: ReconstructionSettings | None = None) -> JobPlan:
    """Check a job spec against the tenant's recordings and artifacts and split it into shards.

    Parameters
    ----------
    store : braindecode.store.Store
    tenant : str
        Only this tenant's recordings and artifacts are visible.
    spec : dict
        The job spec (its keys: :class:`JobSpec`).
    reconstruction : braindecode.config.ReconstructionSettings, optional
        The served reconstruction models that ``outputs.reconstructions.model`` names (default: the
        shipped model only, as ``default``).

    Returns
    -------
    plan : JobPlan

    Raises
    ------
    InvalidArgument or NotFound
        Listing every problem found (NotFound when all are unknown ids).
    """
    problems = Problems("job spec")
    try:
        canonical_json(spec)
    except (TypeError, ValueError) as exc:
        problems.add_text(f"a job spec must hold JSON values only: {exc}")
        problems.raise_if_any()
    job = JobSpec.collect(spec, problems)
    if job is INVALID:
        problems.raise_if_any()
    recordings = _select_recordings(store, tenant, job.recordings, problems)
    modality = job.preprocessing.modality if valid(job.preprocessing) else None
    _check_recordings(recordings, modality, problems)
    decoder = encoder = None
    if valid(job.model) and valid(job.model.decoder):
        decoder = _check_decoder(store, tenant, job.model.decoder, job.model.subject, modality, recordings, problems)
        if decoder is not None and not _fitted_on_voxel_selection(store, tenant, job.model.decoder):
            _check_voxel_counts(recordings, job.preprocessing, decoder, problems)
    if valid(job.model) and valid(job.model.encoder):
        encoder = _check_encoder(store, tenant, job.model.encoder, modality, problems)
    reconstructions = None
    if valid(job.outputs) and job.kind == DECODER_ARTIFACT:
        n_dims = None if decoder is None else decoder["n_dims"]
        if valid(job.outputs.retrieval):
            _check_candidates(store, tenant, job.outputs.retrieval, n_dims, problems)
        if valid(job.outputs.reconstructions):
            reconstructions = _check_reconstructions(job.outputs.reconstructions, n_dims,
                                                     reconstruction or ReconstructionSettings(), problems)
    problems.raise_if_any()
    normalized = job.normalized(spec)
    if reconstructions is not None:
        normalized["outputs"]["reconstructions"] = reconstructions
    return JobPlan(normalized, _shards(recordings, job.shard_by), decoder, encoder)


def job_spec_reference() -> str:
    """Every key of a job spec as a Markdown table, then those of its preprocessing spec."""
    table = markdown_table(("key", "value", "default", "description"), reference(JobSpec))
    return f"{table}\n`preprocessing`, per modality:\n\n{preprocessing_reference()}"
