"""A small Python client over the generated stubs, with the CLI's verbs.

>>> with Client("127.0.0.1:50051") as c:
...     rec = c.upload("sub-01_bold.nii.gz", subject="01", task="images", events="events.tsv")
...     data = c.stream_data(rec.id)
"""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import uuid
import zipfile

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from braindecode import tensors
from braindecode.containers import Events
from braindecode.v1 import common_pb2, recordings_pb2, recordings_pb2_grpc
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from braindecode.v1 import encoding_pb2, encoding_pb2_grpc
from braindecode.v1 import jobs_pb2, jobs_pb2_grpc
from braindecode.v1 import activations_pb2, activations_pb2_grpc
from braindecode.v1 import comparison_pb2, comparison_pb2_grpc
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc

UPLOAD_CHUNK_BYTES = 1024 * 1024


def pack_recording(path) -> tuple:
    """(file name, bytes) to upload: BrainVision (.vhdr) and split EEGLAB (.set + .fdt) go as one zip."""
    path = pathlib.Path(path)
    members = []
    if path.suffix.lower() == ".vhdr":
        members = [path.with_suffix(s) for s in (".vhdr", ".vmrk", ".eeg")]
    elif path.suffix.lower() == ".set" and path.with_suffix(".fdt").exists():
        members = [path, path.with_suffix(".fdt")]
    if not members:
        return path.name, path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for member in members:
            z.write(member, arcname=member.name)
    return path.stem + ".zip", buffer.getvalue()


def _image_bytes(image) -> bytes:
    """PNG or JPEG bytes as they are, an image file's bytes, or a uint8 array / PIL image as PNG."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, (str, pathlib.Path)):
        return pathlib.Path(image).read_bytes()
    from PIL import Image

    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))).save(buffer, format="PNG")
    return buffer.getvalue()


def stimulus_messages(images=None, texts=None, ids=None) -> list:
    """``activations_pb2.Stimulus`` messages for images or texts, with ``ids`` (default "0", "1", ...)."""
    if (images is None) == (texts is None):
        raise ValueError("pass either images or texts")
    items = list(images if images is not None else texts)
    ids = [str(i) for i in range(len(items))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(items):
        raise ValueError(f"{len(ids)} ids for {len(items)} stimuli")
    if images is not None:
        return [activations_pb2.Stimulus(id=i, image=_image_bytes(x)) for i, x in zip(ids, items)]
    return [activations_pb2.Stimulus(id=i, text=x) for i, x in zip(ids, items)]


def roi_message(roi, name: str = "") -> comparison_pb2.ROI:
    """A ``comparison_pb2.ROI``: feature indices (a list or 1-D int array), a 3-D mask array in the
    recordings' voxel grid, or a NIfTI mask as a file path or its bytes (resampled by the server)."""
    if isinstance(roi, (bytes, str, pathlib.Path)):
        payload = roi if isinstance(roi, bytes) else pathlib.Path(roi).read_bytes()
        return comparison_pb2.ROI(mask_nifti=payload, name=name)
    array = np.asarray(roi)
    if array.ndim == 3:
        return comparison_pb2.ROI(mask=tensors.to_tensor(array), name=name)
    return comparison_pb2.ROI(feature_indices=[int(i) for i in array.reshape(-1)], name=name)


def _events(events) -> list:
    if events is None:
        return []
    if isinstance(events, (str, pathlib.Path)):
        events = Events.from_tsv(events)
    if isinstance(events, Events):
        return [common_pb2.Event(onset=o, duration=d, stimulus_id=s)
                for o, d, s in zip(events.onset, events.duration, events.stimulus_id)]
    return [common_pb2.Event(**e) for e in events]


class Client:
    """Connect to a braindecode server.

    Parameters
    ----------
    target : str
        ``host:port`` of the server.
    api_key : str, optional
        Bearer API key sent with every call.
    root_certificates, certificate_chain, private_key : bytes, optional
        TLS trust roots and, for mutual TLS, the client's certificate and key (PEM).
    timeout : float, optional
        Deadline in seconds for unary calls.
    """

    def __init__(self, target: str = "127.0.0.1:50051", api_key: str | None = None,
                 root_certificates: bytes | None = None, certificate_chain: bytes | None = None,
                 private_key: bytes | None = None, timeout: float | None = None,
                 max_message_bytes: int = 64 * 1024 * 1024):
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if root_certificates or certificate_chain:
            creds = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self.channel = grpc.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self.timeout = timeout
        self.recordings = recordings_pb2_grpc.RecordingServiceStub(self.channel)
        self.decoding = decoding_pb2_grpc.DecodingServiceStub(self.channel)
        self.encoding = encoding_pb2_grpc.EncodingServiceStub(self.channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.activations = activations_pb2_grpc.ActivationServiceStub(self.channel)
        self.comparison = comparison_pb2_grpc.ComparisonServiceStub(self.channel)
        self.reconstruction = reconstruction_pb2_grpc.ReconstructionServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _call(self, method, request, **kwargs):
        return method(request, metadata=self.metadata, timeout=kwargs.pop("timeout", self.timeout), **kwargs)

    def health(self, service: str = "") -> str:
        """'SERVING', 'NOT_SERVING' or 'UNKNOWN'."""
        reply = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def wait_ready(self, timeout: float = 30.0) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    # -- recordings -------------------------------------------------------------------
    def upload(self, path, subject: str, session: str = "", task: str = "", run: str = "",
               modality: str = "", format: str = "", events=None,
               chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> recordings_pb2.Recording:
        """Upload one recording file (BrainVision as its .vhdr; the trio is zipped for you)."""
        name, payload = pack_recording(path)
        meta = recordings_pb2.RecordingMetadata(
            subject=subject, session=session, task=task, run=run, modality=modality, format=format,
            file_name=name, events=_events(events), sha256=hashlib.sha256(payload).hexdigest())

        def requests():
            yield recordings_pb2.UploadRecordingRequest(metadata=meta)
            for start in range(0, len(payload), chunk_bytes):
                yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + chunk_bytes])

        return self.recordings.UploadRecording(requests(), metadata=self.metadata, timeout=self.timeout)

    def get(self, recording_id: str) -> recordings_pb2.Recording:
        return self._call(self.recordings.GetRecording, recordings_pb2.GetRecordingRequest(id=recording_id))

    def list(self, subject: str = "", modality: str = "", task: str = "", page_size: int = 100) -> list:
        """Every recording matching the filters (all pages)."""
        found, token = [], ""
        while True:
            reply = self._call(self.recordings.ListRecordings, recordings_pb2.ListRecordingsRequest(
                subject=subject, modality=modality, task=task,
                page=common_pb2.PageRequest(page_size=page_size, page_token=token)))
            found.extend(reply.recordings)
            token = reply.next_page_token
            if not token:
                return found

    def delete(self, recording_id: str) -> bool:
        return self._call(self.recordings.DeleteRecording,
                          recordings_pb2.DeleteRecordingRequest(id=recording_id)).deleted

    def stream_data(self, recording_id: str, preprocessing: dict | None = None):
        """The recording's array (raw, or preprocessed by the server with ``preprocessing``)."""
        request = recordings_pb2.StreamDataRequest(
            id=recording_id, preprocessing_json=json.dumps(preprocessing) if preprocessing else "")
        return tensors.from_chunks(self.recordings.StreamData(request, metadata=self.metadata,
                                                              timeout=self.timeout))

    # -- reconstruction ---------------------------------------------------------------
    def reconstruct(self, embeddings=None, ids=None, recording_ids=(), preprocessing: dict | None = None,
                    decoder_id: str = "", average_repeats: bool = True, n_steps: int | None = None, seed: int = 0,
                    guidance: float | None = None, scheduler: str | None = None, backend: str = "torch",
                    init_images=None, strength: float | None = None, on_progress=None) -> tuple:
        """Reconstruct images from ``embeddings`` (n, d) named by ``ids``, or from stored recordings
        preprocessed with ``preprocessing`` and decoded by ``decoder_id`` (named by stimulus id).

        Sampling settings left at None (``n_steps``, ``guidance``, ``scheduler``, ``strength``) are the
        model's recommended ones. ``init_images`` (n, H, W, 3) uint8 start img2img at ``strength``;
        ``on_progress(common_pb2.Progress)`` is called for each progress message streamed back.

        Returns
        -------
        images : list of (str, array of shape (H, W, 3), uint8)
            (stimulus id, image) per reconstruction, in order.
        reconstruction_id : str
            The stored ``reconstruction`` artifact.
        """
        from PIL import Image

        request = reconstruction_pb2.ReconstructRequest(
            embeddings=None if embeddings is None else tensors.to_tensor(np.asarray(embeddings, dtype=np.float32)),
            ids=[] if ids is None else [str(i) for i in ids], recording_ids=list(recording_ids),
            preprocessing_json=json.dumps(preprocessing) if preprocessing else "", decoder_id=decoder_id,
            average_repeats=average_repeats, n_steps=n_steps or 0, seed=seed, guidance=guidance,
            scheduler=scheduler or "", backend=backend, strength=strength,
            init_images=None if init_images is None else tensors.to_tensor(np.asarray(init_images)))
        images, reconstruction_id = [], ""
        for event in self.reconstruction.Reconstruct(request, metadata=self.metadata, timeout=self.timeout):
            kind = event.WhichOneof("event")
            if kind == "image":
                pixels = np.asarray(Image.open(io.BytesIO(event.image.png)).convert("RGB"))
                images.append((event.image.stimulus_id, pixels))
            elif kind == "result":
                reconstruction_id = event.result.reconstruction_id
            elif on_progress is not None:
                on_progress(event.progress)
        return images, reconstruction_id

    # -- encoding ---------------------------------------------------------------------
    def fit_encoder(self, recording_ids, preprocessing: dict, activation_set_id: str, layers, alphas=(),
                    delays=(), lags=None, cv_folds: int = 0, n_ratios: int = 0, seed: int = 0, device: str = "",
                    on_progress=None) -> encoding_pb2.FitEncoderResult:
        """Fit and store an encoder (see ``braindecode.store.fit_encoder_from_store``).

        ``layers`` is one layer name (ridge) or several (banded ridge); ``lags`` is (tmin, tmax, sfreq).
        ``on_progress(common_pb2.Progress)`` is called for each progress message streamed back.
        """
        request = encoding_pb2.FitEncoderRequest(
            recording_ids=list(recording_ids), preprocessing_json=json.dumps(preprocessing),
            activation_set_id=activation_set_id, layers=[layers] if isinstance(layers, str) else list(layers),
            alphas=list(alphas), delays=list(delays), cv_folds=cv_folds, n_ratios=n_ratios, seed=seed,
            device=device, lags=None if lags is None else encoding_pb2.Lags(tmin=lags[0], tmax=lags[1], sfreq=lags[2]))
        result = None
        for event in self.encoding.FitEncoder(request, metadata=self.metadata, timeout=self.timeout):
            if event.WhichOneof("event") == "result":
                result = event.result
            elif on_progress is not None:
                on_progress(event.progress)
        return result

    def predict(self, encoder_id: str, features=None, activation_set_id: str = "", stimulus_ids=()) -> np.ndarray:
        """Responses (n, *response_shape) predicted from features (n, n_features), or from the rows of
        ``stimulus_ids`` in a stored activation set."""
        request = encoding_pb2.PredictRequest(
            encoder_id=encoder_id, activation_set_id=activation_set_id, stimulus_ids=list(stimulus_ids),
            features=None if features is None else tensors.to_tensor(np.asarray(features, dtype=np.float32)))
        return tensors.from_chunks(self.encoding.Predict(request, metadata=self.metadata, timeout=self.timeout))

    def score_encoder(self, encoder_id: str, recording_ids, preprocessing: dict | None = None,
                      activation_set_id: str = "") -> encoding_pb2.ScoreResponse:
        """Per-target scores of a stored encoder on recordings (default: its preprocessing and activation
        set), and the stored score map (``score_map_nifti``: .nii.gz bytes for fMRI voxels)."""
        request = encoding_pb2.ScoreRequest(
            encoder_id=encoder_id, recording_ids=list(recording_ids), activation_set_id=activation_set_id,
            preprocessing_json=json.dumps(preprocessing) if preprocessing else "")
        return self._call(self.encoding.Score, request)

    # -- decoding ---------------------------------------------------------------------
    def fit_decoder(self, recording_ids, preprocessing: dict, activation_set_id: str, layer: str,
                    decoder: str = "ridge", params: dict | None = None, cv_folds: int = 0,
                    val_fraction: float | None = None, seed: int = 0,
                    on_progress=None) -> decoding_pb2.FitDecoderResult:
        """Fit and store a decoder (see ``braindecode.store.fit_decoder_from_store``).

        ``on_progress(common_pb2.Progress)`` is called for each progress message streamed back.
        """
        request = decoding_pb2.FitDecoderRequest(
            recording_ids=list(recording_ids), preprocessing_json=json.dumps(preprocessing),
            activation_set_id=activation_set_id, layer=layer, decoder=decoder,
            params_json=json.dumps(params) if params else "", cv_folds=cv_folds, seed=seed,
            val_fraction=val_fraction)
        result = None
        for event in self.decoding.FitDecoder(request, metadata=self.metadata, timeout=self.timeout):
            if event.WhichOneof("event") == "result":
                result = event.result
            elif on_progress is not None:
                on_progress(event.progress)
        return result

    def decode_stream(self, decoder_id: str, batches):
        """Embeddings (n, n_dims) for each array (n, *input_shape) of ``batches``, over one stream, in order."""
        def requests():
            for i, batch in enumerate(batches):
                yield decoding_pb2.DecodeRequest(decoder_id=decoder_id if i == 0 else "",
                                                 samples=tensors.to_tensor(np.asarray(batch, dtype=np.float32)))

        for reply in self.decoding.Decode(requests(), metadata=self.metadata, timeout=self.timeout):
            yield tensors.from_tensor(reply.embeddings)

    def decode(self, decoder_id: str, samples, batch_bytes: int = 4 * 1024 * 1024) -> np.ndarray:
        """Embeddings of shape (n, n_dims) for brain samples of shape (n, *input_shape).

        Samples travel in messages of at most about ``batch_bytes`` over one stream.
        """
        samples = np.asarray(samples, dtype=np.float32)
        per_message = max(1, batch_bytes // max(1, samples[:1].nbytes))
        batches = [samples[i:i + per_message] for i in range(0, len(samples), per_message)] or [samples]
        return np.concatenate(list(self.decode_stream(decoder_id, batches)))

    def retrieve(self, queries, k: int = 5, activation_set_id: str = "", layer: str = "", candidates=None,
                 candidate_ids=(), decoder_id: str = "") -> tuple:
        """Top-k candidates per query: (ids, scores), both of shape (n_queries, k), most similar first.

        ``queries`` are embeddings, or brain samples with ``decoder_id``; candidates are a layer of a
        stored activation set or ``candidates`` (n_candidates, n_dims) with ``candidate_ids``.
        """
        request = decoding_pb2.RetrieveRequest(
            queries=tensors.to_tensor(np.asarray(queries, dtype=np.float32)), decoder_id=decoder_id,
            activation_set_id=activation_set_id, layer=layer, candidate_ids=list(candidate_ids), k=k,
            candidates=None if candidates is None else tensors.to_tensor(np.asarray(candidates, dtype=np.float32)))
        reply = self._call(self.decoding.Retrieve, request)
        return (np.array([list(m.stimulus_ids) for m in reply.matches], dtype=str).reshape(len(reply.matches), -1),
                np.array([list(m.scores) for m in reply.matches], dtype=np.float32).reshape(len(reply.matches), -1))

    # -- jobs -------------------------------------------------------------------------
    def submit_job(self, spec, request_id: str | None = None) -> jobs_pb2.Job:
        """Submit a batch decoding job (see ``braindecode.jobs``); the server lists every problem at once.

        ``spec`` is a YAML/JSON spec file's path, a spec dict, or a ``jobs_pb2.JobSpec``.
        Submits with the same ``request_id`` return the same job (default: a fresh id per call).
        """
        request = jobs_pb2.SubmitJobRequest(request_id=uuid.uuid4().hex if request_id is None else request_id)
        if isinstance(spec, jobs_pb2.JobSpec):
            request.spec.CopyFrom(spec)
        elif isinstance(spec, (str, pathlib.Path)):
            request.spec_document = pathlib.Path(spec).read_text()
        else:
            request.spec_document = json.dumps(spec)
        return self._call(self.jobs.SubmitJob, request)

    def get_job(self, job_id: str) -> jobs_pb2.Job:
        return self._call(self.jobs.GetJob, jobs_pb2.GetJobRequest(id=job_id))

    def list_jobs(self, state: str = "", page_size: int = 100) -> list:
        """Every job of this tenant (all pages), oldest first, optionally of one state."""
        found, token = [], ""
        while True:
            reply = self._call(self.jobs.ListJobs, jobs_pb2.ListJobsRequest(
                state=state, page=common_pb2.PageRequest(page_size=page_size, page_token=token)))
            found.extend(reply.jobs)
            token = reply.next_page_token
            if not token:
                return found

    def cancel_job(self, job_id: str) -> jobs_pb2.Job:
        return self._call(self.jobs.CancelJob, jobs_pb2.CancelJobRequest(id=job_id))

    def watch_job(self, job_id: str, timeout: float | None = None):
        """Progress events (``jobs_pb2.JobEvent``) until the job ends; the last one carries ``result``."""
        yield from self.jobs.WatchJob(jobs_pb2.WatchJobRequest(id=job_id), metadata=self.metadata, timeout=timeout)

    # -- activations ------------------------------------------------------------------
    def list_models(self) -> list:
        """The server's registry models (``activations_pb2.ModelInfo``: layers, card, provenance)."""
        return list(self._call(self.activations.ListModels, activations_pb2.ListModelsRequest()).models)

    def list_layers(self, model: str) -> dict:
        """Layer name -> output shape for one stimulus (before pooling; -1 = tokens), early to late."""
        reply = self._call(self.activations.ListLayers, activations_pb2.ListLayersRequest(model=model))
        return {layer.name: list(layer.shape) for layer in reply.layers}

    def upload_stimuli(self, images=None, texts=None, ids=None, name: str = "",
                       chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> activations_pb2.StimulusSet:
        """Store a stimulus set: ``images`` (PNG/JPEG bytes or files, uint8 arrays, PIL images) or ``texts``."""
        stimuli = stimulus_messages(images, texts, ids)

        def requests():
            batch, size, first = [], 0, True
            for stimulus in stimuli:
                if batch and size + stimulus.ByteSize() > chunk_bytes:
                    yield activations_pb2.UploadStimuliRequest(name=name if first else "", stimuli=batch)
                    batch, size, first = [], 0, False
                batch.append(stimulus)
                size += stimulus.ByteSize()
            yield activations_pb2.UploadStimuliRequest(name=name if first else "", stimuli=batch)

        return self.activations.UploadStimuli(requests(), metadata=self.metadata, timeout=self.timeout)

    def list_stimulus_sets(self, page_size: int = 100) -> list:
        """Every stimulus set of this tenant (all pages), oldest first, without their ids."""
        found, token = [], ""
        while True:
            reply = self._call(self.activations.ListStimulusSets, activations_pb2.ListStimulusSetsRequest(
                page=common_pb2.PageRequest(page_size=page_size, page_token=token)))
            found.extend(reply.stimulus_sets)
            token = reply.next_page_token
            if not token:
                return found

    def get_stimulus_set(self, stimulus_set_id: str) -> activations_pb2.StimulusSet:
        return self._call(self.activations.GetStimulusSet,
                          activations_pb2.GetStimulusSetRequest(id=stimulus_set_id))

    def extract_activations(self, model: str, stimulus_set_id: str = "", images=None, texts=None, ids=None,
                            layers=(), pooling: str = "avg", grid: int = 2, batch_size: int = 32,
                            fp16: bool = False, device: str = "", on_progress=None) -> activations_pb2.ActivationSet:
        """Extract and store activations of a stored stimulus set, or of inline ``images`` / ``texts``.

        ``on_progress(common_pb2.Progress)`` is called after each batch; returns the stored activation set.
        """
        inline = [] if stimulus_set_id else stimulus_messages(images, texts, ids)
        request = activations_pb2.ExtractActivationsRequest(
            model=model, layers=list(layers), pooling=pooling, grid=grid, batch_size=batch_size, fp16=fp16,
            device=device, stimulus_set_id=stimulus_set_id, stimuli=inline)
        result = None
        for event in self.activations.ExtractActivations(request, metadata=self.metadata, timeout=self.timeout):
            if event.WhichOneof("event") == "result":
                result = event.result
            elif on_progress is not None:
                on_progress(event.progress)
        return result

    def get_activation_set(self, activation_set_id: str) -> activations_pb2.ActivationSet:
        return self._call(self.activations.GetActivationSet,
                          activations_pb2.GetActivationSetRequest(id=activation_set_id))

    def get_activations(self, activation_set_id: str, layer: str) -> np.ndarray:
        """One layer of a stored activation set, of shape (n_stimuli, n_features); rows follow its stimulus_ids."""
        request = activations_pb2.StreamActivationsRequest(id=activation_set_id, layer=layer)
        return tensors.from_chunks(self.activations.StreamActivations(request, metadata=self.metadata,
                                                                      timeout=self.timeout))

    # -- comparison -------------------------------------------------------------------
    def compute_rdm(self, recording_ids=(), preprocessing: dict | None = None, roi=None, time_window=None,
                    activation_set_id: str = "", layer: str = "", method: str = "correlation", condition_ids=(),
                    device: str = "") -> list:
        """Compute and store RDMs (``comparison_pb2.RDM``, the matrix in ``.rdm`` unless it is too large
        for one message: see :meth:`get_rdm_matrix`): one per subject of
        recordings (``roi`` as in :func:`roi_message`, ``time_window`` (start, stop) s for EEG/MEG),
        or one of an activation layer. ``condition_ids`` fixes the conditions and their order."""
        request = comparison_pb2.ComputeRDMRequest(
            recording_ids=list(recording_ids), preprocessing_json=json.dumps(preprocessing) if preprocessing else "",
            roi=None if roi is None else roi_message(roi),
            time_window=None if time_window is None else comparison_pb2.TimeWindow(
                start=time_window[0], stop=time_window[1]),
            activation_set_id=activation_set_id, layer=layer, method=method, condition_ids=list(condition_ids),
            device=device)
        return list(self._call(self.comparison.ComputeRDM, request).rdms)

    def get_rdm(self, rdm_id: str) -> comparison_pb2.RDM:
        return self._call(self.comparison.GetRDM, comparison_pb2.GetRDMRequest(id=rdm_id))

    def get_rdm_matrix(self, rdm_id: str) -> np.ndarray:
        """A stored RDM's matrix, of shape (n_conditions, n_conditions), streamed whatever its size."""
        return tensors.from_chunks(self.comparison.StreamRDM(comparison_pb2.StreamRDMRequest(id=rdm_id),
                                                             metadata=self.metadata, timeout=self.timeout))

    def compare(self, brain_rdm_ids, model_rdm_ids: dict, method: str = "pearson", n_bootstrap: int = 1000,
                bootstrap: str = "conditions", n_permutations: int = 1000, seed: int = 0, ci: float = 0.95,
                device: str = "", on_progress=None) -> comparison_pb2.CompareResult:
        """Compare brain RDMs (one per subject) with model RDMs (name -> id); the stored result.

        ``on_progress(common_pb2.Progress)`` is called for each progress message streamed back.
        """
        request = comparison_pb2.CompareRequest(
            brain_rdm_ids=list(brain_rdm_ids),
            model_rdms=[comparison_pb2.ModelRDM(name=name, rdm_id=rdm_id) for name, rdm_id in model_rdm_ids.items()],
            method=method, n_bootstrap=n_bootstrap, bootstrap=bootstrap, n_permutations=n_permutations, seed=seed,
            ci=ci, device=device)
        result = None
        for event in self.comparison.Compare(request, metadata=self.metadata, timeout=self.timeout):
            if event.WhichOneof("event") == "result":
                result = event.result
            elif on_progress is not None:
                on_progress(event.progress)
        return result

    def score_matrix(self, activation_set_id: str, recording_ids, preprocessing: dict, rois: dict | None = None,
                     layers=(), time_window=None, method: str = "rsa", rdm_method: str = "correlation",
                     comparison: str = "spearman", kernel: str = "linear", debiased: bool = False,
                     device: str = "") -> comparison_pb2.ScoreMatrixResponse:
        """Layers x ROIs (``rois``: name -> ROI as in :func:`roi_message`), or layers x times for EEG/MEG
        epochs without ROIs; scores per subject and their mean, stored."""
        request = comparison_pb2.ScoreMatrixRequest(
            activation_set_id=activation_set_id, layers=list(layers), recording_ids=list(recording_ids),
            preprocessing_json=json.dumps(preprocessing),
            rois=[roi_message(roi, name) for name, roi in (rois or {}).items()],
            time_window=None if time_window is None else comparison_pb2.TimeWindow(
                start=time_window[0], stop=time_window[1]),
            method=method, rdm_method=rdm_method, comparison=comparison, kernel=kernel, debiased=debiased,
            device=device)
        return self._call(self.comparison.ScoreMatrix, request)
