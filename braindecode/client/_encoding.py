"""``client.encoding``: fit encoders (activations -> brain), predict responses, score them."""

from __future__ import annotations

import numpy as np

from braindecode import tensors
from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, floats, json_object, selection as selection_message, numbers
from braindecode.client._replies import FitEncoderResult, ScoreEncoderResult
from braindecode.v1 import encoding_pb2, encoding_pb2_grpc


def _lags(lags) -> encoding_pb2.Lags | None:
    if lags is None:
        return None
    tmin, tmax, sfreq = numbers(lags, "lags", 3, "(tmin, tmax, sfreq): seconds, seconds, Hz")
    return encoding_pb2.Lags(tmin=tmin, tmax=tmax, sfreq=sfreq)


class EncodingClient(ServiceClient):
    """Encoders from a network's activations to brain responses (the ``EncodingService``)."""

    stub_class = encoding_pb2_grpc.EncodingServiceStub

    def fit(self, recording_ids, preprocessing: dict, activation_set_id: str, layers, alphas=(), delays=(),
            lags=None, cv_folds: int = 0, n_ratios: int = 0, seed: int = 0, device: str = "",
            on_progress=None, selection=None) -> FitEncoderResult:
        """Fit and store a ridge encoder (one layer) or a banded ridge encoder (one band per layer),
        cross-validated over runs (see ``braindecode.encoding.fit_encoder_from_store``).

        Parameters
        ----------
        recording_ids : list of str
            Runs of one modality; cross-validation never splits a run.
        preprocessing : dict
            A ``braindecode.preprocessing.preprocess`` spec ending in a "trials" or "epochs" step.
        activation_set_id : str
            The stimulus features, matched to the trials by stimulus id.
        layers : str or list of str
            One layer (ridge) or several side by side (banded ridge).
        alphas : list of float, optional
            Regularization candidates; default 1e-2 ... 1e6 by decades.
        delays : list of int, optional
            Delayed copies of the features, in trials; or ``lags``, not both.
        lags : (float, float, float), optional
            (tmin, tmax, sfreq): lags in seconds of an EEG/MEG temporal response function.
        cv_folds : int
            Folds of whole runs; 0 is leave one run out.
        n_ratios : int
            Banded ridge: band-ratio candidates drawn (0 = 20), with ``seed``.
        seed : int
        device : str, optional
            cpu or cuda; empty is cpu.
        on_progress : callable, optional
            Called with each :class:`Progress` streamed back.
        selection : dict or Selection, optional
            The voxels and trials to fit on (see ``braindecode.preprocessing.Selection``); the encoder
            then predicts those voxels only.

        Returns
        -------
        FitEncoderResult
        """
        request = build(
            encoding_pb2.FitEncoderRequest, recording_ids=recording_ids,
            preprocessing_json=json_object(preprocessing, "preprocessing"), activation_set_id=activation_set_id,
            layers=[layers] if isinstance(layers, str) else layers, alphas=alphas, delays=delays,
            lags=_lags(lags),
            cv_folds=cv_folds, n_ratios=n_ratios, seed=seed, device=device, selection=selection_message(selection))
        return self._follow("FitEncoder", request, on_progress)

    def predict(self, encoder_id: str, features=None, activation_set_id: str = "", stimulus_ids=()) -> np.ndarray:
        """Responses predicted by a stored encoder, from features or from a stored activation set.

        Parameters
        ----------
        encoder_id : str
        features : array of shape (n, n_features), optional
            The encoder's layers side by side, before delays ...
        activation_set_id : str, optional
            ... or the rows ``stimulus_ids`` of a stored activation set (with delays: one run in time
            order).
        stimulus_ids : list of str, optional

        Returns
        -------
        array of shape (n, *response_shape)
            float32.
        """
        request = build(encoding_pb2.PredictRequest, encoder_id=encoder_id, activation_set_id=activation_set_id,
                        stimulus_ids=stimulus_ids,
                        features=None if features is None else tensors.to_tensor(floats(features, "features")))
        return self._download("Predict", request)

    def score(self, encoder_id: str, recording_ids, preprocessing: dict | None = None,
              activation_set_id: str = "", selection=None) -> ScoreEncoderResult:
        """Per-target scores of a stored encoder on recordings, and the stored score map.

        Parameters
        ----------
        encoder_id : str
        recording_ids : list of str
            Of the encoder's modality.
        preprocessing : dict, optional
            Default: the encoder's.
        activation_set_id : str, optional
            Default: the encoder's.
        selection : dict or Selection, optional
            The voxels and trials to score on; its voxels default to those the encoder was fitted on.

        Returns
        -------
        ScoreEncoderResult
            Scores of shape (n_scores, n_targets) on single trials; for fMRI voxels the score map as
            .nii.gz bytes.
        """
        request = build(encoding_pb2.ScoreRequest, encoder_id=encoder_id, recording_ids=recording_ids,
                        activation_set_id=activation_set_id,
                        preprocessing_json=json_object(preprocessing, "preprocessing"),
                        selection=selection_message(selection))
        return self._get("Score", request)
