"""The two arrays every analysis meets: brain responses and network activations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from braindecode.errors import InvalidArgument, quoted


def _as_str_array(values, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values).astype(str)
    if arr.shape != (n,):
        raise InvalidArgument(f"{name} has shape {arr.shape}, expected ({n},)")
    return arr


def checked_voxels(mask, affine, response_shape) -> tuple:
    """(mask, affine) of voxel features, checked: a 3-D boolean mask with one voxel per feature of a
    response of ``response_shape`` (n_voxels,), and a (4, 4) voxel to world affine.

    Returns
    -------
    mask : bool array of shape (x, y, z)
    affine : array of shape (4, 4), float64
    """
    if (mask is None) != (affine is None):
        raise InvalidArgument("a mask goes with the affine of its grid")
    mask, affine = np.asarray(mask, dtype=bool), np.asarray(affine, dtype=np.float64)
    if mask.ndim != 3 or affine.shape != (4, 4):
        raise InvalidArgument(f"a voxel mask must be 3-D and its affine (4, 4), got shapes {mask.shape} and "
                              f"{affine.shape}")
    if tuple(response_shape) != (int(mask.sum()),):
        raise InvalidArgument(f"the mask holds {int(mask.sum())} voxels for responses of shape {tuple(response_shape)}")
    return mask, affine


#: The columns of an events.tsv taken as the stimulus, in this order, when none is named.
STIMULUS_COLUMNS = ("stimulus_id", "stim_file", "trial_type", "value")


def _number(text: str, column: str, name: str, row: int) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: {column} of event {row} must be a number of seconds, got "
                              f"{str(text)[:40]!r}") from None


#: The fields of an event that are not among its ``columns``.
EVENT_FIELDS = ("onset", "duration", "stimulus_id")


@dataclass
class Events:
    """Stimulus events of a recording.

    Parameters
    ----------
    onset, duration : array of shape (n_events,)
        Seconds from the start of the recording.
    stimulus_id : array of shape (n_events,)
        Stimulus identifiers (strings).
    columns : dict of str -> array of shape (n_events,), optional
        Other columns of an events table (e.g. ``trial_type``, ``split``, ``response_time``), as
        strings the way an events.tsv holds them; none may be named like the fields above.
    """

    onset: np.ndarray
    duration: np.ndarray
    stimulus_id: np.ndarray
    columns: dict = field(default_factory=dict)

    def __post_init__(self):
        self.onset = np.asarray(self.onset, dtype=np.float64).reshape(-1)
        n = len(self.onset)
        self.duration = np.asarray(self.duration, dtype=np.float64).reshape(-1)
        if self.duration.shape != (n,):
            raise InvalidArgument(f"events: {n} onsets but {len(self.duration)} durations")
        self.stimulus_id = _as_str_array(self.stimulus_id, n, "events stimulus_id")
        if not np.all(np.isfinite(self.onset)) or not np.all(np.isfinite(self.duration)):
            raise InvalidArgument("events: onsets and durations must be finite")
        clashing = [name for name in self.columns if name in EVENT_FIELDS]
        if clashing:
            raise InvalidArgument(f"events: column {clashing[0]!r} is one of the fields {', '.join(EVENT_FIELDS)}")
        self.columns = {str(name): _as_str_array(values, n, f"events column {str(name)[:40]!r}")
                        for name, values in self.columns.items()}

    def __len__(self) -> int:
        return len(self.onset)

    def subset(self, keep) -> "Events":
        """The events that ``keep`` (bool array of shape (n_events,), or indices) selects, with their columns."""
        return Events(self.onset[keep], self.duration[keep], self.stimulus_id[keep],
                      {name: values[keep] for name, values in self.columns.items()})

    @classmethod
    def from_tsv(cls, path, stimulus_column: str | None = None) -> "Events":
        """Read a BIDS events.tsv: columns ``onset``, ``duration`` and a stimulus column; its other
        columns are kept in ``columns``.

        As BIDS defines it, ``n/a`` marks a missing value: a duration of ``n/a`` is read as 0 (an
        impulse, as MNE-BIDS reads it) and a row whose stimulus is ``n/a`` shows no stimulus and is
        left out.

        Parameters
        ----------
        path : str or os.PathLike
        stimulus_column : str, optional
            The column naming each event's stimulus; default: the first of
            :data:`STIMULUS_COLUMNS` that the file has.
        """
        import csv

        with open(path, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            columns, rows = list(reader.fieldnames or []), list(reader)
        name = getattr(path, "name", None) or str(path)
        found = f"found columns: {', '.join(columns) or 'none'}"
        if len(columns) == 1 and "," in columns[0]:
            raise InvalidArgument(f"{name} looks comma-separated; events files are tab-separated (BIDS "
                                  f"events.tsv) with columns onset, duration and a stimulus column")
        missing = [c for c in ("onset", "duration") if c not in columns]
        if missing:
            raise InvalidArgument(f"{name} lacks column {', '.join(repr(c) for c in missing)}; {found}")
        if stimulus_column is None:
            stimulus_column = next((c for c in STIMULUS_COLUMNS if c in columns), None)
            if stimulus_column is None:
                raise InvalidArgument(f"{name} has no stimulus column: name the one to use (--stim-column), or add "
                                      f"one of {', '.join(STIMULUS_COLUMNS)}, taken by default in this order; {found}")
        elif stimulus_column not in columns:
            raise InvalidArgument(f"{name} lacks the stimulus column {stimulus_column!r}; {found}")
        rows = [r for r in rows if (r[stimulus_column] or "").strip() not in ("", "n/a")]
        return cls([_number(r["onset"], "onset", name, i) for i, r in enumerate(rows)],
                   [0.0 if r["duration"] == "n/a" else _number(r["duration"], "duration", name, i)
                    for i, r in enumerate(rows)],
                   [r[stimulus_column].strip() for r in rows],
                   columns={c: [r[c] for r in rows] for c in columns if c not in EVENT_FIELDS})

    def to_tsv(self, path) -> None:
        """Write a BIDS-style events.tsv (``columns`` after onset, duration and stimulus_id)."""
        with open(path, "w") as f:
            f.write("\t".join(["onset", "duration", "stimulus_id", *self.columns]) + "\n")
            for i, (o, d, s) in enumerate(zip(self.onset, self.duration, self.stimulus_id)):
                f.write("\t".join([f"{o:.6f}", f"{d:.6f}", s, *(v[i] for v in self.columns.values())]) + "\n")


@dataclass
class BrainResponses:
    """Per-trial brain responses.

    Parameters
    ----------
    data : array of shape (n_trials, n_features) or (n_trials, n_channels, n_times)
        float32 responses; 3-D for EEG/MEG epochs (time-resolved analyses).
    stimulus_ids : array of shape (n_trials,)
        The stimulus shown on each trial (strings).
    subjects, runs : array of shape (n_trials,), optional
        Group labels for cross-validation and noise ceilings (strings).
    feature_names : list of str, optional
        One name per feature (voxel index, ROI or channel name).
    times : array of shape (n_times,), optional
        Epoch times in seconds when ``data`` is 3-D.
    info : dict
        Free-form provenance: recording ids, preprocessing parameters, dropped trials.
    trials : array of shape (n_trials,), optional
        The index of each trial's event among the events of its run (int64): the events missing
        from it were dropped (e.g. by ``reject``).
    mask : bool array of shape (x, y, z), optional
        fMRI voxel features: the voxels they are, in ``data[mask]`` (C) order.
    affine : array of shape (4, 4), optional
        With ``mask``: the voxel to world (mm) transform of its grid.
    """

    data: np.ndarray
    stimulus_ids: np.ndarray
    subjects: np.ndarray | None = None
    runs: np.ndarray | None = None
    feature_names: list | None = None
    times: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    trials: np.ndarray | None = None
    mask: np.ndarray | None = None
    affine: np.ndarray | None = None

    def __post_init__(self):
        self.data = np.asarray(self.data, dtype=np.float32)
        if self.data.ndim not in (2, 3):
            raise InvalidArgument(f"responses must be 2-D or 3-D, got shape {self.data.shape}")
        n = self.data.shape[0]
        self.stimulus_ids = _as_str_array(self.stimulus_ids, n, "stimulus_ids")
        fill = np.full(n, "0")
        self.subjects = _as_str_array(fill if self.subjects is None else self.subjects, n, "subjects")
        self.runs = _as_str_array(fill if self.runs is None else self.runs, n, "runs")
        if self.times is not None:
            self.times = np.asarray(self.times, dtype=np.float64)
            if self.data.ndim != 3 or self.times.shape != (self.data.shape[2],):
                raise InvalidArgument("times needs 3-D data with one time per sample")
        if self.trials is not None:
            self.trials = np.asarray(self.trials, dtype=np.int64).reshape(-1)
            if self.trials.shape != (n,):
                raise InvalidArgument(f"trials has shape {self.trials.shape}, expected ({n},)")
        if self.mask is not None or self.affine is not None:
            self.mask, self.affine = checked_voxels(self.mask, self.affine, self.data.shape[1:])

    @property
    def n_trials(self) -> int:
        return self.data.shape[0]

    def flat(self) -> np.ndarray:
        """Responses as an array of shape (n_trials, n_features)."""
        return self.data.reshape(self.n_trials, -1)

    def subset(self, mask) -> "BrainResponses":
        """The trials selected by a boolean mask or index array."""
        idx = np.arange(self.n_trials)[mask]
        return BrainResponses(
            self.data[idx], self.stimulus_ids[idx], self.subjects[idx], self.runs[idx],
            self.feature_names, self.times, dict(self.info), None if self.trials is None else self.trials[idx],
            self.mask, self.affine,
        )

    @classmethod
    def concatenate(cls, parts, info: dict | None = None) -> "BrainResponses":
        """The trials of ``parts`` one after the other.

        Parameters
        ----------
        parts : list of BrainResponses
            Responses of one shape and the same features (the first part's ``feature_names`` and
            ``times`` are kept).
        info : dict, optional
            Of the result (default: empty).

        Returns
        -------
        BrainResponses
            ``trials`` where every part has them; ``mask`` and ``affine`` where every part has the same.
        """
        parts = list(parts)
        if not parts:
            raise InvalidArgument("no responses to concatenate")
        first = parts[0]
        if len({p.data.shape[1:] for p in parts}) != 1:
            raise InvalidArgument(f"responses of different shapes {sorted({p.data.shape[1:] for p in parts})}")
        same_grid = first.mask is not None and all(
            p.mask is not None and np.array_equal(p.mask, first.mask) and np.allclose(p.affine, first.affine, atol=1e-4)
            for p in parts)
        return cls(
            np.concatenate([p.data for p in parts]), np.concatenate([p.stimulus_ids for p in parts]),
            np.concatenate([p.subjects for p in parts]), np.concatenate([p.runs for p in parts]),
            first.feature_names, first.times, dict(info or {}),
            np.concatenate([p.trials for p in parts]) if all(p.trials is not None for p in parts) else None,
            first.mask if same_grid else None, first.affine if same_grid else None,
        )

    def average_repeats(self) -> "BrainResponses":
        """Mean response per (subject, stimulus): shape (n_unique, ...), ordered by stimulus id (its rows
        are no single trial: ``trials`` is None)."""
        keys = np.char.add(np.char.add(self.subjects, "\x00"), self.stimulus_ids)
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.zeros((len(uniq),) + self.data.shape[1:], dtype=np.float64)
        np.add.at(sums, inverse, self.data)
        counts = np.bincount(inverse, minlength=len(uniq)).reshape((-1,) + (1,) * (self.data.ndim - 1))
        first = np.array([np.flatnonzero(inverse == k)[0] for k in range(len(uniq))])
        return BrainResponses(
            (sums / counts).astype(np.float32), self.stimulus_ids[first], self.subjects[first],
            np.full(len(uniq), "mean"), self.feature_names, self.times, dict(self.info), None, self.mask,
            self.affine,
        )


@dataclass
class ActivationSet:
    """Network activations for a set of stimuli.

    Parameters
    ----------
    stimulus_ids : array of shape (n_stimuli,)
        Stimulus identifiers (strings), in row order.
    layers : dict of str -> array of shape (n_stimuli, n_features)
        Activations per layer, in the network's layer order.
    model : str
        The model's registry name or path.
    info : dict
        Pooling, preprocessing and other provenance.
    """

    stimulus_ids: np.ndarray
    layers: dict
    model: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.stimulus_ids = np.asarray(self.stimulus_ids).astype(str)
        n = len(self.stimulus_ids)
        for name, arr in self.layers.items():
            if arr.shape[0] != n:
                raise InvalidArgument(f"layer {name!r} has {arr.shape[0]} rows for {n} stimuli")

    @property
    def layer_names(self) -> list:
        return list(self.layers)

    def __getitem__(self, layer: str) -> np.ndarray:
        try:
            return self.layers[layer]
        except KeyError:
            raise InvalidArgument(
                f"unknown layer {quoted(layer)}; available: {', '.join(self.layers)}"
            ) from None

    def align(self, stimulus_ids) -> "ActivationSet":
        """Rows reordered (and repeated) to follow ``stimulus_ids``."""
        index = {s: i for i, s in enumerate(self.stimulus_ids)}
        missing = [s for s in np.asarray(stimulus_ids).astype(str) if s not in index]
        if missing:
            raise InvalidArgument(f"{len(missing)} stimulus ids have no activations, e.g. {missing[:3]}")
        rows = np.array([index[s] for s in np.asarray(stimulus_ids).astype(str)])
        return ActivationSet(
            np.asarray(stimulus_ids).astype(str),
            {k: v[rows] for k, v in self.layers.items()}, self.model, dict(self.info),
        )
