"""Train the default reconstruction model (``models/reconstruction-default``).

Data: the embedded stimulus set (``braindecode.datasets.load_stimuli``), 64 x 64
RGB images, conditioned on EfficientNet-Lite0 ``pool`` embeddings (1280-d) of
the 224 x 224 stimuli. The train split plus its horizontal flips (with their own
embeddings) trains, the held-out test split is only scored.

Model: a tiny AutoencoderTiny (64 x 64 x 3 <-> 16 x 16 x 4), trained first, and a
UNet2DConditionModel on its latents that takes the embedding twice: as
cross-attention tokens from a ConditionProjector (at every resolution) and as
unCLIP-style class embeds (scale-shift of every resnet). v-prediction on a
cosine schedule, timesteps drawn with a density growing linearly with the noise
level (few-step samplers spend their steps at high noise); the condition is
zeroed for 10 % of the examples so that classifier-free guidance works. A
LatentPrior over the training latents gives the low-level start for img2img; its
temperature is chosen by leave-one-out on the training set, each crop predicted
from the crops that do not overlap it (the held-out stimuli come from regions
of the photographs that no training crop covers).

Run::

    python -m braindecode.reconstruction.train_default --out models/reconstruction-default

One thread is the default: on a CPU shared with other jobs, torch's
multi-threaded kernels run slower than one thread.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import shutil
import tempfile
import time

import numpy as np
import torch
from diffusers import AutoencoderTiny, DDPMScheduler, UNet2DConditionModel
from PIL import Image

from braindecode.reconstruction._metrics import evaluate_reconstructions, pearson_two_way_identification
from braindecode.reconstruction._prior import LatentPrior
from braindecode.reconstruction._projector import ConditionProjector
from braindecode.reconstruction._reconstruct import seed_generators
from braindecode.reconstruction._reconstruction_pipeline import ReconstructionPipeline

IMAGE_SIZE = 64
EMBEDDING_MODEL = "efficientnet-lite0"
EMBEDDING_LAYER = "pool"
# (scheduler, n_steps, guidance, strength); strength 0 is the prior alone, 1 ignores it.
EVAL_SETTINGS = (("ddim", 4, 1.0, 0.0), ("ddim", 4, 1.0, 0.25), ("ddim", 4, 1.0, 0.5), ("ddim", 4, 1.0, 0.75),
                 ("ddim", 4, 3.0, 0.75), ("ddim", 4, 1.0, 1.0), ("lcm", 4, 1.0, 0.5), ("lcm", 4, 1.0, 1.0),
                 ("ddim", 1, 1.0, 1.0))
# Settings also run on shuffled embeddings: what the model makes of the wrong stimulus.
BASELINE_SETTINGS = (("ddim", 4, 1.0, 0.0), ("ddim", 4, 1.0, 0.5), ("ddim", 4, 1.0, 1.0))
# The sampling settings the model recommends (``reconstruct`` uses them when a caller gives none):
# the best held-out identification of EVAL_SETTINGS, see the model card.
SAMPLING = {"n_steps": 4, "scheduler": "ddim", "guidance_scale": 1.0, "strength": 0.0}
PRIOR_TEMPERATURES = (0.001, 0.003, 0.01, 0.02, 0.05)


def default_vae() -> AutoencoderTiny:
    """64 x 64 x 3 images <-> 16 x 16 x 4 latents; plain conv + ReLU blocks (no normalisation to unlearn colour)."""
    return AutoencoderTiny(
        encoder_block_out_channels=(24, 24, 24), decoder_block_out_channels=(24, 24, 24),
        num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1), latent_channels=4,
    )


def default_unet(embedding_dim: int, cross_attention_dim: int = 64) -> UNet2DConditionModel:
    """A 2 M-parameter UNet on 16 x 16 x 4 latents: cross-attention at 16, 8 and 4 pixels, scale-shift class embeds."""
    return UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 4, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64, 64), down_block_types=("CrossAttnDownBlock2D",) * 3,
        up_block_types=("CrossAttnUpBlock2D",) * 3, cross_attention_dim=cross_attention_dim,
        attention_head_dim=16, norm_num_groups=16, resnet_time_scale_shift="scale_shift",
        class_embed_type="projection", projection_class_embeddings_input_dim=embedding_dim,
    )


def default_scheduler() -> DDPMScheduler:
    """v-prediction on a cosine schedule; no clipping of predicted samples (latents are not bounded to [-1, 1])."""
    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                         clip_sample=False)


def _resize(images, size: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.LANCZOS)) for im in images])


def stimulus_data(n_stimuli: int = 500, n_test: int = 100, seed: int = 0, device="cpu", progress=print) -> dict:
    """Train (with flips) and test images at IMAGE_SIZE and their EfficientNet-Lite0 embeddings.

    Returns
    -------
    data : dict
        ``train_images`` (n_train, 64, 64, 3) uint8, ``train_embeddings`` (n_train, 1280) float32,
        ``train_overlap`` (n_train, n_train) bool (crops of one photograph that share pixels, see
        :func:`overlapping_crops`), the same images and embeddings for ``test_``, and ``test_ids``.
    """
    from braindecode.activations import extract_activations, load_model
    from braindecode.datasets import load_stimuli

    stimuli = load_stimuli(n_stimuli=n_stimuli, n_test=n_test, size=224, seed=seed)
    network = load_model(EMBEDDING_MODEL, device=device)
    is_train = stimuli.split == "train"
    train = stimuli.images[is_train]
    train = np.concatenate([train, train[:, :, ::-1]])
    boxes = [t["box"] for t, keep in zip(stimuli.transforms, is_train) if keep] * 2
    test = stimuli.images[stimuli.split == "test"]

    def embed(images):
        acts = extract_activations(network, list(images), layers=[EMBEDDING_LAYER], pooling="avg", device=device)
        return np.asarray(acts[EMBEDDING_LAYER], dtype=np.float32)

    progress(f"embedding {len(train)} train and {len(test)} test stimuli with {EMBEDDING_MODEL}/{EMBEDDING_LAYER}")
    return {"train_images": _resize(train, IMAGE_SIZE), "train_embeddings": embed(train),
            "train_overlap": overlapping_crops(np.concatenate([stimuli.sources[is_train]] * 2), boxes),
            "test_images": _resize(test, IMAGE_SIZE), "test_embeddings": embed(test),
            "test_ids": stimuli.ids[stimuli.split == "test"]}


def overlapping_crops(sources, boxes) -> np.ndarray:
    """Which crops share pixels: the same source photograph and intersecting boxes.

    Parameters
    ----------
    sources : array of shape (n,)
        Source photograph of each crop.
    boxes : array of shape (n, 4)
        (top, left, bottom, right) of each crop in its source.

    Returns
    -------
    overlap : array of shape (n, n), bool
        True on the diagonal, for a crop and its flip, and for intersecting crops of one photograph.
    """
    sources, boxes = np.asarray(sources), np.asarray(boxes)
    top, left, bottom, right = (boxes[:, k] for k in range(4))
    rows = np.minimum(bottom[:, None], bottom) > np.maximum(top[:, None], top)
    cols = np.minimum(right[:, None], right) > np.maximum(left[:, None], left)
    return (sources[:, None] == sources) & rows & cols


def _to_tensor(images) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _lr_factor(step: int, steps: int, warmup: int = 20) -> float:
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def train_vae(vae, images, steps: int = 300, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
              progress=print) -> AutoencoderTiny:
    """Fit the autoencoder (L1 + MSE) and set its latent ``scaling_factor`` to 1 / std.

    Parameters
    ----------
    images : array of shape (n, 64, 64, 3)
        uint8 training images.
    """
    x_all = _to_tensor(images)
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps))
    vae.train()
    for step in range(steps):
        x = x_all[torch.randint(len(x_all), (batch_size,), generator=g)]
        recon = vae.decode(vae.encode(x).latents).sample
        loss = (recon - x).abs().mean() + (recon - x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 25 == 0 or step == steps - 1:
            progress(f"vae step {step + 1}/{steps} loss {loss.item():.4f}")
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(chunk).latents for chunk in x_all.split(128)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return vae


def _timesteps(n: int, n_train: int, generator) -> torch.Tensor:
    """Training timesteps with density proportional to t + 1/2: more weight on high noise."""
    return (n_train * torch.rand(n, generator=generator).sqrt()).long().clamp(max=n_train - 1)


def fit_prior(embeddings, latents, overlap, temperatures=PRIOR_TEMPERATURES, progress=print) -> LatentPrior:
    """The latent prior whose temperature best identifies left-out training latents (2-way).

    Each training latent is predicted from the references that do not overlap
    it, so that the choice mimics held-out stimuli, which come from regions of
    the photographs that no training crop covers.

    Parameters
    ----------
    embeddings : array of shape (n, d)
    latents : tensor of shape (n, c, h, w)
    overlap : array of shape (n, n), bool
        References left out with each example (see :func:`overlapping_crops`).
    """
    prior = LatentPrior(embeddings, latents)
    similarity = (prior.keys @ prior.keys.T).masked_fill(torch.as_tensor(overlap), -torch.inf)
    values = prior.values.flatten(1)
    scores = {}
    for temperature in temperatures:
        predicted = torch.softmax(similarity / temperature, dim=1) @ values
        scores[temperature] = float(pearson_two_way_identification(predicted.numpy(), values.numpy()).mean())
    best = max(scores, key=scores.get)
    progress(f"prior leave-overlap-out 2-way identification by temperature {scores}: using {best}")
    return LatentPrior(embeddings, latents, best)


def train_unet(pipeline: ReconstructionPipeline, latents, embeddings, steps: int = 400, batch_size: int = 32,
               lr: float = 5e-3, cond_dropout: float = 0.1, ema_decay: float = 0.99, seed: int = 0,
               progress=print) -> ReconstructionPipeline:
    """Fit UNet and projector with the v-prediction loss; the pipeline ends up holding the EMA weights.

    Parameters
    ----------
    latents : tensor of shape (n, 4, 16, 16)
        Scaled VAE latents of the training images.
    embeddings : array of shape (n, d)
    """
    g = torch.Generator().manual_seed(seed)
    emb_all = torch.as_tensor(embeddings)
    schedule = pipeline.scheduler
    modules = torch.nn.ModuleList([pipeline.unet, pipeline.projector])
    ema = [p.detach().clone() for p in modules.parameters()]
    optimizer = torch.optim.AdamW(modules.parameters(), lr=lr, weight_decay=1e-4)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, steps))
    modules.train()
    for step in range(steps):
        idx = torch.randint(len(latents), (batch_size,), generator=g)
        x0, emb = latents[idx], emb_all[idx]
        emb = emb * (torch.rand(batch_size, 1, generator=g) >= cond_dropout)
        noise = torch.randn(x0.shape, generator=g)
        t = _timesteps(batch_size, schedule.config.num_train_timesteps, g)
        noisy = schedule.add_noise(x0, noise, t)
        pred = pipeline.unet(noisy, t, encoder_hidden_states=pipeline.projector(emb), class_labels=emb).sample
        loss = (pred - schedule.get_velocity(x0, noise, t)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(modules.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        decay = min(ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, modules.parameters()):
                e.lerp_(p, 1 - decay)
        if step % 25 == 0 or step == steps - 1:
            progress(f"unet step {step + 1}/{steps} loss {loss.item():.4f}")
    with torch.no_grad():
        for e, p in zip(ema, modules.parameters()):
            p.copy_(e)
    modules.eval()
    return pipeline


def evaluate(pipeline, images, embeddings, seed: int = 0, settings=EVAL_SETTINGS, network=None) -> dict:
    """Held-out quality per sampling setting: PixCorr, SSIM and 2-way identification per network layer.

    Parameters
    ----------
    images : array of shape (n, 64, 64, 3)
        The held-out stimuli.
    embeddings : array of shape (n, d)
        Their embeddings (the conditioning).
    """
    results = {}
    for scheduler, n_steps, guidance, strength in settings:
        recon = pipeline(embeddings, n_steps, scheduler, guidance_scale=guidance, strength=strength,
                         generator=seed_generators(seed, len(embeddings)))
        key = f"{scheduler}-{n_steps}step-cfg{guidance:g}-strength{strength:g}"
        results[key] = evaluate_reconstructions(recon, images, model=network)
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models/reconstruction-default")
    parser.add_argument("--n-stimuli", type=int, default=500)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--vae-steps", type=int, default=300)
    parser.add_argument("--unet-steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start, cpu_start = time.time(), time.process_time()

    def log(message):
        print(f"[{time.time() - start:7.1f} s] {message}", flush=True)

    data = stimulus_data(args.n_stimuli, args.n_test, args.seed, progress=log)
    vae = train_vae(default_vae(), data["train_images"], args.vae_steps, args.batch_size, seed=args.seed, progress=log)
    with torch.no_grad():
        latents = torch.cat([vae.encode(x).latents for x in _to_tensor(data["train_images"]).split(128)])
        latents = latents * vae.config.scaling_factor
    dim = data["train_embeddings"].shape[1]
    prior = fit_prior(data["train_embeddings"], latents, data["train_overlap"], progress=log)
    pipeline = ReconstructionPipeline(default_unet(dim), default_scheduler(), ConditionProjector(dim, 4, 64), vae, prior,
                                      SAMPLING, encoder={"model": EMBEDDING_MODEL, "output": EMBEDDING_LAYER})
    train_unet(pipeline, latents, data["train_embeddings"], args.unet_steps, args.batch_size, seed=args.seed,
               progress=log)
    train_seconds, train_cpu_seconds = time.time() - start, time.process_time() - cpu_start
    log("evaluating on the held-out stimuli")
    from braindecode.activations import load_model

    network = load_model(EMBEDDING_MODEL)
    metrics = evaluate(pipeline, data["test_images"], data["test_embeddings"], args.seed, network=network)
    with torch.no_grad():
        vae_recon = pipeline.decode_latents(pipeline.runtime("torch"), pipeline.encode_images(
            pipeline.runtime("torch"), _to_tensor(data["test_images"])))
    metrics["vae-roundtrip"] = evaluate_reconstructions(vae_recon, data["test_images"], model=network)
    shuffled = data["test_embeddings"][np.random.default_rng(args.seed).permutation(len(data["test_embeddings"]))]
    baseline = evaluate(pipeline, data["test_images"], shuffled, args.seed, BASELINE_SETTINGS, network)
    metrics |= {f"shuffled-embeddings-{key}": value for key, value in baseline.items()}
    record = {"args": vars(args), "train_seconds": round(train_seconds, 1),
              "train_cpu_seconds": round(train_cpu_seconds, 1),
              "total_seconds": round(time.time() - start, 1), "n_train": int(len(data["train_images"])),
              "n_test": int(len(data["test_images"])), "embedding": f"{EMBEDDING_MODEL}/{EMBEDDING_LAYER}",
              "image_size": IMAGE_SIZE, "torch": torch.__version__, "held_out": metrics}
    out = pathlib.Path(args.out)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".reconstruction-", dir=out.parent if out.parent.exists() else None))
    pipeline.save_pretrained(staging)
    (staging / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    for name in ("MODEL_CARD.md",):
        if (out / name).exists():
            shutil.copy(out / name, staging / name)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    log(f"saved to {out}: " + json.dumps(metrics))
    return record


if __name__ == "__main__":
    main()
