"""Helpers for the guides and tutorials, after TF Model Remediation's `tools.tutorials_utils`.

`uci`: the UCI Adult helpers of the MinDiff guides (`get_uci_data`, `df_to_dataset`,
`get_uci_min_diff_datasets`, `get_uci_with_min_diff_dataset`, `get_uci_model`, plus
`preprocess`, `df_to_arrays` and `UCIPreprocessor` for any backend), used as
`from keras_remediation.tools.tutorials_utils import uci as tutorials_utils`.

`min_diff_keras_utils`: the Civil Comments helpers of the MinDiff Keras tutorial
(`download_and_process_civil_comments_data`, `create_keras_sequential_model`; the model takes
raw text, so it needs the TensorFlow backend and `tensorflow_hub`).
"""

from keras_remediation.tools.tutorials_utils import min_diff_keras_utils
from keras_remediation.tools.tutorials_utils import uci

__all__ = ["min_diff_keras_utils", "uci"]
