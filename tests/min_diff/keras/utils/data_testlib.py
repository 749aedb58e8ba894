"""Helpers of the MinDiff data-utility tests: tf.data construction and batch reading."""

import numpy as np
import pytest
import keras


def tf_module():
    """TensorFlow, or a skip of the calling test when it is not installed."""
    return pytest.importorskip("tensorflow")


def tf_batched(arrays, batch_size):
    """A `tf.data.Dataset` of `arrays` (any structure) in batches of `batch_size`."""
    return tf_module().data.Dataset.from_tensor_slices(arrays).batch(batch_size)


def unknown_cardinality(dataset):
    """`dataset` with the same elements but a cardinality tf.data cannot know in advance."""
    return dataset.filter(lambda *_: True)


def np_(value):
    """A NumPy copy of an eager TensorFlow tensor or of any array."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return np.asarray(value)


MAX_BATCHES = 1000


def iterate(dataset):
    """The batches of a dataset of any kind (PyDataset or tf.data), as a list.

    Fails, rather than hanging, on a dataset of more than `MAX_BATCHES` batches (an infinite
    one).
    """
    if isinstance(dataset, keras.utils.PyDataset):
        batches = [dataset[i] for i in range(min(len(dataset), MAX_BATCHES + 1))]
    else:
        batches = list(dataset.take(MAX_BATCHES + 1))
    assert len(batches) <= MAX_BATCHES, "the dataset does not end"
    return batches


class StructuredBatches(keras.utils.PyDataset):
    """A `PyDataset` over in-memory data of any structure (dicts, `(x, None, w)` tuples, ...):
    item `i` is rows `[i * batch_size, (i + 1) * batch_size)` of every array, None kept."""

    def __init__(self, data, batch_size):
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.rows = len(next(leaf for leaf in keras.tree.flatten(data) if leaf is not None))

    def __len__(self):
        return -(-self.rows // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return keras.tree.map_structure(lambda a: None if a is None else a[rows], self.data)
