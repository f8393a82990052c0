"""The store: the one place that reads and writes stored things.

``Store`` keeps recordings (content-addressed blobs and SQLite rows) and artifacts (named files
with meta and provenance) per tenant; ``ReadOnlyStore`` reads the same folder beside a running
server. Uploads and reads of recordings, the artifact layout and id prefix of each kind (``_kinds``), what a
lab gets back of its artifacts (``_inventory``: listings, files and the arrays they hold), the export of
results as a BIDS derivatives dataset (``_derivatives``) and every entry point that loads stored inputs,
calls the library and stores the result live here; the domain packages (``compare``, ``encoding``,
``decoding``, ``reconstruction``, ``activations``) know nothing of storage.
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
    Retrieval,
    decode_recordings,
    fit_decoder_from_store,
    fit_shared_decoder_from_store,
    load_decoder_artifact,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.store._derivatives import EXPORTED_KINDS, RESULT_PATTERNS, export_bids_derivatives
from braindecode.store._encoding import (
    SCORE_MAP_FILE,
    StoredEncoderScores,
    fit_encoder_from_store,
    load_encoder_artifact,
    predict_from_store,
    save_encoder_artifact,
    score_encoder_from_store,
    score_map_files,
)
from braindecode.store._kinds import (
    ACTIVATIONS_ARTIFACT,
    ARTIFACT_KINDS,
    COMPARISON_ARTIFACT,
    DECODER_ARTIFACT,
    ENCODER_ARTIFACT,
    ID_PREFIXES,
    JOB,
    JOB_OUTPUT_ARTIFACT,
    RDM_ARTIFACT,
    RECONSTRUCTION_ARTIFACT,
    RECORDING,
    SCORE_MAP_ARTIFACT,
    SCORE_MATRIX_ARTIFACT,
    STIMULI_ARTIFACT,
    kind_of_id,
    new_id,
    not_found,
)
from braindecode.store._inventory import (
    ArtifactDescription,
    StoredFile,
    artifact_chunks,
    describe_artifact,
    list_artifact_descriptions,
)
from braindecode.store._limits import MAX_REQUEST_BYTES, RequestLimits
from braindecode.store._readonly import ReadOnlyStore
from braindecode.store._reconstruction import (
    StoredReconstruction,
    reconstruct_from_store,
    save_reconstructions,
)
from braindecode.store._recordings import (
    load_array,
    load_responses,
    model_selection,
    open_recording,
    recording_events,
    recordings_of_one_modality,
    voxel_grid,
)
from braindecode.store._store import DEFAULT_TENANT, ArtifactInfo, RecordingInfo, Store
from braindecode.store._uploads import Upload, check_event_count, check_metadata, set_recording_events

__all__ = [
    "ACTIVATIONS_ARTIFACT",
    "ARTIFACT_KINDS",
    "COMPARISON_ARTIFACT",
    "DECODER_ARTIFACT",
    "DEFAULT_TENANT",
    "ENCODER_ARTIFACT",
    "EXPORTED_KINDS",
    "ID_PREFIXES",
    "JOB",
    "JOB_OUTPUT_ARTIFACT",
    "MAX_REQUEST_BYTES",
    "MAX_RESAMPLES",
    "RDM_ARTIFACT",
    "RECONSTRUCTION_ARTIFACT",
    "RECORDING",
    "RESULT_PATTERNS",
    "SCORE_MAP_ARTIFACT",
    "SCORE_MAP_FILE",
    "SCORE_MATRIX_ARTIFACT",
    "STIMULI_ARTIFACT",
    "ArtifactDescription",
    "ArtifactInfo",
    "ReadOnlyStore",
    "RecordingInfo",
    "RequestLimits",
    "Retrieval",
    "Store",
    "StoredComparison",
    "StoredEncoderScores",
    "StoredRDM",
    "StoredReconstruction",
    "StoredFile",
    "StoredScoreMatrix",
    "Upload",
    "artifact_chunks",
    "check_event_count",
    "check_metadata",
    "compare_from_store",
    "compute_rdms_from_store",
    "decode_recordings",
    "describe_artifact",
    "export_bids_derivatives",
    "extract_to_store",
    "fit_decoder_from_store",
    "fit_encoder_from_store",
    "fit_shared_decoder_from_store",
    "kind_of_id",
    "list_artifact_descriptions",
    "list_stimulus_sets",
    "load_activation_set",
    "load_array",
    "load_arrays",
    "load_decoder_artifact",
    "load_encoder_artifact",
    "load_rdm",
    "load_responses",
    "load_stimulus_set",
    "new_id",
    "not_found",
    "model_selection",
    "open_recording",
    "predict_from_store",
    "reconstruct_from_store",
    "recording_events",
    "recordings_of_one_modality",
    "retrieve_from_store",
    "save_activation_set",
    "save_arrays",
    "save_decoder_artifact",
    "save_directory",
    "save_encoder_artifact",
    "save_reconstructions",
    "save_stimulus_set",
    "set_recording_events",
    "score_encoder_from_store",
    "score_map_files",
    "score_matrix_from_store",
    "voxel_grid",
]
