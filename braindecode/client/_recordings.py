"""``client.recordings``: upload, list, read back and delete recordings."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import itertools
import json
import pathlib
import zipfile
from collections.abc import Iterable, Mapping

import grpc
import numpy as np

from braindecode import tensors
from braindecode.client._base import ServiceClient, slices
from braindecode.client._checks import build, json_object, selection as selection_message, shown
from braindecode.client._replies import Progress, Recording
from braindecode.containers import BrainResponses, Events
from braindecode.recordings import BIDSRefusal
from braindecode.v1 import common_pb2, recordings_pb2, recordings_pb2_grpc

UPLOAD_CHUNK_BYTES = 1024 * 1024
#: Statuses that refuse one file of a BIDS upload (reported, and the upload goes on); others stop it.
_FILE_REFUSALS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ALREADY_EXISTS)
#: The time stamp of every zip member, so that the same files always pack to the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclasses.dataclass(frozen=True)
class BIDSUpload:
    """What :meth:`RecordingsClient.upload_bids` did with each recording of a dataset.

    Attributes
    ----------
    uploaded : tuple of Recording
        Stored by this call.
    skipped : tuple of Recording
        Stored before (the same bytes with the same entities): nothing was sent again.
    refused : tuple of braindecode.recordings.BIDSRefusal
        Files not stored, each with the reason.
    """

    uploaded: tuple
    skipped: tuple
    refused: tuple


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
    for member in members:
        if not member.is_file():
            raise FileNotFoundError(errno.ENOENT, f"{path.name} needs {member.name} beside it (a BrainVision "
                                                  "recording is its .vhdr, .vmrk and .eeg files)", str(member))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for member in members:
            z.writestr(zipfile.ZipInfo(member.name, _ZIP_TIME), member.read_bytes(), zipfile.ZIP_DEFLATED)
    return path.stem + ".zip", buffer.getvalue()


def _event_messages(events, stimulus_column: str | None = None) -> list:
    """``common_pb2.Event`` messages of an events.tsv path (its stimuli in ``stimulus_column``), an
    :class:`~braindecode.containers.Events` or a list of dicts with onset, duration, stimulus_id and
    optionally columns (name -> text); an events.tsv's or an Events' other columns go along."""
    if events is None:
        return []
    if isinstance(events, (str, pathlib.Path)):
        events = Events.from_tsv(events, stimulus_column)
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


def _same_events(recording: Recording, events: Events | None) -> bool:
    """Whether uploading ``events`` with the recording's bytes would change nothing."""
    if events is None:
        return True
    stored = [(e.onset, e.duration, e.stimulus_id) for e in recording.events]
    return stored == [(float(o), float(d), str(s)) for o, d, s in zip(events.onset, events.duration, events.stimulus_id)]


class RecordingsClient(ServiceClient):
    """Recordings: upload, list, read back and delete (the ``RecordingService``)."""

    stub_class = recordings_pb2_grpc.RecordingServiceStub

    def upload(self, path, subject: str, session: str = "", task: str = "", run: str = "", modality: str = "",
               format: str = "", events=None, chunk_bytes: int = UPLOAD_CHUNK_BYTES, tr: float = 0.0,
               stimulus_column: str | None = None) -> Recording:
        """Upload one recording file; the server checks its content and its sha256.

        The same bytes with the same subject, session, task and run as a stored recording return that
        recording (``already_stored`` set) and store nothing.

        Parameters
        ----------
        path : str, pathlib.Path or (str, bytes)
            The file (BrainVision as its .vhdr: the three files go as one zip), or a file's name and
            content.
        subject : str
            With or without its "sub-" prefix (stored without); so are session ("ses-"), task and run.
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
        tr : float, optional
            fMRI repetition time in seconds, in place of the file header's (0: the header's).
        stimulus_column : str, optional
            The events.tsv column naming the stimuli (default: the first of stimulus_id, stim_file,
            trial_type and value it has).

        Returns
        -------
        Recording
        """
        name, payload = pack_recording(path)
        metadata = build(recordings_pb2.RecordingMetadata, subject=subject, session=session, task=task, run=run,
                         modality=modality, format=format, file_name=name,
                         events=_event_messages(events, stimulus_column), tr=tr,
                         sha256=hashlib.sha256(payload).hexdigest())
        requests = itertools.chain(
            [recordings_pb2.UploadRecordingRequest(metadata=metadata)],
            (recordings_pb2.UploadRecordingRequest(chunk=piece) for piece in slices(payload, chunk_bytes)))
        return self._get("UploadRecording", requests)

    def upload_bids(self, root, subjects=None, sessions=None, tasks=None, stimulus_column: str | None = None,
                    on_progress=None) -> BIDSUpload:
        """Upload every recording of a BIDS dataset (``braindecode.recordings.find_bids_recordings``).

        Subject, session, task and run come from the BIDS entities, events from the ``*_events.tsv``
        that applies to each recording, the fMRI repetition time from its JSON sidecars. A recording
        already stored (the same bytes, entities and events) is skipped without sending it again, so
        running this again after an interruption uploads only what is missing; one stored with other
        events is refused (``set_events`` replaces them).

        Parameters
        ----------
        root : str or os.PathLike
            The dataset's folder.
        subjects, sessions, tasks : list of str, optional
            Only these labels.
        stimulus_column : str, optional
            The events column naming the stimuli (``stim_file``, ``trial_type``, ``value`` ...).
        on_progress : callable, optional
            ``on_progress(Progress)`` after each recording: ``fraction`` of the recordings done,
            ``message`` the file's name.

        Returns
        -------
        BIDSUpload
        """
        from braindecode.recordings import find_bids_recordings

        found, refused = find_bids_recordings(root, subjects, sessions, tasks, stimulus_column)
        refused = list(refused)
        stored = {(r.sha256, r.subject, r.session, r.task, r.run): r for r in self.list()}
        uploaded, skipped = [], []
        for done, item in enumerate(found, 1):
            try:
                name, payload = pack_recording(item.path)
                key = (hashlib.sha256(payload).hexdigest(), item.subject, item.session, item.task, item.run)
                if key in stored and _same_events(stored[key], item.events):
                    skipped.append(stored[key])
                else:
                    rec = self.upload((name, payload), item.subject, item.session, item.task, item.run,
                                      item.modality, events=item.events, tr=item.tr or 0.0)
                    (skipped if rec.already_stored else uploaded).append(rec)
            except OSError as exc:
                refused.append(BIDSRefusal(item.path, exc.strerror or str(exc)))
            except grpc.RpcError as exc:
                if exc.code() not in _FILE_REFUSALS:
                    raise
                refused.append(BIDSRefusal(item.path, exc.details()))
            if on_progress is not None:
                on_progress(Progress("upload", done / len(found), item.path.name))
        return BIDSUpload(tuple(uploaded), tuple(skipped), tuple(refused))

    def set_events(self, recording_id: str, events, stimulus_column: str | None = None) -> Recording:
        """Attach events to a stored recording, replacing those it had (an empty list removes them).

        Parameters
        ----------
        recording_id : str
        events : str, pathlib.Path, Events or list of dict
            As in :meth:`upload`.
        stimulus_column : str, optional
            As in :meth:`upload`.
        """
        request = build(recordings_pb2.SetEventsRequest, id=recording_id,
                        events=_event_messages(events, stimulus_column))
        return self._get("SetEvents", request)

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

    def data(self, recording_id: str, preprocessing: dict | None = None, selection=None):
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
        array or BrainResponses
            Raw: (x, y, z, t) for fMRI volumes, (n_channels, n_times) for EEG/MEG; preprocessed without
            a per-trial step: the continuous array. With an ``epochs`` or ``trials`` step: per-trial
            responses, ``data`` of shape (n_trials, n_features) or (n_trials, n_channels, n_times), with
            each row's ``stimulus_ids``, ``subjects`` (the recording's subject), ``runs`` (the recording's
            id) and ``trials`` (the index of its event among the recording's events: the others were
            dropped, see ``info["dropped"]``), ``feature_names`` and ``times``, and for fMRI voxels the
            ``mask`` and ``affine`` that put them back into the volume.
        """
        request = build(recordings_pb2.StreamDataRequest, id=recording_id,
                        preprocessing_json=json_object(preprocessing, "preprocessing"),
                        selection=selection_message(selection))
        labels = []

        def chunks():
            for chunk in self._call("StreamData", request):
                if chunk.HasField("labels"):
                    labels.append(chunk.labels)
                else:
                    yield chunk

        array = tensors.from_chunks(chunks())
        return _responses(array, labels[0]) if labels else array


def _responses(data: np.ndarray, labels) -> BrainResponses:
    """Per-trial responses from their array and their ``ResponseLabels`` message."""
    mask = tensors.from_tensor(labels.mask) if labels.HasField("mask") else None
    names = list(labels.feature_names) or None
    if mask is not None:
        from braindecode.preprocessing import voxel_names

        names = voxel_names(mask)
    return BrainResponses(
        data, list(labels.stimulus_ids), list(labels.subjects), list(labels.runs), names,
        np.asarray(labels.times) if labels.times else None, json.loads(labels.info_json or "{}"),
        np.asarray(labels.trials, dtype=np.int64) if len(labels.trials) == len(data) else None, mask,
        None if mask is None else np.asarray(labels.affine, dtype=np.float64).reshape(4, 4))
