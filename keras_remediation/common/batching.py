"""Batched sources of side data: in-memory arrays and `keras.utils.PyDataset`s, and data kinds.

Shared by the data utilities of every technique (MinDiff, counterfactual): a source has a
length in batches, `get(index)` and `on_epoch_end()`, and is read without TensorFlow.
"""

import math
import sys

import numpy as np
import keras

from keras_remediation.common.validation import check_positive_int


def is_tf_dataset(obj):
    """True for a `tf.data.Dataset`; never imports TensorFlow (a dataset implies it is loaded)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(obj, tf.data.Dataset)


def data_kind(obj):
    """`'tf.data'`, `'pydataset'` or `'arrays'` (anything else: in-memory arrays)."""
    if is_tf_dataset(obj):
        return "tf.data"
    if isinstance(obj, keras.utils.PyDataset):
        return "pydataset"
    return "arrays"


def kind_of_all(datasets, function_name):
    """The one kind (see `data_kind`) of all `datasets` (None entries skipped).

    Raises:
        ValueError: naming `function_name`, if the datasets are of several kinds.
    """
    kinds = {data_kind(dataset) for dataset in datasets if dataset is not None}
    if len(kinds) > 1:
        raise ValueError(
            f"All datasets passed to `{function_name}` must be of one kind (all "
            f"`tf.data.Dataset`, all `keras.utils.PyDataset`, or all arrays); received "
            f"{sorted(kinds)}."
        )
    return kinds.pop() if kinds else "arrays"


class ArrayBatches:
    """Batches of in-memory arrays (`x`, `(x,)`, `(x, y)` or `(x, y, w)`), optionally shuffled.

    The shuffle is seeded by `seed`, or, for `seed=None`, by a draw from NumPy's global
    generator (seeded by `keras.utils.set_random_seed`).

    None entries (e.g. the labels of `(x, None, sample_weight)`) are kept as None in every
    batch.

    Raises:
        TypeError: naming `arg_name`, if an entry is neither an array (anything with a
            `shape`: NumPy arrays, tensors) nor None, e.g. a string or a list of strings.
        ValueError: naming `arg_name`, if there is no array, an array has no batch dimension
            (0-d), the arrays have different numbers of rows or no rows, or `batch_size` is not
            a positive int.
    """

    def __init__(self, data, batch_size, shuffle, seed, arg_name):
        if isinstance(data, list):
            data = tuple(data)
        self.data = data
        leaves = [leaf for leaf in keras.tree.flatten(data) if leaf is not None]
        if not leaves:
            raise ValueError(
                f"`{arg_name}` must hold arrays with a batch dimension; received "
                f"{_describe_value(data)}."
            )
        for leaf in leaves:
            if not hasattr(leaf, "shape"):
                raise TypeError(
                    f"`{arg_name}` must hold arrays (NumPy arrays or tensors) with a batch "
                    "dimension, as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`; received "
                    f"{_describe_value(leaf)}. Convert Python lists with `np.asarray`."
                )
            if len(leaf.shape) == 0:
                raise ValueError(
                    f"`{arg_name}` must hold arrays with a batch dimension; received an array "
                    "of shape ()."
                )
        sizes = {int(leaf.shape[0]) for leaf in leaves}
        if len(sizes) != 1:
            raise ValueError(
                f"All arrays in `{arg_name}` must have the same number of rows; received row "
                f"counts {sorted(sizes)}."
            )
        self.num_rows = sizes.pop()
        if self.num_rows == 0:
            raise ValueError(f"`{arg_name}` must have at least one row; received 0 rows.")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = shuffle
        if seed is None:
            # NumPy's global generator, which `keras.utils.set_random_seed` seeds, as `fit`'s
            # shuffle does: seeded runs (e.g. one device and several) see the same batches.
            seed = int(np.random.randint(0, 2**31 - 1))
        self.rng = np.random.default_rng(seed)
        self.order = self._new_order()
        # NumPy copies of the leaves, made once (not per batch), and how to rebuild `data`.
        self._leaves = [_as_numpy(leaf) for leaf in keras.tree.flatten(data)]
        if type(data) is tuple and len(self._leaves) == len(data) and all(
            entry is None or hasattr(entry, "shape") for entry in data
        ):
            self._rebuild = tuple  # a flat tuple, the usual case
        elif hasattr(data, "shape"):
            self._rebuild = lambda leaves: leaves[0]  # a single array
        else:
            self._rebuild = lambda leaves: keras.tree.pack_sequence_as(data, leaves)

    def _new_order(self):
        if self.shuffle:
            return self.rng.permutation(self.num_rows)
        return np.arange(self.num_rows)

    def __len__(self):
        return math.ceil(self.num_rows / self.batch_size)

    def get(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self._rebuild([None if leaf is None else leaf[rows] for leaf in self._leaves])

    def on_epoch_end(self):
        self.order = self._new_order()


def _as_numpy(leaf):
    if leaf is None or isinstance(leaf, np.ndarray):
        return leaf
    return np.asarray(keras.ops.convert_to_numpy(leaf))


def _describe_value(value):
    """A short description of a value for error messages: its type, and a string's start."""
    if isinstance(value, (str, bytes)):
        return f"a {type(value).__name__} ({value[:20]!r}{'...' if len(value) > 20 else ''})"
    return f"a {type(value).__name__}"


class PyDatasetBatches:
    """Batches of a `keras.utils.PyDataset` with a finite number of batches."""

    def __init__(self, dataset, arg_name):
        num_batches = dataset.num_batches
        if num_batches is None:
            raise ValueError(
                f"`{arg_name}` must have a finite number of batches (`__len__`); received an "
                "infinite PyDataset."
            )
        self.dataset = dataset
        self.num_batches = num_batches

    def __len__(self):
        return self.num_batches

    def get(self, index):
        return self.dataset[index]

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def batches(data, kind, batch_size, shuffle, seed, arg_name):
    """A batched source (`len`, `get(index)`, `on_epoch_end()`) of a PyDataset or arrays."""
    if kind == "pydataset":
        return PyDatasetBatches(data, arg_name)
    return ArrayBatches(data, batch_size, shuffle, seed, arg_name)
