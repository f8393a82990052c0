"""The kinds of stored artifacts, one constant each, with the files an artifact of the kind holds.

=================  ==========================================================================
kind               files
=================  ==========================================================================
activations        ``layer-000.npy``, ... (one per layer) and ``stimulus_ids.npy``
stimuli            ``000000.png``, ... (image sets) and ``stimuli.json`` (ids, name, texts)
decoder            ``weights.safetensors``, ``config.json`` and ``model.onnx``
encoder            ``weights.safetensors``, ``config.json`` and, for voxels, ``mask.nii.gz``
score-map          ``scores.npy`` (n_scores, n_targets) and, for voxels, ``score_map.nii.gz``
rdm                ``rdm.npy``, ``condition_ids.npy`` and, from recordings, ``features.npy``
comparison         ``scores.npy``, ``subject_scores.npy``, ``condition_ids.npy`` and the
                   bootstrap and null samples drawn
score_matrix       ``scores.npy`` (n_layers, n_columns) and ``subject_scores.npy``
reconstruction     ``000000.png``, ... and ``ids.json``
job-output         one shard of a batch job: its arrays and ``shard.json``
=================  ==========================================================================
"""

ACTIVATIONS_ARTIFACT = "activations"
STIMULI_ARTIFACT = "stimuli"
DECODER_ARTIFACT = "decoder"
ENCODER_ARTIFACT = "encoder"
SCORE_MAP_ARTIFACT = "score-map"
RDM_ARTIFACT = "rdm"
COMPARISON_ARTIFACT = "comparison"
SCORE_MATRIX_ARTIFACT = "score_matrix"
RECONSTRUCTION_ARTIFACT = "reconstruction"
JOB_OUTPUT_ARTIFACT = "job-output"
