"""The demo's HTML report: figures (PNG, matplotlib) and tables in one self-contained folder."""

from __future__ import annotations

import gzip
import html
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIGURES = ("layer_roi.png", "encoding_map.png", "retrieval.png", "eeg_time_course.png", "reconstructions.png")


def _save(fig, path: pathlib.Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def plot_layer_roi(rsa: dict, truth: dict, path: pathlib.Path) -> str:
    """Layer x ROI matrix of RSA scores, the noise ceiling of each ROI beside it."""
    rois = list(rsa)
    layers = [s["name"] for s in rsa[rois[0]]["scores"]]
    scores = np.array([[s["score"] for s in rsa[roi]["scores"]] for roi in rois]).T
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1.2, 1]})
    limit = max(np.abs(scores).max(), 1e-3)
    image = ax.imshow(scores, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(rois)), [f"{r}\n(true: {truth[r]['layer']})" for r in rois])
    ax.set_yticks(range(len(layers)), layers)
    ax.set_ylabel("EfficientNet-Lite0 layer")
    for j, roi in enumerate(rois):
        best = int(np.argmax(scores[:, j]))
        ax.add_patch(plt.Rectangle((j - 0.5, best - 0.5), 1, 1, fill=False, lw=2, ec="k"))
    fig.colorbar(image, ax=ax, label="Spearman RSA")
    ax.set_title("Layer x ROI RSA (box: best layer)")
    for j, roi in enumerate(rois):
        ceiling = rsa[roi].get("noise_ceiling") or {}
        best = max(rsa[roi]["scores"], key=lambda s: s["score"])
        low, high = best.get("ci_low", best["score"]), best.get("ci_high", best["score"])
        bars.bar(j, best["score"], color="tab:blue", alpha=0.8)
        bars.errorbar(j, best["score"], yerr=[[best["score"] - low], [high - best["score"]]], color="k", capsize=4)
        if ceiling:
            bars.fill_between([j - 0.4, j + 0.4], ceiling.get("lower", 0), ceiling.get("upper", 0),
                              color="grey", alpha=0.35, label="noise ceiling" if j == 0 else None)
    bars.set_xticks(range(len(rois)), rois)
    bars.axhline(0, color="k", lw=0.8)
    bars.set_ylabel("best layer's RSA (95% CI)")
    bars.set_title("Best layer per ROI vs noise ceiling")
    if any(rsa[r].get("noise_ceiling") for r in rois):
        bars.legend(loc="upper right")
    return _save(fig, path)


def plot_encoding_map(nifti_bytes: bytes, masks: dict, path: pathlib.Path) -> str:
    """Per-voxel encoding scores of a held-out run on axial, coronal and sagittal slices."""
    import nibabel as nib

    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes) if nifti_bytes[:2] == b"\x1f\x8b" else nifti_bytes)
    data = np.asarray(image.dataobj, dtype=float)
    data = data[..., 0] if data.ndim == 4 else data
    brain = np.asarray(nib.load(masks["brain"]).dataobj) > 0
    finite = np.where(np.isfinite(data), data, 0.0)
    centre = np.unravel_index(np.argmax(finite), finite.shape)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    limit = max(np.nanmax(np.abs(finite)), 1e-3)
    for ax, axis, name in zip(axes, (2, 1, 0), ("axial", "coronal", "sagittal")):
        take = lambda a: np.take(a, centre[axis], axis=axis).T  # noqa: E731
        ax.imshow(take(brain.astype(float)), cmap="gray", origin="lower", alpha=0.5)
        shown = np.ma.masked_where(~take(brain) | (take(finite) == 0), take(finite))
        im = ax.imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit, origin="lower")
        ax.set_title(f"{name} slice {centre[axis]}")
        ax.axis("off")
    fig.colorbar(im, ax=axes, label="held-out r", shrink=0.8)
    fig.suptitle("Encoding model (banded ridge, early + late layer): held-out score map")
    return _save(fig, path)


def plot_retrieval(decoding: dict, path: pathlib.Path) -> str:
    """Top-k retrieval accuracy among the held-out stimuli, against chance."""
    ks, acc = decoding["topk_ks"], decoding["topk_accuracy"]
    n = decoding["n_candidates"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, acc, "o-", label="decoded fMRI -> image")
    ax.plot(ks, [k / n for k in ks], "--", color="grey", label="chance")
    ax.set_xlabel("k")
    ax.set_ylabel(f"top-k accuracy among {n} test stimuli")
    ax.set_ylim(0, 1)
    ax.set_title(f"Retrieval; MindEye top-1: {decoding['mindeye_top1_mean']:.2f} ± {decoding['mindeye_top1_sd']:.2f}")
    ax.legend()
    return _save(fig, path)


def plot_eeg(eeg: dict, path: pathlib.Path) -> str:
    """Time-resolved EEG decoding (2-way identification) per driving layer, true windows shaded."""
    centres = 1000 * np.asarray(eeg["window_centres_s"])
    fig, ax = plt.subplots(figsize=(8, 4))
    for (name, curve), colour in zip(eeg["curves"].items(), ("tab:blue", "tab:orange", "tab:green")):
        ax.plot(centres, curve["scores"], "-o", ms=3, color=colour, label=f"{name} ({curve['layer']})")
        lo, hi = curve["true_window_s"]
        ax.axvspan(1000 * lo, 1000 * hi, color=colour, alpha=0.15)
    ax.axhline(0.5, color="grey", ls="--", label="chance")
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("held-out 2-way identification")
    ax.set_title("EEG decoding time course (shaded: true latency windows)")
    ax.legend()
    return _save(fig, path)


def plot_reconstructions(recon: dict, path: pathlib.Path) -> str:
    """Held-out stimuli (top) next to their reconstructions from decoded fMRI (bottom)."""
    n = len(recon["ids"])
    fig, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.2), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(recon["originals"][i])
        axes[1, i].imshow(recon["images"][i])
        axes[0, i].set_title(recon["ids"][i], fontsize=7)
        for row in (0, 1):
            axes[row, i].axis("off")
    axes[0, 0].text(-0.1, 0.5, "seen", transform=axes[0, 0].transAxes, ha="right", va="center")
    axes[1, 0].text(-0.1, 0.5, "reconstructed", transform=axes[1, 0].transAxes, ha="right", va="center")
    return _save(fig, path)


def _table(rows: list, header: list) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(folder, dataset, summary, rsa, decoding, eeg, recon, encoding) -> pathlib.Path:
    """Write ``folder/index.html`` and its figures; returns the HTML path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth = dataset.ground_truth["rois"]
    figures = {
        "Layer x ROI representational similarity": plot_layer_roi(rsa, truth, folder / FIGURES[0]),
        "Encoding score map": plot_encoding_map(encoding["score_map_nifti"], dataset.files["masks"],
                                                folder / FIGURES[1]),
        "Retrieval": plot_retrieval(decoding, folder / FIGURES[2]),
        "EEG time course": plot_eeg(eeg, folder / FIGURES[3]),
        "Stimuli and reconstructions": plot_reconstructions(recon, folder / FIGURES[4]),
    }
    rsa_rows = [[roi, row["true_layer"], row["best_layer"],
                 "yes" if row["true_layer"] in (None, row["best_layer"]) else "no",
                 " ".join(f"{k}={v:+.3f}" for k, v in row["scores"].items())]
                for roi, row in summary["rsa"].items()]
    r = summary["retrieval"]
    eeg_rows = [[name, row["layer"], f"{1000 * row['peak_s']:.0f} ms",
                 f"{1000 * row['true_window_s'][0]:.0f}-{1000 * row['true_window_s'][1]:.0f} ms"]
                for name, row in summary["eeg"].items()]
    sections = "".join(f'<h2>{html.escape(title)}</h2><img src="{name}" alt="{html.escape(title)}">'
                       for title, name in figures.items())
    config = summary["config"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>braindecode demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
img {{ max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0 1.5em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 14px; }}
th {{ background: #f3f3f3; }}
</style></head><body>
<h1>braindecode demo</h1>
<p>{config['n_stimuli']} photographs ({config['n_test']} held out), {config['n_subjects']} simulated subjects,
{config['n_runs']} runs per modality, seed {config['seed']}. Recordings, activations, models and reconstructions
went through the gRPC server at <code>{html.escape(summary['server'])}</code>.</p>
<h2>Summary</h2>
<h3>Which layer explains each region?</h3>
{_table(rsa_rows, ["ROI", "true driving layer", "best layer (RSA)", "recovered", "scores"])}
<h3>Retrieval</h3>
<p>MindEye protocol, top-1 among {r['n_candidates']} candidates, 30 repeats:
<b>{r['mindeye_top1_mean']:.3f} ± {r['mindeye_top1_sd']:.3f}</b> (chance {r['chance']:.3f}).</p>
<h3>EEG latency</h3>
{_table(eeg_rows, ["component", "driving layer", "decoding peak", "true window"])}
<h3>Reconstruction</h3>
{_table([[k, f"{v:.3f}"] for k, v in summary["reconstruction"].items()], ["metric", "value"])}
{sections}
</body></html>
"""
    out = folder / "index.html"
    out.write_text(page)
    return out

