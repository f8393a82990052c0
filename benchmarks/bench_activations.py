"""Benchmark: braindecode.activations.extract_activations against the plain peer forward passes.

In one process, on the same stimuli:

1. EfficientNet-Lite0, all 11 registry layers average-pooled, against the package's own
   ``model(x)`` forward (same preprocessing) that only returns the logits: the cost of the hooks,
   pooling and copying to numpy.
2. EfficientNet-Lite0, one early layer (``stage2``), against the same full forward: the hooks stop
   the forward pass once every requested layer is captured.
3. The same 11 layers streamed to ``.npy`` memmaps in a temporary folder against in memory.
4. all-MiniLM-L6-v2 sentence embeddings against ``SentenceTransformer.encode`` on the same local
   model files.

Each timing is the best of ``--repeats`` runs. Usage:
    python benchmarks/bench_activations.py [--n-images 32] [--n-sentences 256] [--repeats 3] [--device cpu]
Prints ``ratio <what>: <peer_time/our_time>x`` lines (above 1: we are faster).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from skimage import data

from braindecode.activations import EFFICIENTNET_LITE0_PREPROCESSOR, extract_activations, load_model
from braindecode.activations._builtin import minilm_model_path

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
          "colorwheel")


def best_time(function, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def report(what: str, ours: float, peer: float, peer_name: str) -> None:
    print(f"{what}: ours {ours:.3f} s, {peer_name} {peer:.3f} s")
    print(f"ratio {what}: {peer / ours:.2f}x")


def bench_efficientnet(n_images: int, repeats: int, device: str) -> None:
    model = load_model("efficientnet-lite0", device=device)
    photos = [getattr(data, name)() for name in PHOTOS]
    images = [photos[i % len(photos)] for i in range(n_images)]

    def peer():
        with torch.inference_mode():
            for start in range(0, len(images), 32):
                x = torch.from_numpy(EFFICIENTNET_LITE0_PREPROCESSOR(images[start:start + 32])).to(device)
                model.module(x).cpu().numpy()

    peer_time = best_time(peer, repeats, device)
    all_layers = best_time(lambda: extract_activations(model, images, pooling="avg"), repeats, device)
    report(f"efficientnet-lite0 11 layers avg, {n_images} images", all_layers, peer_time, "plain forward")
    early = best_time(lambda: extract_activations(model, images, layers=["stage2"]), repeats, device)
    report(f"efficientnet-lite0 stage2 only, {n_images} images", early, peer_time, "plain forward")
    with tempfile.TemporaryDirectory() as out_dir:
        disk = best_time(lambda: extract_activations(model, images, pooling="avg", out_dir=out_dir), repeats, device)
    report(f"efficientnet-lite0 11 layers streamed to disk, {n_images} images", disk, all_layers, "in memory")


def bench_minilm(n_sentences: int, repeats: int, device: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    rng = np.random.default_rng(0)
    words = "the a cat dog rocket coffee brain signal image picture scene moves under over bright dark".split()
    sentences = [" ".join(rng.choice(words, size=rng.integers(4, 20))) for _ in range(n_sentences)]
    model = load_model("minilm-l6-v2", device=device)
    peer_model = SentenceTransformer(str(minilm_model_path()), device=device)
    ours = extract_activations(model, sentences, layers=["sentence_embedding"])["sentence_embedding"]
    theirs = peer_model.encode(sentences, batch_size=32)
    print(f"minilm max abs difference to encode: {np.abs(ours - theirs).max():.1e}")
    peer_time = best_time(lambda: peer_model.encode(sentences, batch_size=32), repeats, device)
    our_time = best_time(lambda: extract_activations(model, sentences, layers=["sentence_embedding"]),
                         repeats, device)
    report(f"minilm-l6-v2 sentence embedding, {n_sentences} sentences", our_time, peer_time,
           "SentenceTransformer.encode")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--n-sentences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    bench_efficientnet(args.n_images, args.repeats, args.device)
    bench_minilm(args.n_sentences, args.repeats, args.device)


if __name__ == "__main__":
    main()
