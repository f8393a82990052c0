"""Input checks shared by the solvers and the estimators."""

from __future__ import annotations

import numpy as np
import torch

from braindecode.errors import InvalidArgument


def as_2d_tensor(array, name: str, dtype: torch.dtype, device=None) -> torch.Tensor:
    """``array`` as a finite 2-D tensor of ``dtype``; 1-D input becomes one column."""
    if isinstance(array, torch.Tensor):
        tensor = array.detach()
    else:
        try:
            values = np.asarray(array, dtype=np.float64 if dtype == torch.float64 else np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{name} is not a numeric array: {exc}") from None
        tensor = torch.from_numpy(values if values.flags.writeable else values.copy())
    if tensor.ndim == 1:
        tensor = tensor[:, None]
    if tensor.ndim != 2:
        raise InvalidArgument(f"{name} must be 2-D, got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise InvalidArgument(f"{name} is empty (shape {tuple(tensor.shape)})")
    tensor = tensor.to(device=device if device is not None else tensor.device, dtype=dtype)
    if not bool(torch.isfinite(tensor).all()):
        raise InvalidArgument(f"{name} contains NaN or infinite values")
    return tensor


def check_alphas(alphas, dtype=torch.float64) -> torch.Tensor:
    """Regularization strengths as a 1-D tensor of positive finite values."""
    values = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise InvalidArgument(f"alphas must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidArgument("alphas must be positive and finite")
    return torch.as_tensor(values, dtype=dtype)


def check_same_samples(n_x: int, n_y: int) -> None:
    if n_x != n_y:
        raise InvalidArgument(f"X has {n_x} samples but Y has {n_y}")


def check_splits(splits, n_samples: int) -> list:
    """Validated (train, test) index pairs as int64 tensors."""
    checked = []
    for train, test in splits:
        train = torch.as_tensor(np.asarray(train, dtype=np.int64))
        test = torch.as_tensor(np.asarray(test, dtype=np.int64))
        if train.numel() == 0 or test.numel() == 0:
            raise InvalidArgument("a cross-validation split has an empty train or test set")
        if int(train.min()) < 0 or int(test.min()) < 0 or max(int(train.max()), int(test.max())) >= n_samples:
            raise InvalidArgument(f"cross-validation indices fall outside 0..{n_samples - 1}")
        checked.append((train, test))
    if not checked:
        raise InvalidArgument("cross-validation produced no splits")
    return checked


AUTO_BATCH_BYTES = 32 * 2**20  # per-batch arrays of this size are reused by the allocator, larger ones page-fault anew
AUTO_BATCH_MIN = 256


def target_batches(n_targets: int, n_targets_batch, bytes_per_target: int) -> list:
    """Slices over targets of at most ``n_targets_batch`` targets.

    When ``n_targets_batch`` is None, the largest per-batch array (``bytes_per_target``
    per target) is kept near ``AUTO_BATCH_BYTES`` (at least ``AUTO_BATCH_MIN`` targets).
    In benchmarks/bench_ridge.py this took a third of the memory of one batch of all
    targets (558 vs 1,506 MiB) in the same time, or less on a busy machine, where fresh
    arrays of hundreds of MiB are page-faulted again at every allocation.
    """
    if n_targets_batch is None:
        n_targets_batch = max(AUTO_BATCH_MIN, AUTO_BATCH_BYTES // max(1, int(bytes_per_target)))
    if int(n_targets_batch) < 1:
        raise InvalidArgument(f"n_targets_batch must be a positive integer, got {n_targets_batch!r}")
    step = int(n_targets_batch)
    return [slice(start, min(start + step, n_targets)) for start in range(0, n_targets, step)]
