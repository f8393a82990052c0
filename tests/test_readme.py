"""The commands and Python blocks of the README and of the user guide (``docs/``), run as written
against a real server on a fresh store.

``DOCUMENTS`` lists the Markdown files run this way, and ``BUILDS_ON`` the pages whose blocks run
before a page's own (as a reader follows them: every guide page starts from the quickstart's server);
the placeholders are the files they name, written from real recordings that PyPI packages ship
(nitime's fMRI, EEG exported by mne.export, BIDS datasets of both).
"""

import pathlib
import shutil

import bids_datasets
import docs_harness
import mne
import pytest
import real_files
from reconstruction import tiny_models

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs"
DOCUMENTS = [ROOT / "README.md"] + [GUIDE / f"{page}.md" for page in (
    "quickstart", "recordings", "analysis", "reconstruction", "jobs", "security", "configuration", "grpc-api")]
BUILDS_ON = {"quickstart.md": [], "jobs.md": [GUIDE / "quickstart.md", GUIDE / "analysis.md"],
             "reconstruction.md": [GUIDE / "quickstart.md", GUIDE / "analysis.md"]}


def _bold(path):
    shutil.copyfile(real_files.FMRI1, path)  # 40 volumes, TR 1.35 s


def _events(path):
    rows = [f"{4 + 8 * i}\t2.0\timage-{i % 3}\t{'train' if i < 4 else 'test'}" for i in range(6)]
    path.write_text("onset\tduration\tstimulus_id\tsplit\n" + "\n".join(rows) + "\n")


def _brainvision(path):
    raw = real_files.make_raw(seconds=10)
    raw.set_annotations(mne.Annotations([1.0, 4.0], [0.5, 0.5], ["cat", "dog"]))
    mne.export.export_raw(path, raw, fmt="brainvision", overwrite=True, verbose="error")


def _bids(path):
    bids_datasets.write_eeg_bids(path, formats=("BrainVision", "EDF"))
    bids_datasets.write_fmri_bids(path)


def _kandinsky(path):
    tiny_models.save_tiny_kandinsky(path, prediction_type="v_prediction")


PLACEHOLDERS = {"sub-01_bold.nii.gz": _bold, "events.tsv": _events, "sub-01_eeg.vhdr": _brainvision,
                "ds-images": _bids}
#: What a guide page's session must print (stdout and stderr), beyond running to its end.
PRINTS = {
    "recordings.md": ["4 uploaded, 0 skipped (already stored), 0 refused",
                      "1 uploaded, 4 skipped (already stored), 0 refused", "0 5 0"],
    "analysis.md": ["6 uploaded, 0 skipped (already stored), 0 refused",
                    "('stage2', 'stage4', 'stage7') ('early', 'mid', 'late')", "wrote a BIDS derivatives dataset"],
    "reconstruction.md": ["ReconstructionPipeline efficientnet-lite0 pool 1280 (64, 64)",
                          "KandinskyV22Pipeline 32 (32, 32)", "[('a', (32, 32, 3)), ('b', (32, 32, 3))]"],
    "jobs.md": ["completed 3 of 3 shards", "shards 0/2: 2 done", "shards 1/2: 1 done", "merged 3 shards",
                "shards 0/1: 3 done, 0 already done, 0 failed"],
    "security.md": ["other-lab: exit status 1", "error: NOT_FOUND", "revoked: exit status 1",
                    "braindecode serving TLS,", "braindecode serving mutual TLS (client certificates required)",
                    "SERVING 0"],
    "configuration.md": ["unknown config keys: jobs.max_atempts", "(BRAINDECODE_PORT='http') must be an integer"],
    "grpc-api.md": ["braindecode.v1.RecordingService", "SERVING", '"name": "stage2"', "exit status 1"],
}
#: Placeholders of one page only: a diffusers model directory of Kandinsky 2.2's layout, small and random.
PAGE_PLACEHOLDERS = {"reconstruction.md": {"kandinsky-2-2-decoder": _kandinsky}}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_block_can_run_or_says_why_not(document):
    assert docs_harness.check_blocks(document) == []
    blocks = docs_harness.code_blocks(document)
    assert sum(not b.not_run for b in blocks) >= 2 and all(len(b.not_run) > 20 for b in blocks if b.not_run)


def test_every_page_of_the_guide_is_run():
    pages = {p for p in GUIDE.glob("*.md") if any(not b.not_run for b in docs_harness.code_blocks(p))}
    assert pages <= set(DOCUMENTS), f"pages with code that no test runs: {sorted(pages - set(DOCUMENTS))}"


@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_document_runs_as_written_on_a_fresh_store(document, tmp_path):
    builds_on = BUILDS_ON.get(document.name, [GUIDE / "quickstart.md"] if document.parent == GUIDE else [])
    placeholders = PLACEHOLDERS | PAGE_PLACEHOLDERS.get(document.name, {})
    done = docs_harness.run_document(document, tmp_path, placeholders, ROOT, timeout=840, builds_on=builds_on)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    for text in PRINTS.get(document.name, []):
        assert text in done.stdout + done.stderr, f"{document.name} did not print {text!r}"
    if document.name == "README.md":
        out = done.stdout
        assert "braindecode.v1.RecordingService" in out and "grpc.reflection" in out, "grpcurl listed the API"
        assert "SERVING" in out
        assert "5 uploaded, 0 skipped (already stored), 0 refused" in out
        assert "0 uploaded, 4 skipped (already stored), 0 refused" in out, "the second BIDS upload stored nothing"
        assert (tmp_path / "results-bids" / "dataset_description.json").is_file()
        assert bids_datasets.validate(tmp_path / "results-bids") == []
