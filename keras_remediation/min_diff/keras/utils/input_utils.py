"""Packing MinDiff data into model inputs, and unpacking it: `MinDiffPackedInputs`,
`pack_min_diff_data`, `build_min_diff_dataset`, `unpack_original_inputs`, `unpack_min_diff_data`.

A packed batch is `(MinDiffPackedInputs(original_inputs, min_diff_data), y[, sample_weight])`
where `min_diff_data` is `(min_diff_x, membership[, min_diff_sample_weight])`, or a dict of such
tuples for several MinDiff applications (a *MinDiff structure*, see
`validate_min_diff_structure`).

Three kinds of data are accepted and the result is of the same kind:
- `tf.data.Dataset` (already batched), as in TF Model Remediation: the result is a
  `tf.data.Dataset`. Dense, `tf.SparseTensor` and `tf.RaggedTensor` features are supported. It
  needs TensorFlow, and works as an input pipeline under every Keras backend.
- `keras.utils.PyDataset` (each item a batch): the result is a `keras.utils.PyDataset`.
- In-memory arrays (NumPy or backend tensors, or dicts/tuples of them), given as `x`,
  `(x,)`, `(x, y)` or `(x, y, sample_weight)`, batched here with `batch_size`: the result is a
  `keras.utils.PyDataset`. This path needs no TensorFlow.

Differences from TF Model Remediation (each can be turned off where it changes results):
- `pack_min_diff_data` repeats the MinDiff data by default, so an epoch covers all of the
  original data (the reference zipped the datasets and ended the epoch at the shortest one,
  often the small sensitive group). `repeat_min_diff_data=False` gives the reference's
  behaviour. `build_min_diff_dataset` ends with the shorter group as the reference did; its
  `repeat=True` cycles the shorter group until the longer one ends.
- Problems are reported when packing rather than while training: empty groups, groups whose
  features cannot be concatenated, membership values other than 0 and 1, negative or
  non-finite weights (on the first batch). Every later batch is checked as it is read:
  array and PyDataset batches with vectorised NumPy checks (ValueError), tf.data batches by
  TensorFlow assertions in the input pipeline (`tf.errors.InvalidArgumentError` naming the
  argument), which run whatever the Keras backend, so a bad batch cannot train silently
  under JAX's `jit`, where the loss cannot check values.
"""

import collections
import functools
import collections.abc

import numpy as np
import keras

from keras_remediation.common.batching import batches
from keras_remediation.common.batching import is_tf_dataset
from keras_remediation.common.batching import kind_of_all
from keras_remediation.common.validation import check_sample_weight_values
from keras_remediation.min_diff.keras.utils import structure_utils
from keras_remediation.min_diff.losses.base_loss import check_membership_values

_PACKED_KEYS = ("original_inputs", "min_diff_data")
_SENSITIVE = "sensitive_group_dataset"
_NONSENSITIVE = "nonsensitive_group_dataset"


class MinDiffPackedInputs(
    collections.namedtuple("MinDiffPackedInputs", ["original_inputs", "min_diff_data"])
):
    """Named tuple holding the original inputs of a batch and its MinDiff data.

    `MinDiffModel` and the `unpack_*` functions read packed inputs through it; the packers
    write it as the `x` of every batch.

    Attributes:
        original_inputs: inputs of the original model for the batch (any structure: the `x`
            that `Model.fit` would otherwise receive).
        min_diff_data: `(min_diff_x, membership[, min_diff_sample_weight])` with membership
            `[min_diff_batch, 1]` float32 of 0.0/1.0, or a dict of such tuples (one per MinDiff
            application). Any value is held as given.
    """


def _is_packed_dict(inputs):
    return isinstance(inputs, dict) and set(inputs) == set(_PACKED_KEYS)


def unpack_original_inputs(inputs):
    """Returns the original-model inputs of a packed batch, or `inputs` unchanged.

    Args:
        inputs: a `MinDiffPackedInputs` (or a dict with exactly the keys `original_inputs` and
            `min_diff_data`, the form some data loaders turn it into), or anything else.

    Returns:
        `inputs.original_inputs` for packed inputs, else `inputs` itself, e.g.
        `unpack_original_inputs([1, 2, 3])` is `[1, 2, 3]`.
    """
    if isinstance(inputs, MinDiffPackedInputs):
        return inputs.original_inputs
    if _is_packed_dict(inputs):
        return inputs["original_inputs"]
    return inputs


def unpack_min_diff_data(inputs):
    """Returns the MinDiff data of a packed batch, or None if there is none.

    Args:
        inputs: as for `unpack_original_inputs`.

    Returns:
        `inputs.min_diff_data` for packed inputs, else None, e.g.
        `unpack_min_diff_data([1, 2, 3])` is None.
    """
    if isinstance(inputs, MinDiffPackedInputs):
        return inputs.min_diff_data
    if _is_packed_dict(inputs):
        return inputs["min_diff_data"]
    return None


def unpack_x_y_sample_weight(data):
    """Splits a batch into `(x, y, sample_weight)`, missing parts as None, on every backend.

    Unlike a bare tuple check, a `MinDiffPackedInputs` on its own is treated as `x` (it is a
    tuple, and would otherwise be split into inputs and labels).

    Args:
        data: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`; lists are treated as tuples.

    Returns:
        `(x, y, sample_weight)`.

    Raises:
        ValueError: for a tuple of more than 3 elements.
    """
    if isinstance(data, MinDiffPackedInputs):
        return data, None, None
    return keras.utils.unpack_x_y_sample_weight(data)


# ---------------------------------------------------------------------------------------------
# MinDiff structures of the arguments, and structure comparisons of features.


def _is_dataset(obj):
    return is_tf_dataset(obj) or isinstance(obj, keras.utils.PyDataset)


def _label(arg_name, key):
    return arg_name if key is None else f"{arg_name}[{key!r}]"


def _application_dict(obj, arg_name):
    """`obj` as a dict of per-application data, or None when it is one application's data.

    A dict is a dict of applications when its values are datasets (`tf.data.Dataset` or
    `PyDataset`), or, for arrays, when they are all tuples (lists) such as `(x,)` or `(x, y)`;
    a dict of plain arrays is a dict of input features.

    Raises:
        TypeError: for a list or tuple of datasets (not a MinDiff structure).
        ValueError: for a dict of datasets with a non-string key or a value that is not a
            dataset of the same kind, e.g. a list of datasets.
    """
    if isinstance(obj, dict):
        values = list(obj.values())
        datasets = [value for value in values if _is_dataset(value)]
        if datasets:
            element_type = _dataset_base_class(datasets[0])
            structure_utils.validate_min_diff_structure(obj, arg_name, element_type)
            return dict(obj)
        if values and all(isinstance(value, (tuple, list)) for value in values):
            applications = {key: tuple(value) for key, value in obj.items()}
            structure_utils.validate_min_diff_structure(applications, arg_name)
            return applications
        return None
    if isinstance(obj, (list, tuple)) and any(_is_dataset(value) for value in obj):
        raise TypeError(
            f"`{arg_name}` must be a dataset or a dict of datasets (one per MinDiff "
            f"application); received a {type(obj).__name__} of datasets."
        )
    return None


def _dataset_base_class(dataset):
    if is_tf_dataset(dataset):
        import tensorflow as tf

        return tf.data.Dataset
    return keras.utils.PyDataset


def _group_pairs(sensitive, nonsensitive):
    """`(is_dict, [(key, sensitive, nonsensitive)])` of the two group arguments.

    Raises:
        TypeError, ValueError: as `_application_dict`, and ValueError if the two are not of
            the same MinDiff structure (both single, or dicts with the same keys).
    """
    s_apps = _application_dict(sensitive, _SENSITIVE)
    n_apps = _application_dict(nonsensitive, _NONSENSITIVE)
    if (s_apps is None) != (n_apps is None) or (s_apps is not None and set(s_apps) != set(n_apps)):

        def describe(apps, obj):
            if apps is not None:
                return f"a dict with keys {sorted(apps)}"
            return f"a single {type(obj).__name__}"

        raise ValueError(
            f"`{_NONSENSITIVE}` must have the same MinDiff structure as `{_SENSITIVE}` (both "
            "single datasets, or dicts of datasets with the same keys); received "
            f"{describe(n_apps, nonsensitive)} and {describe(s_apps, sensitive)}."
        )
    if s_apps is None:
        return False, [(None, sensitive, nonsensitive)]
    return True, [(key, s_apps[key], n_apps[key]) for key in sorted(s_apps)]


class _StructureMismatch(Exception):
    def __init__(self, path):
        super().__init__(path)
        self.path = path


def _paired_leaves(a, b, path=()):
    """Yields `(path, leaf_a, leaf_b)` over two structures; raises `_StructureMismatch`.

    Dicts must have the same keys and sequences the same length (lists and tuples are alike).
    """
    if isinstance(a, collections.abc.Mapping) or isinstance(b, collections.abc.Mapping):
        if not (
            isinstance(a, collections.abc.Mapping)
            and isinstance(b, collections.abc.Mapping)
            and set(a) == set(b)
        ):
            raise _StructureMismatch(path)
        for key in sorted(a, key=str):
            yield from _paired_leaves(a[key], b[key], path + (key,))
    elif isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)):
            raise _StructureMismatch(path)
        for index, (item_a, item_b) in enumerate(zip(a, b)):
            yield from _paired_leaves(item_a, item_b, path + (index,))
    else:
        yield path, a, b


def _map_paired(fn, a, b):
    """`fn(leaf_a, leaf_b)` over two structures that `_paired_leaves` accepts, shaped as `a`."""
    if isinstance(a, collections.abc.Mapping):
        return {key: _map_paired(fn, a[key], b[key]) for key in a}
    if isinstance(a, (list, tuple)):
        items = [_map_paired(fn, item_a, item_b) for item_a, item_b in zip(a, b)]
        return type(a)(*items) if _is_namedtuple(a) else type(a)(items)
    return fn(a, b)


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _at(path):
    return "" if not path else " at feature " + "".join(f"[{key!r}]" for key in path)


def _describe_structure(x):
    if isinstance(x, collections.abc.Mapping):
        return f"a dict with keys {sorted(x, key=str)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    return f"a single {type(x).__name__}"


def _paired_features(a, b, name_a, name_b, relation):
    """`_paired_leaves(a, b)` as a list; ValueError naming `name_b` if the structures differ."""
    try:
        return list(_paired_leaves(a, b))
    except _StructureMismatch as mismatch:
        path = mismatch.path
        sub_a, sub_b = a, b
        for key in path:
            sub_a, sub_b = sub_a[key], sub_b[key]
        raise ValueError(
            f"`{name_b}` must have an `x` of the same structure as the `x` of `{name_a}` "
            f"({relation}){_at(path)}; received {_describe_structure(sub_b)} and "
            f"{_describe_structure(sub_a)}."
        ) from None


_GROUPS_RELATION = "the two groups' features are concatenated"
_ORIGINAL_RELATION = "the original model is called on both"


# ---------------------------------------------------------------------------------------------
# In-memory arrays and PyDatasets.


def _num_rows(x):
    leaf = keras.tree.flatten(x)[0]
    return int(np.shape(leaf)[0]) if not hasattr(leaf, "shape") else int(leaf.shape[0])


def _feature_shape(leaf):
    return tuple(leaf.shape) if hasattr(leaf, "shape") else np.shape(leaf)


def _check_group_features(s_x, n_x, s_label, n_label):
    """Structure and non-batch shapes of two groups' `x`; ValueError naming both."""
    if s_x is None or n_x is None:
        label = s_label if s_x is None else n_label
        raise ValueError(f"`{label}` must have features (an `x`) in every batch; received None.")
    for path, a, b in _paired_features(s_x, n_x, s_label, n_label, _GROUPS_RELATION):
        shape_a, shape_b = _feature_shape(a), _feature_shape(b)
        if len(shape_a) != len(shape_b) or tuple(shape_a[1:]) != tuple(shape_b[1:]):
            raise ValueError(
                f"`{n_label}` must have features of the same shape as `{s_label}` apart from "
                f"the batch dimension, to be concatenated with them{_at(path)}; received shapes "
                f"{tuple(shape_b)} and {tuple(shape_a)}."
            )


@functools.lru_cache(maxsize=64)
def _membership(s_rows, n_rows):
    """`[s_rows + n_rows, 1]` float32, 1.0 then 0.0.

    Cached: built once per pair of group sizes, not per batch (Keras copies batches, never
    writes into them).
    """
    membership = np.zeros((s_rows + n_rows, 1), "float32")
    membership[:s_rows] = 1.0
    return membership


def _group_weight(x, weight, label):
    """A group batch's weights as `[rows, 1]` float32, 1.0 where the group has none."""
    rows = _num_rows(x)
    if weight is None:
        return np.ones((rows, 1), "float32")
    values = np.asarray(weight, "float32")
    if values.size != rows:
        raise ValueError(
            f"`{label}` must have one sample weight per row; received {values.size} weights "
            f"(shape {values.shape}) for {rows} rows."
        )
    check_sample_weight_values(values, f"{label} sample_weight")
    return values.reshape(-1, 1)


def _concat_groups(sensitive_batch, nonsensitive_batch, s_label, n_label):
    """One MinDiff batch from a sensitive and a non-sensitive batch: `(x, membership)`, or
    `(x, membership, weight)` if either group has weights."""
    s_x, _, s_w = unpack_x_y_sample_weight(sensitive_batch)
    n_x, _, n_w = unpack_x_y_sample_weight(nonsensitive_batch)
    _check_group_features(s_x, n_x, s_label, n_label)
    x = _map_paired(lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)], axis=0), s_x, n_x)
    membership = _membership(_num_rows(s_x), _num_rows(n_x))
    if s_w is None and n_w is None:
        return x, membership
    weight = np.concatenate(
        [_group_weight(s_x, s_w, s_label), _group_weight(n_x, n_w, n_label)], axis=0
    )
    return x, membership, weight


def _validated_min_diff_batch(batch, label):
    """Checks one MinDiff batch `(x, membership[, w])`, or a dict of them; returns it."""
    if isinstance(batch, dict):
        return {
            key: _validated_min_diff_batch(value, f"{label}[{key!r}]")
            for key, value in batch.items()
        }
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        raise ValueError(
            f"Each batch of `{label}` must be a tuple `(min_diff_x, membership)` or "
            f"`(min_diff_x, membership, min_diff_sample_weight)`; received {type(batch).__name__}"
            f"{' of length ' + str(len(batch)) if isinstance(batch, tuple) else ''}."
        )
    check_membership_values(batch[1], f"{label} membership")
    if len(batch) == 3 and batch[2] is not None:
        check_sample_weight_values(batch[2], f"{label} sample_weight")
    return batch


def _source(data, kind, batch_size, shuffle, seed, label):
    """A batched source of a PyDataset or arrays, with at least one batch."""
    source = batches(data, kind, batch_size, shuffle, seed, label)
    if len(source) == 0:
        raise ValueError(
            f"`{label}` must have at least one batch; received an empty keras.utils.PyDataset."
        )
    return source


class _GroupMinDiffBatches:
    """MinDiff batches built from a sensitive and a non-sensitive group source.

    `get(index)` takes any index: each group is cycled on its own. `shortest` and `longest`
    are the lengths up to the end of the shorter and of the longer group.
    """

    def __init__(self, sensitive, nonsensitive, s_label, n_label):
        self.sensitive, self.nonsensitive = sensitive, nonsensitive
        self.labels = (s_label, n_label)
        self.shortest = min(len(sensitive), len(nonsensitive))
        self.longest = max(len(sensitive), len(nonsensitive))

    def get(self, index):
        return _concat_groups(
            self.sensitive.get(index % len(self.sensitive)),
            self.nonsensitive.get(index % len(self.nonsensitive)),
            *self.labels,
        )

    def on_epoch_end(self):
        self.sensitive.on_epoch_end()
        self.nonsensitive.on_epoch_end()


class _CheckedMinDiffBatches:
    """A user-given MinDiff source (cycled), whose batches are validated as they are read."""

    def __init__(self, source, label):
        self.source, self.label = source, label
        self.shortest = self.longest = len(source)

    def get(self, index):
        return _validated_min_diff_batch(self.source.get(index % len(self.source)), self.label)

    def on_epoch_end(self):
        self.source.on_epoch_end()


class _MinDiffPyDataset(keras.utils.PyDataset):
    """A `PyDataset` of MinDiff batches `(x, membership, w)`, or of dicts of them."""

    def __init__(self, sources, length):
        super().__init__()
        self._sources = sources  # a source, or a dict of sources
        self._length = length

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self._sources, dict):
            return {key: source.get(index) for key, source in self._sources.items()}
        return self._sources.get(index)

    def on_epoch_end(self):
        for source in _values(self._sources):
            source.on_epoch_end()


def _pydataset_batch(original_batch, packed, y, weight):
    """A packed batch shaped like the original one, for a PyDataset.

    A tuple batch keeps its length, less trailing Nones (Keras cannot read None from a
    PyDataset); any other batch becomes `(packed,)` (a bare `MinDiffPackedInputs` would be read
    by Keras as an `(x, y)` pair).
    """
    if not isinstance(original_batch, (tuple, list)):
        return (packed,)
    parts = [packed, y, weight][: len(original_batch)]
    while len(parts) > 1 and parts[-1] is None:
        parts.pop()
    return tuple(parts)


class _PackedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` of packed batches `(MinDiffPackedInputs(x, min_diff_data), y[, w])`."""

    def __init__(self, original, min_diff, length):
        super().__init__()
        self._original, self._min_diff, self._length = original, min_diff, length

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        batch = self._original.get(index)
        x, y, weight = unpack_x_y_sample_weight(batch)
        packed = MinDiffPackedInputs(x, self._min_diff[index])
        return _pydataset_batch(batch, packed, y, weight)

    def on_epoch_end(self):
        self._original.on_epoch_end()
        self._min_diff.on_epoch_end()


def _values(obj):
    return list(obj.values()) if isinstance(obj, dict) else [obj]


def _group_sources(is_dict, pairs, kind, batch_size, shuffle, seed):
    sources = {}
    for key, sensitive, nonsensitive in pairs:
        s_label, n_label = _label(_SENSITIVE, key), _label(_NONSENSITIVE, key)
        sources[key] = _GroupMinDiffBatches(
            _source(sensitive, kind, batch_size, shuffle, seed, s_label),
            _source(
                nonsensitive, kind, batch_size, shuffle, None if seed is None else seed + 1,
                n_label,
            ),
            s_label,
            n_label,
        )
    return sources if is_dict else sources[None]


def _shortest(sources):
    return min(source.shortest for source in _values(sources))


def _longest(sources):
    return max(source.longest for source in _values(sources))


# ---------------------------------------------------------------------------------------------
# tf.data.


def _tf():
    import tensorflow as tf

    return tf


def _split_spec(spec):
    """`(x, y, sample_weight)` specs of a dataset's `element_spec` (None where absent)."""
    if isinstance(spec, tuple) and not _is_namedtuple(spec) and 1 <= len(spec) <= 3:
        parts = list(spec) + [None] * (3 - len(spec))
        return tuple(None if _is_none_spec(part) else part for part in parts)
    return spec, None, None


def _is_none_spec(spec):
    return spec is None or type(spec).__name__ == "NoneTensorSpec"


def _spec_kind(spec):
    tf = _tf()
    if isinstance(spec, tf.SparseTensorSpec):
        return "sparse"
    if isinstance(spec, tf.RaggedTensorSpec):
        return "ragged"
    if isinstance(spec, tf.TensorSpec):
        return "dense"
    return type(spec).__name__


def _check_tf_group_specs(sensitive, nonsensitive, s_label, n_label):
    """Static checks of two groups' element specs: features that concatenate, weights.

    Raises:
        ValueError: for `x` structures that differ, dense features whose non-batch shapes
            differ, features of different ranks, weights of more than one value per row.
        TypeError: for features of different kinds (dense, sparse, ragged) or dtypes.
    """
    s_x, _, s_w = _split_spec(sensitive.element_spec)
    n_x, _, n_w = _split_spec(nonsensitive.element_spec)
    for path, a, b in _paired_features(s_x, n_x, s_label, n_label, _GROUPS_RELATION):
        kind_a, kind_b = _spec_kind(a), _spec_kind(b)
        if kind_a != kind_b:
            raise TypeError(
                f"`{n_label}` must have features of the same kind (dense, sparse or ragged "
                f"tensors) as `{s_label}`{_at(path)}; received {kind_b} and {kind_a}."
            )
        if getattr(a, "dtype", None) != getattr(b, "dtype", None):
            raise TypeError(
                f"`{n_label}` must have features of the same dtype as `{s_label}`{_at(path)}; "
                f"received {getattr(b, 'dtype', None)!r} and {getattr(a, 'dtype', None)!r}."
            )
        shape_a, shape_b = getattr(a, "shape", None), getattr(b, "shape", None)
        if shape_a is None or shape_b is None or shape_a.rank is None or shape_b.rank is None:
            continue
        if shape_a.rank != shape_b.rank or (
            kind_a == "dense" and not shape_a[1:].is_compatible_with(shape_b[1:])
        ):
            raise ValueError(
                f"`{n_label}` must have features of the same shape as `{s_label}` apart from "
                f"the batch dimension, to be concatenated with them{_at(path)}; received shapes "
                f"{shape_b} and {shape_a}."
            )
    for weight, label in ((s_w, s_label), (n_w, n_label)):
        shape = getattr(weight, "shape", None)
        if shape is not None and shape.rank is not None and any(
            dim is not None and dim != 1 for dim in shape[1:]
        ):
            raise ValueError(
                f"`{label}` must have one sample weight per row (shape `[batch]` or "
                f"`[batch, 1]`); received weights of shape {shape}."
            )


def _tf_first(dataset, label):
    """The first element of `dataset`; ValueError naming `label` if it has none."""
    if int(dataset.cardinality()) != 0:
        for first in dataset.take(1):
            return first
    raise ValueError(f"`{label}` must have at least one batch; received an empty tf.data.Dataset.")


def _tf_num_rows(tensor):
    tf = _tf()
    if isinstance(tensor, tf.SparseTensor):
        return tf.cast(tensor.dense_shape[0], tf.int32)
    if isinstance(tensor, tf.RaggedTensor):
        return tf.cast(tensor.nrows(), tf.int32)
    return tf.shape(tensor)[0]


def _tf_group_batch(batch, membership_value, label, check_weights=True):
    """A group's `x` / `(x, y[, w])` batch as `(x, membership, weight)` tensors.

    `weight` is None where the group has none (known when traced), else `[rows, 1]` float32,
    asserted to have one value per row and, with `check_weights`, to be finite and
    non-negative.
    """
    tf = _tf()
    x, _, weight = keras.utils.unpack_x_y_sample_weight(batch)
    rows = _tf_num_rows(tf.nest.flatten(x)[0])
    membership = tf.fill([rows, 1], tf.constant(membership_value, tf.float32))
    if weight is None:
        return x, membership, None
    weight = tf.reshape(tf.cast(weight, tf.float32), [-1, 1])
    check = tf.debugging.assert_equal(
        tf.shape(weight)[0], rows, message=f"`{label}` must have one sample weight per row"
    )
    with tf.control_dependencies([check]):
        weight = tf.identity(weight)
    if check_weights:
        weight = _tf_checked_weight(weight, label)
    return x, membership, weight


def _tf_first_group_weight(dataset, membership_value, label):
    """The first batch's `_tf_group_batch` weights (None if the group has none), read now.

    Raises:
        ValueError: if the group has no batch.
        tf.errors.InvalidArgumentError: if the weights are not one per row.
    """

    def weight_of(*batch):
        _, membership, weight = _tf_group_batch(
            batch[0] if len(batch) == 1 else batch, membership_value, label, False
        )
        # A tf.data element cannot be None: the membership stands in for absent weights.
        return membership if weight is None else (membership, weight)

    first = _tf_first(dataset.map(weight_of), label)
    return first[1] if isinstance(first, tuple) else None


def _tf_message_label(label):
    """`label` for a TensorFlow assertion message, which would escape its quotes:
    `min_diff_dataset['a']` → `min_diff_dataset[a]`."""
    return label.replace("'", "")


def _tf_checked_weight(weight, label):
    """`weight` (float) behind runtime assertions that it is finite and non-negative."""
    tf = _tf()
    label = _tf_message_label(label)
    values = tf.cast(weight, tf.float32)
    checks = [
        tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(values)),
            [f"`{label} sample_weight` must be finite; received NaN or infinite values in a "
             "batch:", values],
            summarize=8,
        ),
        tf.debugging.Assert(
            tf.reduce_all(values >= 0),
            [f"`{label} sample_weight` must be non-negative; received negative values in a "
             "batch:", values],
            summarize=8,
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(weight)


def _tf_checked_membership(membership, label):
    """`membership` behind a runtime assertion that its values are all 0 or 1."""
    tf = _tf()
    label = _tf_message_label(label)
    zero, one = tf.constant(0, membership.dtype), tf.constant(1, membership.dtype)
    valid = tf.reduce_all(tf.logical_or(tf.equal(membership, zero), tf.equal(membership, one)))
    check = tf.debugging.Assert(
        valid,
        [f"`{label} membership` must contain only 0.0 (non-sensitive group) and 1.0 (sensitive "
         "group); received other values in a batch:", membership],
        summarize=8,
    )
    with tf.control_dependencies([check]):
        return tf.identity(membership)


def _tf_checked_element(element, label):
    """A MinDiff batch `(x, membership[, w])`, or a dict of them, behind runtime checks."""
    if isinstance(element, dict):
        return {
            key: _tf_checked_element(value, _label(label, key)) for key, value in element.items()
        }
    if not isinstance(element, (tuple, list)) or len(element) not in (2, 3):
        return element  # The first batch's check has already named the problem.
    x, membership = element[0], _tf_checked_membership(element[1], label)
    if len(element) == 2 or element[2] is None:
        return (x, membership) + tuple(element[2:])
    return x, membership, _tf_checked_weight(element[2], label)


def _tf_check_every_batch(dataset, label):
    """`dataset` of MinDiff batches with membership and weights checked in the pipeline.

    The checks are TensorFlow ops in a `map`, so they run on every batch whatever the Keras
    backend (under JAX's `jit` the loss itself cannot check values); a bad batch raises
    `tf.errors.InvalidArgumentError` naming `label` when it is read.
    """

    def check(*element):
        return _tf_checked_element(element[0] if len(element) == 1 else element, label)

    return dataset.map(check)


def _tf_concat_rows(a, b):
    """Concatenates two groups' feature along the batch axis (dense, sparse or ragged)."""
    tf = _tf()
    if isinstance(a, tf.SparseTensor):
        # Non-batch dims may differ (e.g. the vocabulary seen in each group): align them.
        return tf.sparse.concat(axis=0, sp_inputs=[a, b], expand_nonconcat_dims=True)
    return tf.concat([a, b], axis=0)


def _tf_concat_groups(sensitive, nonsensitive):
    """One MinDiff batch from two `_tf_group_batch` results: `(x, membership)`, or
    `(x, membership, weight)` if either group has weights (1.0 for the group without)."""
    tf = _tf()
    s_x, s_m, s_w = sensitive
    n_x, n_m, n_w = nonsensitive
    x = _map_paired(_tf_concat_rows, s_x, n_x)
    membership = tf.concat([s_m, n_m], axis=0)
    if s_w is None and n_w is None:
        return x, membership
    s_w = tf.ones_like(s_m) if s_w is None else s_w
    n_w = tf.ones_like(n_m) if n_w is None else n_w
    return x, membership, tf.concat([s_w, n_w], axis=0)


def _tf_tag_passes(dataset):
    """`dataset` repeated forever, each element as `(pass_index, element)`."""
    tf = _tf()
    return tf.data.Dataset.counter().flat_map(
        lambda index: tf.data.Dataset.zip((tf.data.Dataset.from_tensors(index).repeat(), dataset))
    )


def _tf_zip(datasets, mode):
    """Zips datasets, ending with the shortest, the longest (others cycled) or never."""
    tf = _tf()
    datasets = tuple(datasets)
    if mode == "shortest":
        return tf.data.Dataset.zip(datasets)
    repeated = tf.data.Dataset.zip(tuple(dataset.repeat() for dataset in datasets))
    if mode == "forever":
        return repeated
    cardinalities = [int(dataset.cardinality()) for dataset in datasets]
    if all(cardinality >= 0 for cardinality in cardinalities):
        return repeated.take(max(cardinalities))
    if tf.data.INFINITE_CARDINALITY in cardinalities:
        return repeated
    # Unknown lengths: cycle every dataset and stop once all of them have ended once.
    tagged = tf.data.Dataset.zip(tuple(_tf_tag_passes(dataset) for dataset in datasets))
    first_pass = tagged.take_while(
        lambda *parts: tf.reduce_any(tf.stack([tf.equal(part[0], 0) for part in parts]))
    )
    return first_pass.map(lambda *parts: tuple(part[1] for part in parts))


def _tf_build(is_dict, pairs, mode):
    """`(zipped, combine)` for the MinDiff batches of group pairs.

    `zipped` is the groups' own batches zipped (`mode` as in `_tf_zip`); `combine(*element)`
    builds one MinDiff batch (or dict of them) from an element of it. The caller maps it, in
    the same `map` as its own work: each `map` costs tf.data a function call per batch.
    """
    datasets, memberships, keys = [], [], []
    for key, sensitive, nonsensitive in pairs:
        s_label, n_label = _label(_SENSITIVE, key), _label(_NONSENSITIVE, key)
        _check_tf_group_specs(sensitive, nonsensitive, s_label, n_label)
        for dataset, value, label in ((sensitive, 1.0, s_label), (nonsensitive, 0.0, n_label)):
            # Reads the first batch now: an empty group or bad weights raise here, not in `fit`.
            weight = _tf_first_group_weight(dataset, value, label)
            if weight is not None:
                check_sample_weight_values(weight, f"{label} sample_weight")
            # Later batches' weights, where given, are checked as they are read (every backend).
            datasets.append(dataset)
            memberships.append((value, label))  # each group's membership value and label
        keys.append(key)

    def combine(*parts):
        batches = [_tf_group_batch(part, *memberships[i]) for i, part in enumerate(parts)]
        built = [_tf_concat_groups(batches[2 * i], batches[2 * i + 1]) for i in range(len(keys))]
        return dict(zip(keys, built)) if is_dict else built[0]

    return _tf_zip(datasets, mode), combine


def _tf_check_min_diff_dataset(min_diff, label):
    """Checks a user-given MinDiff `tf.data.Dataset`; returns `[(label, x_spec)]`."""
    _validated_min_diff_batch(_tf_first(min_diff, label), label)
    spec = min_diff.element_spec
    if isinstance(spec, dict):
        return [(f"{label}[{key!r}]", value[0]) for key, value in sorted(spec.items())]
    return [(label, spec[0])]


def _tf_pack(original, min_diff, combine=None):
    """Zips `original` with `min_diff` and packs each pair of batches in one `map`.

    With `combine` (of `_tf_build`), `min_diff` holds the groups' zipped batches and each
    element is combined into its MinDiff batch in that same `map`.
    """
    tf = _tf()

    def pack(original_batch, min_diff_batch):
        if combine is not None:
            min_diff_batch = combine(*min_diff_batch)
        x, y, weight = keras.utils.unpack_x_y_sample_weight(original_batch)
        packed = MinDiffPackedInputs(x, min_diff_batch)
        if not isinstance(original_batch, tuple):
            return packed
        return (packed, y, weight)[: len(original_batch)]

    return tf.data.Dataset.zip((original, min_diff)).map(pack)


# ---------------------------------------------------------------------------------------------
# Public builders.


def build_min_diff_dataset(
    sensitive_group_dataset,
    nonsensitive_group_dataset,
    *,
    repeat=False,
    batch_size=32,
    shuffle=True,
    seed=None,
):
    """Builds MinDiff data from examples of the sensitive and of the non-sensitive group.

    Each output batch is `(min_diff_x, membership, min_diff_sample_weight)`, built from one
    batch of each group: `min_diff_x` is the sensitive batch's `x` rows followed by the
    non-sensitive batch's (every feature concatenated along the batch axis; for
    `tf.SparseTensor` features the non-batch dimensions are first widened to the larger of the
    two), `membership` is `[rows, 1]` float32, 1.0 for sensitive and 0.0 for non-sensitive
    rows, and `min_diff_sample_weight` is `[rows, 1]` float32: the groups' `sample_weight`s,
    1.0 for a group that has none. If neither group has weights, the batch is
    `(min_diff_x, membership)`: as in TF Model Remediation, whose weights were None then
    (`unpack_x_y_sample_weight` gives None; the losses weigh rows equally). For a dict of
    groups (one per MinDiff application) each element is a dict of such batches, with the
    same keys.

    The result ends with the shorter group (of all applications), as in TF Model
    Remediation; with `repeat=True` the shorter groups are cycled until the longest group
    ends. Either way it is finite (for tf.data, if the inputs are).

    Args:
        sensitive_group_dataset: examples of the sensitive group, as `x`, `(x,)`, `(x, y)` or
            `(x, y, sample_weight)` batches (labels are ignored; `sample_weight` is `[batch]`
            or `[batch, 1]`): a batched `tf.data.Dataset`, a `keras.utils.PyDataset`, in-memory
            arrays, or a flat dict of one of these per MinDiff application (for arrays, its
            values are tuples such as `(x,)`).
        nonsensitive_group_dataset: the same for the non-sensitive group, of the same kind,
            MinDiff structure (dict keys) and feature structure, with features of the same
            shapes and dtypes apart from the batch dimension.
        repeat: bool, default False: False ends with the shorter group (the reference's
            behaviour); True cycles the shorter group until the longer one ends.
        batch_size: int, default 32: rows per group per batch, for array inputs only.
        shuffle: bool, default True: shuffle array inputs each epoch.
        seed: int or None, default None: seed of that shuffle (None: drawn from NumPy's
            global generator, which `keras.utils.set_random_seed` seeds).

    Returns:
        A `tf.data.Dataset` for tf.data inputs, else a `keras.utils.PyDataset`: one dataset,
        also for a dict of groups (its elements are then dicts).

    Raises:
        TypeError: if a group is a list or tuple of datasets; if array groups hold something
            other than arrays (e.g. strings); if tf.data groups' features differ in kind
            (dense, sparse, ragged) or dtype.
        ValueError: if the two groups differ in kind, MinDiff structure (dict keys) or feature
            structure; if a dict of datasets is nested or has non-string keys; if the groups'
            features differ in shape apart from the batch dimension; if a group is empty (a
            tf.data group of unknown cardinality is read up to its first batch to know); if a
            group has more than one sample weight per row or negative or non-finite weights
            (the first batch at build time, every later batch as it is read); if arrays are
            0-d or have unequal row counts; if `batch_size` is not a positive int.
        tf.errors.InvalidArgumentError: when a later batch of tf.data groups is read, if its
            weights are negative or not finite (TensorFlow assertions in the pipeline, on
            every Keras backend; the message names the group).
    """
    is_dict, pairs = _group_pairs(sensitive_group_dataset, nonsensitive_group_dataset)
    kind = kind_of_all(
        [data for _, s, n in pairs for data in (s, n)], "build_min_diff_dataset"
    )
    if kind == "tf.data":
        zipped, combine = _tf_build(is_dict, pairs, "longest" if repeat else "shortest")
        return zipped.map(combine)
    sources = _group_sources(is_dict, pairs, kind, batch_size, shuffle, seed)
    dataset = _MinDiffPyDataset(sources, _longest(sources) if repeat else _shortest(sources))
    dataset[0]  # Checks the groups' features and weights now, not during training.
    return dataset


def pack_min_diff_data(
    original_dataset,
    sensitive_group_dataset=None,
    nonsensitive_group_dataset=None,
    min_diff_dataset=None,
    *,
    repeat_min_diff_data=True,
    batch_size=32,
    min_diff_batch_size=None,
    shuffle=True,
    seed=None,
):
    """Packs MinDiff data into the batches of the original data, for `MinDiffModel`.

    Give either `min_diff_dataset`, or both `sensitive_group_dataset` and
    `nonsensitive_group_dataset` (built into MinDiff batches as by `build_min_diff_dataset`).

    Each output batch pairs one original batch with one MinDiff batch and keeps the layout of
    the original batch: `(x, y)` becomes `(MinDiffPackedInputs(x, min_diff_data), y)`,
    `(x, y, sample_weight)` becomes `(MinDiffPackedInputs(x, min_diff_data), y,
    sample_weight)`, and a bare `x` becomes `MinDiffPackedInputs(x, min_diff_data)` for
    tf.data (`(MinDiffPackedInputs(...),)` for a PyDataset, which Keras would otherwise read as
    `(x, y)`). A PyDataset batch drops trailing None entries. `min_diff_data` is
    `(min_diff_x, membership[, min_diff_sample_weight])`, or a dict of such tuples for a dict of
    MinDiff data; `min_diff_x` must have the structure of the original `x`.

    Args:
        original_dataset: the training data: a batched `tf.data.Dataset`, a
            `keras.utils.PyDataset`, or in-memory arrays as `x`, `(x,)`, `(x, y)` or
            `(x, y, sample_weight)`.
        sensitive_group_dataset: examples of the sensitive group, of the same kind (see
            `build_min_diff_dataset`), or a flat dict of them, one per MinDiff application.
        nonsensitive_group_dataset: examples of the non-sensitive group, same structure.
        min_diff_dataset: ready MinDiff batches `(min_diff_x, membership[, weight])`, membership
            `[batch, 1]` of 0.0/1.0 (a dataset of dicts of such batches is accepted too); or a
            flat dict of such datasets. Exclusive with the group datasets.
        repeat_min_diff_data: bool, default True: cycle the MinDiff data (each group on its
            own) so every original batch gets a MinDiff batch and an epoch covers all of the
            original data. False: end with the shortest of the original data and the MinDiff
            data (each group), as TF Model Remediation did.
        batch_size: int, default 32: rows per original batch, for array inputs.
        min_diff_batch_size: int or None, default None (`batch_size`): rows per group per
            MinDiff batch for array groups (or per batch for an array `min_diff_dataset`).
        shuffle: bool, default True: shuffle array inputs each epoch (original and MinDiff).
        seed: int or None, default None: seed of that shuffle (None: drawn from NumPy's
            global generator, which `keras.utils.set_random_seed` seeds).

    Returns:
        A `tf.data.Dataset` for tf.data inputs, else a `keras.utils.PyDataset`.

    Raises:
        TypeError: if a group or `min_diff_dataset` is a list or tuple of datasets; if array
            data holds something other than arrays (e.g. strings); if tf.data groups' features
            differ in kind (dense, sparse, ragged) or dtype.
        ValueError: if neither or both ways of giving MinDiff data are used, or only one group
            is given; if the datasets differ in kind; if a dict of datasets is nested, has
            non-string keys, or the groups' keys differ; if the MinDiff `x` structure differs
            from the original `x`'s or the two groups' feature structures or non-batch shapes
            differ; if a group or `min_diff_dataset` is empty (tf.data ones of unknown
            cardinality are read up to their first batch to know); if a group has more than one
            sample weight per row; if MinDiff membership holds values other than 0 and 1 or
            weights are negative or not finite (checked on the first batch at packing time
            (whole arrays for arrays), then on every batch as it is read); if arrays are 0-d or
            have unequal row counts; if a batch size is not a positive int.
        tf.errors.InvalidArgumentError: when a later tf.data batch is read (iterating, `fit`),
            if its membership holds values other than 0 and 1 or its weights are negative or
            not finite. The check is a `map` of TensorFlow assertions in the input pipeline,
            so it runs on every Keras backend (also under JAX, whose compiled step cannot
            check values); the message names the argument (a dict key `'k'` as `[k]`).
            On the TensorFlow backend, Keras reads a PyDataset through tf.data too and
            re-raises the ValueError of a later PyDataset batch as this error.
    """
    has_groups = sensitive_group_dataset is not None or nonsensitive_group_dataset is not None
    if has_groups and min_diff_dataset is not None:
        raise ValueError(
            "Give either `min_diff_dataset` or both `sensitive_group_dataset` and "
            "`nonsensitive_group_dataset`, not both ways; received "
            f"`sensitive_group_dataset`={_short(sensitive_group_dataset)}, "
            f"`nonsensitive_group_dataset`={_short(nonsensitive_group_dataset)}, "
            f"`min_diff_dataset`={_short(min_diff_dataset)}."
        )
    if not has_groups and min_diff_dataset is None:
        raise ValueError(
            "No MinDiff data: give `min_diff_dataset`, or both `sensitive_group_dataset` and "
            "`nonsensitive_group_dataset`; all three are None."
        )
    if has_groups and (sensitive_group_dataset is None or nonsensitive_group_dataset is None):
        missing = _SENSITIVE if sensitive_group_dataset is None else _NONSENSITIVE
        raise ValueError(
            f"`{missing}` must be given with the other group: both `sensitive_group_dataset` "
            "and `nonsensitive_group_dataset` are needed; received None."
        )
    if has_groups:
        is_dict, pairs = _group_pairs(sensitive_group_dataset, nonsensitive_group_dataset)
        min_diff_values = [data for _, s, n in pairs for data in (s, n)]
    else:
        applications = _application_dict(min_diff_dataset, "min_diff_dataset")
        min_diff_values = _values(min_diff_dataset if applications is None else applications)
    kind = kind_of_all([original_dataset] + min_diff_values, "pack_min_diff_data")
    min_diff_batch_size = batch_size if min_diff_batch_size is None else min_diff_batch_size

    if kind == "tf.data":
        return _pack_tf(
            original_dataset,
            (is_dict, pairs) if has_groups else None,
            None if has_groups else (applications, min_diff_dataset),
            repeat_min_diff_data,
        )

    original = _source(original_dataset, kind, batch_size, shuffle, seed, "original_dataset")
    md_seed = None if seed is None else seed + 101
    if has_groups:
        sources = _group_sources(is_dict, pairs, kind, min_diff_batch_size, shuffle, md_seed)
    else:
        named = [(None, min_diff_dataset)] if applications is None else sorted(applications.items())
        sources = {}
        for key, data in named:
            label = _label("min_diff_dataset", key)
            if kind == "arrays":
                if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
                    raise ValueError(
                        f"`{label}` must be `(min_diff_x, membership)` or `(min_diff_x, "
                        f"membership, sample_weight)` arrays; received "
                        f"{_describe_structure(data)}."
                    )
                check_membership_values(data[1], f"{label} membership")
                if len(data) == 3 and data[2] is not None:
                    check_sample_weight_values(data[2], f"{label} sample_weight")
            sources[key] = _CheckedMinDiffBatches(
                _source(data, kind, min_diff_batch_size, shuffle, md_seed, label), label
            )
        if applications is None:
            sources = sources[None]
    min_diff = _MinDiffPyDataset(sources, _shortest(sources))

    # Check the first batches now, not during training.
    first = min_diff[0]
    original_x = unpack_x_y_sample_weight(original.get(0))[0]
    base = _SENSITIVE if has_groups else "min_diff_dataset"
    if isinstance(first, dict):
        named_x = [(_label(base, key), first[key][0]) for key in sorted(first)]
    else:
        named_x = [(base, first[0])]
    for label, md_x in named_x:
        _paired_features(original_x, md_x, "original_dataset", label, _ORIGINAL_RELATION)

    length = len(original) if repeat_min_diff_data else min(len(original), len(min_diff))
    return _PackedPyDataset(original, min_diff, length)


def _pack_tf(original, groups, given, repeat):
    """`pack_min_diff_data` for tf.data: `groups` is `(is_dict, pairs)`, or `given` is
    `(applications or None, min_diff_dataset)`."""
    if int(original.cardinality()) == 0:
        raise ValueError(
            "`original_dataset` must have at least one batch; received an empty "
            "tf.data.Dataset."
        )
    if groups is not None:
        is_dict, pairs = groups
        min_diff, combine = _tf_build(is_dict, pairs, "forever" if repeat else "shortest")
        named_specs = [
            (_label(_SENSITIVE, key), _split_spec(sensitive.element_spec)[0])
            for key, sensitive, _ in pairs
        ]
    else:
        combine = None
        applications, min_diff = given
        if applications is None:
            named_specs = _tf_check_min_diff_dataset(min_diff, "min_diff_dataset")
            min_diff = _tf_check_every_batch(min_diff, "min_diff_dataset")
            if repeat:
                min_diff = min_diff.repeat()
        else:
            named_specs = []
            for key in sorted(applications):
                named_specs += _tf_check_min_diff_dataset(
                    applications[key], _label("min_diff_dataset", key)
                )
            min_diff = {
                key: _tf_check_every_batch(data, _label("min_diff_dataset", key))
                for key, data in applications.items()
            }
            if repeat:
                min_diff = {key: data.repeat() for key, data in min_diff.items()}
    original_x = _split_spec(original.element_spec)[0]
    for label, md_x in named_specs:
        _paired_features(original_x, md_x, "original_dataset", label, _ORIGINAL_RELATION)
    return _tf_pack(original, min_diff, combine)


def _short(obj):
    return "None" if obj is None else type(obj).__name__
