"""The embedded default data set: real photographs, a real network, simulated fMRI and EEG.

>>> from braindecode.datasets import load_stimuli, make_default_dataset
>>> stimuli = load_stimuli(n_stimuli=500, n_test=100)
>>> info = make_default_dataset("default-data", n_subjects=2)
>>> info.ground_truth["rois"]["early"]["layer"]
'stage2'
"""

from braindecode.datasets._default import INDIVIDUAL_DIFFERENCES, LAYERS, MODEL, DatasetInfo, make_default_dataset
from braindecode.datasets._design import fixed_soa_events, jittered_soa_events, presentation_runs
from braindecode.datasets._eeg import CHANNELS, COMPONENTS, MONTAGE, EegSimulation, eeg_info, simulate_eeg
from braindecode.datasets._fmri import (
    ROI_BOXES,
    FmriSimulation,
    brain_mask,
    jitter_roi_boxes,
    roi_masks,
    simulate_fmri,
)
from braindecode.datasets._responses import TRIALS_SPEC, roi_responses
from braindecode.datasets._readout import layer_components, noise_ceiling_from_snr
from braindecode.datasets._stimuli import SOURCES, StimulusImages, load_stimuli

__all__ = [
    "CHANNELS",
    "COMPONENTS",
    "INDIVIDUAL_DIFFERENCES",
    "LAYERS",
    "MODEL",
    "MONTAGE",
    "ROI_BOXES",
    "SOURCES",
    "TRIALS_SPEC",
    "DatasetInfo",
    "EegSimulation",
    "FmriSimulation",
    "StimulusImages",
    "brain_mask",
    "eeg_info",
    "fixed_soa_events",
    "jitter_roi_boxes",
    "jittered_soa_events",
    "layer_components",
    "load_stimuli",
    "make_default_dataset",
    "noise_ceiling_from_snr",
    "presentation_runs",
    "roi_masks",
    "roi_responses",
    "simulate_eeg",
    "simulate_fmri",
]
