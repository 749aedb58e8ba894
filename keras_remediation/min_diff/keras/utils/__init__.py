"""Data utilities of MinDiff for Keras: pack MinDiff data into batches and unpack it."""

from keras_remediation.min_diff.keras.utils.input_utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils.input_utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils.input_utils import pack_min_diff_data
from keras_remediation.min_diff.keras.utils.input_utils import unpack_min_diff_data
from keras_remediation.min_diff.keras.utils.input_utils import unpack_original_inputs
from keras_remediation.min_diff.keras.utils.input_utils import unpack_x_y_sample_weight

__all__ = [
    "MinDiffPackedInputs",
    "build_min_diff_dataset",
    "pack_min_diff_data",
    "unpack_min_diff_data",
    "unpack_original_inputs",
    "unpack_x_y_sample_weight",
]
