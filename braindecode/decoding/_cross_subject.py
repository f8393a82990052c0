"""A shared decoder fitted on the responses of several subjects, or fine-tuned for one, cross-validated over runs.

``fit_shared_decoder`` is pure: brain responses and an activation set in, a fitted
``SharedDecoder`` with its held-out scores and provenance out. It is what a store entry point
calls once it has loaded the recordings' responses and the activation set.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.base import clone

from braindecode.containers import BrainResponses
from braindecode.decoding._fitting import SHARED, DecoderFit
from braindecode.decoding._retrieval import top_k_accuracy
from braindecode.decoding._scoring import held_out_scores
from braindecode.decoding._shared import SharedDecoder
from braindecode.decoding._training import TrainingConfig
from braindecode.encoding import LeaveOneRunOut, check_cv
from braindecode.errors import InvalidArgument


@dataclasses.dataclass
class _Subject:
    X: np.ndarray
    Y: np.ndarray
    stimulus_ids: np.ndarray
    runs: np.ndarray
    dropped: dict


def _by_subject(responses, activations, layer: str) -> dict:
    """Each subject's trials, targets and runs from responses that may hold several subjects each."""
    if isinstance(responses, BrainResponses):
        responses = [responses]
    if not responses or not all(isinstance(r, BrainResponses) for r in responses):
        raise InvalidArgument("responses must be a non-empty list of BrainResponses")
    parts = {}
    for part in responses:
        if part.data.ndim != 2:
            raise InvalidArgument(f"a shared decoder takes 2-D fMRI responses, got shape {part.data.shape}")
        for subject in dict.fromkeys(part.subjects.tolist()):
            parts.setdefault(subject, []).append(part.subset(part.subjects == subject))
    subjects = {}
    for subject, chunks in parts.items():
        widths = sorted({chunk.data.shape[1] for chunk in chunks})
        if len(widths) > 1:
            raise InvalidArgument(f"responses of subject {subject!r} have different voxel counts: {widths}")
        stimulus_ids = np.concatenate([chunk.stimulus_ids for chunk in chunks])
        Y = np.asarray(activations.align(stimulus_ids)[layer], dtype=np.float32).reshape(len(stimulus_ids), -1)
        subjects[subject] = _Subject(np.concatenate([chunk.data for chunk in chunks]), Y, stimulus_ids,
                                     np.concatenate([chunk.runs for chunk in chunks]),
                                     {k: v for chunk in chunks for k, v in chunk.info.get("dropped", {}).items()})
    return subjects


def fit_shared_decoder(responses, activations, layer: str, decoder: SharedDecoder | None = None, *,
                       base: SharedDecoder | None = None, head_lr_scale: float = 0.0,
                       training: TrainingConfig | None = None, cv_folds: int = 0, progress=None) -> DecoderFit:
    """Fit a shared decoder on several subjects, or fine-tune one subject from a fitted one.

    Trials are matched to activation rows by stimulus id. Without ``base``, ``decoder`` is
    fitted on every subject jointly; with ``base``, the responses are one subject's and
    ``base.fine_tune`` fits that subject's adapter, starting a new one from the template of the
    stimuli that ``base``'s joint fit kept (``SharedDecoder.template_latents_``). Either way the decoder is scored on held-out
    whole runs (each run of each subject is its own group), then refitted on every trial. Runs are
    also the groups of the early-stopping split when every subject has two or more.

    Parameters
    ----------
    responses : BrainResponses or list of BrainResponses
        2-D per-trial responses; ``subjects`` names each trial's subject (a subject's voxel
        count is the same in every part), ``runs`` its run; trials dropped by the preprocessing
        (``info["dropped"]``) are recorded in the provenance.
    activations : ActivationSet
        The target embedding space; rows of ``layer`` are flattened to (n_stimuli, n_dims).
    layer : str
    decoder : SharedDecoder, optional
        Unfitted hyper-parameters of a joint fit (default ``SharedDecoder()``); not used with ``base``.
    base : SharedDecoder, optional
        Fitted: fine-tune the one subject of ``responses`` from it.
    head_lr_scale : float
        With ``base``: the head's learning rate as a fraction of the adapter's (0 keeps it fixed).
    training : TrainingConfig, optional
        With ``base``: the fine-tuning's (default ``base.training``).
    cv_folds : int
        Folds of whole runs for the scores; 0 leaves one run out at a time. Skipped when the
        responses hold a single run.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "cross-validation" (``done`` in folds,
        fractional within a fold) and "fit". An exception it raises stops the fit.

    Returns
    -------
    fit : DecoderFit
        ``provenance`` holds the layer, activation model, the decoder's parameters, its seed,
        the trial count, the dropped trials, ``subjects`` (per subject its trials, voxels and
        runs), ``fine_tuning`` (with ``base``: the subject, ``head_lr_scale`` and the training
        settings) and the cross-validation.
    """
    if base is not None and decoder is not None:
        raise InvalidArgument("give decoder (a joint fit) or base (fine-tuning), not both")
    if base is None and training is not None:
        raise InvalidArgument("training goes with base (fine-tuning); a joint fit takes the decoder's")
    estimator = SharedDecoder() if decoder is None else decoder
    if not isinstance(estimator, SharedDecoder) or (base is not None and not isinstance(base, SharedDecoder)):
        raise InvalidArgument("decoder and base must be SharedDecoder instances")
    report = progress or (lambda stage, done, total: None)
    subjects = _by_subject(responses, activations, layer)
    if base is not None and len(subjects) != 1:
        raise InvalidArgument(f"fine-tuning takes the responses of one subject, got {', '.join(subjects)}")

    def fit_on(keep: dict, epochs):
        """The decoder fitted on the trials ``keep[subject]`` (boolean masks) of each subject;
        ``epochs(record)`` after each epoch."""
        runs = {s: subjects[s].runs[keep[s]] for s in subjects}
        grouped = all(len(np.unique(r)) >= 2 for r in runs.values())
        if base is not None:
            (subject,) = subjects
            data = subjects[subject]
            return base.fine_tune(subject, data.X[keep[subject]], data.Y[keep[subject]],
                                  groups=runs[subject] if grouped else None, head_lr_scale=head_lr_scale,
                                  training=training, progress=epochs,
                                  stimulus_ids=data.stimulus_ids[keep[subject]])
        return clone(estimator).fit({s: d.X[keep[s]] for s, d in subjects.items()},
                                    {s: d.Y[keep[s]] for s, d in subjects.items()},
                                    groups=runs if grouped else None, progress=epochs,
                                    stimulus_ids={s: d.stimulus_ids[keep[s]] for s, d in subjects.items()})

    order = list(subjects)
    labels = np.concatenate([np.char.add(f"{s}\x00", subjects[s].runs.astype(str)) for s in order])
    offsets = np.cumsum([0] + [len(subjects[s].runs) for s in order])
    folds = []
    if len(np.unique(labels)) >= 2:
        splits = check_cv(LeaveOneRunOut() if cv_folds == 0 else cv_folds, len(labels), groups=labels)
        for i, (_, test) in enumerate(splits):
            held = np.zeros(len(labels), dtype=bool)
            held[test.numpy()] = True
            emptied = [s for k, s in enumerate(order) if held[offsets[k]:offsets[k + 1]].all()]
            if emptied:
                raise InvalidArgument(f"cross-validation fold {i + 1} holds out every run of subject {emptied[0]!r}: "
                                      "use more folds (cv_folds=0 leaves one run out)")
            model = fit_on({s: ~held[offsets[k]:offsets[k + 1]] for k, s in enumerate(order)},
                           lambda record, i=i: report("cross-validation", i + record["epoch"] / record["max_epochs"],
                                                      len(splits)))
            for k, subject in enumerate(order):
                test_s = held[offsets[k]:offsets[k + 1]]
                if not test_s.any():
                    continue
                data = subjects[subject]
                n_stimuli, scores = held_out_scores(model.predict(data.X[test_s], subject), data.Y[test_s],
                                                    data.stimulus_ids[test_s], activations, layer)
                folds.append({"test_runs": sorted(set(data.runs[test_s].tolist())), "subject": subject,
                              "n_test_trials": int(test_s.sum()), "n_test_stimuli": n_stimuli, "scores": scores})
            report("cross-validation", i + 1, len(splits))
    names = sorted({name for fold in folds for name in fold["scores"]})
    cv_scores = {name: float(np.mean([f["scores"][name] for f in folds if name in f["scores"]])) for name in names}
    report("fit", 0, 1)
    model = fit_on({s: np.ones(len(d.runs), dtype=bool) for s, d in subjects.items()},
                   lambda record: report("fit", record["epoch"], record["max_epochs"]))
    report("fit", 1, 1)
    config = (base.training if training is None else training) if base is not None else estimator.training
    config = config or TrainingConfig()
    provenance = {
        "layer": layer, "activation_model": activations.model, "decoder": SHARED,
        "params": (base if base is not None else estimator)._params_json(), "seed": int(config.seed),
        "n_trials": int(sum(len(d.runs) for d in subjects.values())),
        "subjects": {s: {"n_trials": len(d.runs), "n_voxels": int(d.X.shape[1]),
                         "runs": sorted(set(d.runs.tolist()), key=_run_order)} for s, d in subjects.items()},
        "dropped_trials": {k: v for d in subjects.values() for k, v in d.dropped.items()},
        "cross_validation": {"scheme": "leave-one-run-out" if cv_folds == 0 else f"{cv_folds} folds of runs",
                             "scores": cv_scores, "folds": folds},
    }
    if base is not None:
        provenance["fine_tuning"] = {"subject": order[0], "head_lr_scale": float(head_lr_scale),
                                     "training": dataclasses.asdict(config)}
    return DecoderFit(model, cv_scores, folds, provenance)


def _top1(predicted: np.ndarray, responses: BrainResponses, activations, layer: str) -> float:
    """Top-1 retrieval of the predictions of ``responses``' trials, averaged per stimulus, among those stimuli."""
    per_stimulus = BrainResponses(predicted, responses.stimulus_ids).average_repeats()
    candidates = activations.align(per_stimulus.stimulus_ids)[layer].reshape(per_stimulus.n_trials, -1)
    return float(top_k_accuracy(per_stimulus.data, candidates, k=1))


def new_subject_curve(responses: dict, new_subject: str, activations, layer: str, test_stimuli, *,
                      run_counts=(1, 2, 3, 4, 5), decoder: SharedDecoder | None = None, template: str | None = None,
                      template_decoder=None, head_lr_scale: float = 0.0, seeds=(0,), progress=None) -> dict:
    """Retrieval of a new subject's test stimuli against the number of its runs, for three decoders.

    * ``subject_only``: ``decoder`` fitted on the new subject's first runs alone;
    * ``fine_tuned``: ``decoder`` fitted jointly on the other subjects, then fine-tuned on those runs
      (its adapter starting from the ridge onto the template latents of their stimuli and held near
      them, on a single run without early stopping: see ``SharedDecoder.fine_tune``);
    * ``aligned``: ``AlignedDecoder``: the new subject aligned onto ``template`` on the stimuli of those
      runs, decoded by ``template_decoder`` fitted on the template's training trials.

    Every decoder trains on training trials only (stimuli not in ``test_stimuli``); each scores top-1
    retrieval of the new subject's test stimuli (its test trials of every run, repeats averaged) among
    the test stimuli.

    Parameters
    ----------
    responses : dict of str -> BrainResponses
        Each subject's 2-D responses with ``runs``.
    new_subject : str
        A key of ``responses``; the others train the shared decoder.
    activations : ActivationSet
    layer : str
        The embedding space.
    test_stimuli : array of shape (n_test,)
        Stimulus ids held out of every fit.
    run_counts : sequence of int
        Numbers of the new subject's runs (its first runs, in run order) to fit on.
    decoder : SharedDecoder, optional
        Unfitted; default ``SharedDecoder()``. Its ``training.seed`` is replaced by each seed.
    template : str, optional
        The alignment template: another subject (default the first of the others).
    template_decoder : unfitted decoder, optional
        Fitted with ``fit(X, Y, groups=runs)`` on the template (default ``RidgeDecoder`` with
        ``min(5, n_runs)`` folds of runs).
    head_lr_scale : float
        Passed to ``SharedDecoder.fine_tune``.
    seeds : sequence of int
        Training seeds; every decoder is refitted for each.
    progress : callable, optional
        ``progress(done, total)`` after each (seed, run count).

    Returns
    -------
    curve : dict
        ``run_counts``, ``seeds``, ``n_test_stimuli``, ``template``, ``n_voxels`` (per subject) and
        ``top_1``: per decoder, a list (one per run count) of lists (one per seed).
    """
    from braindecode.decoding._alignment import AlignedDecoder
    from braindecode.decoding._ridge import RidgeDecoder

    if new_subject not in responses:
        raise InvalidArgument(f"unknown subject {new_subject!r}; responses hold {', '.join(responses)}")
    others = [s for s in responses if s != new_subject]
    if not others:
        raise InvalidArgument("a new-subject curve needs responses of at least one other subject")
    template = others[0] if template is None else template
    if template not in others:
        raise InvalidArgument(f"template must be one of {', '.join(others)}, got {template!r}")
    decoder = SharedDecoder() if decoder is None else decoder
    test_stimuli = np.asarray(test_stimuli).astype(str)
    train = {s: r.subset(~np.isin(r.stimulus_ids, test_stimuli)) for s, r in responses.items()}
    if template_decoder is None:  # alphas chosen by folds of whole runs, as many as the template has, up to 5
        template_decoder = RidgeDecoder(cv=min(5, len(np.unique(train[template].runs))))
    test = responses[new_subject].subset(np.isin(responses[new_subject].stimulus_ids, test_stimuli))
    new_runs = sorted(np.unique(train[new_subject].runs).tolist(), key=_run_order)
    if max(run_counts) > len(new_runs) or min(run_counts) < 1:
        raise InvalidArgument(f"run_counts must be between 1 and the new subject's {len(new_runs)} runs, "
                              f"got {list(run_counts)}")

    def targets(r: BrainResponses) -> np.ndarray:
        return np.asarray(activations.align(r.stimulus_ids)[layer], dtype=np.float32).reshape(r.n_trials, -1)

    template_trials = train[template].average_repeats()
    template_model = clone(template_decoder).fit(train[template].data, targets(train[template]),
                                                 groups=train[template].runs)
    aligned = []
    for count in run_counts:
        part = train[new_subject].subset(np.isin(train[new_subject].runs, new_runs[:count]))
        shared = part.average_repeats()
        rows = {s: i for i, s in enumerate(template_trials.stimulus_ids)}
        model = AlignedDecoder(template_model).fit(shared.data, template_trials.data[[rows[s] for s in shared.stimulus_ids]])
        aligned.append(_top1(model.predict(test.data), test, activations, layer))
    top_1 = {"subject_only": [], "fine_tuned": [], "aligned": [[score] * len(seeds) for score in aligned]}
    for name in ("subject_only", "fine_tuned"):
        top_1[name] = [[] for _ in run_counts]
    done = 0
    for seed in seeds:
        config = dataclasses.replace(decoder.training or TrainingConfig(), seed=int(seed))
        estimator = clone(decoder).set_params(training=config)
        base = clone(estimator).fit({s: train[s].data for s in others}, {s: targets(train[s]) for s in others},
                                    groups={s: train[s].runs for s in others},
                                    stimulus_ids={s: train[s].stimulus_ids for s in others})
        for i, count in enumerate(run_counts):
            part = train[new_subject].subset(np.isin(train[new_subject].runs, new_runs[:count]))
            groups = part.runs if count >= 2 else None
            alone = clone(estimator).fit({new_subject: part.data}, {new_subject: targets(part)},
                                         groups=None if groups is None else {new_subject: groups})
            tuned = base.fine_tune(new_subject, part.data, targets(part), groups=groups, head_lr_scale=head_lr_scale,
                                   stimulus_ids=part.stimulus_ids)
            top_1["subject_only"][i].append(_top1(alone.predict(test.data, new_subject), test, activations, layer))
            top_1["fine_tuned"][i].append(_top1(tuned.predict(test.data, new_subject), test, activations, layer))
            done += 1
            if progress is not None:
                progress(done, len(seeds) * len(run_counts))
    return {"run_counts": list(run_counts), "seeds": list(seeds), "n_test_stimuli": int(len(np.unique(test.stimulus_ids))),
            "template": template, "n_voxels": {s: int(r.data.shape[1]) for s, r in responses.items()}, "top_1": top_1}


def _run_order(run: str):
    """Runs in numeric order when they are numbers ("2" before "10"), else by name."""
    return (0, int(run), "") if run.isdigit() else (1, 0, run)
