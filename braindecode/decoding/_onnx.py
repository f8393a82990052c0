"""Decoders exported to ONNX and run with ONNX Runtime."""

from __future__ import annotations

import copy
import io
import json
import os
import pathlib
import warnings

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError

from braindecode._io import atomic_write
from braindecode.decoding._base import PersistentDecoder
from braindecode.decoding._validation import check_input, check_subject_input
from braindecode.errors import InvalidArgument, NotFound
from braindecode.onnxrt import create_session

INPUT = "brain"
OUTPUT = "embedding"
_META = "braindecode."


def export_decoder_onnx(decoder: PersistentDecoder, path, opset: int = 17, subject: str | None = None) -> pathlib.Path:
    """Export a fitted decoder to ONNX with a dynamic batch axis.

    The graph maps ``brain`` (batch, *input_shape) float32 to ``embedding`` (batch, n_dims)
    float32 and carries the decoder's class, modality and shapes (and subject) as metadata. It is traced
    with torch's TorchScript-based exporter (``dynamo=False``): for these modules it gives the
    same graph outputs as the ``torch.export`` path in a small fraction of its time.

    Parameters
    ----------
    decoder : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
        Fitted.
    path : str or os.PathLike
        Written atomically.
    opset : int
        ONNX opset, at least 17.
    subject : str, optional
        For a ``SharedDecoder`` (required): the subject whose adapter and the shared head make
        the graph, taking that subject's ``(batch, n_voxels)``. Other decoders take none.

    Returns
    -------
    path : pathlib.Path
    """
    if not isinstance(decoder, PersistentDecoder):
        raise InvalidArgument(f"cannot export a {type(decoder).__name__}: not a decoder")
    decoder._check_fitted()
    if opset < 17:
        raise InvalidArgument(f"opset must be at least 17, got {opset}")
    module, input_shape, extra = decoder._export_module(subject)
    module = copy.deepcopy(module).cpu().eval()
    example = torch.zeros((2, *input_shape))
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter announces its deprecation on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), buffer, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=opset,
                          dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    metadata = {"class": type(decoder).__name__, "modality": decoder.modality,
                "input_shape": json.dumps(list(input_shape)), "n_dims": str(decoder.n_dims_), **extra}
    onnx.helper.set_model_props(model, {_META + k: v for k, v in metadata.items()})
    path = pathlib.Path(path)
    atomic_write(path, model.SerializeToString())
    return path


class OnnxDecoder:
    """A decoder exported by ``export_decoder_onnx``, run with ONNX Runtime.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` file.
    device : {"cpu", "cuda", "cuda:N", "auto"}
        Execution provider choice, passed to ``braindecode.onnxrt.create_session``.
    threads : int, optional
        Intra-op threads of the CPU session (default: ONNX Runtime's, one per core); a server
        running many sessions at once wants 1.

    Attributes
    ----------
    session_ : onnxruntime.InferenceSession
    modality : str
    input_shape_ : tuple of int
    n_dims_ : int
    subject : str or None
        The subject whose samples the graph takes (exports of a ``SharedDecoder``), else None.
    """

    def __init__(self, path, device: str = "cpu", threads: int | None = None):
        self.path = path
        self.device = device
        if not os.path.isfile(path):
            raise NotFound(f"no ONNX decoder at {path}")
        try:
            model = onnx.load(os.fspath(path), load_external_data=False)
        except (DecodeError, ValueError, OSError) as exc:
            raise InvalidArgument(f"{path} is not a readable ONNX model: {exc}") from None
        meta = {p.key[len(_META):]: p.value for p in model.metadata_props if p.key.startswith(_META)}
        if not {"modality", "input_shape", "n_dims"} <= set(meta):
            raise InvalidArgument(f"{path} was not exported by export_decoder_onnx (decoder metadata missing)")
        self.modality = meta["modality"]
        self.input_shape_ = tuple(json.loads(meta["input_shape"]))
        self.n_dims_ = int(meta["n_dims"])
        self.subject = meta.get("subject")
        self.session_ = create_session(model.SerializeToString(), device=device, threads=threads)

    def check_input(self, X) -> np.ndarray:
        """``X`` validated against the graph's modality and input shape (see ``check_input``; a
        subject's graph names the subject on a mismatch).

        Parameters
        ----------
        X : array of shape (n_samples, *input_shape_)

        Returns
        -------
        X : array of shape (n_samples, *input_shape_), float32
        """
        if self.subject is not None:
            return check_subject_input(X, self.modality, self.subject, self.input_shape_)
        return check_input(X, self.modality, self.input_shape_)

    def predict(self, X, batch_size: int = 1024) -> np.ndarray:
        """Decoded embeddings.

        Parameters
        ----------
        X : array of shape (n_samples, *input_shape_)
        batch_size : int

        Returns
        -------
        Y : array of shape (n_samples, n_dims_), float32
        """
        X = self.check_input(X)
        return np.concatenate([self.session_.run([OUTPUT], {INPUT: X[i:i + batch_size]})[0]
                               for i in range(0, len(X), batch_size)])

    def predict_each(self, blocks) -> list:
        """Decoded embeddings of several blocks of samples, run together.

        A batch of 32 single samples reads the weights once instead of 32 times: a server joins
        the samples of concurrent callers this way.

        Parameters
        ----------
        blocks : list of array of shape (n_i, *input_shape_)

        Returns
        -------
        Y : list of array of shape (n_i, n_dims_), float32
            One per block, in order.
        """
        embeddings = self.predict(np.concatenate(blocks))
        return np.split(embeddings, np.cumsum([len(block) for block in blocks])[:-1])
