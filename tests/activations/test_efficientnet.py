"""EfficientNet-Lite0 with its training preprocessing classifies scikit-image photographs sensibly."""

import numpy as np
import pytest
import torch
from PIL import Image

from braindecode.activations import EFFICIENTNET_LITE0_PREPROCESSOR, ImagePreprocessor

# ImageNet-1k class indices
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, MISSILE, PROJECTILE = 967, 657, 744


def failed_checks(probs: np.ndarray) -> list:
    """Which expectations on (coffee, chelsea, rocket) class probabilities fail."""
    coffee, chelsea, rocket = probs
    failed = []
    if not set(np.argsort(chelsea)[-3:]) <= CATS or chelsea[sorted(CATS)].sum() < 0.85:
        failed.append("chelsea: top-3 classes are cats holding >= 85 %")
    if coffee.argmax() != ESPRESSO or coffee[ESPRESSO] < 0.92:
        failed.append("coffee: espresso with >= 92 %")
    if set(np.argsort(rocket)[-2:]) != {MISSILE, PROJECTILE}:
        failed.append("rocket: top-2 are missile and projectile")
    return failed


def classify(model, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.module(torch.from_numpy(batch)).softmax(dim=1).numpy()


@pytest.fixture(scope="module")
def three(photos):
    return [photos["coffee"], photos["chelsea"], photos["rocket"]]


def test_classifies_photographs(lite0, three, photos):
    probs = lite0.run(three).softmax(dim=1).numpy()
    assert failed_checks(probs) == []
    # a cat is among the top-5 classes of chelsea; the astronaut photo is not called a cat
    assert set(np.argsort(probs[1])[-5:]) & CATS
    astronaut = lite0.run([photos["astronaut"]]).softmax(dim=1).numpy()[0]
    assert not set(np.argsort(astronaut)[-5:]) & CATS


def _stretch(images):
    batch = [np.asarray(Image.fromarray(i).resize((224, 224), Image.Resampling.BICUBIC), np.float32)
             for i in images]
    return ((np.stack(batch) - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()


BROKEN = {
    "no normalisation": lambda imgs: ImagePreprocessor(mean=(0, 0, 0), std=(1, 1, 1))(imgs),
    "scaled to [0, 1]": lambda imgs: ImagePreprocessor(mean=(0, 0, 0), std=(255, 255, 255))(imgs),
    "torchvision ImageNet mean/std": lambda imgs: ImagePreprocessor()(imgs),
    "BGR channel order": lambda imgs: EFFICIENTNET_LITE0_PREPROCESSOR(imgs)[:, ::-1].copy(),
    "height and width swapped": lambda imgs: EFFICIENTNET_LITE0_PREPROCESSOR(imgs).transpose(0, 1, 3, 2).copy(),
    "resize without crop": _stretch,
}


@pytest.mark.parametrize("broken", BROKEN)
def test_checks_catch_broken_preprocessing(lite0, three, broken):
    assert failed_checks(classify(lite0, BROKEN[broken](three))), broken


def test_preprocessing_matches_tensorflow_recipe(photos):
    image = photos["chelsea"]  # (300, 451, 3)
    batch = EFFICIENTNET_LITE0_PREPROCESSOR([image])
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == np.float32
    side = int(round(224 / 256 * 300))
    top, left = (300 - side) // 2, (451 - side) // 2
    crop = Image.fromarray(image[top:top + side, left:left + side]).resize((224, 224), Image.Resampling.BICUBIC)
    expected = (np.asarray(crop, np.float32) - 127.0) / 128.0
    np.testing.assert_allclose(batch[0], expected.transpose(2, 0, 1), atol=1e-6)


def test_stimulus_forms_give_the_same_input(lite0, photos, tmp_path):
    image = photos["coffee"]
    path = tmp_path / "coffee.png"
    Image.fromarray(image).save(path)
    forms = [image, Image.fromarray(image), path, str(path)]
    inputs = [lite0.preprocess([form])["pixel_values"] for form in forms]
    for x in inputs[1:]:
        torch.testing.assert_close(x, inputs[0], rtol=0, atol=0)
    gray = lite0.preprocess([photos["camera"]])["pixel_values"]
    assert gray.shape == (1, 3, 224, 224)
    torch.testing.assert_close(gray[0, 0], gray[0, 2])
