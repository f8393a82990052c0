"""Cross-validation splits that keep whole runs together.

Successive fMRI volumes (and EEG samples) are autocorrelated, so a sample of a run
in the test set is predictable from its neighbours in the training set. Splitting
by run (or session) keeps each run entirely on one side.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import KFold

from braindecode.encoding._validation import check_splits
from braindecode.errors import InvalidArgument


def _run_labels(groups, n_samples: int | None = None) -> np.ndarray:
    if groups is None:
        raise InvalidArgument("this splitter needs groups: the run (or session) of each sample")
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise InvalidArgument(f"groups must be 1-D, got shape {labels.shape}")
    if n_samples is not None and len(labels) != n_samples:
        raise InvalidArgument(f"groups has {len(labels)} labels for {n_samples} samples")
    return labels


def _runs_in_order(labels: np.ndarray) -> np.ndarray:
    """Unique run labels in order of first appearance."""
    _, first = np.unique(labels, return_index=True)
    return labels[np.sort(first)]


class LeaveOneRunOut:
    """Each run is the test set once; the other runs train.

    Examples
    --------
    >>> list(LeaveOneRunOut().split(range(4), groups=["a", "a", "b", "b"]))[0]
    (array([2, 3]), array([0, 1]))
    """

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(_runs_in_order(_run_labels(groups)))

    def split(self, X, y=None, groups=None):
        """Yield (train, test) index arrays, one pair per run.

        Parameters
        ----------
        X : array of shape (n_samples, ...)
        groups : array of shape (n_samples,)
            Run of each sample.
        """
        labels = _run_labels(groups, len(X))
        runs = _runs_in_order(labels)
        if len(runs) < 2:
            raise InvalidArgument(f"leave-one-run-out needs at least 2 runs, got {len(runs)}")
        for run in runs:
            test = labels == run
            yield np.flatnonzero(~test), np.flatnonzero(test)

    def __repr__(self) -> str:
        return "LeaveOneRunOut()"


class RunKFold:
    """K folds of consecutive whole runs (in order of first appearance).

    Parameters
    ----------
    n_splits : int
        Number of folds; at most the number of runs.
    """

    def __init__(self, n_splits: int = 5):
        if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise InvalidArgument(f"n_splits must be an integer >= 2, got {n_splits!r}")
        self.n_splits = int(n_splits)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Yield (train, test) index arrays, one pair per fold of runs.

        Parameters
        ----------
        X : array of shape (n_samples, ...)
        groups : array of shape (n_samples,)
            Run of each sample.
        """
        labels = _run_labels(groups, len(X))
        runs = _runs_in_order(labels)
        if len(runs) < self.n_splits:
            raise InvalidArgument(f"{self.n_splits} folds need at least {self.n_splits} runs, got {len(runs)}")
        for fold_runs in np.array_split(runs, self.n_splits):
            test = np.isin(labels, fold_runs)
            yield np.flatnonzero(~test), np.flatnonzero(test)

    def __repr__(self) -> str:
        return f"RunKFold(n_splits={self.n_splits})"


def _check_no_leakage(splits, labels: np.ndarray) -> None:
    for train, test in splits:
        shared = np.intersect1d(labels[train.numpy()], labels[test.numpy()])
        if len(shared):
            raise InvalidArgument(f"runs {shared[:3].tolist()} are in both train and test sets of a split")


def check_cv(cv, n_samples: int, groups=None) -> list:
    """Resolve ``cv`` into a list of validated (train, test) index tensors.

    Parameters
    ----------
    cv : int, splitter or iterable of (train, test) index arrays
        An int K gives K contiguous folds, or K folds of whole runs with ``groups``.
    n_samples : int
    groups : array of shape (n_samples,), optional
        Run of each sample. When given, every split is checked for runs that fall
        on both sides.

    Returns
    -------
    splits : list of (tensor, tensor)
    """
    labels = None if groups is None else _run_labels(groups, n_samples)
    if isinstance(cv, (str, bytes, bool)):
        raise InvalidArgument(f"cv must be an int, a splitter or (train, test) pairs, got {cv!r}")
    if isinstance(cv, numbers.Integral):
        if cv < 2:
            raise InvalidArgument(f"cv must be at least 2 folds, got {cv}")
        if labels is None:
            if n_samples < cv:
                raise InvalidArgument(f"{cv} folds need at least {cv} samples, got {n_samples}")
            cv = KFold(int(cv))
        else:
            cv = RunKFold(int(cv))
    if hasattr(cv, "split"):
        try:
            splits = list(cv.split(np.zeros((n_samples, 1)), groups=labels))
        except InvalidArgument:
            raise
        except ValueError as exc:
            raise InvalidArgument(f"cross-validation splitter {cv!r} failed: {exc}") from None
    else:
        try:
            splits = list(cv)
        except TypeError:
            raise InvalidArgument(f"cv must be an int, a splitter or (train, test) pairs, got {cv!r}") from None
    splits = check_splits(splits, n_samples)
    if labels is not None:
        _check_no_leakage(splits, labels)
    return splits
