"""Data sets that load offline.

`load_adult(split)`: the UCI Adult ("Census Income") data set, bundled with the package
(Becker & Kohavi 1996, UCI Machine Learning Repository, doi:10.24432/C5XW20, CC BY 4.0), checked
against its SHA-256 digest on every load. See `keras_remediation/datasets/data/NOTICE`.

`load_fashion_mnist()`: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT licence), not bundled:
read offline from the Keras cache or Debian's `dataset-fashion-mnist` package.
"""

from keras_remediation.datasets.uci_adult import ADULT_CATEGORICAL_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_NUMERIC_COLUMNS
from keras_remediation.datasets.uci_adult import ADULT_SPLITS
from keras_remediation.datasets.uci_adult import DatasetChecksumError
from keras_remediation.datasets.uci_adult import adult_file_path
from keras_remediation.datasets.uci_adult import load_adult
from keras_remediation.datasets.fashion_mnist import FashionMnistNotFoundError
from keras_remediation.datasets.fashion_mnist import load_data as load_fashion_mnist

__all__ = [
    "ADULT_CATEGORICAL_COLUMNS",
    "ADULT_COLUMNS",
    "ADULT_NUMERIC_COLUMNS",
    "ADULT_SPLITS",
    "DatasetChecksumError",
    "FashionMnistNotFoundError",
    "adult_file_path",
    "load_adult",
    "load_fashion_mnist",
]
