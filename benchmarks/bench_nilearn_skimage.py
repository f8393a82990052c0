"""Benchmark: our fMRI cleaning and drift basis against nilearn; the EPI mask and SSIM calls over their libraries.

In one process, on the same data (the tests compare the results):

1. ``preprocessing.clean`` against ``nilearn.signal.clean`` on float32 signals of 300 scans x
   20,000 voxels (TR 2 s): linear detrend, 0.01 Hz high-pass and z-score, with the cosine drift
   basis and with the Butterworth filter;
2. ``preprocessing.cosine_drift`` against ``nilearn.signal.create_cosine_drift`` (300 scans, TR 2 s);
3. ``preprocessing.compute_epi_mask`` (checks, an array in and a boolean array out, over
   ``nilearn.masking.compute_epi_mask``) against the bare nilearn call on a 64 x 64 x 40 x 150
   float32 EPI (a bright head in noise, slow drifts);
4. ``reconstruction.ssim`` (over ``skimage.metrics.structural_similarity``, Gaussian weights,
   sigma 1.5, as MindEye) against the bare loop over 32 pairs of 128 x 128 RGB images, on luma
   and on the RGB channels.

Our own copies of the SPM HRF, the EPI mask and SSIM, timed against the same library calls by
the first version of this script (the commit that added it), were slower and were replaced by
them (benchmarks/RESULTS.md).
Each timing is the best of ``--repeats`` runs (cases that take microseconds run ``--loops`` times
per run). Usage: python benchmarks/bench_nilearn_skimage.py [--repeats 5] [--loops 200]
Prints ``ratio <what>: <peer_time/our_time>x`` lines (above 1: we are faster).
"""

from __future__ import annotations

import argparse
import time
import warnings
from importlib.metadata import version

import nibabel
import numpy as np
from nilearn import signal as nilearn_signal
from nilearn.masking import compute_epi_mask as nilearn_compute_epi_mask
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from braindecode.preprocessing import clean, compute_epi_mask, cosine_drift
from braindecode.reconstruction import ssim

T_R = 2.0
HIGH_PASS = 0.01


def best_time(function, repeats: int, loops: int = 1) -> float:
    """Seconds per call: the shortest of ``repeats`` runs of ``loops`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            function()
        times.append((time.perf_counter() - start) / loops)
    return min(times)


def report(what: str, ours: float, peer: float, peer_name: str, difference: str) -> None:
    print(f"{what}: ours {ours * 1e3:.3f} ms, {peer_name} {peer * 1e3:.3f} ms, {difference}")
    print(f"ratio {what}: {peer / ours:.2f}x")


def bench_clean(repeats: int) -> None:
    rng = np.random.default_rng(0)
    n_scans, n_voxels = 300, 20_000
    scans = np.arange(n_scans)[:, None] * T_R
    drift = np.sin(2 * np.pi * scans / 400.0) * rng.normal(size=n_voxels) + 0.01 * scans
    signals = (100 + drift + rng.normal(size=(n_scans, n_voxels))).astype(np.float32)
    for filter in ("cosine", "butterworth"):
        def ours():
            return clean(signals, t_r=T_R, detrend=True, high_pass=HIGH_PASS, filter=filter, zscore=True)

        def peer():
            return nilearn_signal.clean(signals, t_r=T_R, detrend=True, high_pass=HIGH_PASS, filter=filter,
                                        standardize="zscore_sample")

        error = np.abs(ours() - peer()).max()
        report(f"clean {filter} ({n_scans} scans x {n_voxels} voxels)", best_time(ours, repeats),
               best_time(peer, repeats), "nilearn.signal.clean", f"max abs difference {error:.1e}")


def bench_cosine_drift(repeats: int, loops: int) -> None:
    n_scans = 300
    frame_times = np.arange(n_scans) * T_R
    error = np.abs(cosine_drift(n_scans, T_R, HIGH_PASS)
                   - nilearn_signal.create_cosine_drift(HIGH_PASS, frame_times)[:, :-1]).max()
    report(f"cosine_drift ({n_scans} scans)", best_time(lambda: cosine_drift(n_scans, T_R, HIGH_PASS), repeats, loops),
           best_time(lambda: nilearn_signal.create_cosine_drift(HIGH_PASS, frame_times), repeats, loops),
           "nilearn create_cosine_drift", f"max abs difference {error:.1e}")


def bench_epi_mask(repeats: int) -> None:
    rng = np.random.default_rng(0)
    shape, n_scans = (64, 64, 40), 150
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    head = ((grid / np.array([0.75, 0.85, 0.8])[:, None, None, None]) ** 2).sum(0) < 1
    mean = np.where(head, 800 + 100 * grid[2], 40)
    drift = 1 + 0.02 * np.sin(np.linspace(0, 3, n_scans))
    data = (mean[..., None] * drift + rng.normal(0, 20, shape + (n_scans,))).astype(np.float32)
    image = nibabel.Nifti1Image(data, np.eye(4))
    ours = compute_epi_mask(data)
    differing = int((ours != nilearn_compute_epi_mask(image).get_fdata().astype(bool)).sum())
    report(f"compute_epi_mask ({' x '.join(map(str, shape))} x {n_scans})",
           best_time(lambda: compute_epi_mask(data), repeats),
           best_time(lambda: nilearn_compute_epi_mask(image), repeats), "nilearn compute_epi_mask",
           f"{differing} of {ours.size} voxels differ")


def bench_ssim(repeats: int) -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 256, (32, 128, 128, 3), dtype=np.uint8)
    images = np.clip(targets + rng.normal(0, 40, targets.shape), 0, 255).astype(np.uint8)
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    for gray in (True, False):
        def peer():
            if gray:
                return [structural_similarity(rgb2gray(x / 255), rgb2gray(y / 255), **kwargs)
                        for x, y in zip(images, targets)]
            return [structural_similarity(x / 255, y / 255, channel_axis=-1, **kwargs) for x, y in zip(images, targets)]

        error = np.abs(ssim(images, targets, gray=gray) - peer()).max()
        report(f"ssim {'luma' if gray else 'rgb'} (32 pairs of 128 x 128)",
               best_time(lambda: ssim(images, targets, gray=gray), repeats), best_time(peer, repeats),
               "skimage structural_similarity", f"max abs difference {error:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loops", type=int, default=200, help="calls per run of the microsecond cases")
    args = parser.parse_args()
    print(f"braindecode vs nilearn {version('nilearn')} and scikit-image {version('scikit-image')}, "
          f"numpy {np.__version__}; best of {args.repeats}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench_clean(args.repeats)
        bench_cosine_drift(args.repeats, args.loops)
        bench_epi_mask(args.repeats)
        bench_ssim(args.repeats)


if __name__ == "__main__":
    main()
