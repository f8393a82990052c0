"""``braindecode demo``: the whole pipeline on the embedded default data, through a real server.

1. generate the default data set (real photographs, EfficientNet-Lite0, simulated fMRI and EEG);
2. start a gRPC server on a free loopback port with a fresh store (or use ``--server``);
3. upload the recordings and the stimuli through the Python client;
4. preprocess on the server and extract network activations;
5. fit an encoder and a decoder on the server, on the training trials (and the decoder on the visual ROIs'
   voxels), selected by an events column and an uploaded ROI label image;
6. compute the layer x ROI RSA matrix with noise ceilings and the time-resolved EEG decoding curve;
7. retrieval (MindEye's protocol) and diffusion reconstruction of held-out stimuli;
8. with ``cross_subject``: a second data set of 4 individual subjects (own ROIs, voxel counts, SNRs),
   and a new subject's retrieval against its number of runs for a subject-only decoder, a shared decoder
   fine-tuned on it and an aligned baseline (``braindecode.decoding.new_subject_curve``);
9. print a summary table and write ``<out>/report/index.html`` with its figures.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import numpy as np
from tqdm.auto import tqdm

from braindecode.containers import BrainResponses, Events

#: fMRI trial responses: no mask (the simulated volume is already MNI-masked), cleaned, LSS betas.
FMRI_SPEC = {"modality": "fmri", "mask": None, "detrend": True, "high_pass": 0.01, "zscore": True,
             "trials": {"method": "lss"}}
#: EEG epochs: band-pass, notch, resample, baseline (every epoch kept: blinks stay in, as in the lab).
EEG_SPEC = {"modality": "eeg", "l_freq": 0.5, "h_freq": 40.0, "notch": 50.0, "resample": 100.0,
            "epochs": {"tmin": -0.1, "tmax": 0.6, "baseline": [None, 0.0]}}
MODEL = "efficientnet-lite0"
#: The embedding space decoders map to, and that the reconstruction model is conditioned on.
EMBEDDING_LAYER = "pool"
#: The data set's visual-cortex ROIs (occipital pole, lateral occipital, ventral temporal): the decoder
#: reads their voxels only, as MindEye reads NSD's visual cortex; the rest of the brain adds noise only.
VISUAL_ROIS = ("early", "mid", "late")
#: MindEye's retrieval protocol: top-1 among 300 candidates drawn at random, 30 draws.
MINDEYE_CANDIDATES, MINDEYE_DRAWS = 300, 30

#: The trials of each split, by the events column the upload adds. The decoder's come from one GLM per run over
#: every event; the encoder's and the RDMs' from a GLM of their split's events only ("model_events"), which gave
#: the RDMs higher scores on this data (late ROI of the 120-stimulus run at seed 0: its true layer 0.48 from the
#: test events' GLM, 0.42 from every event's, where an earlier layer scored 0.42 too).
TRAIN_TRIALS = {"where": "split == 'train'"}
TEST_TRIALS = {"where": "split == 'test'"}
TRAIN_ONLY = {**TRAIN_TRIALS, "model_events": "selected"}
TEST_ONLY = {**TEST_TRIALS, "model_events": "selected"}
EEG_WINDOW_S = 0.04


@dataclasses.dataclass
class DemoConfig:
    """Size and place of a demo run."""

    out_dir: str = "demo-output"
    n_stimuli: int = 500
    n_test: int = 100
    n_subjects: int = 2
    n_runs: int = 5
    seed: int = 0
    server: str = ""           # host:port of a running server; empty starts one
    api_key: str = ""
    n_reconstructions: int = 12
    n_bootstrap: int = 200
    reconstruction_steps: int = 4
    cross_subject: bool = False  # also the new-subject curve on 4 individual subjects (about 15 more minutes)
    progress: bool = True


class _Steps:
    """Numbered console steps with timings (and tqdm bars inside long steps)."""

    def __init__(self, total: int, show: bool):
        self.total, self.show, self.index, self.started, self.timings = total, show, 0, None, {}

    def __call__(self, title: str):
        self.done()
        self.index += 1
        self.title, self.started = title, time.perf_counter()
        if self.show:
            print(f"[{self.index}/{self.total}] {title} ...", flush=True)

    def done(self):
        if self.started is not None:
            self.timings[self.title] = time.perf_counter() - self.started
            self.started = None


def _bar(show: bool, desc: str):
    """A callback for streamed Progress messages, drawn as a tqdm bar."""
    if not show:
        return None, lambda: None
    bar = tqdm(total=100, desc=desc, leave=False, bar_format="{l_bar}{bar}| {n:.0f}%")

    def on_progress(progress):
        bar.set_description(f"{desc}: {progress.stage}" if progress.stage else desc)
        bar.n = 100 * progress.fraction
        bar.refresh()
    return on_progress, bar.close


def _upload_runs(client, dataset, steps_show: bool) -> dict:
    """Upload every run once; fMRI events gain a ``split`` column (the stimulus's: train or test), by which
    the server's fits and RDMs select their trials."""
    split = dict(zip(dataset.stimuli.ids, dataset.stimuli.split))
    uploaded = {"fmri": {}, "eeg": {}}
    runs = dataset.files["fmri"] + dataset.files["eeg"]
    for run in tqdm(runs, desc="upload", disable=not steps_show, leave=False):
        events = Events.from_tsv(run["events"])
        if "bold" in run:
            events = Events(events.onset, events.duration, events.stimulus_id,
                            {**events.columns, "split": [split[s] for s in events.stimulus_id]})
            rec = client.recordings.upload(run["bold"], subject=run["subject"], task="images", run=str(run["run"]),
                                           events=events)
            uploaded["fmri"].setdefault(run["subject"], []).append(rec)
        else:
            # the first run of each subject goes as BrainVision (zipped), the others as FIF
            path = run["vhdr"] if run["run"] == 1 else run["fif"]
            rec = client.recordings.upload(path, subject=run["subject"], task="images", run=str(run["run"]),
                                           events=events)
            uploaded["eeg"].setdefault(run["subject"], []).append((rec, events))
    return uploaded


def _upload_atlas(client, masks: dict, path: pathlib.Path) -> tuple:
    """The template ROIs (``"brain"`` left out) as one label image, 1, 2, ... in the order of ``masks``, uploaded
    like a recording; (its id, ROI name -> label)."""
    import nibabel as nib

    labels = {roi: label for label, roi in enumerate((roi for roi in masks if roi != "brain"), start=1)}
    grid = nib.load(masks["brain"])
    volume = np.zeros(grid.shape, np.int16)
    for roi, label in labels.items():
        volume[np.asarray(nib.load(masks[roi]).dataobj) > 0] = label
    nib.save(nib.Nifti1Image(volume, grid.affine), path)
    return client.recordings.upload(path, subject="template", task="rois").id, labels


def _ids(recordings) -> list:
    return [r.id for r in recordings]


def _rsa(client, dataset, uploaded, aset_id, atlas, layers, config, show) -> dict:
    """Layer x ROI RSA on the test trials: scores, CIs, p-values, noise ceilings per ROI."""
    test_ids = [s for s, p in zip(dataset.stimuli.ids, dataset.stimuli.split) if p == "test"]
    recordings = [r for recs in uploaded["fmri"].values() for r in recs]
    model_rdms = {layer: client.comparison.compute_rdm(activation_set_id=aset_id, layer=layer,
                                                       condition_ids=test_ids)[0].id
                  for layer in layers}
    atlas_id, labels = atlas
    results = {}
    for roi, label in labels.items():
        selection = {"voxels": {"atlas_id": atlas_id, "labels": [label]}, "trials": TEST_ONLY}
        brain = client.comparison.compute_rdm(_ids(recordings), FMRI_SPEC, condition_ids=test_ids,
                                              selection=selection)
        on_progress, close = _bar(show, f"RSA {roi}")
        result = client.comparison.compare([r.id for r in brain], model_rdms, method="spearman",
                                           n_bootstrap=config.n_bootstrap, bootstrap="conditions",
                                           n_permutations=config.n_bootstrap, seed=config.seed,
                                           on_progress=on_progress)
        close()
        results[roi] = _comparison_dict(result)
    return results


def _comparison_dict(result) -> dict:
    """A CompareResult as plain values: per-layer score, CI and p-value, and the noise ceiling."""
    scores = [{"name": m.name, "score": m.score,
               "ci_low": m.score if m.ci_lower is None else m.ci_lower,
               "ci_high": m.score if m.ci_upper is None else m.ci_upper,
               "p_value": m.p_value, "p_value_fdr": m.p_value_fdr} for m in result.models]
    ceiling = (None if result.noise_ceiling is None
               else {"lower": result.noise_ceiling.lower, "upper": result.noise_ceiling.upper})
    return {"comparison_id": result.comparison_id, "scores": scores, "noise_ceiling": ceiling}


def _decoding(client, dataset, uploaded, aset_id, atlas, subject, config, show) -> dict:
    """Ridge decoder from the visual ROIs to the embedding space, fitted on the server on the training trials
    of one GLM per run; the server decodes the test trials (repeats averaged) and retrieves among all stimuli."""
    from braindecode.decoding import mindeye_top1, top_k_accuracy

    atlas_id, labels = atlas
    runs = _ids(uploaded["fmri"][subject])
    on_progress, close = _bar(show, "fit decoder")
    fit = client.decoding.fit(runs, FMRI_SPEC, aset_id, EMBEDDING_LAYER, decoder="ridge", seed=config.seed,
                              on_progress=on_progress, selection={
                                  "voxels": {"atlas_id": atlas_id, "labels": [labels[roi] for roi in VISUAL_ROIS]},
                                  "trials": TRAIN_TRIALS})
    close()
    found = client.decoding.retrieve_recordings(runs, FMRI_SPEC, fit.decoder_id, k=5, activation_set_id=aset_id,
                                                layer=EMBEDDING_LAYER, selection={"trials": TEST_TRIALS})
    predicted = BrainResponses(found.query_embeddings, np.asarray(found.query_ids))
    truth = dataset.activations.align(predicted.stimulus_ids)[EMBEDDING_LAYER]
    n_candidates = min(MINDEYE_CANDIDATES, len(truth))
    # With fewer test stimuli than MindEye's 300, every draw holds all of them: one draw says it all.
    n_draws = MINDEYE_DRAWS if n_candidates < len(truth) else 1
    top1_mean, top1_sd = mindeye_top1(predicted.data, truth, n_candidates=n_candidates, n_repeats=n_draws,
                                      seed=config.seed)
    ks = list(range(1, 11))
    curve = [float(top_k_accuracy(predicted.data, truth, k=k)) for k in ks]
    return {"decoder": {"kind": "ridge", "decoder_id": fit.decoder_id, "rois": list(VISUAL_ROIS),
                        "n_voxels": int(fit.input_shape[0]), "n_train_trials": fit.n_trials,
                        "cv_scores": dict(fit.cv_scores)},
            "n_candidates": n_candidates, "n_test": len(truth), "mindeye_draws": n_draws,
            "mindeye_top1_mean": float(top1_mean), "mindeye_top1_sd": float(top1_sd), "chance": 1.0 / n_candidates,
            "topk_ks": ks, "topk_accuracy": curve, "retrieved_examples": {
                q: list(m.stimulus_ids) for q, m in zip(found.query_ids[:5], found.matches)},
            "predicted": predicted}


def _reconstructions(client, dataset, predicted: BrainResponses, config, show) -> dict:
    """Reconstruct the first held-out stimuli from their decoded embeddings."""
    from braindecode.reconstruction import evaluate_reconstructions

    n = min(config.n_reconstructions, predicted.n_trials)
    on_progress, close = _bar(show, "reconstruct")
    images, artifact_id = client.reconstruction.reconstruct(
        embeddings=predicted.data[:n], ids=list(predicted.stimulus_ids[:n]), n_steps=config.reconstruction_steps,
        seed=config.seed, on_progress=on_progress)
    close()
    index = {s: i for i, s in enumerate(dataset.stimuli.ids)}
    originals = dataset.stimuli.images[[index[s] for s, _ in images]]
    recon = np.stack([img for _, img in images])
    metrics = evaluate_reconstructions(recon, originals)
    return {"artifact_id": artifact_id, "ids": [s for s, _ in images], "images": recon, "originals": originals,
            "metrics": {k: float(v) for k, v in metrics.items()}}


def _encoding(client, dataset, uploaded, aset_id, subject, layers, config, show) -> dict:
    """Banded-ridge encoder (early + late layer) fitted on the training trials of all but the last run, scored on
    those of the last."""
    runs = uploaded["fmri"][subject]
    on_progress, close = _bar(show, "fit encoder")
    fit = client.encoding.fit(_ids(runs[:-1]), FMRI_SPEC, aset_id, layers, seed=config.seed, on_progress=on_progress,
                              selection={"trials": TRAIN_ONLY})
    close()
    scored = client.encoding.score(fit.encoder_id, [runs[-1].id], FMRI_SPEC, selection={"trials": TRAIN_ONLY})
    return {"encoder_id": fit.encoder_id, "score_map_nifti": scored.score_map_nifti}


def _eeg_curve(client, dataset, uploaded, subject, config) -> dict:
    """Time-resolved decoding: a ridge decoder per 40 ms window, 2-way identification on held-out runs."""
    from braindecode.decoding import RidgeDecoder, cosine_two_way_identification

    epochs = BrainResponses.concatenate(
        [client.recordings.data(rec.id, preprocessing=EEG_SPEC) for rec, _ in uploaded["eeg"][subject]])
    X, stimuli, runs = epochs.data, epochs.stimulus_ids, epochs.runs
    times = np.round(EEG_SPEC["epochs"]["tmin"] + np.arange(X.shape[2]) / EEG_SPEC["resample"], 6)
    starts = np.arange(-0.1, 0.6 - EEG_WINDOW_S + 1e-9, EEG_WINDOW_S / 2)
    curves = {}
    for component, truth in dataset.ground_truth["latency_windows"].items():
        Y = dataset.activations.align(stimuli)[truth["layer"]]
        scores = []
        for start in starts:
            window = (times >= start) & (times < start + EEG_WINDOW_S)
            folds = []
            for held in np.unique(runs):
                train, test = runs != held, runs == held
                model = RidgeDecoder(modality="eeg", cv=3).fit(X[train][:, :, window], Y[train])
                pred = BrainResponses(model.predict(X[test][:, :, window]), stimuli[test]).average_repeats()
                truth_embeddings = dataset.activations.align(pred.stimulus_ids)[truth["layer"]]
                folds.append(cosine_two_way_identification(pred.data, truth_embeddings))
            scores.append(float(np.mean(folds)))
        curves[component] = {"layer": truth["layer"], "scores": scores,
                             "peak_s": float(starts[int(np.argmax(scores))] + EEG_WINDOW_S / 2),
                             "true_window_s": truth["window_s"]}
    return {"window_centres_s": (starts + EEG_WINDOW_S / 2).tolist(), "curves": curves}


#: Subjects of the cross-subject data set: the last is the new one, the others train the shared decoder.
CROSS_SUBJECT_SUBJECTS = 4
#: The shared decoder of the cross-subject curve: a 128-d latent (the best of 48 to 512 for a new subject's
#: ridge-started adapter, benchmarks/RESULTS.md) and a narrow head keep it to CPU minutes; its head fine-tunes
#: at a tenth of the adapter's rate.
CROSS_SUBJECT_DECODER = {"latent_dim": 128, "hidden_dim": 256}
CROSS_SUBJECT_HEAD_LR_SCALE = 0.1


def _cross_subject(config: DemoConfig, folder: pathlib.Path, show: bool) -> dict:
    """The new-subject curve (see ``new_subject_curve``) on a data set of individual subjects, in process."""
    from braindecode.datasets import make_default_dataset, roi_responses
    from braindecode.decoding import SharedDecoder, new_subject_curve

    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    dataset = make_default_dataset(folder, n_stimuli=config.n_stimuli, n_test=config.n_test,
                                   n_subjects=CROSS_SUBJECT_SUBJECTS, n_runs=config.n_runs, seed=config.seed,
                                   individual=True, progress=True if show else None)
    subjects = sorted(dataset.files["subject_masks"])
    responses = {subject: roi_responses(dataset, subject) for subject in subjects}
    bar = tqdm(desc="new-subject curve", disable=not show, leave=False)

    def progress(done, total):
        bar.total, bar.n = total, done
        bar.refresh()
    curve = new_subject_curve(responses, subjects[-1], dataset.activations, EMBEDDING_LAYER,
                              dataset.stimuli.test_ids, run_counts=range(1, config.n_runs + 1),
                              decoder=SharedDecoder(**CROSS_SUBJECT_DECODER), head_lr_scale=CROSS_SUBJECT_HEAD_LR_SCALE,
                              seeds=(config.seed,), progress=progress)
    bar.close()
    return {**curve, "new_subject": subjects[-1], "training_subjects": subjects[:-1]}


def run_demo(config: DemoConfig) -> dict:
    """Run the demo; returns the summary (also written to ``<out>/report/summary.json``)."""
    from braindecode.client import Client
    from braindecode.datasets import LAYERS, make_default_dataset
    from braindecode.report import write_report

    out = pathlib.Path(config.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress
    steps = _Steps(9 if config.cross_subject else 8, show)
    steps("generate the default data set")
    data_dir = out / "data"
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    dataset = make_default_dataset(data_dir, n_stimuli=config.n_stimuli, n_test=config.n_test,
                                   n_subjects=config.n_subjects, n_runs=config.n_runs, seed=config.seed,
                                   progress=True if show else None)
    steps("start the server" if not config.server else f"connect to {config.server}")
    server = None
    if config.server:
        target, key = config.server, config.api_key
    else:
        from braindecode.config import Config
        from services.server import BraindecodeServer

        store_dir = out / "store"
        if store_dir.exists():
            import shutil

            shutil.rmtree(store_dir)
        server = BraindecodeServer(Config.load(data_dir=str(store_dir), port=0)).start()
        key, _ = server.keys.create("demo-lab", "braindecode demo")
        target = f"127.0.0.1:{server.port}"
    summary = {"config": dataclasses.asdict(config), "server": target}
    try:
        with Client(target, api_key=key, timeout=3600) as client:
            steps("upload recordings and stimuli")
            uploaded = _upload_runs(client, dataset, show)
            atlas = _upload_atlas(client, dataset.files["masks"], data_dir / "masks" / "template_rois_dseg.nii.gz")
            stimulus_set = client.activations.upload_stimuli(images=list(dataset.stimuli.images),
                                                             ids=list(dataset.stimuli.ids), name="default stimuli")
            steps("extract network activations")
            layers = list(dict.fromkeys(list(LAYERS.values()) + ["stage1", "stage3", "stage5", "stage6",
                                                                  EMBEDDING_LAYER]))
            layers = [layer for layer in dataset.activations.layer_names if layer in layers]
            on_progress, close = _bar(show, "activations")
            extracted = client.activations.extract(MODEL, stimulus_set_id=stimulus_set.id, layers=layers,
                                                   pooling="avg", on_progress=on_progress)
            close()
            aset_id = extracted.id
            subject = sorted(uploaded["fmri"])[0]
            steps("fit encoders and decoders")
            encoding = _encoding(client, dataset, uploaded, aset_id, subject, [LAYERS["early"], LAYERS["late"]],
                                 config, show)
            decoding = _decoding(client, dataset, uploaded, aset_id, atlas, subject, config, show)
            steps("layer x ROI RSA and the EEG decoding curve")
            rsa = _rsa(client, dataset, uploaded, aset_id, atlas, layers, config, show)
            eeg = _eeg_curve(client, dataset, uploaded, sorted(uploaded["eeg"])[0], config)
            steps("reconstruct held-out stimuli")
            recon = _reconstructions(client, dataset, decoding["predicted"], config, show)
            cross_subject = None
            if config.cross_subject:
                steps("cross-subject decoding: a new subject from few runs")
                cross_subject = _cross_subject(config, out / "cross-subject-data", show)
            steps("write the report")
            summary.update(_summary(dataset, rsa, decoding, eeg, recon, encoding))
            if cross_subject is not None:
                summary["cross_subject"] = cross_subject
            report = write_report(out / "report", dataset, summary, rsa, decoding, eeg, recon, encoding)
            steps.done()
            summary["timings_s"] = steps.timings
            (out / "report" / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
            summary["report"] = str(report)
    finally:
        if server is not None:
            server.stop(grace=1)
    if show:
        print_summary(summary)
    return summary


def _summary(dataset, rsa, decoding, eeg, recon, encoding) -> dict:
    truth = dataset.ground_truth["rois"]
    best = {roi: max(res["scores"], key=lambda s: s["score"])["name"] for roi, res in rsa.items()}
    return {
        "rsa": {roi: {"true_layer": truth[roi]["layer"], "best_layer": best_layer,
                      "scores": {s["name"]: s["score"] for s in rsa[roi]["scores"]},
                      "p_values": {s["name"]: s["p_value"] for s in rsa[roi]["scores"]},
                      "p_values_fdr": {s["name"]: s["p_value_fdr"] for s in rsa[roi]["scores"]},
                      "noise_ceiling": rsa[roi]["noise_ceiling"]}
                for roi, best_layer in best.items()},
        "retrieval": {k: decoding[k] for k in ("decoder", "n_candidates", "n_test", "mindeye_draws",
                                               "mindeye_top1_mean", "mindeye_top1_sd", "chance", "topk_ks",
                                               "topk_accuracy", "retrieved_examples")},
        "eeg": {c: {k: v[k] for k in ("layer", "peak_s", "true_window_s")} for c, v in eeg["curves"].items()},
        "reconstruction": recon["metrics"],
        "artifacts": {"encoder": encoding["encoder_id"], "reconstructions": recon["artifact_id"]},
    }


def print_summary(summary: dict) -> None:
    """The summary as console tables."""
    from braindecode.report import mindeye_text

    print("\nLayer x ROI RSA (Spearman, test stimuli)")
    for roi, row in summary["rsa"].items():
        scores = "  ".join(f"{layer}={score:+.3f}" for layer, score in row["scores"].items())
        print(f"  {roi:<8} true={str(row['true_layer']):<7} best={row['best_layer']:<7} {scores}")
    r = summary["retrieval"]
    print(f"\nRetrieval (ridge from {r['decoder']['n_voxels']} voxels of the {', '.join(r['decoder']['rois'])} ROIs; "
          f"MindEye protocol): {mindeye_text(r)}")
    print("\nEEG decoding peaks")
    for name, row in summary["eeg"].items():
        lo, hi = row["true_window_s"]
        print(f"  {name:<6} layer={row['layer']:<7} peak={1000 * row['peak_s']:.0f} ms  "
              f"true window {1000 * lo:.0f}-{1000 * hi:.0f} ms")
    print("\nReconstruction: " + "  ".join(f"{k}={v:.3f}" for k, v in summary["reconstruction"].items()))
    if "cross_subject" in summary:
        from braindecode.report import curve_table

        header, rows = curve_table(summary["cross_subject"])
        print(f"\nNew subject ({summary['cross_subject']['new_subject']}): top-1 among its "
              f"{summary['cross_subject']['n_test_stimuli']} test stimuli")
        for row in [header] + rows:
            print("  " + " | ".join(row))
    print("\nTimings: " + "  ".join(f"{k}: {v:.0f}s" for k, v in summary.get("timings_s", {}).items()))
    if "report" in summary:
        print(f"\nReport: {summary['report']}")
