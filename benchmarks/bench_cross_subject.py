"""Cross-subject decoding on the embedded data: top-1 retrieval of a new subject against its number of runs.

The data set is the default one with ``individual=True`` (subjects with their own ROI positions,
voxel counts and SNRs). The last subject is the new one; the others train the shared decoder. For
1 to 5 runs of the new subject, three decoders retrieve its 100 test stimuli (repeats averaged)
among the 100: the shared decoder's architecture fitted on those runs alone (subject-only), the
shared decoder fitted on the other subjects and fine-tuned on those runs, and the first other
subject's ridge decoder after Procrustes alignment on the stimuli of those runs (aligned). The
shared decoder is ``braindecode.demo.CROSS_SUBJECT_DECODER``, fine-tuned with the head at a tenth
of the adapter's learning rate and the new adapter's latents held near the template (on a single run,
without early stopping: see ``new_subject_curve``).

    python benchmarks/bench_cross_subject.py --seeds 0 1 2 3 4 --out cross_subject

generates the data set in a temporary folder (about 5 minutes on 2 cores), then writes ``cross_subject.json`` and ``cross_subject.png`` and prints the table (mean ± sd over seeds).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time

from braindecode.datasets import make_default_dataset, roi_responses
from braindecode.decoding import SharedDecoder, new_subject_curve
from braindecode.demo import CROSS_SUBJECT_DECODER, CROSS_SUBJECT_HEAD_LR_SCALE, CROSS_SUBJECT_SUBJECTS
from braindecode.report import curve_table, plot_new_subject_curve

EMBEDDING_LAYER = "pool"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=CROSS_SUBJECT_SUBJECTS,
                        help="subjects in the data set; the last is the new one")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds")
    parser.add_argument("--head-lr-scale", type=float, default=CROSS_SUBJECT_HEAD_LR_SCALE)
    parser.add_argument("--out", default="cross_subject", help="output stem: <out>.json and <out>.png")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        info = make_default_dataset(pathlib.Path(tmp) / "data", n_subjects=args.subjects, seed=args.data_seed,
                                    individual=True)
        subjects = sorted(info.files["subject_masks"])
        started = time.perf_counter()
        responses = {s: roi_responses(info, s) for s in subjects}
    print(f"responses: {time.perf_counter() - started:.0f} s; voxels "
          + ", ".join(f"{s}={r.data.shape[1]}" for s, r in responses.items()))
    started = time.perf_counter()
    curve = new_subject_curve(responses, subjects[-1], info.activations, EMBEDDING_LAYER, info.stimuli.test_ids,
                              decoder=SharedDecoder(**CROSS_SUBJECT_DECODER), head_lr_scale=args.head_lr_scale,
                              seeds=args.seeds)
    curve["seconds"] = time.perf_counter() - started
    curve["data"] = {"n_subjects": len(subjects), "seed": args.data_seed, "snr": {
        s: info.ground_truth["fmri"][s]["rois"]["early"]["snr"] for s in subjects}}
    out = pathlib.Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(curve, indent=2))
    plot_new_subject_curve(curve, out.with_suffix(".png"))
    header, rows = curve_table(curve)
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(row))
    print(f"fits: {curve['seconds']:.0f} s")


if __name__ == "__main__":
    main()
