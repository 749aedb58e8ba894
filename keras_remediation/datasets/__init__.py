"""Data sets that load offline.

`load_adult(split)`: the UCI Adult ("Census Income") data set, bundled with the package
(Becker & Kohavi 1996, UCI Machine Learning Repository, doi:10.24432/C5XW20, CC BY 4.0), checked
against its SHA-256 digest on every load. See `keras_remediation/datasets/data/NOTICE`.
"""

from keras_remediation.datasets.uci_adult import ADULT_CATEGORICAL_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_NUMERIC_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_SPLITS
from keras_remediation.datasets.uci_adult import DatasetChecksumError
from keras_remediation.datasets.uci_adult import adult_file_path
from keras_remediation.datasets.uci_adult import load_adult

__all__ = [
    "ADULT_CATEGORICAL_COLUMNS",
    "ADULT_COLUMNS",
    "ADULT_NUMERIC_COLUMNS",
    "ADULT_SPLITS",
    "DatasetChecksumError",
    "adult_file_path",
    "load_adult",
]
