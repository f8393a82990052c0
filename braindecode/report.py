"""The demo's HTML report: figures (PNG, matplotlib) and tables in one self-contained folder."""

from __future__ import annotations

import gzip
import html
import json
import pathlib
import re
import subprocess
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from braindecode.errors import FailedPrecondition  # noqa: E402

FIGURES = ("layer_roi.png", "encoding_map.png", "retrieval.png", "eeg_time_course.png", "reconstructions.png")
#: The new-subject curve's figure, in reports of demos run with ``cross_subject``.
CROSS_SUBJECT_FIGURE = "cross_subject.png"


#: Significance level of the RSA p-values (FDR-corrected over layers).
ALPHA = 0.05


def _significant_layers(result: dict) -> list:
    """Layers whose RSA p-value (FDR-corrected when there is one) is below ``ALPHA``; every layer without p-values."""
    def p_value(score):
        return score["p_value_fdr"] if score.get("p_value_fdr") is not None else score.get("p_value")

    return [s["name"] for s in result["scores"] if p_value(s) is None or p_value(s) < ALPHA]


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
    ax.set_xticks(range(len(rois)), [f"{r}\ntrue: {truth[r]['layer'] or 'none'}" for r in rois], fontsize=9)
    ax.set_yticks(range(len(layers)), layers)
    ax.set_ylabel("EfficientNet-Lite0 layer")
    for j, roi in enumerate(rois):
        if _significant_layers(rsa[roi]):
            best = int(np.argmax(scores[:, j]))
            ax.add_patch(plt.Rectangle((j - 0.5, best - 0.5), 1, 1, fill=False, lw=2, ec="k"))
    fig.colorbar(image, ax=ax, label="Spearman RSA")
    ax.set_title(f"Layer x ROI RSA (box: best layer, FDR p < {ALPHA})")
    for j, roi in enumerate(rois):
        ceiling = rsa[roi].get("noise_ceiling") or {}
        best = max(rsa[roi]["scores"], key=lambda s: s["score"])
        low, high = best.get("ci_low", best["score"]), best.get("ci_high", best["score"])
        bars.bar(j, best["score"], width=0.5, color="tab:blue", zorder=2)
        bars.errorbar(j, best["score"], yerr=[[best["score"] - low], [high - best["score"]]], color="k", capsize=4,
                      zorder=3)
        if ceiling:  # behind the bar, wider than it
            bars.fill_between([j - 0.4, j + 0.4], ceiling.get("lower", 0), ceiling.get("upper", 0),
                              color="lightgrey", zorder=1, label="noise ceiling" if j == 0 else None)
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


def mindeye_text(retrieval: dict, chance: bool = True) -> str:
    """The MindEye top-1 of the demo's retrieval, in words: a mean ± sd over random draws of candidates,
    or, when every test stimulus is a candidate, the single draw among them.

    Parameters
    ----------
    retrieval : dict
        ``mindeye_top1_mean``, ``mindeye_top1_sd``, ``mindeye_draws``, ``n_candidates``, ``n_test`` and
        ``chance`` of the demo's summary.
    chance : bool
        Also say the chance level.
    """
    r = retrieval
    if r["mindeye_draws"] > 1:
        text = (f"{r['mindeye_top1_mean']:.3f} ± {r['mindeye_top1_sd']:.3f} (top-1 among {r['n_candidates']}, sd over "
                f"{r['mindeye_draws']} random draws of {r['n_candidates']} of the {r['n_test']} test stimuli")
    else:
        text = (f"{r['mindeye_top1_mean']:.3f} (top-1 among {r['n_candidates']}: a single draw, every one of the "
                f"{r['n_test']} test stimuli a candidate, since MindEye draws 300 of them")
    return text + (f"; chance {r['chance']:.3f})" if chance else ")")


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
    ax.set_title(f"Retrieval; MindEye top-1: {mindeye_text(decoding, chance=False)}", fontsize="small")
    ax.legend(loc="best")
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


def plot_reconstructions(recon: dict, path: pathlib.Path, per_row: int = 6) -> str:
    """Held-out stimuli above their reconstructions from decoded fMRI, ``per_row`` pairs to a row."""
    n = len(recon["ids"])
    n_rows, n_cols = -(-n // per_row), min(n, per_row)
    fig, axes = plt.subplots(2 * n_rows, n_cols, figsize=(1.6 * n_cols + 1.2, 3.6 * n_rows), squeeze=False,
                             gridspec_kw={"hspace": 0.3})
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        seen, reconstructed = axes[2 * (i // per_row), i % per_row], axes[2 * (i // per_row) + 1, i % per_row]
        seen.imshow(recon["originals"][i])
        seen.set_title(recon["ids"][i], fontsize=9)
        reconstructed.imshow(recon["images"][i])
    for row in range(n_rows):
        for offset, label in enumerate(("seen", "reconstructed")):
            axes[2 * row + offset, 0].text(-0.08, 0.5, label, transform=axes[2 * row + offset, 0].transAxes,
                                           ha="right", va="center")
    return _save(fig, path)


#: Curve labels of ``new_subject_curve``'s decoders, in plotting order.
CURVE_LABELS = {"subject_only": "subject-only", "fine_tuned": "shared + fine-tuned", "aligned": "aligned baseline"}


def curve_table(curve: dict) -> tuple:
    """Header and rows (strings) of a new-subject curve: top-1 mean ± sd over seeds per run count."""
    header = ["runs of the new subject"] + [CURVE_LABELS[name] for name in CURVE_LABELS]
    rows = []
    for i, count in enumerate(curve["run_counts"]):
        cells = [f"{np.mean(curve['top_1'][name][i]):.3f} ± {np.std(curve['top_1'][name][i]):.3f}"
                 for name in CURVE_LABELS]
        rows.append([str(count)] + cells)
    return header, rows


def plot_new_subject_curve(curve: dict, path: pathlib.Path) -> str:
    """Top-1 retrieval of a new subject's test stimuli against its number of runs, one line per decoder."""
    counts = curve["run_counts"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, label in CURVE_LABELS.items():
        scores = np.asarray(curve["top_1"][name])
        ax.errorbar(counts, scores.mean(axis=1), yerr=scores.std(axis=1), fmt="o-", capsize=3, label=label)
    ax.axhline(1 / curve["n_test_stimuli"], color="grey", ls="--", label="chance")
    ax.set_xticks(counts)
    ax.set_xlabel("runs of the new subject used for fitting")
    ax.set_ylabel(f"top-1 among its {curve['n_test_stimuli']} test stimuli")
    ax.set_ylim(bottom=0)
    ax.set_title(f"New subject; mean ± sd over {len(curve['seeds'])} training seed(s)")
    ax.legend(loc="best")
    return _save(fig, pathlib.Path(path))


def _table(rows: list, header: list) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _recovered(result: dict, row: dict) -> str:
    """Whether RSA found the truth: the driving layer is the best, or, undriven, no layer is significant."""
    if row["true_layer"] is not None:
        return "yes" if row["best_layer"] == row["true_layer"] else "no"
    return "no" if _significant_layers(result) else f"yes (no layer at FDR p < {ALPHA})"


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
    rsa_rows = [[roi, row["true_layer"] or "none", row["best_layer"], _recovered(rsa[roi], row),
                 " ".join(f"{k}={v:+.3f}" for k, v in row["scores"].items())]
                for roi, row in summary["rsa"].items()]
    r = summary["retrieval"]
    decoder = r["decoder"]
    eeg_rows = [[name, row["layer"], f"{1000 * row['peak_s']:.0f} ms",
                 f"{1000 * row['true_window_s'][0]:.0f}-{1000 * row['true_window_s'][1]:.0f} ms"]
                for name, row in summary["eeg"].items()]
    cross_subject = ""
    if "cross_subject" in summary:
        curve = summary["cross_subject"]
        figures["Cross-subject decoding"] = plot_new_subject_curve(curve, folder / CROSS_SUBJECT_FIGURE)
        header, rows = curve_table(curve)
        cross_subject = f"""<h3>Cross-subject decoding</h3>
<p>A second data set of {len(curve['n_voxels'])} individual subjects (their own ROI positions, voxel counts
{", ".join(f"{s}: {n}" for s, n in curve['n_voxels'].items())}, and SNRs). A shared decoder (per-subject linear
adapters, one shared head) is fitted on {", ".join(curve['training_subjects'])}; the new subject
{curve['new_subject']} is then decoded from its first runs by that decoder fine-tuned on them (its new adapter starting
from the ridge of its voxels onto the shared latent of the same stimuli), by the same architecture
fitted on them alone, and by {curve['template']}'s ridge decoder after Procrustes alignment on their stimuli.
Top-1 among its {curve['n_test_stimuli']} test stimuli (chance {1 / curve['n_test_stimuli']:.3f}):</p>
{_table(rows, header)}"""
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
<p>{config['n_stimuli']} photographs ({config['n_test']} held out), {config['n_subjects']} simulated
subject{"s" if config['n_subjects'] != 1 else ""},
{config['n_runs']} runs per modality, seed {config['seed']}. Recordings, activations, models and reconstructions
went through the gRPC server at <code>{html.escape(summary['server'])}</code>.</p>
<h2>Summary</h2>
<h3>Which layer explains each region?</h3>
{_table(rsa_rows, ["ROI", "true driving layer", "best layer (RSA)", "recovered", "scores"])}
<h3>Retrieval</h3>
<p>Ridge decoder from the {decoder['n_voxels']} voxels of the {", ".join(decoder['rois'])} ROIs to the
network's pooled embedding, fitted on {decoder['n_train_trials']} training trials (one LSS GLM per run), applied to
the test trials with their repeats averaged. MindEye protocol: <b>{mindeye_text(r)}</b>,
{r['mindeye_top1_mean'] / r['chance']:.1f} x chance.</p>
<h3>EEG latency</h3>
{_table(eeg_rows, ["component", "driving layer", "decoding peak", "true window"])}
<h3>Reconstruction</h3>
{_table([[k, f"{v:.3f}"] for k, v in summary["reconstruction"].items()], ["metric", "value"])}
{cross_subject}
{sections}
</body></html>
"""
    out = folder / "index.html"
    out.write_text(page)
    return out


#: Appended to a copy of the page: once everything has loaded, it writes the page height and the state of
#: every image into the DOM as JSON, which ``chromium --dump-dom`` prints.
_PROBE = """<script>
addEventListener("load", () => {
  const probe = document.createElement("script");
  probe.type = "application/json";
  probe.id = "render-probe";
  probe.textContent = JSON.stringify({
    height: document.documentElement.scrollHeight,
    images: [...document.images].map(img => ({src: img.getAttribute("src"), width: img.width, height: img.height,
                                              loaded: img.complete && img.naturalWidth > 0}))});
  document.body.append(probe);
});
</script>"""


def _chromium(chromium: str, args: list, profile: str, timeout: float) -> str:
    """Run headless Chromium with ``args``; its stdout."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise FailedPrecondition(f"{chromium!r} not found: install Chromium (Debian: apt-get install chromium)"
                                 ) from None
    except subprocess.TimeoutExpired:
        raise FailedPrecondition(f"{chromium} took longer than {timeout} s") from None
    if done.returncode != 0:
        raise FailedPrecondition(f"{chromium} exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def render_report(html_path, png_path, width: int = 1280, chromium: str = "chromium", timeout: float = 120) -> dict:
    """Open a report in headless Chromium: what the browser loaded, and a screenshot of the whole page.

    Parameters
    ----------
    html_path : path-like
        The report's ``index.html``.
    png_path : path-like
        The screenshot to write: PNG of shape (page height, ``width``).
    width : int
        Window width in CSS pixels.
    chromium : str
        The Chromium executable (Debian's ``chromium`` package).
    timeout : float
        Seconds each of the two Chromium runs may take.

    Returns
    -------
    page : dict
        ``height``: the page's, in pixels; ``images``: per ``<img>`` of the page, its ``src``, whether it
        ``loaded`` (decoded, with a non-zero natural size) and its rendered ``width`` and ``height``.
    """
    html_path, png_path = pathlib.Path(html_path).resolve(), pathlib.Path(png_path).resolve()
    # the probe copy lives elsewhere: <base> resolves the page's relative links against the report folder
    base = f'<base href="{html.escape(html_path.parent.as_uri())}/">'
    probe_page = html_path.read_text().replace("<head>", "<head>" + base, 1).replace("</body>", _PROBE + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="render-report-") as tmp:
        probe, profile = pathlib.Path(tmp) / "probe.html", str(pathlib.Path(tmp) / "profile")
        probe.write_text(probe_page)
        dom = _chromium(chromium, [f"--window-size={width},800", "--virtual-time-budget=10000", "--dump-dom",
                                   probe.as_uri()], profile, timeout)
        found = re.search(r'<script type="application/json" id="render-probe">(.*?)</script>', dom, re.S)
        if found is None:
            raise FailedPrecondition(f"Chromium did not finish loading {html_path}")
        state = json.loads(found.group(1))
        _chromium(chromium, [f"--window-size={width},{state['height']}", f"--screenshot={png_path}",
                             html_path.as_uri()], profile, timeout)
    return state
