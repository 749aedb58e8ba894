"""Data utilities of MinDiff for Keras: pack MinDiff data into batches and unpack it; MinDiff
structures and the Keras object (de)serialisers TF Model Remediation exported here."""

from keras_remediation.min_diff.keras.utils.input_utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils.input_utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils.input_utils import pack_min_diff_data
from keras_remediation.min_diff.keras.utils.input_utils import unpack_min_diff_data
from keras_remediation.min_diff.keras.utils.input_utils import unpack_original_inputs
from keras_remediation.min_diff.keras.utils.input_utils import unpack_x_y_sample_weight
from keras_remediation.min_diff.keras.utils.structure_utils import deserialize_keras_object
from keras_remediation.min_diff.keras.utils.structure_utils import deserialize_layer
from keras_remediation.min_diff.keras.utils.structure_utils import serialize_keras_object
from keras_remediation.min_diff.keras.utils.structure_utils import validate_min_diff_structure

__all__ = [
    "MinDiffPackedInputs",
    "build_min_diff_dataset",
    "deserialize_keras_object",
    "deserialize_layer",
    "pack_min_diff_data",
    "serialize_keras_object",
    "unpack_min_diff_data",
    "unpack_original_inputs",
    "unpack_x_y_sample_weight",
    "validate_min_diff_structure",
]
