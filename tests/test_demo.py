"""The demo through a real server: a small run recovers the simulated ground truth and writes a report that
headless Chromium renders; the default run writes the report."""

import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from braindecode.demo import DemoConfig, run_demo
from braindecode.errors import FailedPrecondition
from braindecode.report import FIGURES, mindeye_text, render_report

#: "Far above chance": MindEye top-1 of the small run at least this many times chance (it reached 6-10x
#: chance on data sets of seeds 0 to 3).
RETRIEVAL_OVER_CHANCE = 5


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = run_demo(DemoConfig(out_dir=str(out), n_stimuli=120, n_test=40, n_subjects=1, n_runs=3,
                                  n_bootstrap=100, n_reconstructions=4, reconstruction_steps=1, progress=False))
    return out, summary


def _check_report(out: pathlib.Path):
    report = out / "report" / "index.html"
    page = report.read_text()
    for name in FIGURES:
        assert (out / "report" / name).stat().st_size > 5000, name
        assert f'src="{name}"' in page


def test_small_demo_recovers_the_ground_truth(small_demo):
    out, summary = small_demo
    rsa = summary["rsa"]
    for roi in ("early", "mid", "late"):
        assert rsa[roi]["best_layer"] == rsa[roi]["true_layer"], (roi, rsa[roi]["scores"])
    control = rsa["control"]
    assert control["true_layer"] is None
    assert max(abs(s) for s in control["scores"].values()) < 0.1, control["scores"]
    assert min(control["p_values_fdr"].values()) > 0.05, control["p_values_fdr"]  # no layer, FDR over layers
    retrieval = summary["retrieval"]
    assert retrieval["n_candidates"] == retrieval["n_test"] == 40 and retrieval["mindeye_draws"] == 1
    assert "± 0.000" not in (out / "report" / "index.html").read_text()
    assert retrieval["mindeye_top1_mean"] >= RETRIEVAL_OVER_CHANCE * retrieval["chance"], retrieval
    for name, row in summary["eeg"].items():
        lo, hi = row["true_window_s"]
        assert lo - 0.02 <= row["peak_s"] <= hi + 0.02, (name, row)
    _check_report(out)


def test_mindeye_text_says_a_single_draw_when_every_test_stimulus_is_a_candidate():
    few = {"mindeye_top1_mean": 0.18, "mindeye_top1_sd": 0.0, "mindeye_draws": 1, "n_candidates": 100,
           "n_test": 100, "chance": 0.01}
    assert mindeye_text(few) == ("0.180 (top-1 among 100: a single draw, every one of the 100 test stimuli a "
                                 "candidate, since MindEye draws 300 of them; chance 0.010)")
    many = dict(few, mindeye_top1_sd=0.02, mindeye_draws=30, n_candidates=300, n_test=982, chance=1 / 300)
    assert mindeye_text(many, chance=False) == ("0.180 ± 0.020 (top-1 among 300, sd over 30 random draws of 300 "
                                                "of the 982 test stimuli)")


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs Debian's chromium package on PATH (scripts/test.sh installs it in CI)")


@needs_chromium
def test_render_report_tells_a_missing_figure(tmp_path):
    Image.new("RGB", (300, 200), "navy").save(tmp_path / "shown.png")
    (tmp_path / "index.html").write_text('<!doctype html><html><head><title>t</title></head><body><h1>t</h1>'
                                         '<img src="shown.png" alt="shown"><img src="missing.png" alt="missing">'
                                         '</body></html>')
    page = render_report(tmp_path / "index.html", tmp_path / "page.png", width=640)
    shown, missing = page["images"]
    assert shown == {"src": "shown.png", "width": 300, "height": 200, "loaded": True}
    assert missing["src"] == "missing.png" and not missing["loaded"]
    screenshot = np.asarray(Image.open(tmp_path / "page.png").convert("RGB"))
    assert screenshot.shape == (page["height"], 640, 3)
    assert (np.abs(screenshot.astype(int) - [0, 0, 128]).sum(axis=2) < 30).sum() >= 0.9 * 300 * 200  # the navy image


def test_render_report_names_a_missing_chromium(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><html><head></head><body></body></html>")
    with pytest.raises(FailedPrecondition, match="'no-such-chromium' not found"):
        render_report(tmp_path / "index.html", tmp_path / "page.png", chromium="no-such-chromium")


@needs_chromium
def test_small_demo_report_renders_in_chromium(small_demo, tmp_path):
    out, _ = small_demo
    page = render_report(out / "report" / "index.html", tmp_path / "report.png", width=1280)
    assert [image["src"] for image in page["images"]] == list(FIGURES)
    for image in page["images"]:
        assert image["loaded"], image
        assert image["width"] >= 400 and image["height"] >= 200, image  # legible, not shrunk
    screenshot = np.asarray(Image.open(tmp_path / "report.png").convert("L"))
    assert screenshot.shape == (page["height"], 1280)
    assert page["height"] > sum(image["height"] for image in page["images"])  # figures and the tables above
    ink = screenshot < 200  # the page is white; text, tables and figures are not
    assert ink.mean() > 0.05, ink.mean()
    rows_with_ink = ink.any(axis=1)
    assert rows_with_ink[: page["height"] // 10].any() and rows_with_ink[-page["height"] // 4:].any()


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_default_demo_writes_the_report(tmp_path):
    summary = run_demo(DemoConfig(out_dir=str(tmp_path), progress=False))
    _check_report(tmp_path)
    assert set(summary["rsa"]) == {"early", "mid", "late", "control"}
    retrieval = summary["retrieval"]
    assert retrieval["mindeye_top1_mean"] >= 10 * retrieval["chance"], retrieval
