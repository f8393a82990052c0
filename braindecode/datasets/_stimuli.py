"""Stimulus images: crops of the photographs that scikit-image and scikit-learn ship.

Every source photograph is cut in two along its longer side: the first 70 % is its
*train region*, the last 30 % its *test region*. Train stimuli are square crops drawn
inside train regions, test stimuli inside test regions, so no pixel of a test stimulus
appears in any train stimulus. Each crop has a random position, a random side (a scale
between ``MIN_SCALE`` and 1 of the region's shorter side) and a random horizontal flip,
and is resized to ``size`` x ``size``. Crops of one region overlap each other by at most
``MAX_IOU`` (intersection over union), so every stimulus is a distinct view.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from braindecode.errors import InvalidArgument

TEST_FRACTION = 0.3
MIN_SCALE = 0.4
MAX_IOU = 0.6
_MAX_TRIES = 500

#: Photographs shipped by scikit-image (``skimage/data``) and scikit-learn
#: (``sklearn/datasets/images``), as (package, path inside the package).
SOURCES = (
    ("skimage", "data/astronaut.png"),
    ("skimage", "data/camera.png"),
    ("skimage", "data/chelsea.png"),
    ("skimage", "data/coffee.png"),
    ("skimage", "data/coins.png"),
    ("skimage", "data/moon.png"),
    ("skimage", "data/rocket.jpg"),
    ("skimage", "data/hubble_deep_field.jpg"),
    ("skimage", "data/retina.jpg"),
    ("skimage", "data/ihc.png"),
    ("skimage", "data/motorcycle_left.png"),
    ("skimage", "data/brick.png"),
    ("skimage", "data/grass.png"),
    ("skimage", "data/gravel.png"),
    ("skimage", "data/clock_motion.png"),
    ("skimage", "data/page.png"),
    ("skimage", "data/text.png"),
    ("skimage", "data/cell.png"),
    ("sklearn", "datasets/images/china.jpg"),
    ("sklearn", "datasets/images/flower.jpg"),
)


@dataclass
class StimulusImages:
    """Images with identifiers, a train/test split and their provenance.

    Parameters
    ----------
    ids : array of shape (n_stimuli,)
        Stimulus identifiers (strings).
    images : array of shape (n_stimuli, size, size, 3)
        uint8 RGB images.
    split : array of shape (n_stimuli,)
        ``"train"`` or ``"test"``.
    sources : array of shape (n_stimuli,)
        Source file of each stimulus, as ``"<package>/<path in package>"``.
    transforms : list of dict
        Per stimulus: ``box`` (top, left, bottom, right) in source pixels, ``flip``
        (horizontal), ``scale`` (crop side / region's shorter side) and ``region``.
    info : dict
        Seed and the parameters the set was drawn with.
    """

    ids: np.ndarray
    images: np.ndarray
    split: np.ndarray
    sources: np.ndarray
    transforms: list
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask) -> "StimulusImages":
        """The stimuli selected by a boolean mask or index array."""
        idx = np.arange(len(self))[mask]
        return StimulusImages(
            self.ids[idx], self.images[idx], self.split[idx], self.sources[idx],
            [self.transforms[i] for i in idx], dict(self.info),
        )

    @property
    def train_ids(self) -> np.ndarray:
        return self.ids[self.split == "train"]

    @property
    def test_ids(self) -> np.ndarray:
        return self.ids[self.split == "test"]

    def write(self, directory) -> dict:
        """Write ``images/<id>.png`` and ``stimuli.tsv`` (id, split, file, source, transform).

        Returns
        -------
        paths : dict
            ``{"table": path of stimuli.tsv, "images": {id: png path}}``.
        """
        image_dir = os.path.join(directory, "images")
        os.makedirs(image_dir, exist_ok=True)
        images = {}
        for sid, image in zip(self.ids, self.images):
            images[sid] = os.path.join(image_dir, f"{sid}.png")
            Image.fromarray(image).save(images[sid], compress_level=1)
        table = os.path.join(directory, "stimuli.tsv")
        with open(table, "w", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(["stimulus_id", "split", "file", "source", "transform"])
            for sid, split, source, transform in zip(self.ids, self.split, self.sources, self.transforms):
                writer.writerow([sid, split, f"images/{sid}.png", source, json.dumps(transform)])
        return {"table": table, "images": images}


def source_path(source: str) -> str:
    """Absolute path of a source given as ``"<package>/<path in package>"``."""
    package, _, relative = source.partition("/")
    if package not in ("skimage", "sklearn"):
        raise InvalidArgument(f"unknown stimulus source package {package!r}")
    module = __import__(package)
    return os.path.join(os.path.dirname(module.__file__), relative)


def _regions(height: int, width: int) -> dict:
    """Train and test regions (top, left, bottom, right): a 70/30 cut of the longer side."""
    if width >= height:
        cut = int(round(width * (1 - TEST_FRACTION)))
        return {"train": (0, 0, height, cut), "test": (0, cut, height, width)}
    cut = int(round(height * (1 - TEST_FRACTION)))
    return {"train": (0, 0, cut, width), "test": (cut, 0, height, width)}


def _area(box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _iou(a, b) -> float:
    """Intersection over union of two (top, left, bottom, right) boxes."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / (_area(a) + _area(b) - inter)


def _draw_box(rng, region, taken) -> tuple:
    """A square crop inside ``region`` overlapping no box in ``taken`` by more than MAX_IOU."""
    top, left, bottom, right = region
    short = min(bottom - top, right - left)
    for _ in range(_MAX_TRIES):
        scale = rng.uniform(MIN_SCALE, 1.0)
        side = max(int(round(scale * short)), 1)
        y = top + int(rng.integers(0, bottom - top - side + 1))
        x = left + int(rng.integers(0, right - left - side + 1))
        box = (y, x, y + side, x + side)
        if all(_iou(box, other) <= MAX_IOU for other in taken):
            return box, side / short
    raise InvalidArgument(
        f"cannot draw {len(taken) + 1} distinct crops from one source region; ask for fewer stimuli"
    )


def _allocate(n: int, n_sources: int, rng) -> np.ndarray:
    """Crops per source: as even as possible, the remainder to randomly chosen sources."""
    counts = np.full(n_sources, n // n_sources)
    counts[rng.permutation(n_sources)[: n % n_sources]] += 1
    return counts


def load_stimuli(n_stimuli: int = 500, n_test: int = 100, size: int = 224, seed: int = 0) -> StimulusImages:
    """Distinct crops of real photographs with a fixed, leak-free train/test split.

    Parameters
    ----------
    n_stimuli : int
        Total number of stimuli.
    n_test : int
        Number of test stimuli, drawn from the held-out test regions.
    size : int
        Side of the square output images in pixels.
    seed : int
        Seed of every random choice; the same seed gives the same bytes.

    Returns
    -------
    stimuli : StimulusImages
        ``images`` of shape (n_stimuli, size, size, 3), uint8, in a shuffled order
        with ids ``stim0000`` ... .
    """
    if not 0 < n_test < n_stimuli:
        raise InvalidArgument(f"n_test must be in [1, n_stimuli); got n_test={n_test}, n_stimuli={n_stimuli}")
    if size < 8:
        raise InvalidArgument(f"size must be at least 8 pixels; got {size}")
    rng = np.random.default_rng(seed)
    counts = {
        "train": _allocate(n_stimuli - n_test, len(SOURCES), rng),
        "test": _allocate(n_test, len(SOURCES), rng),
    }
    images, splits, sources, transforms, digests = [], [], [], [], set()
    for k, (package, relative) in enumerate(SOURCES):
        source = f"{package}/{relative}"
        with Image.open(source_path(source)) as opened:
            photo = opened.convert("RGB")
        regions = _regions(photo.height, photo.width)
        for split in ("train", "test"):
            taken = []
            for _ in range(counts[split][k]):
                box, scale = _draw_box(rng, regions[split], taken)
                taken.append(box)
                flip = bool(rng.integers(2))
                crop = photo.crop((box[1], box[0], box[3], box[2])).resize((size, size), Image.Resampling.LANCZOS)
                if flip:
                    crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                pixels = np.asarray(crop, dtype=np.uint8)
                digests.add(hashlib.sha1(pixels.tobytes()).hexdigest())
                images.append(pixels)
                splits.append(split)
                sources.append(source)
                transforms.append({
                    "region": split, "box": [int(v) for v in box], "flip": flip,
                    "scale": round(float(scale), 4), "resize": [size, size],
                })
    if len(digests) != n_stimuli:
        raise InvalidArgument(f"only {len(digests)} of {n_stimuli} stimuli are distinct; ask for fewer")
    order = rng.permutation(n_stimuli)
    return StimulusImages(
        ids=np.array([f"stim{i:04d}" for i in range(n_stimuli)]),
        images=np.stack(images)[order],
        split=np.array(splits)[order],
        sources=np.array(sources)[order],
        transforms=[transforms[i] for i in order],
        info={"seed": seed, "size": size, "test_fraction": TEST_FRACTION,
              "min_scale": MIN_SCALE, "max_iou": MAX_IOU},
    )
