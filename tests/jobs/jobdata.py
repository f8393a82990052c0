"""Small inputs for job tests: BOLD runs with events, a fitted ridge decoder, a shared decoder, candidate
activations, a tiny reconstruction model (``from jobs.jobdata import ...``)."""

import pathlib
import time

import nibabel
import numpy as np

from braindecode.containers import ActivationSet
from braindecode.decoding import RidgeDecoder, SharedDecoder, TrainingConfig, save_decoder
from braindecode.store import Upload, save_activation_set, save_directory

TENANT = "lab-a"
GRID = (4, 4, 3)
N_VOXELS = int(np.prod(GRID))
N_DIMS = 6
N_STIMULI = 6
N_TRIALS = 6
N_SCANS = 40
PREPROCESSING = {"modality": "fmri", "mask": None, "zscore": True, "trials": {"method": "window", "window": [3, 6]}}
BILLION_LAUGHS = "\n".join(  # 9 ** 9 strings from 341 bytes of YAML aliases
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")])


def events(n_trials=N_TRIALS, offset=0):
    """Trials every 5 s from 2 s, cycling through the stimuli."""
    return [{"onset": 2.0 + 5.0 * i, "duration": 1.0, "stimulus_id": f"stim-{(i + offset) % N_STIMULI}"}
            for i in range(n_trials)]


def write_bold(path, grid=GRID, n_scans=N_SCANS, seed=0) -> pathlib.Path:
    """A random 4-D NIfTI of 3 mm voxels and TR 1 s."""
    data = 100 + np.random.default_rng(seed).standard_normal(grid + (n_scans,)).astype(np.float32)
    img = nibabel.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_zooms((3.0, 3.0, 3.0, 1.0))
    img.header.set_xyzt_units("mm", "sec")
    nibabel.save(img, path)
    return pathlib.Path(path)


def add_bold(store, tmp_path, subject, seed, tenant=TENANT, grid=GRID, with_events=True, task="images",
             late_trial=False):
    """Store a BOLD run (through the upload path) and return its RecordingInfo; with ``late_trial`` its last
    trial starts 3 s before the run ends, so that its response window holds no scan and a shard fails."""
    path = write_bold(tmp_path / f"sub-{subject}_seed-{seed}_bold.nii.gz", grid, seed=seed)
    trials = events(offset=seed) if with_events else []
    if late_trial:
        trials.append({"onset": N_SCANS - 3.0, "duration": 1.0, "stimulus_id": "stim-0"})
    meta = {"subject": subject, "task": task, "file_name": path.name, "events": trials}
    with Upload(store, meta, 1 << 30, tenant) as upload:
        upload.write(path.read_bytes())
        return upload.commit()


def add_decoder(store, tmp_path, tenant=TENANT, n_dims=N_DIMS, seed=0, n_voxels=N_VOXELS):
    """Fit a ridge decoder on random data of the BOLD runs' shape (or of ``n_voxels``) and store it as a
    "decoder" artifact."""
    rng = np.random.default_rng(seed)
    model = RidgeDecoder(alphas=[1.0, 10.0], cv=2).fit(rng.standard_normal((24, n_voxels)),
                                                       rng.standard_normal((24, n_dims)))
    folder = save_decoder(model, tmp_path / f"decoder-{tenant}-{n_dims}-{seed}-{n_voxels}")
    return save_directory(store, tenant, "decoder", folder), model


def add_shared_decoder(store, tmp_path, subjects=("01", "02"), tenant=TENANT, n_dims=N_DIMS, seed=0):
    """Fit a small shared decoder with an adapter per subject label on random data of the BOLD runs'
    shape and store it as a "decoder" artifact."""
    rng = np.random.default_rng(seed)
    model = SharedDecoder(latent_dim=4, hidden_dim=8, n_blocks=1, training=TrainingConfig(max_epochs=2)).fit(
        {s: rng.standard_normal((24, N_VOXELS)) for s in subjects}, {s: rng.standard_normal((24, n_dims)) for s in subjects})
    folder = save_decoder(model, tmp_path / f"shared-{tenant}-{'-'.join(subjects)}-{seed}")
    return save_directory(store, tenant, "decoder", folder), model


def add_candidates(store, tenant=TENANT, n_dims=N_DIMS, seed=1):
    """An activation set with one embedding per stimulus in layer 'pool'."""
    rng = np.random.default_rng(seed)
    aset = ActivationSet([f"stim-{i}" for i in range(N_STIMULI)],
                         {"pool": rng.standard_normal((N_STIMULI, n_dims)).astype(np.float32)}, "test-net")
    return save_activation_set(store, tenant, aset), aset


def spec_for(recording_ids, decoder_id, candidates_id=None, **extra):
    outputs = {"embeddings": True}
    if candidates_id:
        outputs["retrieval"] = {"candidates": candidates_id, "layer": "pool", "k": 3}
    return {"name": "test", "recordings": {"ids": list(recording_ids)}, "preprocessing": PREPROCESSING,
            "model": {"decoder": decoder_id}, "outputs": outputs, **extra}


def wait(runner, tenant, job_id, timeout=240):
    """The job once it reaches a final state (watching it)."""
    deadline = time.monotonic() + timeout
    for job in runner.watch(tenant, job_id, is_active=lambda: time.monotonic() < deadline):
        if job.terminal:
            return job
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def save_tiny_reconstruction_model(path, embedding_dim: int, seed: int = 0) -> pathlib.Path:
    """A randomly initialised pixel-space pipeline (8 x 8 images) conditioned through class projection."""
    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from braindecode.reconstruction import ReconstructionPipeline

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2D", norm_num_groups=4, class_embed_type="projection",
        projection_class_embeddings_input_dim=embedding_dim)
    ReconstructionPipeline(unet, DDPMScheduler(prediction_type="v_prediction")).save_pretrained(path)
    return pathlib.Path(path)
