"""What every decoder shares: input checks, batched prediction, the state that persistence saves."""

from __future__ import annotations

import abc
import dataclasses
import json

import numpy as np
import torch
from sklearn.base import BaseEstimator

from braindecode._devices import resolve_device
from braindecode.decoding._training import TrainingConfig
from braindecode.decoding._validation import check_input, check_ranges
from braindecode.errors import FailedPrecondition, InvalidArgument, ResourceExhausted

_UNSERIALIZABLE = "unserializable"
MAX_FIT_BYTES = 4 * 2**30
"""Default of ``fit(..., max_fit_bytes=)``: most bytes a decoder's fit may hold (4 GiB)."""
PREDICT_BATCH = 1024
"""Samples per forward pass of ``predict``."""


def seeded_rng_devices(device: str) -> list:
    """CUDA devices whose RNG ``torch.random.fork_rng`` must fork for work on ``device``."""
    device = resolve_device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def predict_batches(module: torch.nn.Module, X: np.ndarray, batch_size: int) -> np.ndarray:
    """``module`` applied to ``X`` in batches of ``batch_size`` samples, without gradients.

    Parameters
    ----------
    module : torch.nn.Module
        (batch, *input_shape) -> (batch, n_dims), in eval mode.
    X : array of shape (n_samples, *input_shape), float32

    Returns
    -------
    Y : array of shape (n_samples, n_dims), float32
    """
    device = next(module.buffers()).device
    with torch.no_grad():
        out = [module(torch.as_tensor(X[i:i + batch_size], device=device)).cpu()
               for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy()


def check_footprint(needed: int, max_fit_bytes: int, fit: str) -> None:
    """``ResourceExhausted`` naming ``fit`` (what is fitted on what) when ``needed`` bytes are past ``max_fit_bytes``."""
    if needed > max_fit_bytes:
        raise ResourceExhausted(f"{fit} would hold about {needed} bytes, more than the limit "
                                f"max_fit_bytes={max_fit_bytes}")


class PersistentDecoder(BaseEstimator, abc.ABC):
    """What ``save_decoder``, ``load_decoder`` and ``export_decoder_onnx`` need of a fitted decoder.

    Fitted decoders hold ``module_`` (a torch module in eval mode) and ``n_dims_``;
    subclasses define ``modality``, the fitted state (``_restore``), its shapes
    (``_shapes_json``, ``_set_shapes``) and the graph that ONNX export traces (``_export_module``),
    and ``param_ranges``: the documented range of each numeric hyper-parameter, as ``Interval``s.
    """

    modality: str
    param_ranges: dict = {}

    def _check_params(self) -> None:
        """``InvalidArgument`` naming the first hyper-parameter outside ``param_ranges``."""
        check_ranges(type(self).__name__, self.get_params(deep=False), self.param_ranges)

    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise FailedPrecondition(f"{type(self).__name__} is not fitted: call fit before predict")

    def _fitted_tensors(self) -> dict:
        """Named tensors that, with ``_fitted_info``, restore the fitted state exactly."""
        return {k: v.detach().cpu() for k, v in self.module_.state_dict().items()}

    def _fitted_info(self) -> dict:
        """JSON-serializable fitted attributes beyond the tensors."""
        return {}

    @abc.abstractmethod
    def _restore(self, tensors: dict, info: dict) -> None:
        """Set the fitted state from ``_fitted_tensors`` and ``_fitted_info`` output (and the shapes)."""

    @abc.abstractmethod
    def _shapes_json(self) -> dict:
        """The fitted input and output shapes as JSON values, as saved configs record them."""

    @abc.abstractmethod
    def _set_shapes(self, config: dict) -> None:
        """Set the fitted shapes from a saved config (``_shapes_json`` output)."""

    @abc.abstractmethod
    def _export_module(self, subject: str | None) -> tuple:
        """(module, input shape, extra ONNX metadata) of the graph that maps one subject's samples."""

    def _params_json(self) -> dict:
        """Hyper-parameters as JSON values; others (e.g. a CV splitter) as ``{"unserializable": repr}``."""
        params = {}
        for name, value in self.get_params(deep=False).items():
            if dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            elif isinstance(value, np.ndarray):
                value = value.tolist()
            try:
                value = json.loads(json.dumps(value))
            except (TypeError, ValueError):
                value = {_UNSERIALIZABLE: repr(value)}
            params[name] = value
        return params

    @classmethod
    def _from_params_json(cls, params: dict) -> "PersistentDecoder":
        """The decoder with ``params``; parameters saved as unserializable take their defaults."""
        params = {name: value for name, value in params.items()
                  if not (isinstance(value, dict) and _UNSERIALIZABLE in value)}
        try:
            if isinstance(params.get("training"), dict):
                params["training"] = TrainingConfig(**params["training"])
            return cls(**params)
        except TypeError as exc:
            raise InvalidArgument(f"saved parameters do not fit {cls.__name__}: {exc}") from None


class BaseDecoder(PersistentDecoder):
    """Base of the decoders of one subject's data: brain data of one modality -> embeddings.

    Fitted decoders hold ``module_`` (a torch module in eval mode, mapping
    (batch, *input_shape_) to (batch, n_dims_)), ``input_shape_`` and ``n_dims_``.
    Subclasses define ``modality``, ``param_ranges`` (which ``fit`` enforces), ``fit``,
    ``fit_footprint`` and ``_restore``.
    """

    @abc.abstractmethod
    def fit_footprint(self, n_samples: int, input_shape: tuple, n_dims: int) -> int:
        """Bytes that ``fit`` on ``n_samples`` samples of ``input_shape`` and ``n_dims``-dimensional
        targets holds at its peak (an estimate made without allocating; the data aside)."""

    def _check_footprint(self, n_samples: int, input_shape: tuple, n_dims: int, max_fit_bytes: int) -> None:
        """``ResourceExhausted`` when ``fit_footprint`` is past ``max_fit_bytes``."""
        check_footprint(self.fit_footprint(n_samples, input_shape, n_dims), max_fit_bytes,
                        f"{type(self).__name__} fitted on {n_samples} samples of shape {tuple(input_shape)} -> "
                        f"{n_dims} dims")

    def check_input(self, X) -> np.ndarray:
        """``X`` validated against the fitted modality and input shape (see ``check_input``)."""
        self._check_fitted()
        return check_input(X, self.modality, self.input_shape_)

    def predict(self, X, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Decoded embeddings.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels) or (n_trials, n_channels, n_times)
        batch_size : int
            Samples per forward pass.

        Returns
        -------
        Y : array of shape (n_samples, n_dims_), float32
        """
        X = self.check_input(X)
        return predict_batches(self.module_, X, batch_size)

    @abc.abstractmethod
    def fit(self, X, Y, groups=None):
        """Fit on brain data ``X`` and embeddings ``Y`` of shape (n_samples, n_dims); returns self."""

    def _shapes_json(self) -> dict:
        return {"input_shape": list(self.input_shape_), "n_dims": int(self.n_dims_)}

    def _set_shapes(self, config: dict) -> None:
        self.input_shape_ = tuple(config["input_shape"])
        self.n_dims_ = config["n_dims"]

    def _export_module(self, subject):
        if subject is not None:
            raise InvalidArgument(f"{type(self).__name__} decodes one subject's data: export it without a subject "
                                  f"(got subject={subject!r})")
        return self.module_, self.input_shape_, {}
