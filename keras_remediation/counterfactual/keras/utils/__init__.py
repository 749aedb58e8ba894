"""Counterfactual data utilities (TF Model Remediation's `counterfactual.keras.utils`).

`input_utils`: `CounterfactualPackedInputs`, `pack_counterfactual_data`,
`build_counterfactual_data` (tf.data, TF Model Remediation's), `build_counterfactual_pairs`
(DataFrames, dicts, arrays; no TensorFlow needed). `structure_utils`:
`validate_counterfactual_structure`.
"""

from keras_remediation.counterfactual.keras.utils import input_utils
from keras_remediation.counterfactual.keras.utils import structure_utils
from keras_remediation.counterfactual.keras.utils.input_utils import CounterfactualModelInputs
from keras_remediation.counterfactual.keras.utils.input_utils import CounterfactualPackedInputs
from keras_remediation.counterfactual.keras.utils.input_utils import build_counterfactual_data
from keras_remediation.counterfactual.keras.utils.input_utils import build_counterfactual_pairs
from keras_remediation.counterfactual.keras.utils.input_utils import pack_counterfactual_data
from keras_remediation.counterfactual.keras.utils.input_utils import unpack_counterfactual_data
from keras_remediation.counterfactual.keras.utils.input_utils import unpack_original_inputs
from keras_remediation.counterfactual.keras.utils.input_utils import validate_counterfactual_batch
from keras_remediation.counterfactual.keras.utils.structure_utils import (
    validate_counterfactual_structure,
)

__all__ = [
    "CounterfactualModelInputs",
    "CounterfactualPackedInputs",
    "build_counterfactual_data",
    "build_counterfactual_pairs",
    "input_utils",
    "pack_counterfactual_data",
    "structure_utils",
    "unpack_counterfactual_data",
    "unpack_original_inputs",
    "validate_counterfactual_batch",
    "validate_counterfactual_structure",
]
