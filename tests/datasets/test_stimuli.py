import csv
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from braindecode.datasets import SOURCES, load_stimuli
from braindecode.datasets._stimuli import _regions, source_path
from braindecode.errors import InvalidArgument


@pytest.fixture(scope="module")
def default_stimuli():
    return load_stimuli()


def test_default_set_has_500_distinct_stimuli_and_100_held_out(default_stimuli):
    s = default_stimuli
    assert s.images.shape == (500, 224, 224, 3) and s.images.dtype == np.uint8
    assert len(set(s.ids)) == 500
    assert len({hashlib.sha1(im.tobytes()).hexdigest() for im in s.images}) == 500
    assert (s.split == "test").sum() == 100 and (s.split == "train").sum() == 400
    assert not set(s.train_ids) & set(s.test_ids)
    # every source photograph contributes to both sides of the split
    assert set(s.sources[s.split == "train"]) == set(s.sources[s.split == "test"]) == {
        f"{package}/{path}" for package, path in SOURCES
    }


def test_test_crops_share_no_pixel_with_train_crops(default_stimuli):
    s = default_stimuli
    for source in set(s.sources):
        with Image.open(source_path(source)) as img:
            height, width = img.height, img.width
        covered = {"train": np.zeros((height, width), bool), "test": np.zeros((height, width), bool)}
        for split, src, transform in zip(s.split, s.sources, s.transforms):
            if src == source:
                top, left, bottom, right = transform["box"]
                assert transform["region"] == split
                covered[split][top:bottom, left:right] = True
        assert not (covered["train"] & covered["test"]).any(), source
        region = _regions(height, width)["test"]
        assert covered["test"][region[0]:region[2], region[1]:region[3]].sum() == covered["test"].sum()


def test_transform_reproduces_each_stimulus_from_its_source_file(default_stimuli):
    s = default_stimuli
    for i in np.random.default_rng(1).choice(len(s), 12, replace=False):
        t = s.transforms[i]
        with Image.open(source_path(s.sources[i])) as img:
            top, left, bottom, right = t["box"]
            crop = img.convert("RGB").crop((left, top, right, bottom)).resize(t["resize"], Image.Resampling.LANCZOS)
        if t["flip"]:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        np.testing.assert_array_equal(np.asarray(crop), s.images[i])


def test_grayscale_sources_become_rgb(default_stimuli):
    s = default_stimuli
    camera = s.images[s.sources == "skimage/data/camera.png"]
    assert len(camera) > 0
    np.testing.assert_array_equal(camera[..., 0], camera[..., 1])
    np.testing.assert_array_equal(camera[..., 0], camera[..., 2])


def test_same_seed_same_bytes_other_seed_other_set():
    a, b, c = load_stimuli(60, 12, seed=3), load_stimuli(60, 12, seed=3), load_stimuli(60, 12, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.split, b.split)
    assert a.transforms == b.transforms
    assert not np.array_equal(a.images, c.images)


def test_size_parameter():
    s = load_stimuli(40, 8, size=64)
    assert s.images.shape == (40, 64, 64, 3)


def test_write_round_trips_images_and_table(tmp_path):
    s = load_stimuli(30, 6, size=32)
    paths = s.write(tmp_path)
    with open(paths["table"], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["stimulus_id"] for r in rows] == list(s.ids)
    assert [r["split"] for r in rows] == list(s.split)
    assert [json.loads(r["transform"]) for r in rows] == s.transforms
    for row, image in zip(rows, s.images):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / row["file"])), image)


def test_subset_keeps_rows_aligned():
    s = load_stimuli(30, 6, size=32)
    test = s.subset(s.split == "test")
    assert len(test) == 6 and set(test.split) == {"test"}
    np.testing.assert_array_equal(test.images, s.images[s.split == "test"])
    assert test.transforms == [t for t, sp in zip(s.transforms, s.split) if sp == "test"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_stimuli=50, n_test=50), "n_test"),
    (dict(n_stimuli=50, n_test=0), "n_test"),
    (dict(n_stimuli=50, n_test=10, size=4), "size"),
    (dict(n_stimuli=5000, n_test=100), "distinct crops"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        load_stimuli(**kwargs)
