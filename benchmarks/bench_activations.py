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

The floor is the network's forward pass alone on inputs prepared beforehand (preprocessed
images, tokenized sentences), timed in the same run: what no extraction avoids.

Ours, the peer and the floor alternate, ``--repeats`` rounds, best kept. Usage:
    python benchmarks/bench_activations.py [--n-images 32] [--n-sentences 256] [--repeats 3] [--device cpu]
    python benchmarks/bench_activations.py --quick    # 8 images, 64 sentences, 1 round
Prints ``ratio <what>: <peer_time/our_time>x`` lines (above 1: we are faster) and
``limit <what>: <our_time/floor_time>x`` lines; every time carries the load average and CPU steal.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch
from _measure import alternate, describe_machine
from skimage import data

from braindecode.activations import EFFICIENTNET_LITE0_PREPROCESSOR, extract_activations, load_model
from braindecode.activations._builtin import minilm_model_path

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
          "colorwheel")


def synced(function, device: str):
    def run():
        function()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def report(what: str, ours, peer, floor=None) -> None:
    print(f"ratio {what}: {peer.seconds / ours.seconds:.2f}x")
    if floor is not None:
        print(f"limit {what}: {ours.seconds / floor.seconds:.2f}x")


def bench_efficientnet(n_images: int, repeats: int, device: str) -> None:
    model = load_model("efficientnet-lite0", device=device)
    photos = [getattr(data, name)() for name in PHOTOS]
    images = [photos[i % len(photos)] for i in range(n_images)]
    batches = [torch.from_numpy(EFFICIENTNET_LITE0_PREPROCESSOR(images[start:start + 32])).to(device)
               for start in range(0, len(images), 32)]

    def peer():
        with torch.inference_mode():
            for start in range(0, len(images), 32):
                x = torch.from_numpy(EFFICIENTNET_LITE0_PREPROCESSOR(images[start:start + 32])).to(device)
                model.module(x).cpu().numpy()

    def floor():
        with torch.inference_mode():
            for x in batches:
                model.module(x)

    with tempfile.TemporaryDirectory() as out_dir:
        runs = {
            "forward": peer,
            "11_layers": lambda: extract_activations(model, images, pooling="avg"),
            "stage2": lambda: extract_activations(model, images, layers=["stage2"]),
            "to_disk": lambda: extract_activations(model, images, pooling="avg", out_dir=out_dir),
            "floor": floor,
        }
        times = alternate({name: synced(run, device) for name, run in runs.items()}, repeats, "efficientnet ")
    report(f"efficientnet-lite0 11 layers avg, {n_images} images (peer: plain forward)",
           times["11_layers"], times["forward"], times["floor"])
    # (no floor for stage2 alone: the hooks stop the forward there, so it does less than the full pass)
    report(f"efficientnet-lite0 stage2 only, {n_images} images (peer: plain forward)",
           times["stage2"], times["forward"])
    report(f"efficientnet-lite0 11 layers streamed to disk, {n_images} images (peer: in memory)",
           times["to_disk"], times["11_layers"], times["floor"])


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
    features = [{key: value.to(device) if isinstance(value, torch.Tensor) else value
                 for key, value in peer_model.preprocess(sentences[start:start + 32]).items()}
                for start in range(0, len(sentences), 32)]

    def floor():
        with torch.inference_mode():
            for batch in features:
                peer_model(batch)

    runs = {
        "encode": lambda: peer_model.encode(sentences, batch_size=32),
        "ours": lambda: extract_activations(model, sentences, layers=["sentence_embedding"]),
        "floor": floor,
    }
    times = alternate({name: synced(run, device) for name, run in runs.items()}, repeats, "minilm ")
    report(f"minilm-l6-v2 sentence embedding, {n_sentences} sentences (peer: SentenceTransformer.encode)",
           times["ours"], times["encode"], times["floor"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--n-sentences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="8 images, 64 sentences, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.n_images, args.n_sentences, args.repeats = min(args.n_images, 8), min(args.n_sentences, 64), 1
    print(f"machine: {describe_machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {args.device}")
    bench_efficientnet(args.n_images, args.repeats, args.device)
    bench_minilm(args.n_sentences, args.repeats, args.device)


if __name__ == "__main__":
    main()
