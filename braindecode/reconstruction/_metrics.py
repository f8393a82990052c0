"""Reconstruction quality: low-level (PixCorr, SSIM) and high-level (2-way identification) metrics."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from braindecode.errors import InvalidArgument

#: Network layers standing in for MindEye's AlexNet(2, 5) / Inception metrics, with their pooling.
DEFAULT_FEATURE_LAYERS = {"stage2": "none", "stage4": "none", "pool": "avg"}


def _as_float_images(images, size=None) -> np.ndarray:
    """uint8 or [0, 1] float images (n, H, W, 3) -> float64 in [0, 1], resized (bilinear) to ``size``."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[3] != 3:
        raise InvalidArgument(f"images must have shape (n, H, W, 3), got {arr.shape}")
    if arr.dtype != np.uint8 and (not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr))
                                  or arr.min() < 0 or arr.max() > 1):
        raise InvalidArgument("images must be uint8 or finite floats in [0, 1]")
    if size is not None and arr.shape[1:3] != tuple(size):
        as_uint8 = arr if arr.dtype == np.uint8 else np.round(arr * 255).astype(np.uint8)
        arr = np.stack([np.asarray(Image.fromarray(im).resize(size[::-1], Image.Resampling.BILINEAR))
                        for im in as_uint8])
    return arr / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float64)


def _pair(images, targets) -> tuple:
    y = _as_float_images(targets)
    x = _as_float_images(images, y.shape[1:3])
    if len(x) != len(y):
        raise InvalidArgument(f"{len(x)} images for {len(y)} targets")
    return x, y


def pixcorr(images, targets) -> np.ndarray:
    """Pearson correlation of each image's pixels with its target's (MindEye's PixCorr).

    Parameters
    ----------
    images, targets : array of shape (n, H, W, 3)
        uint8 or floats in [0, 1]; ``images`` are resized to the targets' size.

    Returns
    -------
    r : array of shape (n,)
    """
    x, y = _pair(images, targets)
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    denom = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    return np.divide((x * y).sum(1), denom, out=np.zeros(len(x)), where=denom > 0)


def ssim(images, targets, gray: bool = True, sigma: float = 1.5) -> np.ndarray:
    """Mean structural similarity of each image with its target (Gaussian-weighted, as MindEye).

    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=sigma,
    use_sample_covariance=False, data_range=1)`` on each pair, on luma
    (``skimage.color.rgb2gray``) or on the colour channels, averaged.

    Parameters
    ----------
    images, targets : array of shape (n, H, W, 3)
        uint8 or floats in [0, 1]; ``images`` are resized to the targets' size.
    gray : bool
        Compare luma rather than each channel.
    sigma : float
        Standard deviation of the Gaussian window, in pixels.

    Returns
    -------
    ssim : array of shape (n,)
    """
    x, y = _pair(images, targets)
    side = 2 * int(3.5 * sigma + 0.5) + 1  # scikit-image's Gaussian window, truncated at 3.5 sigma
    if min(x.shape[1:3]) < side:
        raise InvalidArgument(f"images must be at least {side} pixels on each side for SSIM")
    options = {"gaussian_weights": True, "sigma": sigma, "use_sample_covariance": False, "data_range": 1.0}
    if gray:
        return np.array([structural_similarity(a, b, **options) for a, b in zip(rgb2gray(x), rgb2gray(y))])
    return np.array([structural_similarity(a, b, channel_axis=-1, **options) for a, b in zip(x, y)])


def pearson_two_way_identification(predicted, true) -> np.ndarray:
    """2-way identification: how often a prediction correlates more with its own target than with another.

    For prediction ``j``, the fraction of other targets ``i != j`` with
    ``corr(predicted[j], true[i]) < corr(predicted[j], true[j])`` (ties count as
    failures); chance is 0.5. This is MindEye's two-way identification; the retrieval
    metric ``braindecode.decoding.cosine_two_way_identification`` uses cosine similarity and
    counts ties one half.

    Parameters
    ----------
    predicted, true : array of shape (n, n_features)
        Features (or embeddings) of the predictions and of their targets, row-aligned.

    Returns
    -------
    accuracy : array of shape (n,)
    """
    p = np.asarray(predicted, dtype=np.float64).reshape(len(predicted), -1)
    t = np.asarray(true, dtype=np.float64).reshape(len(true), -1)
    if p.shape != t.shape or len(p) < 2:
        raise InvalidArgument(f"need two aligned sets of >= 2 rows, got {p.shape} and {t.shape}")
    p = p - p.mean(1, keepdims=True)
    t = t - t.mean(1, keepdims=True)
    p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    r = p @ t.T
    wins = (r < np.diag(r)[:, None]).sum(1)
    return wins / (len(p) - 1)


def feature_identification(images, targets, model=None, layers=None, device="cpu", batch_size=32) -> dict:
    """2-way identification in a network's feature spaces (MindEye's AlexNet/Inception metrics).

    Parameters
    ----------
    images, targets : array of shape (n, H, W, 3)
    model : NetworkModel, optional
        Default EfficientNet-Lite0 (``braindecode.activations``).
    layers : dict of str -> str, optional
        Layer name -> pooling ("none", "avg", "grid"); default
        :data:`DEFAULT_FEATURE_LAYERS` (early, middle and pooled late layers).

    Returns
    -------
    accuracy : dict of str -> array of shape (n,)
    """
    from braindecode.activations import extract_activations, load_model

    model = load_model("efficientnet-lite0", device=device) if model is None else model
    layers = DEFAULT_FEATURE_LAYERS if layers is None else layers
    x, y = _pair(images, targets)
    x, y = (np.round(z * 255).astype(np.uint8) for z in (x, y))
    features = {}
    for pooling in dict.fromkeys(layers.values()):
        names = [layer for layer, p in layers.items() if p == pooling]
        sets = [extract_activations(model, list(z), layers=names, pooling=pooling, device=device,
                                    batch_size=batch_size) for z in (x, y)]
        features.update({layer: (sets[0][layer], sets[1][layer]) for layer in names})
    return {layer: pearson_two_way_identification(*features[layer]) for layer in layers}


def evaluate_reconstructions(images, targets, model=None, layers=None, device="cpu") -> dict:
    """Mean PixCorr, SSIM and feature 2-way identification per layer (keys ``2way_<layer>``)."""
    scores = {"pixcorr": float(pixcorr(images, targets).mean()), "ssim": float(ssim(images, targets).mean())}
    ident = feature_identification(images, targets, model=model, layers=layers, device=device)
    return scores | {f"2way_{layer}": float(v.mean()) for layer, v in ident.items()}
