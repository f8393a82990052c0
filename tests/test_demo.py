"""The demo through a real server: a small run recovers the simulated ground truth; the default run writes the report."""

import pathlib

import pytest

from braindecode.demo import DemoConfig, run_demo
from braindecode.report import FIGURES


def _check_report(out: pathlib.Path):
    report = out / "report" / "index.html"
    page = report.read_text()
    for name in FIGURES:
        assert (out / "report" / name).stat().st_size > 5000, name
        assert f'src="{name}"' in page


def test_small_demo_recovers_the_ground_truth(tmp_path):
    summary = run_demo(DemoConfig(out_dir=str(tmp_path), n_stimuli=120, n_test=40, n_subjects=1, n_runs=3,
                                  n_bootstrap=100, n_reconstructions=4, reconstruction_steps=1, progress=False))
    rsa = summary["rsa"]
    for roi in ("early", "mid", "late"):
        assert rsa[roi]["best_layer"] == rsa[roi]["true_layer"], (roi, rsa[roi]["scores"])
    control = rsa["control"]
    assert control["true_layer"] is None
    assert max(abs(s) for s in control["scores"].values()) < 0.1, control["scores"]
    assert min(control["p_values_fdr"].values()) > 0.05, control["p_values_fdr"]  # no layer, FDR over layers
    retrieval = summary["retrieval"]
    assert retrieval["mindeye_top1_mean"] > 2 * retrieval["chance"], retrieval
    for name, row in summary["eeg"].items():
        lo, hi = row["true_window_s"]
        assert lo - 0.02 <= row["peak_s"] <= hi + 0.02, (name, row)
    _check_report(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_default_demo_writes_the_report(tmp_path):
    summary = run_demo(DemoConfig(out_dir=str(tmp_path), progress=False))
    _check_report(tmp_path)
    assert set(summary["rsa"]) == {"early", "mid", "late", "control"}
