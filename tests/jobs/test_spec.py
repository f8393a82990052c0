"""Job specs: files, planning into shards, and checks that list every problem at once."""

import json

import pytest
from jobs.jobdata import (
    BILLION_LAUGHS,
    TENANT,
    add_bold,
    add_candidates,
    add_decoder,
    add_shared_decoder,
    save_tiny_reconstruction_model,
    spec_for,
)

from braindecode._schema import check_document
from braindecode.config import ReconstructionSettings
from braindecode.errors import InvalidArgument, NotFound, ResourceExhausted
from braindecode.jobs import JobSpec, job_spec_reference, parse_spec, plan_job, read_spec
from braindecode.preprocessing import EEGSpec


def test_yaml_and_json_files_give_the_same_spec(tmp_path, lab):
    spec = spec_for([r.id for r in lab["recordings"]], lab["decoder"].id, lab["candidates"].id)
    (tmp_path / "job.json").write_text(json.dumps(spec))
    (tmp_path / "job.yaml").write_text(
        "name: test\n"
        f"recordings:\n  ids: [{', '.join(r.id for r in lab['recordings'])}]\n"
        "preprocessing:\n  modality: fmri\n  mask: null\n  zscore: true\n"
        "  trials: {method: window, window: [3, 6]}\n"
        f"model: {{decoder: {lab['decoder'].id}}}\n"
        f"outputs:\n  embeddings: true\n  retrieval: {{candidates: {lab['candidates'].id}, layer: pool, k: 3}}\n")
    assert read_spec(tmp_path / "job.yaml") == read_spec(tmp_path / "job.json") == spec
    with pytest.raises(InvalidArgument, match="must hold a mapping"):
        parse_spec("[1, 2]")
    with pytest.raises(InvalidArgument, match="not valid YAML"):
        parse_spec("a: [1, 2")
    with pytest.raises(InvalidArgument, match="cannot read job spec"):
        read_spec(tmp_path / "missing.yaml")


def test_plan_has_one_shard_per_recording_or_subject(lab):
    recordings = lab["recordings"]
    spec = spec_for([r.id for r in recordings], lab["decoder"].id)
    plan = plan_job(lab["store"], TENANT, spec)
    assert [s.index for s in plan.shards] == [0, 1, 2]
    assert [[r["id"] for r in s.recordings] for s in plan.shards] == [[r.id] for r in recordings]
    assert plan.shards[0].recordings[0]["sha256"] == recordings[0].sha256
    assert plan.spec["shard_by"] == "recording" and plan.spec["outputs"] == {"embeddings": True}
    assert plan.decoder["n_dims"] == lab["model"].n_dims_

    by_subject = plan_job(lab["store"], TENANT, dict(spec, shard_by="subject"))
    assert [[r["id"] for r in s.recordings] for s in by_subject.shards] == [
        [recordings[0].id, recordings[1].id], [recordings[2].id]]


def test_a_shared_decoder_needs_an_adapter_for_every_subject_it_decodes(lab):
    store, recordings = lab["store"], lab["recordings"]  # subjects 01, 01, 02
    first, _ = add_shared_decoder(store, lab["tmp"], subjects=("01",))
    spec = spec_for([r.id for r in recordings], first.id)
    with pytest.raises(InvalidArgument, match=r"the recordings' subjects '02' have no adapter in shared decoder "
                                              rf"'{first.id}'; its subjects are '01'"):
        plan_job(store, TENANT, spec)
    plan = plan_job(store, TENANT, dict(spec, model={"decoder": first.id, "subject": "01"}))
    assert plan.spec["model"] == {"decoder": first.id, "subject": "01"}
    assert list(plan.decoder["input_shapes"]) == ["01"]
    with pytest.raises(InvalidArgument, match=r"'model.subject' '07' have no adapter"):
        plan_job(store, TENANT, dict(spec, model={"decoder": first.id, "subject": "07"}))
    with pytest.raises(InvalidArgument, match="is a RidgeDecoder of one subject's data"):
        plan_job(store, TENANT, dict(spec, model={"decoder": lab["decoder"].id, "subject": "01"}))
    with pytest.raises(InvalidArgument, match="an encoder takes none"):
        plan_job(store, TENANT, dict(spec, model={"encoder": lab["decoder"].id, "subject": "01"},
                                     outputs={"predictions": True}))
    assert plan_job(store, TENANT, spec_for([recordings[0].id], first.id)).spec["model"] == {"decoder": first.id}


def test_filter_selects_the_tenants_recordings(lab):
    spec = spec_for([], lab["decoder"].id)
    spec["recordings"] = {"filter": {"subject": "01", "modality": "fmri"}}
    plan = plan_job(lab["store"], TENANT, spec)
    assert [s.recordings[0]["id"] for s in plan.shards] == [r.id for r in lab["recordings"][:2]]
    spec["recordings"] = {"filter": {"subject": "99"}}
    with pytest.raises(InvalidArgument, match="matches no recording"):
        plan_job(lab["store"], TENANT, spec)


def test_retrieval_and_reconstruction_defaults_are_filled_in(lab, tmp_path):
    models = ReconstructionSettings(models={"tiny": str(save_tiny_reconstruction_model(tmp_path / "tiny", 5))})
    decoder, _ = add_decoder(lab["store"], tmp_path, n_dims=5)
    spec = spec_for([lab["recordings"][0].id], decoder.id)
    spec["outputs"] = {"reconstructions": {"model": "tiny", "seed": 3}}
    plan = plan_job(lab["store"], TENANT, spec, models)
    assert plan.spec["outputs"] == {"embeddings": False, "reconstructions": {  # the model's recommendations
        "model": "tiny", "n_steps": 4, "seed": 3, "guidance": 1.0, "scheduler": "lcm"}}
    spec["outputs"] = {"reconstructions": {"model": "tiny", "n_steps": 2, "scheduler": "euler", "guidance": 1.5}}
    assert plan_job(lab["store"], TENANT, spec, models).spec["outputs"]["reconstructions"] == {
        "model": "tiny", "n_steps": 2, "seed": 0, "guidance": 1.5, "scheduler": "euler"}
    candidates, _ = add_candidates(lab["store"], n_dims=5)
    spec["outputs"] = {"retrieval": {"candidates": candidates.id, "layer": "pool"}}
    assert plan_job(lab["store"], TENANT, spec).spec["outputs"]["retrieval"] == {
        "candidates": candidates.id, "layer": "pool", "k": 5}
    spec["outputs"] = {"reconstructions": {"model": "tiny"}}
    with pytest.raises(InvalidArgument, match="model 'tiny' takes 5-dimensional embeddings but the decoder gives 6"):
        plan_job(lab["store"], TENANT, spec_for([lab["recordings"][0].id], lab["decoder"].id)
                 | {"outputs": spec["outputs"]}, models)


def test_the_reconstruction_model_is_named_and_takes_the_settings(lab, tmp_path):
    models = ReconstructionSettings(models={"tiny": str(save_tiny_reconstruction_model(tmp_path / "tiny", 5)),
                                            "gone": str(tmp_path / "no-model")})
    decoder, _ = add_decoder(lab["store"], tmp_path, n_dims=5)
    spec = spec_for([lab["recordings"][0].id], decoder.id)
    spec["outputs"] = {"reconstructions": {"model": "kandinsky"}}
    with pytest.raises(NotFound, match="'outputs.reconstructions': no reconstruction model 'kandinsky'; "
                                       "served models: default, tiny, gone"):
        plan_job(lab["store"], TENANT, spec, models)
    spec["outputs"] = {"reconstructions": {"model": "gone"}}
    with pytest.raises(InvalidArgument, match="reconstruction model 'gone' cannot be loaded: .* no model_index.json"):
        plan_job(lab["store"], TENANT, spec, models)
    spec["outputs"] = {"reconstructions": {"model": "tiny", "n_steps": 9}}  # this family takes at most 8
    with pytest.raises(InvalidArgument, match="reconstruction model 'tiny': n_steps must be an integer in \\[1, 8\\]"):
        plan_job(lab["store"], TENANT, spec, models)
    spec["outputs"] = {"reconstructions": {"model": "no/such"}}
    with pytest.raises(InvalidArgument, match="'outputs.reconstructions.model' must be a model name"):
        plan_job(lab["store"], TENANT, spec, models)


def test_every_voxel_of_a_run_must_be_an_input_of_the_decoder(lab, tmp_path):
    decoder, _ = add_decoder(lab["store"], tmp_path, n_voxels=10)
    spec = spec_for([lab["recordings"][0].id], decoder.id)
    with pytest.raises(InvalidArgument, match=r"have 48 voxels but the decoder takes inputs of shape \(10,\), and "
                                              r"'preprocessing.mask: null' keeps every voxel"):
        plan_job(lab["store"], TENANT, spec)
    spec["preprocessing"] = dict(spec["preprocessing"], mask="auto")  # voxels known once the mask is computed
    assert len(plan_job(lab["store"], TENANT, spec).shards) == 1


def test_every_problem_is_listed_at_once(lab):
    recordings = lab["recordings"]
    spec = {
        "name": 7,
        "recordings": {"ids": [recordings[0].id, "rec_missing"]},
        "preprocessing": {"modality": "fmri", "mask": None, "smoothing": 6, "trials": {"method": "lss", "hrf": "spm"}},
        "model": {"decoder": lab["candidates"].id, "encoder": "art_x"},
        "outputs": {"embeddings": "yes", "score_maps": True,
                    "retrieval": {"candidates": "art_missing", "layer": "pool", "k": 0}},
        "shard_by": "site",
        "priority": "high",
    }
    with pytest.raises(InvalidArgument) as err:
        plan_job(lab["store"], TENANT, spec)
    message = str(err.value)
    expected = ["unknown key 'priority'", "'name' must be a string", "'shard_by' must be one of",
                "recording 'rec_missing' not found", "unknown key 'preprocessing.smoothing'",
                "unknown key 'preprocessing.trials.hrf'", "give 'model.decoder' or 'model.encoder', exactly one",
                f"decoder {lab['candidates'].id!r} not found", "encoder 'art_x' not found", "'outputs.score_maps' needs an encoder",
                "'outputs.embeddings' must be true or false", "'outputs.retrieval.k' must be a positive integer",
                "activations 'art_missing' not found"]
    for words in expected:
        assert words in message, words
    assert message.startswith(f"job spec has {len(expected)} problems: (1) ")


def test_only_unknown_ids_give_not_found(lab):
    spec = spec_for(["rec_gone", "rec_lost"], "art_nothing")
    with pytest.raises(NotFound) as err:
        plan_job(lab["store"], TENANT, spec)
    assert "job spec has 3 problems" in str(err.value)
    assert all(f"'{i}' not found" in str(err.value) for i in ("rec_gone", "rec_lost", "art_nothing"))


def test_outputs_and_preprocessing_must_fit_the_model(lab, tmp_path):
    store = lab["store"]
    wide, _ = add_candidates(store, n_dims=lab["model"].n_dims_ + 1)
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id, wide.id)
    spec["outputs"]["retrieval"].update(layer="head", k=50)
    spec["outputs"]["reconstructions"] = {"n_steps": 0, "scheduler": "magic", "model": "gone"}
    spec["preprocessing"] = {"modality": "eeg", "l_freq": 1.0}
    with pytest.raises(InvalidArgument) as err:
        plan_job(store, TENANT, spec, ReconstructionSettings(models={"gone": str(tmp_path / "no-model")}))
    message = str(err.value)
    for words in ["needs a 'epochs' step", "are not eeg", "decodes fmri responses", "has no layer 'head'",
                  "'outputs.retrieval.k' = 50 exceeds the 6 candidate stimuli",
                  "'outputs.reconstructions.n_steps' must be a positive integer",
                  "'outputs.reconstructions.scheduler' must be one of", "model 'gone' cannot be loaded"]:
        assert words in message, words
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id, wide.id)
    with pytest.raises(InvalidArgument, match="has 7 features but the decoder gives 6-dimensional"):
        plan_job(store, TENANT, spec)
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id)
    spec["outputs"] = {"embeddings": False}
    with pytest.raises(InvalidArgument, match="requests nothing"):
        plan_job(store, TENANT, spec)


def test_recordings_without_events_or_json_values_are_rejected(lab, tmp_path):
    silent = add_bold(lab["store"], tmp_path, "03", 9, with_events=False)
    with pytest.raises(InvalidArgument, match=f"recordings {silent.id} have no events"):
        plan_job(lab["store"], TENANT, spec_for([silent.id], lab["decoder"].id))
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id)
    spec["name"] = {1, 2}
    with pytest.raises(InvalidArgument, match="JSON values only"):
        plan_job(lab["store"], TENANT, spec)
    with pytest.raises(InvalidArgument, match="exactly one of them"):
        plan_job(lab["store"], TENANT, dict(spec, name="x", recordings={"ids": ["a"], "filter": {"subject": "01"}}))


def test_another_tenants_ids_are_not_found(lab):
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id, lab["candidates"].id)
    with pytest.raises(NotFound) as err:
        plan_job(lab["store"], "lab-b", spec)
    for ident in (lab["recordings"][0].id, lab["decoder"].id, lab["candidates"].id):
        assert ident in str(err.value)


def test_spec_documents_are_read_within_bounds(tmp_path):
    assert len(BILLION_LAUGHS) < 500
    with pytest.raises(InvalidArgument, match="uses the alias \\*a: YAML aliases are not allowed"):
        parse_spec(BILLION_LAUGHS)
    with pytest.raises(InvalidArgument, match="nests lists or mappings deeper than 32 levels"):
        parse_spec("[" * 40 + "]" * 40)
    with pytest.raises(ResourceExhausted, match="is 2097164 bytes, over the limit of 1048576 bytes"):
        parse_spec("name: " + "x" * 2 * 1024**2 + "\n" + "a: 1\n")
    (tmp_path / "big.yaml").write_text("name: " + "x" * 2 * 1024**2)
    with pytest.raises(ResourceExhausted, match="larger than the limit of 1048576 bytes"):
        read_spec(tmp_path / "big.yaml")
    assert parse_spec("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}  # an anchor without an alias expands nothing


def test_preprocessing_is_checked_in_full_at_submit(lab):
    spec = spec_for([lab["recordings"][0].id], lab["decoder"].id)
    spec["preprocessing"] = {"modality": "fmri", "mask": [[1]], "atlas": "labels.nii", "zscore": "yes",
                             "trials": {"method": "glm", "window": [8, 4]}}
    with pytest.raises(InvalidArgument) as err:
        plan_job(lab["store"], TENANT, spec)
    message = str(err.value)
    expected = ["key 'preprocessing.zscore' must be true or false, got 'yes'",
                "key 'preprocessing.trials.method' must be one of lss, window, got 'glm'",
                "window must be [start, end] seconds after onset with start < end, got (8.0, 4.0)",
                "key 'preprocessing.atlas' needs an image and is available from Python only",
                "key 'preprocessing.mask' must be 'auto' or null in a job spec"]
    for words in expected:
        assert words in message, words
    assert message.startswith(f"job spec has {len(expected)} problems: (1) ")
    spec["preprocessing"] = {"modality": "eeg", "reject": {"eeg": -1}, "epochs": {"tmin": 0.5, "tmax": 0.1}}
    with pytest.raises(InvalidArgument) as err:
        plan_job(lab["store"], TENANT, spec)
    for words in ("reject['eeg'] must be a positive number, got -1", "tmin (0.5) must be below tmax (0.1)"):
        assert words in str(err.value), words


def test_the_typed_spec_and_its_reference():
    sent = {"recordings": {"ids": ["rec_a"]}, "preprocessing": {"modality": "meg", "epochs": {}},
            "model": {"decoder": "art_a"}, "outputs": {"retrieval": {"candidates": "art_b", "layer": "pool"}}}
    spec = check_document(JobSpec, sent, "job spec")
    assert isinstance(spec.preprocessing, EEGSpec) and spec.preprocessing.channel_types == ["meg"]
    assert (spec.kind, spec.outputs.retrieval.k, spec.shard_by) == ("decoder", 5, "recording")
    text = job_spec_reference()
    for key in ("`recordings.filter.subject`", "`outputs.reconstructions.n_steps`", "`model.encoder`",
                "`epochs.baseline`", "`trials.window`", "`reject`"):
        assert key in text, key
    assert "| `outputs.retrieval.k` | a positive integer | 5 |" in text
