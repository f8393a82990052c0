"""Experimental design: which stimulus is shown in which run, and when."""

from __future__ import annotations

import numpy as np

from braindecode.containers import Events
from braindecode.errors import InvalidArgument


def presentation_runs(ids, split, n_repeats: int, n_runs: int, rng) -> list:
    """Stimulus order per run: each train stimulus once, each test stimulus ``n_repeats`` times.

    The repeats of a test stimulus fall in different runs (when ``n_repeats <= n_runs``)
    and every run holds the same number of test trials, give or take one.

    Parameters
    ----------
    ids, split : array of shape (n_stimuli,)
        Stimulus ids and their ``"train"``/``"test"`` labels.
    n_repeats, n_runs : int
    rng : numpy.random.Generator

    Returns
    -------
    runs : list of array of shape (n_trials_in_run,)
        Stimulus ids in presentation order.
    """
    if n_repeats < 1 or n_runs < 1:
        raise InvalidArgument(f"n_repeats and n_runs must be positive; got {n_repeats}, {n_runs}")
    ids = np.asarray(ids).astype(str)
    split = np.asarray(split).astype(str)
    runs = [[] for _ in range(n_runs)]
    for i, sid in enumerate(rng.permutation(ids[split == "train"])):
        runs[i % n_runs].append(sid)
    for i, sid in enumerate(rng.permutation(ids[split == "test"])):
        for r in range(n_repeats):
            runs[(i + r) % n_runs].append(sid)
    if any(not run for run in runs):
        raise InvalidArgument(f"{n_runs} runs leave some runs without trials; use fewer runs")
    return [rng.permutation(np.array(run)) for run in runs]


def fixed_soa_events(run_ids, soa: float, duration: float, lead: float) -> Events:
    """Events at a fixed stimulus-onset asynchrony after a lead-in period (seconds)."""
    onsets = lead + soa * np.arange(len(run_ids))
    return Events(onsets, np.full(len(run_ids), duration), run_ids)


def jittered_soa_events(run_ids, soa_range: tuple, duration: float, lead: float, rng) -> Events:
    """Events whose onset asynchronies are uniform in ``soa_range`` (seconds)."""
    gaps = rng.uniform(soa_range[0], soa_range[1], len(run_ids))
    onsets = lead + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    return Events(onsets, np.full(len(run_ids), duration), run_ids)
