"""BIDS datasets in: every recording of a dataset with its entities, events and repetition time.

The dataset is indexed by pybids (``bids.BIDSLayout``), which parses the file names and applies
the inheritance principle to sidecars: the repetition time is ``RepetitionTime`` of the JSON
sidecars that apply to a run, and its events the nearest ``*_events.tsv`` that applies to it.
MNE-BIDS names the split parts of FIF recordings (``split-01``), an entity pybids does not parse.
"""

from __future__ import annotations

import dataclasses
import pathlib

from braindecode.containers import Events
from braindecode.errors import BraindecodeError, InvalidArgument

#: BIDS datatype -> modality of its recordings, and the suffix of those recordings.
DATATYPES = {"func": ("fmri", "bold"), "eeg": ("eeg", "eeg"), "meg": ("meg", "meg")}
#: Extensions of the recording files read, per datatype (BrainVision by its .vhdr, EEGLAB by its .set).
READ_EXTENSIONS = {"func": (".nii", ".nii.gz"), "eeg": (".vhdr", ".edf", ".bdf", ".set"),
                   "meg": (".fif",)}
#: Files that come with a recording and are not recordings themselves.
COMPANION_EXTENSIONS = (".json", ".tsv", ".vmrk", ".eeg", ".fdt")


@dataclasses.dataclass(frozen=True)
class BIDSRecording:
    """A recording of a BIDS dataset, ready to upload.

    Attributes
    ----------
    path : pathlib.Path
        The data file (BrainVision: its .vhdr; EEGLAB: its .set).
    subject, session, task, run : str
        The BIDS entities, without their prefixes ("" when absent).
    modality : {"fmri", "eeg", "meg"}
    events : Events or None
        From the ``*_events.tsv`` that applies to the recording, if any.
    tr : float or None
        ``RepetitionTime`` from the JSON sidecars that apply (fMRI).
    """

    path: pathlib.Path
    subject: str
    session: str
    task: str
    run: str
    modality: str
    events: Events | None = None
    tr: float | None = None


@dataclasses.dataclass(frozen=True)
class BIDSRefusal:
    """A file of the dataset that is not uploaded, and why."""

    path: pathlib.Path
    reason: str


def _labels(values, prefix: str) -> list | None:
    """Entity filters as pybids takes them: labels without their prefix; None for no filter."""
    if not values:
        return None
    if isinstance(values, str):
        values = [values]
    return [str(v).strip().removeprefix(prefix) for v in values]


def find_bids_recordings(root, subjects=None, sessions=None, tasks=None, stimulus_column: str | None = None) -> tuple:
    """Every fMRI (``func/*_bold.nii[.gz]``), EEG and MEG recording of a BIDS dataset.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset's folder (with its ``dataset_description.json``); derivatives are not read.
    subjects, sessions, tasks : list of str, optional
        Only these labels (with or without their ``sub-``/``ses-``/``task-`` prefix).
    stimulus_column : str, optional
        The events column naming each stimulus (``stim_file``, ``trial_type``, ``value`` ...);
        default: the first of ``braindecode.containers.STIMULUS_COLUMNS`` that a file has.

    Returns
    -------
    recordings : list of BIDSRecording
        In the order of their paths.
    refused : list of BIDSRefusal
        Recordings that cannot be uploaded: formats not read, split FIF parts, unreadable events.
    """
    root = pathlib.Path(root).expanduser()
    if not (root / "dataset_description.json").is_file():
        raise InvalidArgument(f"{root} is not a BIDS dataset: it has no dataset_description.json")
    import bids
    from mne_bids import get_entities_from_fname

    layout = bids.BIDSLayout(root, validate=False)
    filters = {"subject": _labels(subjects, "sub-"), "session": _labels(sessions, "ses-"),
               "task": _labels(tasks, "task-")}
    recordings, refused = [], []
    for datatype, (modality, suffix) in DATATYPES.items():
        files = layout.get(datatype=datatype, suffix=suffix, **{k: v for k, v in filters.items() if v})
        for file in sorted(files, key=lambda f: f.path):
            path = pathlib.Path(file.path)
            extension = file.entities.get("extension", "")
            if extension in COMPANION_EXTENSIONS:
                continue
            if extension not in READ_EXTENSIONS[datatype]:
                refused.append(BIDSRefusal(path, f"{extension or 'this'} {datatype} files are not read; braindecode "
                                                 f"reads {', '.join(READ_EXTENSIONS[datatype])}"))
                continue
            if get_entities_from_fname(path, on_error="ignore").get("split"):  # an entity pybids does not know
                refused.append(BIDSRefusal(path, "one part of a split FIF recording; join the parts with MNE "
                                                 "(mne.io.read_raw_fif on the first, then save) and upload that"))
                continue
            try:
                recordings.append(_recording(layout, file, path, modality, stimulus_column))
            except BraindecodeError as exc:
                refused.append(BIDSRefusal(path, str(exc)))
    return recordings, refused


def _recording(layout, file, path: pathlib.Path, modality: str, stimulus_column: str | None) -> BIDSRecording:
    entities = file.entities
    events_file = layout.get_nearest(file.path, suffix="events", extension=".tsv",
                                     ignore_strict_entities=["extension", "suffix"])
    events = None if events_file is None else Events.from_tsv(pathlib.Path(events_file), stimulus_column)
    tr = layout.get_metadata(file.path).get("RepetitionTime") if modality == "fmri" else None
    if tr is not None and not (isinstance(tr, (int, float)) and tr > 0):
        raise InvalidArgument(f"RepetitionTime of its sidecars must be a positive number of seconds, got {tr!r}")
    return BIDSRecording(path, *(str(entities.get(e, "")) for e in ("subject", "session", "task", "run")),
                         modality, events, None if tr is None else float(tr))
