"""Stored recordings -> one BrainResponses (the input of encoding, decoding and RSA)."""

from __future__ import annotations

import numpy as np

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument
from braindecode.recordings._ingest import load_array
from braindecode.recordings._store import Store


def load_responses(store: Store, tenant: str, recording_ids, preprocessing: dict) -> BrainResponses:
    """Preprocess each recording into per-trial responses and stack them.

    Parameters
    ----------
    recording_ids : list of str
        Recordings of one modality; their trial counts may differ, their features may not.
    preprocessing : dict
        A ``braindecode.preprocessing.preprocess`` spec with an ``epochs`` (EEG/MEG) or
        ``trials`` (fMRI) step.

    Returns
    -------
    responses : BrainResponses
        data of shape (n_trials_total, n_features) or (n_trials_total, n_channels, n_times);
        ``subjects`` from each recording's subject and ``runs`` from its id, so grouped
        cross-validation never splits one recording across train and test.
    """
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    parts = []
    for rid in recording_ids:
        info = store.get_recording(tenant, rid)
        result = load_array(store, tenant, rid, preprocessing, as_responses=True)
        if not isinstance(result, BrainResponses):
            raise InvalidArgument("preprocessing must end in an 'epochs' or 'trials' step to give per-trial responses")
        parts.append((info, result))
    shapes = {r.data.shape[1:] for _, r in parts}
    if len(shapes) != 1:
        raise InvalidArgument(f"recordings give responses of different shapes {sorted(shapes)}; "
                              "use a common mask or channel set")
    first = parts[0][1]
    for info, result in parts[1:]:
        if result.feature_names != first.feature_names:
            raise InvalidArgument(f"recording {info.id} gives other features than {parts[0][0].id} "
                                  "(e.g. a different automatic mask); use a common mask or channel set")
    return BrainResponses(
        np.concatenate([r.data for _, r in parts]),
        np.concatenate([r.stimulus_ids for _, r in parts]),
        np.concatenate([np.full(r.n_trials, i.subject) for i, r in parts]),
        np.concatenate([np.full(r.n_trials, i.id) for i, r in parts]),
        first.feature_names, first.times,
        {"recordings": list(recording_ids), "preprocessing": preprocessing,
         "dropped": {i.id: r.info.get("dropped") for i, r in parts if r.info.get("dropped")}},
    )
