"""Cross-subject decoding: per-subject linear adapters into one shared latent, one shared head.

As in MindEye2, each subject's voxels, of any count, go through its own linear map into a
shared latent; one residual MLP head maps the latent to the embedding. The whole network is
trained jointly on every subject with the MLP decoder's losses and settings (``train_network``);
a new subject is then fitted from little data by training its adapter alone, optionally with
the head at a lower learning rate (``SharedDecoder.fine_tune``). When the jointly trained
subjects saw the new subject's stimuli (as NSD's shared images), its adapter starts from a ridge
regression of its voxels onto their mean latent of those stimuli, the decoder's template, and its
training keeps its latents near that template.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from braindecode._devices import resolve_device
from braindecode.containers import BrainResponses
from braindecode.decoding._base import (
    MAX_FIT_BYTES,
    PREDICT_BATCH,
    PersistentDecoder,
    check_footprint,
    predict_batches,
    seeded_rng_devices,
)
from braindecode.decoding._networks import ResidualMLP, Standardize, SubjectAdapters, linear_adapter
from braindecode.decoding._neural import network_size, training_bytes
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._training import TrainingConfig, train_network
from braindecode.decoding._validation import (
    Interval,
    check_embeddings,
    check_input,
    check_ranges,
    check_subject_input,
)
from braindecode.errors import InvalidArgument, quoted

_ITEMSIZE = 4  # float32
#: The documented ranges of ``fine_tune``'s ``head_lr_scale`` and ``template_weight``.
HEAD_LR_SCALE = Interval(float, 0, 1)
TEMPLATE_WEIGHT = Interval(float, 0, 1000)


def _training_config(training) -> TrainingConfig:
    config = TrainingConfig() if training is None else training
    if not isinstance(config, TrainingConfig):
        raise InvalidArgument(f"training must be a TrainingConfig, got {type(config).__name__}")
    return config.check()


def _subject_labels(subject: str, labels, n_samples: int, what: str = "groups") -> np.ndarray | None:
    """``labels`` (groups or stimulus ids) of one subject's samples as strings, checked to be one per sample."""
    if labels is None:
        return None
    labels = np.asarray(labels).astype(str)
    if labels.shape != (n_samples,):
        raise InvalidArgument(f"{what} of subject {subject!r} have shape {labels.shape}, expected ({n_samples},)")
    return labels


class SharedDecoder(PersistentDecoder):
    """Multi-subject fMRI decoder: per-subject linear adapters -> shared latent -> shared head -> embeddings.

    Each subject's responses are standardized with its own statistics and mapped linearly into
    a ``latent_dim`` latent shared by all subjects; a residual MLP head (``MLPDecoder``'s network)
    maps the latent to the embedding. Training is ``MLPDecoder``'s (contrastive + MSE loss,
    BiMixCo, early stopping; see ``TrainingConfig``) on the samples of every subject at once,
    BiMixCo mixing the adapters' outputs (see ``train_network``). The ranges below are
    ``SharedDecoder.param_ranges``, which ``fit`` enforces.

    Parameters
    ----------
    latent_dim : int in [1, 8192]
        Size of the shared latent.
    hidden_dim : int in [1, 8192]
        The head's width.
    n_blocks : int in [0, 16]
        The head's residual blocks.
    dropout : float in [0, 1)
        The head's dropout in the residual blocks.
    input_dropout : float in [0, 1)
        The head's dropout after its input layer.
    training : TrainingConfig, optional
    device : str
        Torch device of training and prediction.

    Attributes
    ----------
    module_ : torch.nn.Sequential
        ``SubjectAdapters`` then the head, in eval mode.
    subjects_ : list of str
        The subjects the decoder takes, in adapter order.
    input_shapes_ : dict of str -> tuple of int
        ``(n_voxels,)`` of each subject.
    n_dims_ : int
    history_ : list of dict
        One record per epoch of the joint fit (losses, validation top-1, temperature).
    fine_tuned_ : dict of str -> dict
        Per subject added or refined by ``fine_tune``: ``head_lr_scale``, ``n_samples``,
        ``template_samples`` (those its adapter's ridge start was fitted on; 0: a random start),
        ``template_weight`` (0 without a template start) and its training ``history``.
    template_stimuli_ : array of shape (n_stimuli,), or None
        The stimuli of the joint fit (given ``stimulus_ids``) ...
    template_latents_ : array of shape (n_stimuli, latent_dim), or None
        ... and their template: the mean over subjects of each subject's latent of the stimulus
        (its repeats averaged), as the fitted adapters map them.
    """

    modality = "fmri"
    param_ranges = {
        "latent_dim": Interval(int, 1, 8192),
        "hidden_dim": Interval(int, 1, 8192),
        "n_blocks": Interval(int, 0, 16),
        "dropout": Interval(float, 0, 1, "left"),
        "input_dropout": Interval(float, 0, 1, "left"),
    }

    def __init__(self, latent_dim: int = 256, hidden_dim: int = 1024, n_blocks: int = 2, dropout: float = 0.15,
                 input_dropout: float = 0.5, training: TrainingConfig | None = None, device: str = "cpu"):
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.training = training
        self.device = device

    def _head(self, n_dims: int) -> ResidualMLP:
        return ResidualMLP(self.latent_dim, n_dims, self.hidden_dim, self.n_blocks, self.dropout, self.input_dropout)

    def fit(self, X, Y, groups=None, progress=None, max_fit_bytes: int = MAX_FIT_BYTES, stimulus_ids=None):
        """Train the adapters and the head on every subject jointly.

        Parameters
        ----------
        X : dict of str -> array of shape (n_samples_s, n_voxels_s)
            Each subject's responses; voxel counts may differ between subjects.
        Y : dict of str -> array of shape (n_samples_s, n_dims)
            Each subject's target embeddings, the same keys as ``X``.
        groups : dict of str -> array of shape (n_samples_s,), optional
            Per subject, samples held out together in the validation split (e.g. runs); groups
            of different subjects stay apart.
        progress : callable, optional
            Called with a dict after every epoch (see ``train_network``).
        max_fit_bytes : int
            Past this ``fit_footprint``, ``ResourceExhausted`` before anything is allocated.
        stimulus_ids : dict of str -> array of shape (n_samples_s,), optional
            Per subject, each sample's stimulus: the fit then keeps the template of the stimuli's
            latents (``template_latents_``) that ``fine_tune`` starts new adapters from.

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(X, Mapping) or not X:
            raise InvalidArgument("X must be a non-empty dict of subject -> responses (n_samples, n_voxels)")
        if not isinstance(Y, Mapping) or set(Y) != set(X):
            raise InvalidArgument(f"Y must be a dict of target embeddings for the subjects of X: {', '.join(X)}")
        if groups is not None and (not isinstance(groups, Mapping) or set(groups) != set(X)):
            raise InvalidArgument(f"groups must be a dict of groups for the subjects of X: {', '.join(X)}")
        if stimulus_ids is not None and (not isinstance(stimulus_ids, Mapping) or set(stimulus_ids) != set(X)):
            raise InvalidArgument(f"stimulus_ids must be a dict of stimulus ids for the subjects of X: {', '.join(X)}")
        subjects = [self._check_subject_name(subject) for subject in X]
        data = [check_input(X[s], self.modality) for s in subjects]
        targets = [check_embeddings(Y[s], len(x), name=f"target embeddings of subject {s!r}")
                   for s, x in zip(subjects, data)]
        if len({y.shape[1] for y in targets}) > 1:
            raise InvalidArgument("target embeddings of all subjects must have the same dimensions, got "
                                  + ", ".join(f"{s}: {y.shape[1]}" for s, y in zip(subjects, targets)))
        labels = None
        if groups is not None:
            labels = np.concatenate([np.char.add(f"{s}\x00", _subject_labels(s, groups[s], len(x)))
                                     for s, x in zip(subjects, data)])
        config = _training_config(self.training)
        device = resolve_device(self.device)
        shapes = {s: x.shape[1:] for s, x in zip(subjects, data)}
        check_footprint(self.fit_footprint({s: len(x) for s, x in zip(subjects, data)}, shapes, targets[0].shape[1]),
                        max_fit_bytes, f"SharedDecoder fitted on {sum(map(len, data))} samples of {len(subjects)} "
                        f"subjects ({_voxel_counts(shapes)}) -> {targets[0].shape[1]} dims")
        with torch.random.fork_rng(devices=seeded_rng_devices(self.device)):
            torch.manual_seed(config.seed)
            adapters = [linear_adapter(Standardize.from_data(torch.as_tensor(x, device=device), (0,)),
                                       self.latent_dim) for x in data]
            front = SubjectAdapters(adapters).to(device)
            head = self._head(targets[0].shape[1]).to(device)
            history = train_network(head, SubjectAdapters.pack(data, device),
                                    torch.as_tensor(np.concatenate(targets), device=device), config, labels,
                                    progress, front=front)
        self.module_ = nn.Sequential(front, head).eval()
        self.subjects_ = subjects
        self.input_shapes_ = {s: (x.shape[1],) for s, x in zip(subjects, data)}
        self.n_dims_ = targets[0].shape[1]
        self.history_ = history
        self.fine_tuned_ = {}
        self.template_stimuli_ = self.template_latents_ = None
        if stimulus_ids is not None:
            self.template_stimuli_, self.template_latents_ = self._template(
                {s: (x, _subject_labels(s, stimulus_ids[s], len(x), "stimulus_ids")) for s, x in zip(subjects, data)})
        return self

    def latents(self, X, subject: str, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """One subject's responses in the shared latent: its adapter's output.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels)
        subject : str
            One of ``subjects_``.
        batch_size : int

        Returns
        -------
        latents : array of shape (n_samples, latent_dim), float32
        """
        X = self.check_input(X, subject)
        return predict_batches(self.module_[0].adapters[self._adapter_index(subject)], X, batch_size)

    def _template(self, samples: dict) -> tuple:
        """(stimulus ids, mean latents) over the subjects of ``samples`` (subject -> (X, stimulus ids))."""
        per_subject = []
        for subject, (X, stimuli) in samples.items():
            averaged = BrainResponses(self.latents(X, subject), stimuli).average_repeats()
            per_subject.append(dict(zip(averaged.stimulus_ids.tolist(), averaged.data)))
        stimuli = sorted({stimulus for latents in per_subject for stimulus in latents})
        means = [np.mean([latents[s] for latents in per_subject if s in latents], axis=0) for s in stimuli]
        return np.asarray(stimuli), np.asarray(means, dtype=np.float32).reshape(len(stimuli), self.latent_dim)

    def fit_footprint(self, n_samples: Mapping, input_shapes: Mapping, n_dims: int) -> int:
        """Bytes a fit holds at its peak (an estimate made without allocating): the samples of every
        subject packed into one array as wide as the widest subject (``SubjectAdapters.pack``), and
        what training the adapters and the head holds (``training_bytes``; the head is built on
        torch's meta device).

        Parameters
        ----------
        n_samples : dict of str -> int
            Samples of each subject.
        input_shapes : dict of str -> tuple of int
            ``(n_voxels,)`` of each subject.
        n_dims : int
        """
        return self._footprint(n_samples, input_shapes, n_dims, _training_config(self.training))

    def _footprint(self, n_samples: Mapping, input_shapes: Mapping, n_dims: int, config: TrainingConfig) -> int:
        with torch.device("meta"):
            head = self._head(n_dims)
        head_parameters, head_outputs = network_size(head, (self.latent_dim,))
        widths = [math.prod(shape) for shape in input_shapes.values()]
        adapter_parameters = sum((width + 1) * self.latent_dim for width in widths)
        total, packed = sum(n_samples.values()), 1 + max(widths)
        per_sample = 2 * packed + self.latent_dim + head_outputs  # a sample, its adapter's slice, the latent, the head
        return (_ITEMSIZE * total * packed
                + training_bytes(head_parameters + adapter_parameters, per_sample, total, config))

    @staticmethod
    def _check_subject_name(subject) -> str:
        if not isinstance(subject, str) or not subject:
            raise InvalidArgument(f"subjects must be non-empty strings, got {subject!r}")
        return subject

    def _adapter_index(self, subject) -> int:
        self._check_fitted()
        if subject not in self.subjects_:
            raise InvalidArgument(f"unknown subject {quoted(subject)}: this decoder has adapters for "
                                  f"{', '.join(map(repr, self.subjects_))}")
        return self.subjects_.index(subject)

    def check_input(self, X, subject: str) -> np.ndarray:
        """``X`` validated for ``subject``'s adapter.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels), or BrainResponses
        subject : str
            One of ``subjects_``.

        Returns
        -------
        X : array of shape (n_samples, n_voxels), float32
        """
        self._adapter_index(subject)
        return check_subject_input(X, self.modality, subject, self.input_shapes_[subject])

    def subject_module(self, subject: str) -> nn.Sequential:
        """The network of one subject: its adapter then the head, (batch, n_voxels) -> (batch, n_dims_)."""
        index = self._adapter_index(subject)
        adapters, head = self.module_
        return nn.Sequential(adapters.adapters[index], head)

    def predict(self, X, subject: str, batch_size: int = 1024) -> np.ndarray:
        """Decoded embeddings of one subject's responses.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels)
        subject : str
            One of ``subjects_``; ``n_voxels`` must be its adapter's.
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        Y : array of shape (n_samples, n_dims_), float32
        """
        X = self.check_input(X, subject)
        return predict_batches(self.subject_module(subject), X, batch_size)

    def fine_tune(self, subject: str, X, Y, groups=None, head_lr_scale: float = 0.0,
                  training: TrainingConfig | None = None, progress=None,
                  max_fit_bytes: int = MAX_FIT_BYTES, stimulus_ids=None,
                  template_weight: float = 1.0) -> "SharedDecoder":
        """A copy of this decoder with ``subject``'s adapter trained on ``X``; this one is left as it is.

        A known subject continues from its adapter. A new subject gets a new adapter
        (standardized with the statistics of its samples), which starts, when ``stimulus_ids``
        name stimuli of the template (``template_stimuli_``), from the ridge regression
        (``RidgeDecoder``, alphas chosen by folds of ``groups`` or of samples) of those samples
        onto the template's latents, and else from a random map. A template-started adapter is
        then trained with its latents of those samples held near their template: the loss adds
        ``template_weight`` times their mean squared error to the template, divided by the
        template's mean variance per latent dimension. The head stays fixed unless
        ``head_lr_scale`` > 0.

        Parameters
        ----------
        subject : str
        X : array of shape (n_samples, n_voxels)
            The subject's responses (a new subject's voxel count is free).
        Y : array of shape (n_samples, n_dims_)
            Target embeddings.
        groups : array of shape (n_samples,), optional
            Runs, held out together in the validation split of early stopping. A template-started
            adapter given none or a single run trains ``max_epochs`` without early stopping, held
            by its template term instead: a held-out part of one run stopped it at its first epoch
            on every seed measured (``benchmarks/RESULTS.md``).
        head_lr_scale : float in [0, 1]
            The head's learning rate as a fraction of the adapter's; 0 keeps it fixed.
        training : TrainingConfig, optional
            Default: the decoder's ``training``.
        progress : callable, optional
            Called with a dict after every epoch (see ``train_network``).
        max_fit_bytes : int
            Past the copy of this decoder plus ``fit_footprint`` of the subject's samples (and the
            ridge start's ``RidgeDecoder.fit_footprint``), ``ResourceExhausted`` before anything
            is allocated.
        stimulus_ids : array of shape (n_samples,), optional
            Each sample's stimulus.
        template_weight : float in [0, 1000]
            Weight of the template term of a template-started adapter; 0 trains it on the
            embedding losses alone.

        Returns
        -------
        decoder : SharedDecoder
            Fitted, ``subject`` among its ``subjects_``.
        """
        self._check_fitted()
        subject = self._check_subject_name(subject)
        check_ranges("fine_tune", {"head_lr_scale": head_lr_scale, "template_weight": template_weight},
                     {"head_lr_scale": HEAD_LR_SCALE, "template_weight": TEMPLATE_WEIGHT})
        X = self.check_input(X, subject) if subject in self.subjects_ else check_input(X, self.modality)
        Y = check_embeddings(Y, len(X), self.n_dims_, name="target embeddings")
        groups = _subject_labels(subject, groups, len(X))
        stimulus_ids = _subject_labels(subject, stimulus_ids, len(X), "stimulus_ids")
        config = _training_config(self.training if training is None else training)
        start = None if subject in self.subjects_ else self._template_start(X, stimulus_ids, groups)
        if start is not None and template_weight > 0 and (groups is None or len(np.unique(groups)) < 2):
            config = dataclasses.replace(config, val_fraction=0.0)
        copied = _ITEMSIZE * sum(t.numel() for t in self.module_.state_dict().values())
        needed = copied + self._footprint({subject: len(X)}, {subject: X.shape[1:]}, self.n_dims_, config)
        if start is not None:
            needed += start[0].fit_footprint(len(start[1]), X.shape[1:], self.latent_dim)
        check_footprint(needed, max_fit_bytes, f"SharedDecoder fine-tuned on {len(X)} samples of {X.shape[1]} voxels "
                        f"of subject {subject!r} -> {self.n_dims_} dims")
        tuned = copy.deepcopy(self)
        adapters, head = tuned.module_
        device = resolve_device(self.device)
        X_t = torch.as_tensor(X, device=device)
        with torch.random.fork_rng(devices=seeded_rng_devices(self.device)):
            torch.manual_seed(config.seed)
            anchor = None
            if subject in tuned.subjects_:
                adapter = adapters.adapters[tuned.subjects_.index(subject)]
            elif start is not None:
                ridge, rows, targets, runs = start
                _, standardize, linear = ridge.fit(X[rows], targets, groups=runs).module_
                adapter = nn.Sequential(standardize, linear).to(device)
                spread = float(targets.var(0).mean())  # 0 when every row is one stimulus: no term
                if template_weight > 0 and spread > 0:
                    anchor = _template_anchor(rows, targets, len(X), template_weight / spread, device)
            else:
                adapter = linear_adapter(Standardize.from_data(X_t, (0,)), self.latent_dim).to(device)
            parameters = [{"params": list(adapter.parameters())}]
            if head_lr_scale > 0:
                parameters.append({"params": list(head.parameters()), "lr": config.lr * head_lr_scale})
            head.requires_grad_(head_lr_scale > 0)
            try:
                history = train_network(head, X_t, torch.as_tensor(Y, device=device), config, groups, progress,
                                        front=adapter, parameters=parameters, front_anchor=anchor)
            finally:
                head.requires_grad_(True)
        if subject not in tuned.subjects_:
            adapters.adapters.append(adapter)
            tuned.subjects_.append(subject)
        tuned.input_shapes_[subject] = (X.shape[1],)
        tuned.fine_tuned_[subject] = {"head_lr_scale": float(head_lr_scale), "n_samples": len(X),
                                      "template_samples": 0 if start is None else len(start[1]),
                                      "template_weight": 0.0 if start is None else float(template_weight),
                                      "history": history}
        tuned.module_.eval()
        return tuned

    def _template_start(self, X: np.ndarray, stimulus_ids, groups) -> tuple | None:
        """(unfitted RidgeDecoder, rows of ``X``, their template latents, their groups or None) of a new
        adapter's ridge start; None without two samples of template stimuli."""
        if stimulus_ids is None or self.template_stimuli_ is None:
            return None
        rows = np.flatnonzero(np.isin(stimulus_ids, self.template_stimuli_))
        if len(rows) < 2:
            return None
        index = {stimulus: i for i, stimulus in enumerate(self.template_stimuli_.tolist())}
        targets = self.template_latents_[[index[stimulus] for stimulus in stimulus_ids[rows]]]
        n_groups = 0 if groups is None else len(np.unique(groups[rows]))
        runs = groups[rows] if n_groups >= 2 else None  # alphas chosen by folds of whole runs, up to 5
        ridge = RidgeDecoder(cv=min(5, n_groups if runs is not None else len(rows)), device=self.device)
        return ridge, rows, targets, runs

    def _fitted_tensors(self) -> dict:
        tensors = super()._fitted_tensors()
        if self.template_latents_ is not None:
            tensors["template_latents"] = torch.as_tensor(self.template_latents_)
        return tensors

    def _fitted_info(self) -> dict:
        stimuli = None if self.template_stimuli_ is None else self.template_stimuli_.tolist()
        return {"subjects": list(self.subjects_), "history": self.history_, "fine_tuned": self.fine_tuned_,
                "template_stimuli": stimuli}

    def _shapes_json(self) -> dict:
        return {"input_shapes": {s: list(self.input_shapes_[s]) for s in self.subjects_}, "n_dims": int(self.n_dims_)}

    def _set_shapes(self, config: dict) -> None:
        self.input_shapes_ = {s: tuple(shape) for s, shape in config["input_shapes"].items()}
        self.n_dims_ = config["n_dims"]

    def _restore(self, tensors: dict, info: dict) -> None:
        tensors = dict(tensors)
        template = tensors.pop("template_latents", None)
        self.template_latents_ = None if template is None else template.numpy()
        self.template_stimuli_ = None if template is None else np.asarray(info["template_stimuli"])
        self.subjects_ = list(info["subjects"])
        adapters = [linear_adapter(Standardize(tensors[f"0.adapters.{i}.0.mean"], tensors[f"0.adapters.{i}.0.scale"]),
                                   self.latent_dim) for i in range(len(self.subjects_))]
        module = nn.Sequential(SubjectAdapters(adapters), self._head(self.n_dims_))
        module.load_state_dict(tensors)
        self.module_ = module.to(resolve_device(self.device)).eval()
        self.history_ = info["history"]
        self.fine_tuned_ = info["fine_tuned"]

    def _export_module(self, subject):
        if subject is None:
            raise InvalidArgument("a SharedDecoder exports the graph of one subject: give subject, one of "
                                  + ", ".join(map(repr, self.subjects_)))
        return self.subject_module(subject), self.input_shapes_[subject], {"subject": subject}


def _template_anchor(rows: np.ndarray, targets: np.ndarray, n_samples: int, weight: float, device) -> tuple:
    """``train_network``'s ``front_anchor`` of a template start: (latents of shape (n_samples, latent_dim),
    weights of shape (n_samples,)), ``targets`` and ``weight`` at ``rows``, zeros elsewhere."""
    latents = np.zeros((n_samples, targets.shape[1]), dtype=np.float32)
    latents[rows] = targets
    weights = np.zeros(n_samples, dtype=np.float32)
    weights[rows] = weight
    return torch.as_tensor(latents, device=device), torch.as_tensor(weights, device=device)


def _voxel_counts(shapes: Mapping) -> str:
    """"399 to 625 voxels" (or "408 voxels") of the subjects' input shapes."""
    counts = sorted(math.prod(shape) for shape in shapes.values())
    return f"{counts[0]} voxels" if counts[0] == counts[-1] else f"{counts[0]} to {counts[-1]} voxels"
