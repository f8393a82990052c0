"""Job specs: read from YAML or JSON, checked as a whole against the store, planned into shards.

A spec is a mapping::

    name: nightly-decoding                 # optional label
    recordings:                            # ids, or a filter over the tenant's recordings
      ids: [rec_0123, rec_4567]
      # filter: {subject: "01", task: images, modality: fmri}
    preprocessing:                         # a braindecode.preprocessing.preprocess spec with
      modality: fmri                       # a per-trial step (fMRI "trials", EEG/MEG "epochs")
      mask: null
      trials: {method: lss}
    model:                                 # exactly one of
      decoder: art_89ab                    # a "decoder" artifact (braindecode.store.save_decoder_artifact)
      # encoder: art_4567                  # an "encoder" artifact (braindecode.store.save_encoder_artifact)
      # subject: "04"                      # a shared decoder's adapter for every recording (default:
                                           # each recording's subject label)
    outputs:                               # a decoder's: at least one of
      embeddings: true
      retrieval: {candidates: art_cdef, layer: pool, k: 5}          # an "activations" artifact
      reconstructions: {n_steps: 4, seed: 0, guidance: 1.0, scheduler: lcm}
      # an encoder's: at least one of
      # score_maps: true                   # per-target scores against the encoder's activation set
      # predictions: true                  # predicted responses to the trials' stimuli
    shard_by: recording                    # or subject: one shard per subject's recordings
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import yaml

from braindecode.decoding import read_decoder_config
from braindecode.errors import BraindecodeError, InvalidArgument, NotFound
from braindecode.preprocessing import MODALITIES, SPEC_KEYS_BY_MODALITY
from braindecode.store import ACTIVATIONS_ARTIFACT, DECODER_ARTIFACT, ENCODER_ARTIFACT

SPEC_KEYS = ("name", "recordings", "preprocessing", "model", "outputs", "shard_by")
REQUIRED_KEYS = ("recordings", "preprocessing", "model", "outputs")
SELECTION_KEYS = ("ids", "filter")
FILTER_KEYS = ("subject", "task", "modality")
MODEL_KEYS = ("decoder", "encoder")
MODEL_OPTIONS = ("subject",)
DECODER_OUTPUTS = ("embeddings", "retrieval", "reconstructions")
ENCODER_OUTPUTS = ("score_maps", "predictions")
OUTPUT_KEYS = DECODER_OUTPUTS + ENCODER_OUTPUTS
RETRIEVAL_DEFAULTS = {"candidates": None, "layer": None, "k": 5}
RECONSTRUCTION_DEFAULTS = {"n_steps": 4, "seed": 0, "guidance": 1.0, "scheduler": "lcm"}
SHARD_BY = ("recording", "subject")


def canonical_json(value) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal specs give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_spec(text: str, source: str = "job spec") -> dict:
    """A job spec from YAML or JSON text (JSON is YAML)."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{source} is not valid YAML or JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidArgument(f"{source} must hold a mapping, got {type(spec).__name__}")
    return spec


def read_spec(path) -> dict:
    """A job spec from a YAML or JSON file."""
    try:
        text = pathlib.Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read job spec {path}: {exc}") from None
    return parse_spec(text, f"job spec {path}")


class Problems:
    """Problems found in a spec, raised together as one error that lists them all."""

    def __init__(self):
        self.items = []

    def add(self, message: str, not_found: bool = False) -> None:
        self.items.append((message, not_found))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """NotFound when every problem is an unknown id, else InvalidArgument; the message lists all."""
        if not self.items:
            return
        listed = "; ".join(f"({i}) {message}" for i, (message, _) in enumerate(self.items, 1))
        noun = "problem" if len(self.items) == 1 else "problems"
        error = NotFound if all(nf for _, nf in self.items) else InvalidArgument
        raise error(f"job spec has {len(self.items)} {noun}: {listed}")


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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown_keys(mapping: dict, allowed, where: str, problems: Problems) -> None:
    for key in mapping:
        if key not in allowed:
            problems.add(f"unknown key '{where}{key}' (allowed: {', '.join(allowed)})")


def _mapping(spec: dict, key: str, problems: Problems, where: str = ""):
    value = spec.get(key)
    if not isinstance(value, dict):
        problems.add(f"'{where}{key}' must be a mapping, got {type(value).__name__}")
        return None
    return value


def _few(ids) -> str:
    ids = list(ids)
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def _select_recordings(store, tenant: str, selection: dict, problems: Problems) -> list:
    _unknown_keys(selection, SELECTION_KEYS, "recordings.", problems)
    ids, where = selection.get("ids"), selection.get("filter")
    if (ids is None) == (where is None):
        problems.add("give 'recordings.ids' or 'recordings.filter', exactly one of them")
        return []
    if ids is not None:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            problems.add("'recordings.ids' must be a non-empty list of recording ids")
            return []
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            problems.add(f"'recordings.ids' lists {_few(duplicates)} more than once")
        found = []
        for rid in dict.fromkeys(ids):
            try:
                found.append(store.get_recording(tenant, rid))
            except NotFound as exc:
                problems.add(str(exc), not_found=True)
        return found
    if not isinstance(where, dict) or not where:
        problems.add("'recordings.filter' must be a non-empty mapping of subject, task, modality")
        return []
    _unknown_keys(where, FILTER_KEYS, "recordings.filter.", problems)
    if not all(isinstance(v, str) for v in where.values()):
        problems.add("'recordings.filter' values must be strings")
        return []
    terms = {k: v for k, v in where.items() if k in FILTER_KEYS}
    found, token = [], ""
    while True:
        page, token = store.list_recordings(tenant, page_size=1000, page_token=token, **terms)
        found.extend(page)
        if not token:
            break
    if not found:
        problems.add(f"'recordings.filter' {canonical_json(where)} matches no recording")
    return found


def _check_preprocessing(spec, problems: Problems):
    """Dry check of a preprocess spec for decoding: keys, modality, a per-trial step. Returns the modality."""
    if not isinstance(spec, dict):
        problems.add(f"'preprocessing' must be a mapping (a preprocess spec), got {type(spec).__name__}")
        return None
    modality = spec.get("modality")
    if modality not in MODALITIES:
        problems.add(f"'preprocessing.modality' must be one of {', '.join(MODALITIES)}, got {modality!r}")
        return None
    allowed, step, step_keys = SPEC_KEYS_BY_MODALITY[modality]
    _unknown_keys(spec, allowed, "preprocessing.", problems)
    section = spec.get(step)
    if section is None:
        problems.add(f"'preprocessing' needs a '{step}' step: models take per-trial responses")
    elif not isinstance(section, dict):
        problems.add(f"'preprocessing.{step}' must be a mapping, got {type(section).__name__}")
    else:
        _unknown_keys(section, step_keys, f"preprocessing.{step}.", problems)
    if modality == "fmri":
        if spec.get("atlas") is not None:
            problems.add("'preprocessing.atlas' needs an image and is available from Python only")
        if spec.get("mask", "auto") not in ("auto", None):
            problems.add(f"'preprocessing.mask' must be 'auto' or null, got {spec['mask']!r}")
    return modality


def _check_recordings(recordings: list, modality, problems: Problems) -> None:
    if modality is not None:
        other = [r.id for r in recordings if r.modality != modality]
        if other:
            problems.add(f"recordings {_few(other)} are not {modality} as 'preprocessing.modality' says")
    silent = [r.id for r in recordings if not r.events]
    if silent:
        problems.add(f"recordings {_few(silent)} have no events, so no trials to decode")


def _model_kind(model: dict, problems: Problems) -> str:
    """"decoder" or "encoder": the model the spec names (a decoder where it names both or neither)."""
    _unknown_keys(model, MODEL_KEYS + MODEL_OPTIONS, "model.", problems)
    named = [key for key in MODEL_KEYS if key in model]
    if len(named) != 1:
        problems.add("give 'model.decoder' or 'model.encoder', exactly one of them")
    return named[0] if len(named) == 1 else DECODER_ARTIFACT


def _check_subject(decoder_id: str, config: dict, subject, recordings: list, problems: Problems) -> None:
    """A shared decoder must have an adapter for ``subject``, or else for each recording's subject
    label; the other decoders take no subject."""
    if subject is not None and (not isinstance(subject, str) or not subject):
        problems.add(f"'model.subject' must be a subject label, got {subject!r}")
        return
    if "input_shapes" not in config:
        if subject is not None:
            problems.add(f"'model.subject' names an adapter of a shared decoder, but decoder {decoder_id!r} is a "
                         f"{config['class']} of one subject's data")
        return
    known = list(config["input_shapes"])
    wanted = [subject] if subject is not None else list(dict.fromkeys(r.subject for r in recordings))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        where = "'model.subject'" if subject is not None else "the recordings' subjects"
        problems.add(f"{where} {_few(map(repr, unknown))} have no adapter in shared decoder {decoder_id!r}; "
                     f"its subjects are {_few(map(repr, known))}")


def _check_decoder(store, tenant: str, model: dict, modality, recordings: list, problems: Problems):
    """The decoder's saved config, or None when it cannot be used."""
    decoder_id = model.get("decoder")
    if not isinstance(decoder_id, str) or not decoder_id:
        problems.add("'model.decoder' must be a decoder artifact id")
        return None
    try:
        store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)
        config = read_decoder_config(store.artifact_dir(tenant, decoder_id))
    except NotFound as exc:
        problems.add(str(exc), not_found=True)
        return None
    except InvalidArgument as exc:
        problems.add(f"decoder {decoder_id!r} cannot be read: {exc}")
        return None
    decodes = "eeg" if modality == "meg" else modality
    if modality is not None and config["modality"] != decodes:
        problems.add(f"decoder {decoder_id!r} decodes {config['modality']} responses, "
                     f"but 'preprocessing.modality' is {modality}")
    _check_subject(decoder_id, config, model.get("subject"), recordings, problems)
    return config


def _check_encoder(store, tenant: str, model: dict, modality, problems: Problems):
    """The encoder artifact's meta, or None when it cannot be used; its activation set must exist."""
    encoder_id = model.get("encoder")
    if "subject" in model:
        problems.add("'model.subject' names an adapter of a shared decoder; an encoder takes none")
    if not isinstance(encoder_id, str) or not encoder_id:
        problems.add("'model.encoder' must be an encoder artifact id")
        return None
    try:
        artifact = store.get_artifact(tenant, encoder_id, ENCODER_ARTIFACT)
    except NotFound as exc:
        problems.add(str(exc), not_found=True)
        return None
    encodes = artifact.meta.get("modality")
    if encodes is None:
        problems.add(f"encoder {encoder_id!r} has no brain space (modality, response shape) to predict")
    elif modality is not None and encodes != modality:
        problems.add(f"encoder {encoder_id!r} predicts {encodes} responses, but 'preprocessing.modality' is {modality}")
    activation_set_id = artifact.provenance.get("activation_set_id")
    if not activation_set_id:
        problems.add(f"encoder {encoder_id!r} names no activation set to take the stimuli's features from")
    else:
        try:
            store.get_artifact(tenant, activation_set_id, ACTIVATIONS_ARTIFACT)
        except NotFound as exc:
            problems.add(f"the activation set of encoder {encoder_id!r}: {exc}", not_found=True)
    return {**artifact.meta, "activation_set_id": activation_set_id}


def _check_retrieval(store, tenant: str, retrieval, n_dims, problems: Problems):
    if not isinstance(retrieval, dict):
        problems.add("'outputs.retrieval' must be a mapping of candidates, layer, k")
        return None
    _unknown_keys(retrieval, tuple(RETRIEVAL_DEFAULTS), "outputs.retrieval.", problems)
    out = {**RETRIEVAL_DEFAULTS, **retrieval}
    if not _is_int(out["k"]) or out["k"] < 1:
        problems.add(f"'outputs.retrieval.k' must be a positive integer, got {out['k']!r}")
    if not isinstance(out["layer"], str) or not out["layer"]:
        problems.add("'outputs.retrieval.layer' must name a layer of the candidate activations")
    if not isinstance(out["candidates"], str) or not out["candidates"]:
        problems.add("'outputs.retrieval.candidates' must be an activation set artifact id")
        return out
    try:
        meta = store.get_artifact(tenant, out["candidates"], ACTIVATIONS_ARTIFACT).meta
    except NotFound as exc:
        problems.add(str(exc), not_found=True)
        return out
    if isinstance(out["layer"], str) and out["layer"] and out["layer"] not in meta["layers"]:
        problems.add(f"activation set {out['candidates']!r} has no layer {out['layer']!r}; "
                     f"layers: {', '.join(meta['layers'])}")
    elif isinstance(out["layer"], str) and out["layer"]:
        width = math.prod(meta["shapes"][out["layer"]][1:])
        if n_dims is not None and width != n_dims:
            problems.add(f"layer {out['layer']!r} has {width} features but the decoder gives "
                         f"{n_dims}-dimensional embeddings")
    if _is_int(out["k"]) and out["k"] > meta["n_stimuli"]:
        problems.add(f"'outputs.retrieval.k' = {out['k']} exceeds the {meta['n_stimuli']} candidate stimuli")
    return out


def _check_reconstructions(reconstructions, n_dims, model_dir, problems: Problems):
    from braindecode.reconstruction import DEFAULT_MODEL_DIR, MAX_STEPS, SCHEDULERS, load_pipeline

    model_dir = model_dir or DEFAULT_MODEL_DIR
    if not isinstance(reconstructions, dict):
        problems.add("'outputs.reconstructions' must be a mapping of n_steps, seed, guidance, scheduler")
        return None
    _unknown_keys(reconstructions, tuple(RECONSTRUCTION_DEFAULTS), "outputs.reconstructions.", problems)
    out = {**RECONSTRUCTION_DEFAULTS, **reconstructions}
    if not _is_int(out["n_steps"]) or not 1 <= out["n_steps"] <= MAX_STEPS:
        problems.add(f"'outputs.reconstructions.n_steps' must be an integer from 1 to {MAX_STEPS}, "
                     f"got {out['n_steps']!r}")
    if not _is_int(out["seed"]) or out["seed"] < 0:
        problems.add(f"'outputs.reconstructions.seed' must be a non-negative integer, got {out['seed']!r}")
    if not _is_number(out["guidance"]) or out["guidance"] < 1:
        problems.add(f"'outputs.reconstructions.guidance' must be a number >= 1, got {out['guidance']!r}")
    if out["scheduler"] not in SCHEDULERS:
        problems.add(f"'outputs.reconstructions.scheduler' must be one of {', '.join(SCHEDULERS)}, "
                     f"got {out['scheduler']!r}")
    if not (pathlib.Path(model_dir) / "model_index.json").is_file():
        problems.add(f"'outputs.reconstructions': no reconstruction model is installed at {model_dir}")
    elif n_dims is not None:
        try:
            embedding_dim = load_pipeline(model_dir).embedding_dim
        except (BraindecodeError, OSError, ValueError) as exc:
            problems.add(f"'outputs.reconstructions': the reconstruction model at {model_dir} cannot be loaded: {exc}")
        else:
            if embedding_dim != n_dims:
                problems.add(f"'outputs.reconstructions': the reconstruction model takes {embedding_dim}-"
                             f"dimensional embeddings but the decoder gives {n_dims}")
    return out


def _misfits(outputs: dict, kind: str, problems: Problems) -> None:
    """A problem per requested output that the model kind does not give."""
    if kind == DECODER_ARTIFACT:
        other, gives, needs, model = ENCODER_OUTPUTS, DECODER_OUTPUTS, "an encoder", "a decoder"
    else:
        other, gives, needs, model = DECODER_OUTPUTS, ENCODER_OUTPUTS, "a decoder", "an encoder"
    for key in other:
        if key in outputs and outputs[key] not in (None, False):
            problems.add(f"'outputs.{key}' needs {needs} model; {model} gives {', '.join(gives)}")


def _check_encoder_outputs(outputs: dict, problems: Problems) -> dict:
    _unknown_keys(outputs, OUTPUT_KEYS, "outputs.", problems)
    _misfits(outputs, ENCODER_ARTIFACT, problems)
    checked = {key: outputs.get(key, False) for key in ENCODER_OUTPUTS}
    for key, value in checked.items():
        if not isinstance(value, bool):
            problems.add(f"'outputs.{key}' must be true or false, got {value!r}")
    if not any(value is True for value in checked.values()):
        problems.add(f"'outputs' requests nothing: set {' or '.join(ENCODER_OUTPUTS)}")
    return checked


def _check_outputs(store, tenant: str, outputs: dict, decoder, model_dir, problems: Problems) -> dict:
    _unknown_keys(outputs, OUTPUT_KEYS, "outputs.", problems)
    _misfits(outputs, DECODER_ARTIFACT, problems)
    n_dims = None if decoder is None else decoder["n_dims"]
    checked = {"embeddings": outputs.get("embeddings", False)}
    if not isinstance(checked["embeddings"], bool):
        problems.add(f"'outputs.embeddings' must be true or false, got {checked['embeddings']!r}")
    if outputs.get("retrieval") is not None:
        checked["retrieval"] = _check_retrieval(store, tenant, outputs["retrieval"], n_dims, problems)
    if outputs.get("reconstructions") is not None:
        checked["reconstructions"] = _check_reconstructions(outputs["reconstructions"], n_dims, model_dir, problems)
    if checked["embeddings"] is not True and len(checked) == 1:
        problems.add("'outputs' requests nothing: set embeddings, retrieval or reconstructions")
    return checked


def _shards(recordings: list, shard_by: str) -> list:
    groups = {}
    for rec in recordings:
        key = rec.id if shard_by == "recording" else rec.subject
        groups.setdefault(key, []).append({"id": rec.id, "sha256": rec.sha256, "subject": rec.subject})
    return [ShardPlan(i, group) for i, group in enumerate(groups.values())]


def plan_job(store, tenant: str, spec, reconstruction_model="") -> JobPlan:
    """Check a job spec against the tenant's recordings and artifacts and split it into shards.

    Parameters
    ----------
    store : braindecode.store.Store
    tenant : str
        Only this tenant's recordings and artifacts are visible.
    spec : dict
        The job spec (schema in this module's docstring).
    reconstruction_model : str or os.PathLike
        Diffusion model folder that ``reconstructions`` outputs would use; empty: the shipped model.

    Returns
    -------
    plan : JobPlan

    Raises
    ------
    InvalidArgument or NotFound
        Listing every problem found (NotFound when all are unknown ids).
    """
    problems = Problems()
    if not isinstance(spec, dict):
        problems.add(f"a job spec must be a mapping, got {type(spec).__name__}")
        problems.raise_if_any()
    try:
        canonical_json(spec)
    except (TypeError, ValueError) as exc:
        problems.add(f"a job spec must hold JSON values only: {exc}")
        problems.raise_if_any()
    _unknown_keys(spec, SPEC_KEYS, "", problems)
    for key in REQUIRED_KEYS:
        if key not in spec:
            problems.add(f"missing '{key}'")
    name = spec.get("name", "")
    if not isinstance(name, str):
        problems.add(f"'name' must be a string, got {type(name).__name__}")
    shard_by = spec.get("shard_by", "recording")
    if shard_by not in SHARD_BY:
        problems.add(f"'shard_by' must be one of {', '.join(SHARD_BY)}, got {shard_by!r}")
    selection = _mapping(spec, "recordings", problems) if "recordings" in spec else None
    recordings = [] if selection is None else _select_recordings(store, tenant, selection, problems)
    modality = _check_preprocessing(spec["preprocessing"], problems) if "preprocessing" in spec else None
    _check_recordings(recordings, modality, problems)
    model = _mapping(spec, "model", problems) if "model" in spec else None
    kind = DECODER_ARTIFACT if model is None else _model_kind(model, problems)
    decoder = encoder = None
    if model is not None and "decoder" in model:
        decoder = _check_decoder(store, tenant, model, modality, recordings, problems)
    if model is not None and "encoder" in model:
        encoder = _check_encoder(store, tenant, model, modality, problems)
    outputs = _mapping(spec, "outputs", problems) if "outputs" in spec else None
    if outputs is not None and kind == DECODER_ARTIFACT:
        outputs = _check_outputs(store, tenant, outputs, decoder, reconstruction_model, problems)
    elif outputs is not None:
        outputs = _check_encoder_outputs(outputs, problems)
    problems.raise_if_any()
    normalized = {"name": name, "recordings": selection, "preprocessing": spec["preprocessing"],
                  "model": {kind: model[kind], **{key: model[key] for key in MODEL_OPTIONS if key in model}},
                  "outputs": outputs, "shard_by": shard_by}
    return JobPlan(normalized, _shards(recordings, shard_by), decoder, encoder)
