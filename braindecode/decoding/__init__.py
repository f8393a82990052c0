"""Decoding: brain responses -> activation space, retrieval metrics, persistence and ONNX.

Decoders (scikit-learn style, ``fit(X, Y, groups=None)`` / ``predict(X)``):
``RidgeDecoder`` (linear, over ``braindecode.encoding.RidgeCV``), ``MLPDecoder``
(MindEye-style residual MLP for fMRI) and ``EEGDecoder`` (temporal-spatial ConvNet
for EEG/MEG epochs), the last two trained by one loop configured by ``TrainingConfig``.
``SharedDecoder`` decodes several subjects through per-subject adapters and one shared head
(``fit(X, Y)`` with dicts of subject -> array, ``predict(X, subject)``) and fine-tunes a new
subject from little data.
``fit_decoder_from_store`` fits one on stored recordings against a stored activation set,
``save_decoder_artifact`` / ``load_decoder_artifact`` keep it in the store.
"""

from braindecode.decoding._alignment import AlignedDecoder
from braindecode.decoding._base import BaseDecoder
from braindecode.decoding._cross_subject import SharedDecoderFit, fit_shared_decoder, new_subject_curve
from braindecode.decoding._fitting import (
    DECODER_ARTIFACT,
    DECODER_KINDS,
    DecoderFit,
    fit_decoder_from_store,
    load_decoder_artifact,
    make_decoder,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.decoding._neural import EEGDecoder, MLPDecoder
from braindecode.decoding._onnx import OnnxDecoder, export_onnx
from braindecode.decoding._persistence import load_decoder, read_decoder_config, save_decoder
from braindecode.decoding._retrieval import (
    cosine_similarity,
    mindeye_top1,
    retrieval_report,
    retrieve,
    top_k_accuracy,
    two_way_identification,
)
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._scoring import held_out_scores
from braindecode.decoding._shared import SharedDecoder
from braindecode.decoding._training import TrainingConfig
from braindecode.decoding._validation import MODALITIES, check_embeddings, check_input

__all__ = [
    "AlignedDecoder",
    "BaseDecoder",
    "DECODER_ARTIFACT",
    "DECODER_KINDS",
    "DecoderFit",
    "EEGDecoder",
    "MLPDecoder",
    "MODALITIES",
    "OnnxDecoder",
    "RidgeDecoder",
    "SharedDecoder",
    "SharedDecoderFit",
    "TrainingConfig",
    "check_embeddings",
    "check_input",
    "cosine_similarity",
    "export_onnx",
    "fit_shared_decoder",
    "held_out_scores",
    "fit_decoder_from_store",
    "load_decoder",
    "load_decoder_artifact",
    "make_decoder",
    "mindeye_top1",
    "new_subject_curve",
    "read_decoder_config",
    "retrieval_report",
    "retrieve",
    "retrieve_from_store",
    "save_decoder",
    "save_decoder_artifact",
    "top_k_accuracy",
    "two_way_identification",
]
