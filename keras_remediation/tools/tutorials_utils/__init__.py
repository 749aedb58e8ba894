"""Helpers for the guides and tutorials.

`uci`: the UCI Adult helpers of the MinDiff guides (`get_uci_data`, `df_to_dataset`,
`df_to_arrays`, `preprocess`, `get_uci_model`, `get_uci_min_diff_datasets`,
`get_uci_with_min_diff_dataset`), used as
`from keras_remediation.tools.tutorials_utils import uci as tutorials_utils`.
"""

from keras_remediation.tools.tutorials_utils import uci

__all__ = ["uci"]
