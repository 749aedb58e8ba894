"""Packing MinDiff data into model inputs, and unpacking it: `MinDiffPackedInputs`,
`pack_min_diff_data`, `build_min_diff_dataset`, `unpack_original_inputs`, `unpack_min_diff_data`.

A packed batch is `(MinDiffPackedInputs(original_inputs, min_diff_data), y[, sample_weight])`
where `min_diff_data` is `(min_diff_x, membership[, min_diff_sample_weight])`, or a dict of
such tuples for several MinDiff applications.

Three kinds of data are accepted and the result is of the same kind:
- `tf.data.Dataset` (already batched), as in TF Model Remediation: the result is a
  `tf.data.Dataset`.
- `keras.utils.PyDataset` (each item a batch): the result is a `keras.utils.PyDataset`.
- In-memory arrays (NumPy or backend tensors, or dicts/tuples of them), given as `x`,
  `(x, y)` or `(x, y, sample_weight)`, batched here with `batch_size`: the result is a
  `keras.utils.PyDataset`. This path needs no TensorFlow.

Difference from TF Model Remediation: by default the MinDiff data is repeated, so an epoch
covers all of the original data (the reference zipped the datasets and ended the epoch at the
shortest one, often the small sensitive group). Pass `repeat_min_diff_data=False` for the
reference behaviour.
"""

import collections

import numpy as np
import keras

from keras_remediation.min_diff.losses.base_loss import check_membership_values
from keras_remediation.common.batching import batches
from keras_remediation.common.batching import is_tf_dataset
from keras_remediation.common.batching import kind_of_all
from keras_remediation.common.tensor_utils import check_sample_weight_values

_PACKED_KEYS = ("original_inputs", "min_diff_data")


class MinDiffPackedInputs(
    collections.namedtuple("MinDiffPackedInputs", ["original_inputs", "min_diff_data"])
):
    """Named tuple holding the original inputs of a batch and its MinDiff data.

    Attributes:
        original_inputs: inputs of the original model for the batch (any structure).
        min_diff_data: `(min_diff_x, membership[, min_diff_sample_weight])` with membership
            `[min_diff_batch, 1]` of 0.0/1.0, or a dict of such tuples (one per application).
    """


def _is_packed_dict(inputs):
    return isinstance(inputs, dict) and set(inputs) == set(_PACKED_KEYS)


def unpack_original_inputs(inputs):
    """Returns the original-model inputs of a packed batch, or `inputs` unchanged.

    Args:
        inputs: a `MinDiffPackedInputs` (or a dict with exactly the keys `original_inputs` and
            `min_diff_data`, the form some data loaders turn it into), or any other inputs.

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

    Raises:
        ValueError: for a tuple of more than 3 elements.
    """
    if isinstance(data, MinDiffPackedInputs):
        return data, None, None
    return keras.utils.unpack_x_y_sample_weight(data)


# ---------------------------------------------------------------------------------------------
# Data kinds.


def _kind_of_all(datasets):
    """The common kind of the given datasets (None entries skipped, dicts looked into)."""
    values = []
    for dataset in datasets:
        values.extend(dataset.values() if _is_application_dict(dataset) else [dataset])
    return kind_of_all(values, "pack_min_diff_data")


def _is_application_dict(obj):
    """True for a dict holding one dataset per MinDiff application.

    Its values are all `tf.data.Dataset`s, all `PyDataset`s, or (for arrays) all tuples such as
    `(x,)` or `(x, y)`. A dict of plain arrays is a dict of input features, not applications.
    """
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(
            is_tf_dataset(v) or isinstance(v, (keras.utils.PyDataset, tuple, list))
            for v in obj.values()
        )
    )




def _ones_column(batch_x, value):
    rows = int(np.shape(keras.tree.flatten(batch_x)[0])[0])
    return np.full((rows, 1), value, dtype="float32")


def _x_and_weight(batch):
    x, _, weight = unpack_x_y_sample_weight(batch)
    return x, weight


def _group_weight(batch_x, weight, arg_name):
    """A group batch's weights as `[rows, 1]` float32, 1.0 where the group has none."""
    if weight is None:
        return _ones_column(batch_x, 1.0)
    check_sample_weight_values(weight, f"{arg_name} sample_weight")
    return np.reshape(np.asarray(weight, "float32"), (-1, 1))


def _concat_groups(sensitive_batch, nonsensitive_batch):
    """One MinDiff batch `(x, membership, weight)` from a sensitive and a non-sensitive batch."""
    s_x, s_w = _x_and_weight(sensitive_batch)
    n_x, n_w = _x_and_weight(nonsensitive_batch)
    x = keras.tree.map_structure(
        lambda a, b: np.concatenate([np.asarray(a), np.asarray(b)], axis=0), s_x, n_x
    )
    membership = np.concatenate([_ones_column(s_x, 1.0), _ones_column(n_x, 0.0)], axis=0)
    weight = np.concatenate([
        _group_weight(s_x, s_w, "sensitive_group_dataset"),
        _group_weight(n_x, n_w, "nonsensitive_group_dataset"),
    ])
    return x, membership, weight


def _validated_min_diff_batch(batch, arg_name):
    """Checks one `(x, membership[, w])` MinDiff batch and returns it as a tuple."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        raise ValueError(
            f"Each batch of `{arg_name}` must be a tuple `(min_diff_x, membership)` or "
            f"`(min_diff_x, membership, min_diff_sample_weight)`; received {type(batch).__name__}"
            f"{' of length ' + str(len(batch)) if isinstance(batch, tuple) else ''}."
        )
    check_membership_values(batch[1], f"{arg_name} membership")
    if len(batch) == 3 and batch[2] is not None:
        check_sample_weight_values(batch[2], f"{arg_name} sample_weight")
    return batch


class _GroupMinDiffBatches:
    """MinDiff batches built from a sensitive and a non-sensitive group source.

    With `repeat`, the smaller group is cycled until the larger one is exhausted; without, the
    batches stop at the shorter group.
    """

    def __init__(self, sensitive, nonsensitive, repeat):
        self.sensitive, self.nonsensitive, self.repeat = sensitive, nonsensitive, repeat

    def __len__(self):
        lengths = (len(self.sensitive), len(self.nonsensitive))
        return max(lengths) if self.repeat else min(lengths)

    def get(self, index):
        return _concat_groups(
            self.sensitive.get(index % len(self.sensitive)),
            self.nonsensitive.get(index % len(self.nonsensitive)),
        )

    def on_epoch_end(self):
        self.sensitive.on_epoch_end()
        self.nonsensitive.on_epoch_end()


class _CheckedMinDiffBatches:
    """A user-given MinDiff source whose batches are validated as they are read."""

    def __init__(self, source, arg_name):
        self.source, self.arg_name = source, arg_name

    def __len__(self):
        return len(self.source)

    def get(self, index):
        return _validated_min_diff_batch(self.source.get(index), self.arg_name)

    def on_epoch_end(self):
        self.source.on_epoch_end()


class _MinDiffPyDataset(keras.utils.PyDataset):
    """A `PyDataset` of MinDiff batches `(x, membership[, w])` (or dicts of them)."""

    def __init__(self, sources, length):
        super().__init__()
        self._sources = sources  # a source or a dict of sources
        self._length = length

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self._sources, dict):
            return {k: s.get(index % len(s)) for k, s in self._sources.items()}
        return self._sources.get(index % len(self._sources))

    def on_epoch_end(self):
        for source in _values(self._sources):
            source.on_epoch_end()


class _PackedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` of packed batches `(MinDiffPackedInputs(x, min_diff_data), y[, w])`."""

    def __init__(self, original, min_diff, length):
        super().__init__()
        self._original, self._min_diff, self._length = original, min_diff, length

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        x, y, weight = unpack_x_y_sample_weight(self._original.get(index))
        packed = MinDiffPackedInputs(x, self._min_diff[index % len(self._min_diff)])
        return tuple(part for part in (packed, y, weight) if part is not None) if y is not None else (packed,)

    def on_epoch_end(self):
        self._original.on_epoch_end()
        self._min_diff.on_epoch_end()


def _values(obj):
    return list(obj.values()) if isinstance(obj, dict) else [obj]


# ---------------------------------------------------------------------------------------------
# tf.data implementations.


def _tf_group_dataset(dataset, membership_value):
    import tensorflow as tf

    def with_membership(*batch):
        batch = batch[0] if len(batch) == 1 else batch
        x, _, weight = keras.utils.unpack_x_y_sample_weight(batch)
        rows = tf.shape(tf.nest.flatten(x)[0])[0]
        membership = tf.fill([rows, 1], tf.constant(membership_value, tf.float32))
        if weight is None:
            weight = tf.ones([rows, 1], tf.float32)
        return x, membership, tf.reshape(tf.cast(weight, tf.float32), [-1, 1])

    return dataset.map(with_membership)


def _tf_build(sensitive, nonsensitive, repeat):
    import tensorflow as tf

    sensitive = _tf_group_dataset(sensitive, 1.0)
    nonsensitive = _tf_group_dataset(nonsensitive, 0.0)
    if repeat:
        sensitive, nonsensitive = sensitive.repeat(), nonsensitive.repeat()

    def concat(s, n):
        return tf.nest.map_structure(lambda a, b: tf.concat([a, b], axis=0), s, n)

    return tf.data.Dataset.zip((sensitive, nonsensitive)).map(concat)


def _tf_pack(original, min_diff, repeat):
    import tensorflow as tf

    if repeat:
        min_diff = (
            {key: data.repeat() for key, data in min_diff.items()}
            if isinstance(min_diff, dict)
            else min_diff.repeat()
        )

    def pack(original_batch, min_diff_batch):
        x, y, weight = keras.utils.unpack_x_y_sample_weight(original_batch)
        packed = MinDiffPackedInputs(x, min_diff_batch)
        return tuple(part for part in (packed, y, weight) if part is not None) if y is not None else packed

    return tf.data.Dataset.zip((original, min_diff)).map(pack)


def _check_first_tf_min_diff_batch(min_diff_dataset, arg_name):
    for name, dataset in (min_diff_dataset.items() if isinstance(min_diff_dataset, dict) else [(None, min_diff_dataset)]):
        label = arg_name if name is None else f"{arg_name}[{name!r}]"
        for batch in dataset.take(1):
            _validated_min_diff_batch(batch, label)


# ---------------------------------------------------------------------------------------------
# Public builders.


def _check_same_keys(a, b, name_a, name_b):
    if isinstance(a, dict) != isinstance(b, dict) or (isinstance(a, dict) and set(a) != set(b)):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same structure (both single datasets, or "
            f"dicts with the same keys); received {_describe(a)} and {_describe(b)}."
        )


def _describe(obj):
    if isinstance(obj, dict):
        return f"a dict with keys {sorted(obj)}"
    return type(obj).__name__


def build_min_diff_dataset(
    sensitive_group_dataset,
    nonsensitive_group_dataset,
    *,
    repeat=True,
    batch_size=32,
    shuffle=True,
    seed=None,
):
    """Builds MinDiff data from examples of the sensitive and the non-sensitive group.

    Each output batch is `(min_diff_x, membership, min_diff_sample_weight)`: the sensitive
    batch's rows (membership 1.0) followed by the non-sensitive batch's rows (membership 0.0),
    membership and weights `[rows, 1]` float32 (weights 1.0 where a group has none).

    Args:
        sensitive_group_dataset: examples of the sensitive group, as `x`, `(x, y)` or
            `(x, y, sample_weight)` batches (labels are ignored): a batched `tf.data.Dataset`,
            a `keras.utils.PyDataset`, in-memory arrays, or a dict of these (one per MinDiff
            application).
        nonsensitive_group_dataset: the same for the non-sensitive group, of the same kind and
            structure.
        repeat: bool, default True: the smaller group is cycled so every batch holds both
            groups until the larger group is exhausted (for tf.data both repeat indefinitely;
            `pack_min_diff_data` then stops at the end of the original data). False: stop at the
            shorter group, as TF Model Remediation did.
        batch_size: rows per group per batch, for array inputs only. Default 32.
        shuffle: shuffle array inputs each epoch. Default True.
        seed: seed of that shuffle. Default None.

    Returns:
        A `tf.data.Dataset` for tf.data inputs, else a `keras.utils.PyDataset`; a dict of
        these for dict inputs.

    Raises:
        ValueError: if the two groups differ in kind or structure, or arrays are malformed.
    """
    _check_same_keys(
        sensitive_group_dataset,
        nonsensitive_group_dataset,
        "sensitive_group_dataset",
        "nonsensitive_group_dataset",
    )
    if _is_application_dict(sensitive_group_dataset):
        return {
            key: build_min_diff_dataset(
                sensitive_group_dataset[key],
                nonsensitive_group_dataset[key],
                repeat=repeat,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=seed,
            )
            for key in sensitive_group_dataset
        }
    kind = _kind_of_all([sensitive_group_dataset, nonsensitive_group_dataset])
    if kind == "tf.data":
        return _tf_build(sensitive_group_dataset, nonsensitive_group_dataset, repeat)
    source = _group_source(
        sensitive_group_dataset, nonsensitive_group_dataset, kind, batch_size, shuffle, seed,
        repeat,
    )
    return _MinDiffPyDataset(source, len(source))


def _group_source(sensitive, nonsensitive, kind, batch_size, shuffle, seed, repeat):
    return _GroupMinDiffBatches(
        batches(sensitive, kind, batch_size, shuffle, seed, "sensitive_group_dataset"),
        batches(
            nonsensitive, kind, batch_size, shuffle, None if seed is None else seed + 1,
            "nonsensitive_group_dataset",
        ),
        repeat,
    )


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
    `nonsensitive_group_dataset` (then built with `build_min_diff_dataset`).

    Each output batch is `(MinDiffPackedInputs(original_x, min_diff_data), y[, sample_weight])`
    (just `MinDiffPackedInputs` when the original data has no labels), where `min_diff_data`
    is `(min_diff_x, membership[, min_diff_sample_weight])` or a dict of such tuples.

    Args:
        original_dataset: the training data: a batched `tf.data.Dataset`, a
            `keras.utils.PyDataset`, or in-memory arrays as `x`, `(x, y)` or
            `(x, y, sample_weight)`.
        sensitive_group_dataset: examples of the sensitive group (see
            `build_min_diff_dataset`); or a dict of them, one per MinDiff application.
        nonsensitive_group_dataset: examples of the non-sensitive group, same structure.
        min_diff_dataset: ready MinDiff batches `(min_diff_x, membership[, weight])`, membership
            `[batch, 1]` of 0.0/1.0; or a dict of them. Exclusive with the group datasets.
        repeat_min_diff_data: bool, default True: cycle the MinDiff data so every original
            batch gets a MinDiff batch and an epoch covers all of the original data. False:
            stop at the shorter of the two, as TF Model Remediation did.
        batch_size: rows per original batch, for array inputs. Default 32.
        min_diff_batch_size: rows per group per MinDiff batch for array inputs (or per batch
            for an array `min_diff_dataset`). Default: `batch_size`.
        shuffle: shuffle array inputs each epoch (original and MinDiff data). Default True.
        seed: seed of that shuffle. Default None.

    Returns:
        A `tf.data.Dataset` for tf.data inputs, else a `keras.utils.PyDataset`.

    Raises:
        ValueError: if neither or both ways of giving MinDiff data are used, only one group is
            given, kinds or dict keys differ, arrays have unequal row counts, or MinDiff
            membership holds values other than 0 and 1 (checked on the first batch for
            tf.data, on every batch otherwise), or MinDiff weights are negative.
    """
    has_groups = sensitive_group_dataset is not None or nonsensitive_group_dataset is not None
    if has_groups and min_diff_dataset is not None:
        raise ValueError(
            "Give either `min_diff_dataset` or both `sensitive_group_dataset` and "
            "`nonsensitive_group_dataset`, not both ways."
        )
    if not has_groups and min_diff_dataset is None:
        raise ValueError(
            "No MinDiff data: give `min_diff_dataset`, or both `sensitive_group_dataset` and "
            "`nonsensitive_group_dataset`."
        )
    if has_groups and (sensitive_group_dataset is None or nonsensitive_group_dataset is None):
        missing = "sensitive" if sensitive_group_dataset is None else "nonsensitive"
        raise ValueError(
            f"`{missing}_group_dataset` is None: both `sensitive_group_dataset` and "
            "`nonsensitive_group_dataset` are needed."
        )
    kind = _kind_of_all(
        [original_dataset, sensitive_group_dataset, nonsensitive_group_dataset, min_diff_dataset]
    )
    min_diff_batch_size = batch_size if min_diff_batch_size is None else min_diff_batch_size

    if kind == "tf.data":
        if has_groups:
            min_diff_dataset = build_min_diff_dataset(
                sensitive_group_dataset, nonsensitive_group_dataset, repeat=repeat_min_diff_data
            )
        _check_first_tf_min_diff_batch(
            min_diff_dataset,
            "sensitive_group_dataset/nonsensitive_group_dataset" if has_groups else "min_diff_dataset",
        )
        return _tf_pack(original_dataset, min_diff_dataset, repeat_min_diff_data)

    original = batches(original_dataset, kind, batch_size, shuffle, seed, "original_dataset")
    md_seed = None if seed is None else seed + 101
    if has_groups:
        _check_same_keys(
            sensitive_group_dataset,
            nonsensitive_group_dataset,
            "sensitive_group_dataset",
            "nonsensitive_group_dataset",
        )
        if _is_application_dict(sensitive_group_dataset):
            sources = {
                key: _group_source(
                    sensitive_group_dataset[key], nonsensitive_group_dataset[key], kind,
                    min_diff_batch_size, shuffle, md_seed, repeat_min_diff_data,
                )
                for key in sensitive_group_dataset
            }
        else:
            sources = _group_source(
                sensitive_group_dataset, nonsensitive_group_dataset, kind,
                min_diff_batch_size, shuffle, md_seed, repeat_min_diff_data,
            )
    else:
        is_dict = _is_application_dict(min_diff_dataset)
        named = min_diff_dataset.items() if is_dict else [(None, min_diff_dataset)]
        built = {}
        for key, data in named:
            label = "min_diff_dataset" if key is None else f"min_diff_dataset[{key!r}]"
            if kind == "arrays":
                if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
                    raise ValueError(
                        f"`{label}` must be `(min_diff_x, membership)` or `(min_diff_x, "
                        f"membership, sample_weight)` arrays; received {_describe(data)}."
                    )
                check_membership_values(data[1], f"{label} membership")
            built[key] = _CheckedMinDiffBatches(
                batches(data, kind, min_diff_batch_size, shuffle, md_seed, label), label
            )
        sources = built if is_dict else built[None]

    min_diff_length = max(len(s) for s in _values(sources))
    length = len(original) if repeat_min_diff_data else min(len(original), min(len(s) for s in _values(sources)))
    min_diff = _MinDiffPyDataset(sources, min_diff_length)
    return _PackedPyDataset(original, min_diff, length)
