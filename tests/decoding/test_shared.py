"""SharedDecoder: joint fit over subjects of different voxel counts, fine-tuning, errors, persistence, ONNX."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from braindecode.containers import ActivationSet, BrainResponses
from braindecode.decoding import (
    MLPDecoder,
    OnnxDecoder,
    SharedDecoder,
    TrainingConfig,
    export_decoder_onnx,
    fit_decoder,
    fit_shared_decoder,
    load_decoder,
    make_decoder,
    make_fine_tuning,
    read_decoder_config,
    save_decoder,
    top_k_accuracy,
)
from braindecode.errors import FailedPrecondition, InvalidArgument
from torch_threads import one_torch_thread_per_module  # noqa: F401 (autouse fixture, for the module-scoped fit)

N_DIMS, N_LATENT = 12, 8
CONFIG = TrainingConfig(max_epochs=30, batch_size=32, patience=5)


def subjects_data(n_samples=240, voxels=(40, 55, 70, 60), noise=2.0, seed=0):
    """Embeddings E whose first N_LATENT dimensions every subject reads out with its own weights and noise."""
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n_samples, N_DIMS)).astype(np.float32)
    X = {}
    for i, n_voxels in enumerate(voxels):
        weights = np.random.default_rng(seed + 100 + i).standard_normal((N_LATENT, n_voxels))
        X[f"sub-{i + 1:02d}"] = (E[:, :N_LATENT] @ weights
                                 + noise * rng.standard_normal((n_samples, n_voxels))).astype(np.float32)
    return X, E


def small(**kwargs):
    return SharedDecoder(latent_dim=16, hidden_dim=32, n_blocks=1, training=CONFIG, **kwargs)


@pytest.fixture(scope="module")
def shared():
    X, E = subjects_data()
    new = X.pop("sub-04")
    model = small().fit({s: x[:200] for s, x in X.items()}, {s: E[:200] for s in X})
    return model, X, E, new


def test_fit_learns_every_subject_through_its_own_adapter(shared):
    model, X, E, _ = shared
    assert model.subjects_ == ["sub-01", "sub-02", "sub-03"]
    assert model.input_shapes_ == {"sub-01": (40,), "sub-02": (55,), "sub-03": (70,)}
    assert model.n_dims_ == N_DIMS and model.history_ and model.fine_tuned_ == {}
    for subject, x in X.items():
        predicted = model.predict(x[200:], subject)
        assert predicted.shape == (40, N_DIMS) and predicted.dtype == np.float32
        assert top_k_accuracy(predicted, E[200:], k=1) > 0.3, subject  # chance 1/40


def test_a_new_subject_fine_tuned_from_few_samples_beats_one_fitted_alone(shared):
    model, _, E, X_new = shared
    train, test = slice(0, 48), slice(200, 240)
    tuned = model.fine_tune("sub-09", X_new[train], E[train])
    alone = small().fit({"sub-09": X_new[train]}, {"sub-09": E[train]})
    tuned_top1 = top_k_accuracy(tuned.predict(X_new[test], "sub-09"), E[test], k=1)
    alone_top1 = top_k_accuracy(alone.predict(X_new[test], "sub-09"), E[test], k=1)
    assert tuned_top1 > alone_top1 + 0.1, (tuned_top1, alone_top1)
    assert tuned.subjects_[-1] == "sub-09" and tuned.input_shapes_["sub-09"] == (60,)
    assert tuned.fine_tuned_["sub-09"]["n_samples"] == 48 and tuned.fine_tuned_["sub-09"]["history"]
    assert "sub-09" not in model.subjects_  # the base decoder is left as it was


def test_the_template_of_shared_stimuli_starts_a_new_subjects_adapter(tmp_path):
    X, E = subjects_data()
    new = X.pop("sub-04")
    ids = np.array([f"stim-{i:03d}" for i in range(len(E))])
    model = small().fit({s: x[:200] for s, x in X.items()}, {s: E[:200] for s in X},
                        stimulus_ids={s: ids[:200] for s in X})
    np.testing.assert_array_equal(model.template_stimuli_, ids[:200])
    expected = np.mean([model.latents(x[:200], s) for s, x in X.items()], axis=0)  # one trial per stimulus
    np.testing.assert_allclose(model.template_latents_, expected, rtol=1e-5, atol=1e-6)

    def agreement(tuned):  # correlation of the new subject's latents with the template, on stimuli it never saw
        return np.corrcoef(tuned.latents(new[48:200], "sub-09").ravel(), model.template_latents_[48:].ravel())[0, 1]

    started = model.fine_tune("sub-09", new[:48], E[:48], stimulus_ids=ids[:48])
    random = model.fine_tune("sub-09", new[:48], E[:48])
    unseen = model.fine_tune("sub-09", new[200:], E[200:], stimulus_ids=ids[200:])
    assert started.fine_tuned_["sub-09"]["template_samples"] == 48
    assert started.fine_tuned_["sub-09"]["template_weight"] == 1.0
    assert random.fine_tuned_["sub-09"]["template_samples"] == unseen.fine_tuned_["sub-09"]["template_samples"] == 0
    assert random.fine_tuned_["sub-09"]["template_weight"] == unseen.fine_tuned_["sub-09"]["template_weight"] == 0
    assert agreement(started) > agreement(random) + 0.2, (agreement(started), agreement(random))
    # with no run to hold out, a template start trains every epoch; a random start still stops early
    assert len(started.fine_tuned_["sub-09"]["history"]) == CONFIG.max_epochs
    assert "val_top1" not in started.fine_tuned_["sub-09"]["history"][-1]
    assert "val_top1" in random.fine_tuned_["sub-09"]["history"][-1]

    def distance(tuned):  # of the new subject's latents of its training samples to their template
        return np.mean((tuned.latents(new[:48], "sub-09") - model.template_latents_[:48]) ** 2)

    every_epoch = dataclasses.replace(CONFIG, val_fraction=0.0)
    free, held = (model.fine_tune("sub-09", new[:48], E[:48], stimulus_ids=ids[:48], training=every_epoch,
                                  template_weight=weight) for weight in (0, 100))
    assert distance(held) < 0.5 * distance(free), (distance(held), distance(free))
    save_decoder(started, tmp_path / "started")
    loaded = load_decoder(tmp_path / "started")
    np.testing.assert_array_equal(loaded.template_stimuli_, model.template_stimuli_)
    np.testing.assert_array_equal(loaded.template_latents_, model.template_latents_)
    np.testing.assert_array_equal(loaded.predict(new[200:], "sub-09"), started.predict(new[200:], "sub-09"))
    with pytest.raises(InvalidArgument, match="stimulus_ids of subject 'sub-09' have shape"):
        model.fine_tune("sub-09", new[:48], E[:48], stimulus_ids=ids[:47])
    with pytest.raises(InvalidArgument, match="stimulus_ids must be a dict"):
        small().fit({s: x[:200] for s, x in X.items()}, {s: E[:200] for s in X}, stimulus_ids=ids[:200])


def test_fine_tuning_trains_the_adapter_alone_unless_the_head_has_a_learning_rate(shared):
    model, X, E, _ = shared
    base_head = {k: v.clone() for k, v in model.module_[1].state_dict().items()}
    frozen = model.fine_tune("sub-01", X["sub-01"][:64], E[:64])
    for name, value in frozen.module_[1].state_dict().items():
        assert torch.equal(value, base_head[name]), name
    assert not torch.equal(frozen.module_[0].adapters[0][1].weight, model.module_[0].adapters[0][1].weight)
    assert torch.equal(frozen.module_[0].adapters[1][1].weight, model.module_[0].adapters[1][1].weight)
    assert frozen.subjects_ == model.subjects_  # a known subject keeps its place
    moving = model.fine_tune("sub-01", X["sub-01"][:64], E[:64], head_lr_scale=0.1)
    assert not torch.equal(moving.module_[1].output.weight, model.module_[1].output.weight)
    assert all(p.requires_grad for p in moving.module_.parameters())


def test_the_same_seed_gives_the_same_decoder():
    X, E = subjects_data(n_samples=80, voxels=(10, 14))
    a = small().fit(X, {s: E for s in X})
    b = small().fit(X, {s: E for s in X})
    for name, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[name]), name


def test_unknown_subjects_and_wrong_voxel_counts_are_named(shared):
    model, X, E, _ = shared
    with pytest.raises(InvalidArgument, match=r"unknown subject 'sub-07'.*'sub-01', 'sub-02', 'sub-03'"):
        model.predict(X["sub-01"], "sub-07")
    with pytest.raises(InvalidArgument, match=r"subject 'sub-02' has an adapter for 55 voxels, got samples of 40"):
        model.predict(X["sub-01"], "sub-02")
    with pytest.raises(InvalidArgument, match=r"subject 'sub-03' has an adapter for 70 voxels, got samples of 40"):
        model.fine_tune("sub-03", X["sub-01"][:20], E[:20])
    for scale in (-1, 1.5, float("nan"), True):
        with pytest.raises(InvalidArgument, match=r"^fine_tune head_lr_scale=.* is out of range: it must be a number "
                                                  r"in \[0, 1\]$"):
            model.fine_tune("sub-04", X["sub-01"][:20], E[:20], head_lr_scale=scale)
    with pytest.raises(InvalidArgument, match=r"^fine_tune template_weight=-1 is out of range"):
        model.fine_tune("sub-04", X["sub-01"][:20], E[:20], template_weight=-1)
    with pytest.raises(InvalidArgument, match="dimensions"):
        model.fine_tune("sub-04", X["sub-01"][:20], E[:20, :5])
    with pytest.raises(FailedPrecondition, match="not fitted"):
        small().predict(X["sub-01"], "sub-01")


def test_bad_training_data_is_refused():
    X, E = subjects_data(n_samples=40, voxels=(10, 12))
    with pytest.raises(InvalidArgument, match="dict of subject"):
        small().fit(X["sub-01"], E)
    with pytest.raises(InvalidArgument, match="subjects of X"):
        small().fit(X, {"sub-01": E})
    with pytest.raises(InvalidArgument, match="same dimensions"):
        small().fit(X, {"sub-01": E, "sub-02": E[:, :4]})
    with pytest.raises(InvalidArgument, match="rows"):
        small().fit(X, {"sub-01": E, "sub-02": E[:30]})
    with pytest.raises(InvalidArgument, match="groups of subject 'sub-02'"):
        small().fit(X, {s: E for s in X}, groups={"sub-01": np.zeros(40), "sub-02": np.zeros(3)})
    with pytest.raises(InvalidArgument, match="non-empty strings"):
        small().fit({"": X["sub-01"]}, {"": E})


def test_saved_decoder_predicts_the_same_for_every_subject(shared, tmp_path):
    model, X, E, _ = shared
    tuned = model.fine_tune("sub-09", X["sub-01"][:48] + 1.0, E[:48])
    save_decoder(tuned, tmp_path / "shared", provenance={"subjects": tuned.subjects_})
    config = read_decoder_config(tmp_path / "shared")
    assert config["class"] == "SharedDecoder" and config["modality"] == "fmri" and config["n_dims"] == N_DIMS
    assert config["input_shapes"] == {"sub-01": [40], "sub-02": [55], "sub-03": [70], "sub-09": [40]}
    loaded = load_decoder(tmp_path / "shared")
    assert loaded.subjects_ == tuned.subjects_ and loaded.fine_tuned_ == json.loads(json.dumps(tuned.fine_tuned_))
    assert loaded._params_json() == tuned._params_json()
    for subject in tuned.subjects_:
        x = X["sub-01"] if tuned.input_shapes_[subject] == (40,) else X[subject]
        np.testing.assert_array_equal(loaded.predict(x, subject), tuned.predict(x, subject))


def test_onnx_export_holds_one_subjects_graph(shared, tmp_path):
    model, X, _, _ = shared
    path = export_decoder_onnx(model, tmp_path / "sub-02.onnx", subject="sub-02")
    onnx_decoder = OnnxDecoder(path)
    assert onnx_decoder.subject == "sub-02" and onnx_decoder.input_shape_ == (55,)
    np.testing.assert_allclose(onnx_decoder.predict(X["sub-02"]), model.predict(X["sub-02"], "sub-02"),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(InvalidArgument, match=r"^subject 'sub-02' has an adapter for 55 voxels, got samples of 40 "):
        onnx_decoder.predict(X["sub-01"])
    with pytest.raises(InvalidArgument, match="give subject"):
        export_decoder_onnx(model, tmp_path / "none.onnx")
    with pytest.raises(InvalidArgument, match="unknown subject 'sub-05'"):
        export_decoder_onnx(model, tmp_path / "none.onnx", subject="sub-05")
    single = MLPDecoder(hidden_dim=8, training=TrainingConfig(max_epochs=1)).fit(X["sub-01"], np.ones((240, 3)))
    with pytest.raises(InvalidArgument, match="without a subject"):
        export_decoder_onnx(single, tmp_path / "single.onnx", subject="sub-01")
    assert OnnxDecoder(export_decoder_onnx(single, tmp_path / "single.onnx")).subject is None
    assert not (tmp_path / "none.onnx").exists()


def _responses(X, E, runs_per_subject=3):
    """BrainResponses of each subject, stimulus i on trial i, runs of equal size; the activation set of E."""
    ids = np.array([f"stim-{i:03d}" for i in range(len(E))])
    parts = [BrainResponses(x, ids, subjects=np.full(len(x), s),
                            runs=np.repeat(np.arange(runs_per_subject), -(-len(x) // runs_per_subject))[:len(x)])
             for s, x in X.items()]
    return parts, ActivationSet(ids, {"embedding": E})


def test_fit_shared_decoder_scores_held_out_runs_of_every_subject():
    X, E = subjects_data(n_samples=120, voxels=(20, 25))
    parts, activations = _responses(X, E)
    progress = []
    fit = fit_shared_decoder(parts, activations, "embedding", small(), progress=lambda *call: progress.append(call))
    assert fit.model.subjects_ == ["sub-01", "sub-02"]
    assert fit.provenance["subjects"] == {s: {"n_trials": 120, "n_voxels": n, "runs": ["0", "1", "2"]}
                                          for s, n in (("sub-01", 20), ("sub-02", 25))}
    assert (fit.provenance["decoder"], fit.provenance["layer"], fit.provenance["n_trials"]) == ("shared", "embedding", 240)
    assert fit.provenance["params"]["latent_dim"] == 16 and fit.provenance["seed"] == CONFIG.seed
    assert fit.provenance["cross_validation"]["scores"] == fit.cv_scores and "fine_tuning" not in fit.provenance
    assert {f["subject"] for f in fit.folds} == {"sub-01", "sub-02"}
    assert sum(f["n_test_trials"] for f in fit.folds) == 240  # every trial held out once
    assert set(fit.cv_scores) == {"pearson", "r2", "top_1", "top_5", "two_way"} and fit.cv_scores["top_1"] > 0.05
    assert progress[-1] == ("fit", 1, 1) and ("cross-validation", 6, 6) in progress
    with pytest.raises(InvalidArgument, match="holds out every run of subject 'sub-01'"):
        fit_shared_decoder(parts, activations, "embedding", small(), cv_folds=2)


def test_fit_shared_decoder_fine_tunes_one_subject_over_its_runs():
    X, E = subjects_data(n_samples=120, voxels=(20, 25))
    parts, activations = _responses(X, E)
    base = small().fit({"sub-01": X["sub-01"]}, {"sub-01": E})
    settings = make_fine_tuning(base, {"head_lr_scale": 0.1, "training": {"max_epochs": 12}}, seed=7)
    assert settings["training"] == dataclasses.replace(CONFIG, max_epochs=12, seed=7)
    fit = fit_shared_decoder([parts[1]], activations, "embedding", base=base, **settings)
    assert [f["test_runs"] for f in fit.folds] == [["0"], ["1"], ["2"]]  # leave one run out
    assert fit.model.subjects_ == ["sub-01", "sub-02"] and fit.model.fine_tuned_["sub-02"]["head_lr_scale"] == 0.1
    assert len(fit.model.fine_tuned_["sub-02"]["history"]) <= 12
    assert fit.provenance["fine_tuning"] == {"subject": "sub-02", "head_lr_scale": 0.1,
                                             "training": dataclasses.asdict(settings["training"])}
    assert fit.provenance["seed"] == 7 and list(fit.provenance["subjects"]) == ["sub-02"]
    one_run = fit_shared_decoder([parts[1].subset(parts[1].runs == "0")], activations, "embedding", base=base)
    assert one_run.folds == [] and one_run.cv_scores == {}
    with pytest.raises(InvalidArgument, match="one subject"):
        fit_shared_decoder(parts, activations, "embedding", base=base)
    with pytest.raises(InvalidArgument, match="not both"):
        fit_shared_decoder(parts[:1], activations, "embedding", small(), base=base)
    with pytest.raises(InvalidArgument, match="training goes with base"):
        fit_shared_decoder(parts[:1], activations, "embedding", small(), training=CONFIG)
    wide = BrainResponses(np.ones((4, 30)), parts[0].stimulus_ids[:4], subjects=np.full(4, "sub-01"))
    with pytest.raises(InvalidArgument, match=r"subject 'sub-01' have different voxel counts: \[20, 30\]"):
        fit_shared_decoder([parts[0], wide], activations, "embedding", small())


def test_json_hyper_parameters_of_a_shared_decoder_and_of_its_fine_tuning(shared):
    decoder = make_decoder("shared", {"latent_dim": 32, "training": {"max_epochs": 5}}, "fmri", seed=3,
                           val_fraction=0.2)
    assert (decoder.latent_dim, decoder.training.max_epochs, decoder.training.seed,
            decoder.training.val_fraction) == (32, 5, 3, 0.2)
    with pytest.raises(InvalidArgument, match="decoder 'shared' takes fmri data"):
        make_decoder("shared", None, "eeg")
    with pytest.raises(InvalidArgument, match="unknown shared decoder parameter 'alphas'"):
        make_decoder("shared", {"alphas": [1.0]}, "fmri")
    model = shared[0]
    assert make_fine_tuning(model, None) == {"head_lr_scale": 0.0, "training": dataclasses.replace(CONFIG, seed=0)}
    with pytest.raises(InvalidArgument, match="unknown fine-tuning parameter 'latent_dim'"):
        make_fine_tuning(model, {"latent_dim": 8})
    with pytest.raises(InvalidArgument, match="fine-tuning parameter 'head_lr_scale' must be a non-negative number"):
        make_fine_tuning(model, {"head_lr_scale": "fast"})
    with pytest.raises(InvalidArgument, match="training lr=5.0 is out of range"):
        make_fine_tuning(model, {"training": {"lr": 5.0}})
    with pytest.raises(InvalidArgument, match="fit it with fit_shared_decoder"):
        fit_decoder(BrainResponses(np.ones((4, 3)), ["a", "b", "c", "d"]), ActivationSet(
            ["a", "b", "c", "d"], {"e": np.ones((4, 2))}), "e", "fmri", decoder="shared")
