"""The store: the one place that reads and writes stored things.

``Store`` keeps recordings (content-addressed blobs and SQLite rows) and artifacts (named files
with meta and provenance) per tenant; ``ReadOnlyStore`` reads the same folder beside a running
server. Uploads and reads of recordings, the artifact layout of each kind (``_kinds``) and every
entry point that loads stored inputs, calls the library and stores the result live here; the
domain packages (``compare``, ``encoding``, ``decoding``, ``reconstruction``, ``activations``)
know nothing of storage.
"""

from braindecode.store._activations import (
    extract_to_store,
    list_stimulus_sets,
    load_stimulus_set,
    save_stimulus_set,
)
from braindecode.store._artifacts import (
    load_activation_set,
    load_arrays,
    save_activation_set,
    save_arrays,
    save_directory,
)
from braindecode.store._compare import (
    MAX_RESAMPLES,
    StoredComparison,
    StoredRDM,
    StoredScoreMatrix,
    compare_from_store,
    compute_rdms_from_store,
    load_rdm,
    score_matrix_from_store,
)
from braindecode.store._decoding import (
    fit_decoder_from_store,
    fit_shared_decoder_from_store,
    load_decoder_artifact,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.store._encoding import (
    SCORE_MAP_FILE,
    StoredEncoderScores,
    fit_encoder_from_store,
    load_encoder_artifact,
    predict_from_store,
    save_encoder_artifact,
    score_encoder_from_store,
)
from braindecode.store._kinds import (
    ACTIVATIONS_ARTIFACT,
    COMPARISON_ARTIFACT,
    DECODER_ARTIFACT,
    ENCODER_ARTIFACT,
    JOB_OUTPUT_ARTIFACT,
    RDM_ARTIFACT,
    RECONSTRUCTION_ARTIFACT,
    SCORE_MAP_ARTIFACT,
    SCORE_MATRIX_ARTIFACT,
    STIMULI_ARTIFACT,
)
from braindecode.store._readonly import ReadOnlyStore
from braindecode.store._reconstruction import (
    StoredReconstruction,
    decode_recordings,
    reconstruct_from_store,
    save_reconstructions,
)
from braindecode.store._recordings import (
    load_array,
    load_responses,
    open_recording,
    recordings_of_one_modality,
    voxel_grid,
)
from braindecode.store._store import DEFAULT_TENANT, ArtifactInfo, RecordingInfo, Store
from braindecode.store._uploads import Upload

__all__ = [
    "ACTIVATIONS_ARTIFACT",
    "COMPARISON_ARTIFACT",
    "DECODER_ARTIFACT",
    "DEFAULT_TENANT",
    "ENCODER_ARTIFACT",
    "JOB_OUTPUT_ARTIFACT",
    "MAX_RESAMPLES",
    "RDM_ARTIFACT",
    "RECONSTRUCTION_ARTIFACT",
    "SCORE_MAP_ARTIFACT",
    "SCORE_MAP_FILE",
    "SCORE_MATRIX_ARTIFACT",
    "STIMULI_ARTIFACT",
    "ArtifactInfo",
    "ReadOnlyStore",
    "RecordingInfo",
    "Store",
    "StoredComparison",
    "StoredEncoderScores",
    "StoredRDM",
    "StoredReconstruction",
    "StoredScoreMatrix",
    "Upload",
    "compare_from_store",
    "compute_rdms_from_store",
    "decode_recordings",
    "extract_to_store",
    "fit_decoder_from_store",
    "fit_encoder_from_store",
    "fit_shared_decoder_from_store",
    "list_stimulus_sets",
    "load_activation_set",
    "load_array",
    "load_arrays",
    "load_decoder_artifact",
    "load_encoder_artifact",
    "load_rdm",
    "load_responses",
    "load_stimulus_set",
    "open_recording",
    "predict_from_store",
    "reconstruct_from_store",
    "recordings_of_one_modality",
    "retrieve_from_store",
    "save_activation_set",
    "save_arrays",
    "save_decoder_artifact",
    "save_directory",
    "save_encoder_artifact",
    "save_reconstructions",
    "save_stimulus_set",
    "score_encoder_from_store",
    "score_matrix_from_store",
    "voxel_grid",
]
