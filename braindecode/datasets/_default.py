"""The embedded default data set: real photographs, a real network, simulated brains.

``make_default_dataset`` writes a BIDS-style tree::

    dataset_description.json
    ground_truth.json                      driving layers, SNRs, noise ceilings, seeds
    stimuli/stimuli.tsv, stimuli/images/   the stimuli (see ``load_stimuli``)
    activations/                           EfficientNet-Lite0 layers, avg pooled (.npy)
    masks/                                 MNI brain mask and one mask per template ROI (NIfTI)
    sub-XX/anat/sub-XX_..._mask.nii.gz     the subject's own ROI masks (``individual=True`` only)
    sub-XX/func/sub-XX_task-images_run-YY_{bold.nii.gz,bold.json,events.tsv}
    sub-XX/eeg/sub-XX_task-images_run-YY_{eeg.fif,eeg.vhdr,eeg.vmrk,eeg.eeg,eeg.json,events.tsv}

Every subject sees each train stimulus once and each test stimulus ``n_repeats`` times,
in both the fMRI and the EEG session. By default subjects differ only in their random
readouts, designs and noise; with ``individual=True`` they also differ as real ones do: their
own ROI positions and sizes (so their voxel counts differ) and their own SNRs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np

from braindecode.containers import ActivationSet
from braindecode.datasets._design import fixed_soa_events, jittered_soa_events, presentation_runs
from braindecode.datasets._eeg import simulate_eeg
from braindecode.datasets._fmri import (
    ROI_BOXES,
    brain_mask,
    jitter_roi_boxes,
    roi_ground_truth,
    roi_images,
    roi_masks,
    simulate_fmri,
)
from braindecode.datasets._readout import layer_components
from braindecode.datasets._stimuli import TEST_FRACTION, StimulusImages, load_stimuli
from braindecode.errors import InvalidArgument

MODEL = "efficientnet-lite0"
#: Driving layer of each simulated region (fMRI ROIs) and evoked component (EEG).
LAYERS = {"early": "stage2", "mid": "stage4", "late": "stage7"}
FMRI_TIMING = {"t_r": 2.0, "soa": 4.0, "duration": 3.0, "lead": 10.0}
EEG_TIMING = {"sfreq": 250.0, "soa_range": (0.9, 1.1), "duration": 0.5, "lead": 2.0}
TASK = "images"
#: How far ``individual`` subjects stray from the template: ROI centres move by up to
#: ``roi_shift_voxels`` voxels along each axis, ROI extents scale by up to ``roi_size_ratio``
#: (log-uniform, either way), SNRs scale by a factor log-uniform in [1 / snr_ratio, snr_ratio].
INDIVIDUAL_DIFFERENCES = {"roi_shift_voxels": 1.0, "roi_size_ratio": 1.25, "snr_ratio": 2.0}


@dataclass
class DatasetInfo:
    """What ``make_default_dataset`` wrote.

    Parameters
    ----------
    root : str
        The data set directory.
    stimuli : StimulusImages
    activations : ActivationSet
        Every layer of the network, avg pooled, one row per stimulus.
    files : dict
        Paths: ``ground_truth``, ``description``, ``stimulus_table``, ``stimulus_images``
        (id -> png), ``masks`` (name -> NIfTI of the template ROIs, ``"brain"`` included),
        ``subject_masks`` (subject -> name -> NIfTI: the subject's own ROI masks, the template's
        unless ``individual``), ``fmri`` and ``eeg`` (lists of per-run dicts with ``subject``,
        ``run``, ``events`` and ``bold`` or ``fif``/``vhdr``).
    ground_truth : dict
        The content of ``ground_truth.json``.
    """

    root: str
    stimuli: StimulusImages
    activations: ActivationSet
    files: dict = field(default_factory=dict)
    ground_truth: dict = field(default_factory=dict)


def _seed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def _reporter(progress):
    """``report(stage)`` -> ``callback(done, total)`` from None, True (tqdm) or a callable."""
    if progress is None or progress is False:
        return lambda stage: None
    if progress is True:
        from tqdm.auto import tqdm

        def report(stage):
            bar = tqdm(desc=stage, leave=False)

            def update(done, total):
                bar.total = total
                bar.n = done
                bar.refresh()
                if done >= total:
                    bar.close()
            return update
        return report
    if not callable(progress):
        raise InvalidArgument("progress must be None, True (tqdm bars) or a callable(stage, done, total)")
    return lambda stage: (lambda done, total: progress(stage, done, total))


def _write_json(path: str, content: dict) -> None:
    with open(path, "w") as f:
        json.dump(content, f, indent=2, sort_keys=False)
        f.write("\n")


def make_default_dataset(
    out_dir,
    n_stimuli: int = 500,
    n_test: int = 100,
    n_subjects: int = 2,
    n_runs: int = 5,
    n_repeats: int = 3,
    seed: int = 0,
    *,
    fmri_snr: float = 0.5,
    eeg_snr: float = 0.3,
    resolution: int = 6,
    n_components: int = 16,
    individual: bool = False,
    device: str = "cpu",
    progress=None,
) -> DatasetInfo:
    """Generate the default data set: stimuli, activations, fMRI and EEG with ground truth.

    Parameters
    ----------
    out_dir : path-like
        Directory to create; it must not exist or be empty. The data set is written to
        a staging directory beside it and renamed into place when complete, so an
        interrupted run leaves nothing at ``out_dir``.
    n_stimuli, n_test : int
        Stimuli in all and held-out test stimuli (see ``load_stimuli``).
    n_subjects, n_runs : int
        Simulated subjects, and runs per subject and modality.
    n_repeats : int
        Presentations of each test stimulus per subject and modality.
    seed : int
        Seed of everything; the same arguments give the same files.
    fmri_snr, eeg_snr : float
        Single-trial SNRs (definitions in ``ground_truth.json``).
    resolution : int
        fMRI voxel size in mm.
    n_components : int
        Principal components of a layer that its readouts mix.
    individual : bool
        Subjects differ as real ones do (see ``INDIVIDUAL_DIFFERENCES``): each has its own ROI
        boxes, moved and resized from the template's, so that ROI positions and voxel counts
        differ, and its own fMRI and EEG SNRs around ``fmri_snr`` and ``eeg_snr``. False (the
        default) gives every subject the template ROIs and the same SNRs.
    device : str
        Where the network runs ("cpu", "cuda", "cuda:N").
    progress : None, True or callable
        True shows tqdm bars; a callable gets ``(stage, done, total)``.

    Returns
    -------
    info : DatasetInfo
    """
    if min(n_subjects, n_runs, n_repeats) < 1:
        raise InvalidArgument(
            f"n_subjects, n_runs and n_repeats must be positive; got {n_subjects}, {n_runs}, {n_repeats}"
        )
    report = _reporter(progress)
    final = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(final) and (not os.path.isdir(final) or os.listdir(final)):
        raise InvalidArgument(f"{final} already exists and is not an empty directory")
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.partial-", dir=parent)
    try:
        stimuli, files, truth = _generate(
            staging, n_stimuli, n_test, n_subjects, n_runs, n_repeats, seed, fmri_snr=fmri_snr,
            eeg_snr=eeg_snr, resolution=resolution, n_components=n_components, individual=individual,
            device=device, report=report,
        )
        os.chmod(staging, 0o755)
        if os.path.isdir(final):
            os.rmdir(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    from braindecode.activations import read_activations

    return DatasetInfo(
        final, stimuli, read_activations(os.path.join(final, "activations")),
        _rebase(files, staging, final), truth,
    )


def _rebase(files, old: str, new: str):
    """``files`` with every path under ``old`` moved under ``new``."""
    if isinstance(files, dict):
        return {k: _rebase(v, old, new) for k, v in files.items()}
    if isinstance(files, list):
        return [_rebase(v, old, new) for v in files]
    if isinstance(files, str) and files.startswith(old + os.sep):
        return new + files[len(old):]
    return files


def _anatomy(seed: int, fmri_snr: float, eeg_snr: float, resolution: int) -> dict:
    """An individual subject's ROI boxes and SNRs, drawn from ``seed`` (see ``INDIVIDUAL_DIFFERENCES``)."""
    rng = np.random.default_rng(seed)
    spread = INDIVIDUAL_DIFFERENCES
    boxes = jitter_roi_boxes(rng, spread["roi_shift_voxels"] * resolution, spread["roi_size_ratio"])
    fmri_factor, eeg_factor = np.exp(rng.uniform(-1, 1, 2) * np.log(spread["snr_ratio"]))
    return {"boxes": boxes, "fmri_snr": float(fmri_snr * fmri_factor), "eeg_snr": float(eeg_snr * eeg_factor)}


def _generate(root, n_stimuli, n_test, n_subjects, n_runs, n_repeats, seed, *, fmri_snr, eeg_snr,
              resolution, n_components, individual, device, report) -> tuple:
    """Write the data set under ``root``; return (stimuli, files, ground truth)."""
    from braindecode.activations import extract_activations, load_model

    stimuli = load_stimuli(n_stimuli, n_test, seed=seed)
    files = {"ground_truth": os.path.join(root, "ground_truth.json"),
             "description": os.path.join(root, "dataset_description.json")}
    written = stimuli.write(os.path.join(root, "stimuli"))
    files["stimulus_table"], files["stimulus_images"] = written["table"], written["images"]

    model = load_model(MODEL, device=device)
    activations = extract_activations(
        model, list(stimuli.images), layers=model.layers, pooling="avg", device=device,
        out_dir=os.path.join(root, "activations"), progress=report("activations"), stimulus_ids=stimuli.ids,
    )
    drives = {name: (layer, layer_components(activations[layer], n_components)) for name, layer in LAYERS.items()}

    mask = brain_mask(resolution)
    template_rois = roi_masks(mask)
    files["masks"] = _write_masks(os.path.join(root, "masks"), f"space-MNI152_res-{resolution}mm",
                                  {"brain": mask, **roi_images(mask, template_rois)})
    files["fmri"], files["eeg"], files["subject_masks"] = [], [], {}
    fmri_truth, eeg_truth, seeds = {}, {}, {}
    for s in range(1, n_subjects + 1):
        sub = f"sub-{s:02d}"
        parts = ("design", "fmri", "eeg", "anatomy") if individual else ("design", "fmri", "eeg")
        seeds[sub] = {name: _seed(seed, s, k) for k, name in enumerate(parts)}
        anatomy = (_anatomy(seeds[sub]["anatomy"], fmri_snr, eeg_snr, resolution) if individual
                   else {"boxes": None, "fmri_snr": fmri_snr, "eeg_snr": eeg_snr})
        rng = np.random.default_rng(seeds[sub]["design"])
        fmri_runs = [
            fixed_soa_events(ids, FMRI_TIMING["soa"], FMRI_TIMING["duration"], FMRI_TIMING["lead"])
            for ids in presentation_runs(stimuli.ids, stimuli.split, n_repeats, n_runs, rng)
        ]
        eeg_runs = [
            jittered_soa_events(ids, EEG_TIMING["soa_range"], EEG_TIMING["duration"], EEG_TIMING["lead"], rng)
            for ids in presentation_runs(stimuli.ids, stimuli.split, n_repeats, n_runs, rng)
        ]
        fmri = simulate_fmri(
            stimuli.ids, {**{k: drives[k] for k in LAYERS}, "control": None}, fmri_runs,
            resolution=resolution, t_r=FMRI_TIMING["t_r"], snr=anatomy["fmri_snr"], boxes=anatomy["boxes"],
            seed=seeds[sub]["fmri"], progress=report(f"fmri {sub}"),
        )
        eeg = simulate_eeg(
            stimuli.ids, {"early": drives["early"], "late": drives["late"]}, eeg_runs,
            sfreq=EEG_TIMING["sfreq"], snr=anatomy["eeg_snr"], seed=seeds[sub]["eeg"], progress=report(f"eeg {sub}"),
        )
        files["fmri"] += _write_fmri(root, sub, fmri)
        files["eeg"] += _write_eeg(root, sub, eeg)
        fmri_truth[sub], eeg_truth[sub] = fmri.ground_truth, eeg.ground_truth
        if individual:
            files["subject_masks"][sub] = _write_masks(
                os.path.join(root, sub, "anat"), f"{sub}_space-MNI152_res-{resolution}mm", fmri.rois)
            for name, path in files["subject_masks"][sub].items():
                fmri_truth[sub]["rois"][name]["mask"] = os.path.relpath(path, root)
        else:
            files["subject_masks"][sub] = {k: v for k, v in files["masks"].items() if k != "brain"}

    truth = {
        "seed": seed,
        "seeds": {"stimuli": seed, **seeds},
        "model": MODEL, "pooling": "avg", "n_components": n_components,
        "readout": "per unit: mean response + random linear mixture of the layer's principal components",
        "stimuli": {"n_stimuli": n_stimuli, "n_test": n_test, "split": (
            f"test crops come from the last {TEST_FRACTION:.0%} of each source photograph's longer side, "
            "train crops from the rest: no test pixel is in a train stimulus")},
        "design": {"n_subjects": n_subjects, "n_runs": n_runs, "n_repeats": n_repeats,
                   "fmri": FMRI_TIMING, "eeg": {**EEG_TIMING, "soa_range": list(EEG_TIMING["soa_range"])}},
        **({"individual_differences": INDIVIDUAL_DIFFERENCES} if individual else {}),
        "rois": {
            name: {**roi, "mask": os.path.relpath(files["masks"][name], root)}
            for name, roi in roi_ground_truth({**LAYERS, "control": None}, ROI_BOXES, template_rois, fmri_snr,
                                              n_repeats).items()
        },
        "latency_windows": {
            name: {k: comp[k] for k in ("layer", "latency_s", "width_s", "window_s", "snr", "noise_ceiling")}
            for name, comp in eeg.ground_truth["components"].items()
        },
        "fmri": fmri_truth,
        "eeg": eeg_truth,
    }
    _write_json(files["ground_truth"], truth)
    _write_json(files["description"], {
        "Name": "braindecode default data set (real stimuli and network, simulated fMRI and EEG)",
        "BIDSVersion": "1.9.0", "DatasetType": "raw", "License": "BSD-3-Clause",
        "GeneratedBy": [{"Name": "braindecode.datasets.make_default_dataset", "Description": f"seed {seed}"}],
    })
    return stimuli, files, truth


def _run_stem(root: str, sub: str, modality: str, run: int) -> str:
    directory = os.path.join(root, sub, modality)
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f"{sub}_task-{TASK}_run-{run:02d}")


def _write_fmri(root: str, sub: str, fmri) -> list:
    out = []
    for k, (img, events) in enumerate(zip(fmri.runs, fmri.events), start=1):
        stem = _run_stem(root, sub, "func", k)
        nib.save(img, stem + "_bold.nii.gz")
        events.to_tsv(stem + "_events.tsv")
        _write_json(stem + "_bold.json", {"TaskName": TASK, "RepetitionTime": fmri.ground_truth["t_r"],
                                          "SpatialReference": "MNI152 (nilearn brain mask)"})
        out.append({"subject": sub, "run": k, "bold": stem + "_bold.nii.gz", "events": stem + "_events.tsv"})
    return out


def _write_eeg(root: str, sub: str, eeg) -> list:
    import mne

    out = []
    for k, (raw, events) in enumerate(zip(eeg.runs, eeg.events), start=1):
        stem = _run_stem(root, sub, "eeg", k)
        raw.save(stem + "_eeg.fif", overwrite=True, verbose=False)
        # the BrainVision exporter truncates onset * sfreq to a sample index, so a float just
        # below an integer lands one sample early: export onsets a quarter sample late
        shifted = raw.copy().set_annotations(mne.Annotations(
            raw.annotations.onset + 0.25 / raw.info["sfreq"], raw.annotations.duration,
            raw.annotations.description,
        ))
        # verbose="error": the exporter warns that it stores float64 data as float32
        mne.export.export_raw(stem + "_eeg.vhdr", shifted, fmt="brainvision", overwrite=True, verbose="error")
        events.to_tsv(stem + "_events.tsv")
        _write_json(stem + "_eeg.json", {
            "TaskName": TASK, "SamplingFrequency": raw.info["sfreq"], "PowerLineFrequency": raw.info["line_freq"],
            "EEGReference": eeg.ground_truth["reference"], "EEGChannelCount": len(raw.ch_names),
        })
        out.append({"subject": sub, "run": k, "fif": stem + "_eeg.fif", "vhdr": stem + "_eeg.vhdr",
                    "events": stem + "_events.tsv"})
    return out


def _write_masks(directory: str, prefix: str, images: dict) -> dict:
    """Write ``{directory}/{prefix}_desc-{name}_mask.nii.gz`` for each image; name -> path."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name, img in images.items():
        paths[name] = os.path.join(directory, f"{prefix}_desc-{name}_mask.nii.gz")
        nib.save(img, paths[name])
    return paths
