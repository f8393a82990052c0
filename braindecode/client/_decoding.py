"""``client.decoding``: fit decoders (brain -> activation space), decode samples, retrieve stimuli."""

from __future__ import annotations

import grpc
import numpy as np

from braindecode import tensors
from braindecode.client._base import ServiceClient, slices
from braindecode.client._checks import build, floats, json_object, selection as selection_message
from braindecode.client._replies import FitDecoderResult, RecordingRetrieval
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc


class DecodingClient(ServiceClient):
    """Decoders from brain responses to a network's activation space (the ``DecodingService``)."""

    stub_class = decoding_pb2_grpc.DecodingServiceStub

    def fit(self, recording_ids, preprocessing: dict, activation_set_id: str, layer: str, decoder: str = "ridge",
            params: dict | None = None, cv_folds: int = 0, val_fraction: float | None = None, seed: int = 0,
            on_progress=None, selection=None, base_decoder_id: str = "") -> FitDecoderResult:
        """Fit and store a decoder, cross-validated over runs (see
        ``braindecode.store.fit_decoder_from_store``).

        Parameters
        ----------
        recording_ids : list of str
            Runs of one modality, each giving per-trial responses through ``preprocessing`` (a
            ``braindecode.preprocessing.preprocess`` spec ending in an "epochs" or "trials" step).
        preprocessing : dict
        activation_set_id, layer : str
            The target space: a layer of a stored activation set, matched to the trials by stimulus id.
        decoder : {"ridge", "mlp", "eeg", "shared"}
            ridge and mlp take fMRI trials, eeg EEG/MEG epochs; shared takes fMRI runs of several
            subjects, each through the adapter of its recording's subject label.
        params : dict, optional
            The decoder's hyper-parameters, e.g. ``{"alphas": [1, 10, 100]}``; with
            ``base_decoder_id``, the fine-tuning's, e.g. ``{"head_lr_scale": 0.1}``.
        cv_folds : int
            Folds of whole runs for the scores; 0 is leave one run out.
        val_fraction : float, optional
            Neural decoders: training runs held out for early stopping.
        seed : int
        on_progress : callable, optional
            Called with each :class:`Progress` streamed back.
        selection : dict or Selection, optional
            The voxels and trials to fit on (see ``braindecode.preprocessing.Selection``), e.g.
            ``{"voxels": {"atlas_id": atlas.id, "labels": [1, 2]}, "trials": {"where": "split == 'train'"}}``;
            the decoder then takes those voxels only.
        base_decoder_id : str, optional
            With ``decoder="shared"``: a stored shared decoder to fine-tune on the runs of one subject.

        Returns
        -------
        FitDecoderResult
        """
        request = build(decoding_pb2.FitDecoderRequest, recording_ids=recording_ids,
                        preprocessing_json=json_object(preprocessing, "preprocessing"),
                        activation_set_id=activation_set_id, layer=layer, decoder=decoder,
                        params_json=json_object(params, "params"), cv_folds=cv_folds, seed=seed,
                        val_fraction=val_fraction, selection=selection_message(selection),
                        base_decoder_id=base_decoder_id)
        return self._follow("FitDecoder", request, on_progress)

    def decode_stream(self, decoder_id: str, batches, subject: str = ""):
        """Decode batches of brain samples over one stream, in order.

        Parameters
        ----------
        decoder_id : str
        batches : iterable of array of shape (n, *input_shape)
        subject : str, optional
            A shared decoder's subject, whose adapter takes the samples.

        Yields
        ------
        array of shape (n, n_dims)
            The embeddings of each batch.
        """
        first = build(decoding_pb2.DecodeRequest, decoder_id=decoder_id, subject=subject)
        refused = []  # a batch of the wrong type: the stream ends before it, and its TypeError is raised here

        def requests():
            for i, batch in enumerate(batches):
                try:
                    samples = tensors.to_tensor(floats(batch, "samples"))
                except TypeError as exc:
                    refused.append(exc)
                    return
                yield decoding_pb2.DecodeRequest(decoder_id=first.decoder_id if i == 0 else "",
                                                 subject=first.subject if i == 0 else "", samples=samples)

        try:
            for reply in self._call("Decode", requests()):
                yield tensors.from_tensor(reply.embeddings)
        except grpc.RpcError:
            if not refused:
                raise
        if refused:
            raise refused[0]

    def decode(self, decoder_id: str, samples, batch_bytes: int = 4 * 1024 * 1024, subject: str = "") -> np.ndarray:
        """Decode brain samples into embeddings.

        Parameters
        ----------
        decoder_id : str
        samples : array of shape (n, *input_shape)
            (n, n_voxels) for fMRI decoders, (n, n_channels, n_times) for EEG/MEG ones.
        batch_bytes : int
            Samples travel in messages of about this size, over one stream.
        subject : str, optional
            A shared decoder's subject, whose adapter takes the samples.

        Returns
        -------
        array of shape (n, n_dims)
        """
        samples = floats(samples, "samples")
        per_message = max(1, batch_bytes // max(1, samples[:1].nbytes))
        batches = list(slices(samples, per_message)) or [samples]
        return np.concatenate(list(self.decode_stream(decoder_id, batches, subject)))

    def retrieve(self, queries, k: int = 5, activation_set_id: str = "", layer: str = "", candidates=None,
                 candidate_ids=(), decoder_id: str = "", subject: str = "") -> tuple:
        """The top-k candidate stimuli of each query, most similar (cosine) first.

        Parameters
        ----------
        queries : array of shape (n_queries, n_dims) or (n_queries, *input_shape)
            Embeddings, or brain samples decoded by ``decoder_id`` first.
        k : int
        activation_set_id, layer : str, optional
            Candidates: a layer of a stored activation set ...
        candidates : array of shape (n_candidates, n_dims), optional
            ... or embeddings, with ``candidate_ids``.
        candidate_ids : list of str, optional
        decoder_id : str, optional
        subject : str, optional
            With a shared ``decoder_id``: the subject whose adapter takes the brain samples.

        Returns
        -------
        ids : array of shape (n_queries, k)
            Stimulus ids (str).
        scores : array of shape (n_queries, k)
            Cosine similarities, float32.
        """
        request = build(
            decoding_pb2.RetrieveRequest, queries=tensors.to_tensor(floats(queries, "queries")),
            decoder_id=decoder_id, subject=subject, activation_set_id=activation_set_id, layer=layer,
            candidate_ids=candidate_ids, k=k, candidates=None if candidates is None else tensors.to_tensor(floats(candidates, "candidates")))
        matches = self._call("Retrieve", request).matches
        return (np.array([list(m.stimulus_ids) for m in matches], dtype=str).reshape(len(matches), -1),
                np.array([list(m.scores) for m in matches], dtype=np.float32).reshape(len(matches), -1))

    def retrieve_recordings(self, recording_ids, preprocessing: dict, decoder_id: str, k: int = 5,
                            activation_set_id: str = "", layer: str = "", candidates=None, candidate_ids=(),
                            selection=None, average_repeats: bool = True) -> RecordingRetrieval:
        """Decode the trials of stored recordings with a stored decoder and retrieve the top-k candidates of each.

        Parameters
        ----------
        recording_ids : list of str
            Runs of one modality, giving per-trial responses through ``preprocessing`` (ending in a
            "trials" or "epochs" step).
        preprocessing : dict
        decoder_id : str
        k : int
        activation_set_id, layer : str, optional
            Candidates: a layer of a stored activation set ...
        candidates : array of shape (n_candidates, n_dims), optional
            ... or embeddings, with ``candidate_ids``.
        candidate_ids : list of str, optional
        selection : dict or Selection, optional
            The voxels and trials to decode; its voxels default to those the decoder was fitted on.
        average_repeats : bool
            Average the responses to repeated presentations of a stimulus (per subject) first.

        Returns
        -------
        RecordingRetrieval
            ``query_ids`` (the stimulus of each decoded query), ``matches`` and ``query_embeddings``.
        """
        request = build(
            decoding_pb2.RetrieveRequest, recording_ids=recording_ids,
            preprocessing_json=json_object(preprocessing, "preprocessing"), decoder_id=decoder_id,
            activation_set_id=activation_set_id, layer=layer, candidate_ids=candidate_ids, k=k,
            candidates=None if candidates is None else tensors.to_tensor(floats(candidates, "candidates")),
            selection=selection_message(selection), average_repeats=average_repeats)
        return self._get("Retrieve", request)
