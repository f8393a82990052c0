"""``client.recordings``: upload, list, read back and delete recordings."""

from __future__ import annotations

import hashlib
import io
import itertools
import pathlib
import zipfile
from collections.abc import Iterable, Mapping

import numpy as np

from braindecode.client._base import ServiceClient, slices
from braindecode.client._checks import shown, build, json_object, selection as selection_message
from braindecode.client._replies import Recording
from braindecode.containers import Events
from braindecode.v1 import common_pb2, recordings_pb2, recordings_pb2_grpc

UPLOAD_CHUNK_BYTES = 1024 * 1024


def pack_recording(path) -> tuple:
    """The (file name, bytes) to upload for a recording file.

    BrainVision (.vhdr with its .vmrk and .eeg) and split EEGLAB (.set with its .fdt) go as one zip.

    Parameters
    ----------
    path : str, pathlib.Path or (str, bytes)
        A file, or a file's name and content (returned as they are).
    """
    if isinstance(path, tuple) and len(path) == 2 and isinstance(path[0], str) and isinstance(path[1], bytes):
        return path
    if not isinstance(path, (str, pathlib.Path)):
        raise TypeError(f"path must be a file path or (file name, bytes), got {shown(path)}")
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


def _event_messages(events) -> list:
    """``common_pb2.Event`` messages of an events.tsv path, an :class:`~braindecode.containers.Events`
    or a list of dicts with onset, duration, stimulus_id and optionally columns (name -> text); an
    events.tsv's or an Events' other columns go along."""
    if events is None:
        return []
    if isinstance(events, (str, pathlib.Path)):
        events = Events.from_tsv(events)
    if isinstance(events, Events):
        return [common_pb2.Event(onset=o, duration=d, stimulus_id=s,
                                 columns={name: values[i] for name, values in events.columns.items()})
                for i, (o, d, s) in enumerate(zip(events.onset, events.duration, events.stimulus_id))]
    if isinstance(events, Iterable) and not isinstance(events, Mapping):
        rows = list(events)
        if all(isinstance(row, Mapping) for row in rows):
            return [build(common_pb2.Event, **row) for row in rows]
    raise TypeError("events must be an events.tsv path, an Events or a list of dicts with onset, duration "
                    f"and stimulus_id, got {shown(events)}")


class RecordingsClient(ServiceClient):
    """Recordings: upload, list, read back and delete (the ``RecordingService``)."""

    stub_class = recordings_pb2_grpc.RecordingServiceStub

    def upload(self, path, subject: str, session: str = "", task: str = "", run: str = "", modality: str = "",
               format: str = "", events=None, chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> Recording:
        """Upload one recording file; the server checks its content and its sha256.

        Parameters
        ----------
        path : str, pathlib.Path or (str, bytes)
            The file (BrainVision as its .vhdr: the three files go as one zip), or a file's name and
            content.
        subject : str
        session, task, run : str, optional
        modality : str, optional
            fmri, eeg, meg or surface; empty reads it from the file.
        format : str, optional
            nifti, gifti, fif, edf, bdf, brainvision or eeglab; empty detects it.
        events : str, pathlib.Path, Events or list of dict, optional
            Stimulus events: a BIDS events.tsv, an ``Events`` or dicts with onset, duration, stimulus_id
            (and ``columns``); their other columns (e.g. ``split``) are kept for trial selections.
        chunk_bytes : int
            Bytes per upload message.

        Returns
        -------
        Recording
        """
        name, payload = pack_recording(path)
        metadata = build(recordings_pb2.RecordingMetadata, subject=subject, session=session, task=task, run=run,
                         modality=modality, format=format, file_name=name, events=_event_messages(events),
                         sha256=hashlib.sha256(payload).hexdigest())
        requests = itertools.chain(
            [recordings_pb2.UploadRecordingRequest(metadata=metadata)],
            (recordings_pb2.UploadRecordingRequest(chunk=piece) for piece in slices(payload, chunk_bytes)))
        return self._get("UploadRecording", requests)

    def get(self, recording_id: str) -> Recording:
        """The stored recording ``recording_id``."""
        return self._get("GetRecording", build(recordings_pb2.GetRecordingRequest, id=recording_id))

    def list(self, subject: str = "", modality: str = "", task: str = "", page_size: int = 100) -> list:
        """Every recording that matches the filters (all pages), oldest first.

        Parameters
        ----------
        subject, modality, task : str, optional
            Filters; empty matches every value.
        page_size : int
            Recordings per page read.

        Returns
        -------
        list of Recording
        """
        request = build(recordings_pb2.ListRecordingsRequest, subject=subject, modality=modality, task=task)
        return self._list("ListRecordings", request, "recordings", page_size)

    def delete(self, recording_id: str) -> bool:
        """Delete the stored recording ``recording_id``; True once it is gone."""
        request = build(recordings_pb2.DeleteRecordingRequest, id=recording_id)
        return self._call("DeleteRecording", request).deleted

    def data(self, recording_id: str, preprocessing: dict | None = None, selection=None) -> np.ndarray:
        """A recording's array, raw or preprocessed by the server.

        Parameters
        ----------
        recording_id : str
        preprocessing : dict, optional
            A ``braindecode.preprocessing.preprocess`` spec.
        selection : dict or Selection, optional
            With ``preprocessing``: the voxels (fMRI) and, for per-trial responses, the trials to keep.

        Returns
        -------
        array
            Raw: (x, y, z, t) for fMRI volumes, (n_channels, n_times) for EEG/MEG. Preprocessed: per-trial
            responses, (n_trials, n_features) or (n_trials, n_channels, n_times) for epochs.
        """
        request = build(recordings_pb2.StreamDataRequest, id=recording_id,
                        preprocessing_json=json_object(preprocessing, "preprocessing"),
                        selection=selection_message(selection))
        return self._download("StreamData", request)
