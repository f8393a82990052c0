"""Simulated EEG: layer-driven evoked sources seen through a spherical head model.

A 32-channel 10-20 cap (``colin27_1020`` positions) records dipoles through a
three-shell sphere forward model fitted to the cap (``mne.make_sphere_model`` and
``mne.make_forward_solution``). Two evoked components respond to every stimulus:

* ``early``: four occipital dipoles peaking at 100 ms, driven by an early layer;
* ``late``: four occipito-temporal dipoles peaking at 300 ms, driven by a late layer.

A dipole's amplitude on a trial is a mean response plus a random linear readout of its
layer's principal components; its time course is a Gaussian bump at the component's
latency. The background is 1/f activity of random dipoles plus white sensor noise; on top
come 50 Hz line noise and eye blinks on frontal channels.

The SNR of a component is defined at its peak sample on the unfiltered data:
``snr = mean over channels of var across stimuli (evoked signal) / mean over channels of
var (background)``; line noise and blinks are left out (they are removable artefacts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mne
import numpy as np
from scipy.signal import fftconvolve

from braindecode.containers import Events
from braindecode.datasets._readout import noise_ceiling_from_snr, random_readout
from braindecode.errors import InvalidArgument

MONTAGE = "colin27_1020"
CHANNELS = (
    "Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC1 FC2 FC6 T7 C3 Cz C4 T8 TP9 CP5 CP1 CP2 CP6 TP10 "
    "P7 P3 Pz P4 P8 PO9 O1 Oz O2 PO10"
).split()

#: Evoked components: peak latency and Gaussian width (s), dipole directions from the
#: sphere centre (x right, y front, z up; dipoles point outwards) and their depth (m).
COMPONENTS = {
    "early": {
        "latency": 0.100, "width": 0.020, "depth": 0.055,
        "directions": [(-0.35, -1, -0.1), (0.35, -1, -0.1), (-0.15, -1, 0.3), (0.15, -1, 0.3)],
    },
    "late": {
        "latency": 0.300, "width": 0.050, "depth": 0.055,
        "directions": [(-1, -0.6, -0.4), (1, -0.6, -0.4), (-0.8, -0.9, -0.1), (0.8, -0.9, -0.1)],
    },
}
N_BACKGROUND_DIPOLES = 64
BACKGROUND_UV = 10.0
SENSOR_NOISE_UV = 2.0
LINE_FREQ = 50.0
LINE_NOISE_UV = (1.0, 4.0)
BLINK_RATE_HZ = 0.2
BLINK_UV = (100.0, 200.0)
BLINK_SECONDS = 0.3
MEAN_RESPONSE = 1.0
TAIL_SECONDS = 1.5


@dataclass
class EegSimulation:
    """Simulated EEG runs of one subject.

    Parameters
    ----------
    runs : list of mne.io.RawArray
        Continuous recordings in volts, with the montage and one annotation per trial
        whose description is the stimulus id.
    events : list of Events
        The events of each run (onsets on the sample grid).
    ground_truth : dict
        Components with driving layer, latency, dipoles, SNR and noise ceiling; noise
        parameters; blink onsets per run.
    """

    runs: list
    events: list
    ground_truth: dict = field(default_factory=dict)


def eeg_info(sfreq: float = 250.0) -> mne.Info:
    """Measurement info of the 32-channel cap, with the ``colin27_1020`` montage."""
    info = mne.create_info(list(CHANNELS), sfreq, "eeg")
    info.set_montage(mne.channels.make_standard_montage(MONTAGE))
    info["line_freq"] = LINE_FREQ
    return info


def _dipoles(centre: np.ndarray, rng) -> tuple:
    """Signal dipoles of every component, then background dipoles, as (positions, normals)."""
    positions, normals = [], []
    for spec in COMPONENTS.values():
        for direction in spec["directions"]:
            unit = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
            positions.append(centre + spec["depth"] * unit)
            normals.append(unit)
    radius = 0.07 * rng.uniform(0, 1, N_BACKGROUND_DIPOLES) ** (1 / 3)
    toward = rng.standard_normal((N_BACKGROUND_DIPOLES, 3))
    toward /= np.linalg.norm(toward, axis=1, keepdims=True)
    orientation = rng.standard_normal((N_BACKGROUND_DIPOLES, 3))
    orientation /= np.linalg.norm(orientation, axis=1, keepdims=True)
    positions = np.vstack([positions, centre + radius[:, None] * toward])
    normals = np.vstack([normals, orientation])
    return positions, normals


def sphere_gain(info: mne.Info, positions: np.ndarray, normals: np.ndarray, sphere=None) -> np.ndarray:
    """Lead field of fixed dipoles in a sphere model fitted to the cap.

    Parameters
    ----------
    positions, normals : array of shape (n_dipoles, 3)
        Head coordinates in metres and unit orientations.
    sphere : mne.bem.ConductorModel, optional
        Defaults to ``mne.make_sphere_model("auto", "auto", info)``.

    Returns
    -------
    gain : array of shape (n_channels, n_dipoles)
        Volts per ampere-metre.
    """
    if sphere is None:
        sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    src = mne.setup_volume_source_space(pos={"rr": positions, "nn": normals}, verbose=False)
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, meg=False, verbose=False)
    free = fwd["sol"]["data"].reshape(len(info["ch_names"]), -1, 3)
    return np.einsum("cdk,dk->cd", free, normals)


def pink_noise(n_sources: int, n_times: int, sfreq: float, rng, f_min: float = 0.5) -> np.ndarray:
    """1/f (pink) noise, flat below ``f_min``, unit variance; array of shape (n_sources, n_times)."""
    freqs = np.fft.rfftfreq(n_times, 1 / sfreq)
    shape = 1 / np.sqrt(np.maximum(freqs, f_min))
    shape[0] = 0
    spectrum = (rng.standard_normal((n_sources, len(freqs))) + 1j * rng.standard_normal((n_sources, len(freqs))))
    noise = np.fft.irfft(spectrum * shape, n=n_times, axis=1)
    noise -= noise.mean(axis=1, keepdims=True)
    return noise / noise.std(axis=1, keepdims=True)


def _bump(spec: dict, sfreq: float) -> np.ndarray:
    times = np.arange(int(round((spec["latency"] + 4 * spec["width"]) * sfreq)) + 1) / sfreq
    return np.exp(-0.5 * ((times - spec["latency"]) / spec["width"]) ** 2)


def _blink_weights(info: mne.Info) -> np.ndarray:
    """Blink gain per channel: one at the channel closest to the nasion, decaying over 3 cm."""
    nasion = next(d["r"] for d in info["dig"] if d["ident"] == mne.io.constants.FIFF.FIFFV_POINT_NASION)
    distance = np.linalg.norm(np.array([ch["loc"][:3] for ch in info["chs"]]) - nasion, axis=1)
    return np.exp(-(distance - distance.min()) / 0.03)


def _blinks(n_times: int, sfreq: float, weights: np.ndarray, rng) -> tuple:
    """Blink artefacts of shape (n_channels, n_times) and their onsets in seconds."""
    duration = n_times / sfreq
    onsets = np.sort(rng.uniform(0, duration - BLINK_SECONDS, rng.poisson(BLINK_RATE_HZ * duration)))
    shape = np.sin(np.pi * np.arange(int(BLINK_SECONDS * sfreq)) / int(BLINK_SECONDS * sfreq)) ** 2
    train = np.zeros(n_times)
    starts = np.rint(onsets * sfreq).astype(int)
    np.add.at(train, starts, rng.uniform(*BLINK_UV, len(starts)) * 1e-6)
    return weights[:, None] * fftconvolve(train, shape)[:n_times][None], onsets


def simulate_eeg(
    stimulus_ids,
    drives: dict,
    runs: list,
    *,
    sfreq: float = 250.0,
    snr: float = 0.2,
    seed: int = 0,
    progress=None,
) -> EegSimulation:
    """Continuous EEG runs of one subject whose evoked components read out network layers.

    Parameters
    ----------
    stimulus_ids : array of shape (n_stimuli,)
        Row order of the arrays in ``drives``.
    drives : dict of str -> (str, array of shape (n_stimuli, n_components))
        Per component of ``COMPONENTS``: the driving layer's name and its component scores.
    runs : list of Events
        Trials per run; onsets are rounded to the sample grid.
    sfreq : float
        Sampling rate in Hz (above twice the line frequency).
    snr : float
        Single-trial SNR of each component at its peak (see the module docstring).
    seed : int
    progress : callable, optional
        ``progress(done, total)`` after each run.

    Returns
    -------
    simulation : EegSimulation
    """
    if not runs or not all(len(events) for events in runs):
        raise InvalidArgument("runs must be a non-empty list of non-empty Events")
    if set(drives) != set(COMPONENTS):
        raise InvalidArgument(f"drives must name every component: {sorted(COMPONENTS)}")
    if snr <= 0 or sfreq <= 2 * LINE_FREQ:
        raise InvalidArgument(f"need snr > 0 and sfreq > {2 * LINE_FREQ:g} Hz; got {snr}, {sfreq}")
    rng = np.random.default_rng(seed)
    index = {sid: i for i, sid in enumerate(np.asarray(stimulus_ids).astype(str))}
    info = eeg_info(sfreq)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    positions, normals = _dipoles(np.asarray(sphere["r0"]), rng)
    gain = sphere_gain(info, positions, normals, sphere)
    n_signal = sum(len(spec["directions"]) for spec in COMPONENTS.values())
    background_gain = gain[:, n_signal:]
    background_gain *= BACKGROUND_UV * 1e-6 / np.sqrt(np.mean(np.sum(background_gain**2, axis=1)))
    background_var = BACKGROUND_UV**2 + SENSOR_NOISE_UV**2  # mean channel variance, uV^2

    moments, truth_components, start = {}, {}, 0
    for name, spec in COMPONENTS.items():
        n_dip = len(spec["directions"])
        layer, components = drives[name][0], np.asarray(drives[name][1], dtype=np.float64)
        if components.shape[0] != len(index):
            raise InvalidArgument(
                f"drive of component {name!r} has {components.shape[0]} rows for {len(index)} stimuli"
            )
        readout = random_readout(components, n_dip, rng)
        g = gain[:, start:start + n_dip] * 1e6  # uV per A.m
        scale = np.sqrt(snr * background_var / np.mean((readout @ g.T).var(axis=0)))
        moments[name] = (slice(start, start + n_dip), scale * (MEAN_RESPONSE + readout))
        truth_components[name] = {
            "layer": layer, "latency_s": spec["latency"], "width_s": spec["width"],
            "window_s": [round(spec["latency"] - 2 * spec["width"], 3), round(spec["latency"] + 2 * spec["width"], 3)],
            "dipoles_head_m": np.round(positions[start:start + n_dip], 5).tolist(),
            "orientations": np.round(normals[start:start + n_dip], 5).tolist(),
            "moment_sd_nAm": float(scale * 1e9), "mean_moment_nAm": float(scale * MEAN_RESPONSE * 1e9),
            "snr": snr,
        }
        start += n_dip

    blink_weights = _blink_weights(info)
    kernels = {name: _bump(spec, sfreq) for name, spec in COMPONENTS.items()}

    raws, events_out, blink_onsets = [], [], []
    for k, events in enumerate(runs):
        samples = np.rint(events.onset * sfreq).astype(int)
        events = Events(samples / sfreq, events.duration, events.stimulus_id)
        missing = [s for s in events.stimulus_id if s not in index]
        if missing:
            raise InvalidArgument(f"run {k + 1} shows unknown stimuli, e.g. {missing[:3]}")
        rows = np.array([index[s] for s in events.stimulus_id])
        n_times = int(samples[-1] + (events.duration[-1] + TAIL_SECONDS) * sfreq)
        data = background_gain @ pink_noise(background_gain.shape[1], n_times, sfreq, rng)
        data += SENSOR_NOISE_UV * 1e-6 * rng.standard_normal(data.shape)
        for name, (cols, moment) in moments.items():
            impulses = np.zeros((moment.shape[1], n_times))
            impulses[:, samples] = moment[rows].T
            data += gain[:, cols] @ fftconvolve(impulses, kernels[name][None], axes=1)[:, :n_times]
        phase = rng.uniform(0, 2 * np.pi, (len(CHANNELS), 1))
        amplitude = rng.uniform(*LINE_NOISE_UV, (len(CHANNELS), 1)) * 1e-6
        data += amplitude * np.sin(2 * np.pi * LINE_FREQ * np.arange(n_times) / sfreq + phase)
        blinks, onsets = _blinks(n_times, sfreq, blink_weights, rng)
        data += blinks
        raw = mne.io.RawArray(data, info.copy(), verbose=False)
        raw.set_annotations(mne.Annotations(events.onset, events.duration, events.stimulus_id))
        raws.append(raw)
        events_out.append(events)
        blink_onsets.append(np.round(onsets, 3).tolist())
        if progress:
            progress(k + 1, len(runs))

    n_repeats = max(np.unique(np.concatenate([e.stimulus_id for e in runs]), return_counts=True)[1])
    for comp in truth_components.values():
        comp["noise_ceiling"] = noise_ceiling_from_snr(snr, int(n_repeats))
    truth = {
        "montage": MONTAGE, "channels": list(CHANNELS), "sfreq": sfreq, "units": "V",
        "head_model": "three-shell sphere fitted to the cap (mne.make_sphere_model), mne.make_forward_solution",
        "reference": "none: potentials against infinity",
        "snr_definition": (
            "at the component's peak sample, unfiltered: mean over channels of the variance across stimuli "
            "of the evoked signal / mean over channels of the background variance"
        ),
        "components": truth_components,
        "background": {"type": "1/f dipoles + white sensor noise", "n_dipoles": N_BACKGROUND_DIPOLES,
                       "rms_uv": BACKGROUND_UV, "sensor_rms_uv": SENSOR_NOISE_UV},
        "line_noise": {"freq_hz": LINE_FREQ, "amplitude_uv": list(LINE_NOISE_UV)},
        "blinks": {"rate_hz": BLINK_RATE_HZ, "amplitude_uv": list(BLINK_UV), "duration_s": BLINK_SECONDS,
                   "peak_channels": [CHANNELS[i] for i in np.argsort(-blink_weights)[:2]],
                   "onsets_s": blink_onsets},
        "seed": seed,
    }
    return EegSimulation(raws, events_out, truth)
