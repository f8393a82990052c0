"""Decoding: brain responses -> activation space, retrieval metrics, persistence and ONNX.

Decoders (scikit-learn style, ``fit(X, Y, groups=None)`` / ``predict(X)``):
``RidgeDecoder`` (linear, over ``braindecode.encoding.RidgeCV``), ``MLPDecoder``
(MindEye-style residual MLP for fMRI) and ``EEGDecoder`` (temporal-spatial ConvNet
for EEG/MEG epochs), the last two trained by one loop configured by ``TrainingConfig``.
``make_decoder`` builds one from JSON hyper-parameters and ``fit_decoder`` fits and scores it on
per-trial responses against a layer of an activation set.
``SharedDecoder`` decodes several subjects through per-subject adapters and one shared head
(``fit(X, Y)`` with dicts of subject -> array, ``predict(X, subject)``) and fine-tunes a new
subject from little data; ``fit_shared_decoder`` fits and scores it on responses of several
subjects (``make_fine_tuning`` reads the settings of a fine-tuning from JSON), ``AlignedDecoder``
is the functional-alignment baseline.
"""

from braindecode.decoding._alignment import AlignedDecoder
from braindecode.decoding._base import MAX_FIT_BYTES, BaseDecoder
from braindecode.decoding._cross_subject import fit_shared_decoder, new_subject_curve
from braindecode.decoding._fitting import (
    DECODER_KINDS,
    INPUT_LAYOUTS,
    SHARED,
    DecoderFit,
    fit_decoder,
    make_decoder,
    make_fine_tuning,
)
from braindecode.decoding._neural import EEGDecoder, MLPDecoder
from braindecode.decoding._onnx import OnnxDecoder, export_decoder_onnx
from braindecode.decoding._persistence import load_decoder, read_decoder_config, save_decoder
from braindecode.decoding._retrieval import (
    cosine_similarity,
    cosine_two_way_identification,
    mindeye_top1,
    retrieval_report,
    retrieve,
    top_k_accuracy,
)
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._scoring import held_out_scores
from braindecode.decoding._shared import SharedDecoder
from braindecode.decoding._training import TrainingConfig
from braindecode.decoding._validation import check_embeddings, check_input

__all__ = [
    "AlignedDecoder",
    "BaseDecoder",
    "DECODER_KINDS",
    "DecoderFit",
    "EEGDecoder",
    "INPUT_LAYOUTS",
    "MAX_FIT_BYTES",
    "MLPDecoder",
    "OnnxDecoder",
    "RidgeDecoder",
    "SHARED",
    "SharedDecoder",
    "TrainingConfig",
    "check_embeddings",
    "check_input",
    "cosine_similarity",
    "cosine_two_way_identification",
    "export_decoder_onnx",
    "fit_decoder",
    "fit_shared_decoder",
    "held_out_scores",
    "load_decoder",
    "make_decoder",
    "make_fine_tuning",
    "mindeye_top1",
    "new_subject_curve",
    "read_decoder_config",
    "retrieval_report",
    "retrieve",
    "save_decoder",
    "top_k_accuracy",
]
