"""Counterfactual data for `CounterfactualModel`: pack it into batches, unpack it, build it.

A packed batch is `(CounterfactualPackedInputs(original_inputs, counterfactual_data), y[, w])`
where `counterfactual_data` is `(original_x, counterfactual_x[, counterfactual_sample_weight])`:
rows of examples (`original_x`, any input structure of the original model) and their
counterfactuals (`counterfactual_x`, same structure and shapes, row i the counterfactual of row
i), with optional non-negative weights `[rows]` or `[rows, 1]` per pair.

Packing follows `min_diff.keras.utils.pack_min_diff_data` and shares its batching machinery:
`tf.data.Dataset` in, `tf.data.Dataset` out; `keras.utils.PyDataset` or in-memory arrays in,
`keras.utils.PyDataset` out (no TensorFlow needed); the counterfactual data is repeated by
default so that every original batch gets a counterfactual batch.
"""

import collections
import re

import keras
import numpy as np

from keras_remediation.common.batching import batches
from keras_remediation.common.batching import kind_of_all
from keras_remediation.common.tensor_utils import check_sample_weight_values

__all__ = [
    "CounterfactualPackedInputs",
    "build_counterfactual_data",
    "pack_counterfactual_data",
    "unpack_counterfactual_data",
    "unpack_original_inputs",
]

_PACKED_KEYS = ("original_inputs", "counterfactual_data")


class CounterfactualPackedInputs(
    collections.namedtuple("CounterfactualPackedInputs", list(_PACKED_KEYS))
):
    """Named tuple holding the original inputs of a batch and its counterfactual data.

    Attributes:
        original_inputs: inputs of the original model for the batch (any structure).
        counterfactual_data: `(original_x, counterfactual_x[, counterfactual_sample_weight])`.
    """


def _is_packed_dict(inputs):
    return isinstance(inputs, dict) and set(inputs) == set(_PACKED_KEYS)


def unpack_original_inputs(inputs):
    """The original-model inputs of a packed batch, or `inputs` unchanged if not packed.

    Accepts `CounterfactualPackedInputs` or a dict with exactly its two keys (the form some
    data loaders turn a named tuple into).
    """
    if isinstance(inputs, CounterfactualPackedInputs):
        return inputs.original_inputs
    if _is_packed_dict(inputs):
        return inputs["original_inputs"]
    return inputs


def unpack_counterfactual_data(inputs):
    """The counterfactual data of a packed batch, or None if there is none."""
    if isinstance(inputs, CounterfactualPackedInputs):
        return inputs.counterfactual_data
    if _is_packed_dict(inputs):
        return inputs["counterfactual_data"]
    return None


def validate_counterfactual_batch(batch, arg_name="counterfactual_data"):
    """Checks one `(original_x, counterfactual_x[, weight])` batch; returns it as a tuple.

    Raises:
        ValueError: if `batch` is not a 2- or 3-tuple, `original_x` and `counterfactual_x`
            differ in structure or (known) shapes, or weights are negative or not finite
            (when their values are known).
    """
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        length = f" of length {len(batch)}" if isinstance(batch, tuple) else ""
        raise ValueError(
            f"`{arg_name}` must be a tuple `(original_x, counterfactual_x)` or `(original_x, "
            f"counterfactual_x, counterfactual_sample_weight)`; received "
            f"{type(batch).__name__}{length}."
        )
    original_x, counterfactual_x = batch[0], batch[1]
    try:
        keras.tree.assert_same_structure(original_x, counterfactual_x)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"In `{arg_name}`, `original_x` and `counterfactual_x` must have the same "
            f"structure: {error}"
        ) from None
    for a, b in zip(keras.tree.flatten(original_x), keras.tree.flatten(counterfactual_x)):
        sa, sb = getattr(a, "shape", None), getattr(b, "shape", None)
        if sa is None or sb is None:
            continue
        sa, sb = tuple(sa), tuple(sb)
        if len(sa) != len(sb) or any(
            x is not None and y is not None and x != y for x, y in zip(sa, sb)
        ):
            raise ValueError(
                f"In `{arg_name}`, `original_x` and `counterfactual_x` must have the same "
                f"shapes (row i of one is the counterfactual of row i of the other); received "
                f"shapes {sa} and {sb}."
            )
    if len(batch) == 3 and batch[2] is not None:
        check_sample_weight_values(batch[2], f"{arg_name} sample_weight")
    return batch


class _CheckedBatches:
    """A counterfactual batch source whose batches are validated as they are read."""

    def __init__(self, source, arg_name):
        self.source, self.arg_name = source, arg_name

    def __len__(self):
        return len(self.source)

    def get(self, index):
        return validate_counterfactual_batch(self.source.get(index), self.arg_name)

    def on_epoch_end(self):
        self.source.on_epoch_end()


class _PackedPyDataset(keras.utils.PyDataset):
    """Packed batches `(CounterfactualPackedInputs(x, counterfactual_data), y[, w])`."""

    def __init__(self, original, counterfactual, length):
        super().__init__()
        self._original, self._counterfactual, self._length = original, counterfactual, length

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        x, y, weight = keras.utils.unpack_x_y_sample_weight(self._original.get(index))
        data = self._counterfactual.get(index % len(self._counterfactual))
        packed = CounterfactualPackedInputs(x, data)
        if y is None:
            return (packed,)
        return tuple(part for part in (packed, y, weight) if part is not None)

    def on_epoch_end(self):
        self._original.on_epoch_end()
        self._counterfactual.on_epoch_end()


def _tf_pack(original, counterfactual, repeat):
    import tensorflow as tf

    if repeat:
        counterfactual = counterfactual.repeat()

    def pack(original_batch, counterfactual_batch):
        x, y, weight = keras.utils.unpack_x_y_sample_weight(original_batch)
        packed = CounterfactualPackedInputs(x, tuple(counterfactual_batch))
        if y is None:
            return packed
        return tuple(part for part in (packed, y, weight) if part is not None)

    return tf.data.Dataset.zip((original, counterfactual)).map(pack)


def pack_counterfactual_data(
    original_dataset,
    counterfactual_dataset,
    *,
    repeat_counterfactual_data=True,
    batch_size=32,
    counterfactual_batch_size=None,
    shuffle=True,
    seed=None,
):
    """Packs counterfactual data into the batches of the original data, for `CounterfactualModel`.

    Each output batch is `(CounterfactualPackedInputs(x, counterfactual_data), y[, w])` (just
    the packed inputs when the original data has no labels), `counterfactual_data` being
    `(original_x, counterfactual_x[, counterfactual_sample_weight])`.

    Args:
        original_dataset: the training data: a batched `tf.data.Dataset`, a
            `keras.utils.PyDataset`, or in-memory arrays `x`, `(x, y)` or `(x, y, w)`.
        counterfactual_dataset: the pairs, of the same kind: a batched `tf.data.Dataset` or a
            `PyDataset` whose items are `(original_x, counterfactual_x[, weight])`, or arrays
            as such a tuple (e.g. from `build_counterfactual_data`, after preprocessing).
        repeat_counterfactual_data: default True: cycle the counterfactual data so every
            original batch gets a counterfactual batch (an epoch covers all of the original
            data). False: stop at the shorter of the two (TF Model Remediation's zip).
        batch_size: rows per original batch, for array inputs. Default 32.
        counterfactual_batch_size: pairs per counterfactual batch, for array inputs. Default:
            `batch_size`.
        shuffle: shuffle array inputs each epoch. Default True.
        seed: seed of that shuffle. Default None.

    Returns:
        A `tf.data.Dataset` for tf.data inputs, else a `keras.utils.PyDataset`.

    Raises:
        ValueError: if the two datasets differ in kind; arrays have unequal row counts;
            a counterfactual batch is not `(original_x, counterfactual_x[, weight])`, its two
            parts differ in structure or shape, or its weights are negative (checked on the
            first batch for tf.data, on every batch otherwise).
    """
    if counterfactual_dataset is None:
        raise ValueError("`counterfactual_dataset` is None: give the counterfactual pairs.")
    kind = kind_of_all([original_dataset, counterfactual_dataset], "pack_counterfactual_data")
    if kind == "tf.data":
        for batch in counterfactual_dataset.take(1):
            validate_counterfactual_batch(batch, "counterfactual_dataset")
        return _tf_pack(original_dataset, counterfactual_dataset, repeat_counterfactual_data)
    if kind == "arrays":
        validate_counterfactual_batch(counterfactual_dataset, "counterfactual_dataset")
    cf_batch_size = batch_size if counterfactual_batch_size is None else counterfactual_batch_size
    original = batches(original_dataset, kind, batch_size, shuffle, seed, "original_dataset")
    counterfactual = _CheckedBatches(
        batches(
            counterfactual_dataset, kind, cf_batch_size, shuffle,
            None if seed is None else seed + 101, "counterfactual_dataset",
        ),
        "counterfactual_dataset",
    )
    length = len(original) if repeat_counterfactual_data else min(len(original), len(counterfactual))
    return _PackedPyDataset(original, counterfactual, length)


# ---------------------------------------------------------------------------------------------
# Building counterfactual examples.


def _match_case(replacement, matched):
    if matched.isupper() and len(matched) > 1:
        return replacement.upper()
    if matched[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _text_swapper(terms, case_sensitive):
    """A function swapping every whole-word occurrence of `terms`' keys in a string, at once."""
    if not terms:
        raise ValueError("`sensitive_terms_to_remove` is empty.")
    keys = sorted(terms, key=len, reverse=True)  # longest first: "he" must not eat "her"
    flags = 0 if case_sensitive else re.IGNORECASE
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(k) for k in keys) + r")(?!\w)", flags
    )
    lookup = terms if case_sensitive else {k.lower(): v for k, v in terms.items()}

    def swap(text):
        if not isinstance(text, str):
            return text

        def replace(match):
            word = match.group(0)
            if case_sensitive:
                return lookup[word]
            return _match_case(lookup[word.lower()], word)

        return pattern.sub(replace, text)

    return swap


def _normalise_terms(terms):
    if isinstance(terms, dict):
        return dict(terms)
    if isinstance(terms, (list, tuple, set)):
        return {term: "" for term in terms}  # removal, as TF Model Remediation
    raise ValueError(
        "`sensitive_terms_to_remove` must be a dict of term -> replacement (or a list of terms "
        f"to remove); received {type(terms).__name__}."
    )


def build_counterfactual_data(
    x,
    sensitive_terms_to_remove=None,
    custom_counterfactual_function=None,
    *,
    feature=None,
    mode=None,
    case_sensitive=False,
):
    """Builds counterfactual examples by changing one feature, keeping the rows that changed.

    Args:
        x: the examples: a `pandas.DataFrame`, a dict of equal-length arrays or lists (one per
            feature), or a 1-D array/list of values (then the feature itself; `feature` must
            be None).
        sensitive_terms_to_remove: the swap. For `mode="text"`, a dict term -> replacement:
            every whole-word occurrence (not inside a longer word) of a term is replaced, all
            terms at once, so `{"he": "she", "she": "he"}` swaps both ways; without
            `case_sensitive`, terms match in any case and the replacement takes the match's
            capitalisation ("He" -> "She"). A list of terms removes them (replacement "").
            For `mode="categorical"`, a dict value -> value applied to whole values (exact
            equality), e.g. `{"Male": "Female", "Female": "Male"}`.
        custom_counterfactual_function: instead of `sensitive_terms_to_remove`, a callable
            mapping one value of the feature to its counterfactual value.
        feature: the column to change; required for a DataFrame or dict.
        mode: `"text"` or `"categorical"`. Default None: `"text"` when every value of the
            column is a string, else `"categorical"`. Ignored with a custom function.
        case_sensitive: for `mode="text"`, match terms exactly. Default False.

    Returns:
        `(originals, counterfactuals)`, of `x`'s kind (DataFrame, dict of NumPy arrays, or
        NumPy array), holding only the rows whose feature changed, row i of `counterfactuals`
        the counterfactual of row i of `originals`; other features are copied unchanged. A
        DataFrame keeps its index, so rows can be traced back.

    Raises:
        ValueError: if neither or both of `sensitive_terms_to_remove` and
            `custom_counterfactual_function` are given; `feature` is missing or unknown;
            `mode` is unknown; the terms are malformed; dict columns differ in length.
    """
    if (sensitive_terms_to_remove is None) == (custom_counterfactual_function is None):
        raise ValueError(
            "Give exactly one of `sensitive_terms_to_remove` and "
            "`custom_counterfactual_function`."
        )
    if custom_counterfactual_function is not None and not callable(custom_counterfactual_function):
        raise ValueError("`custom_counterfactual_function` must be callable.")
    if mode not in (None, "text", "categorical"):
        raise ValueError(f"`mode` must be None, 'text' or 'categorical'; received {mode!r}.")

    is_frame = hasattr(x, "columns") and hasattr(x, "loc")
    if is_frame or isinstance(x, dict):
        names = list(x.columns) if is_frame else list(x)
        if feature is None or feature not in names:
            raise ValueError(
                f"`feature` must name a column of `x` (one of {names}); received {feature!r}."
            )
        values = x[feature].tolist() if is_frame else list(np.asarray(x[feature]).tolist())
        if not is_frame:
            lengths = {len(np.asarray(column)) for column in x.values()}
            if len(lengths) != 1:
                raise ValueError(
                    f"All columns of `x` must have the same length; received {sorted(lengths)}."
                )
    else:
        if feature is not None:
            raise ValueError("`feature` must be None when `x` is a single array of values.")
        values = np.asarray(x).tolist()
        if np.ndim(np.asarray(x, dtype=object)) != 1:
            raise ValueError("A single-array `x` must be 1-D (one value per example).")

    if custom_counterfactual_function is not None:
        change = custom_counterfactual_function
    else:
        terms = _normalise_terms(sensitive_terms_to_remove)
        if mode is None:
            mode = "text" if values and all(isinstance(v, str) for v in values) else "categorical"
        if mode == "text":
            bad = [k for k in terms if not isinstance(k, str) or not k]
            if bad or not all(isinstance(v, str) for v in terms.values()):
                raise ValueError(
                    "For `mode='text'`, `sensitive_terms_to_remove` must map non-empty strings "
                    f"to strings; received {sensitive_terms_to_remove!r}."
                )
            change = _text_swapper(terms, case_sensitive)
        else:
            if not terms:
                raise ValueError("`sensitive_terms_to_remove` is empty.")

            def change(value):
                try:
                    return terms.get(value, value)
                except TypeError:  # unhashable value
                    return value

    new_values = [change(value) for value in values]
    changed = np.array(
        [not _same(a, b) for a, b in zip(values, new_values)], dtype=bool
    ).reshape(-1)
    rows = np.flatnonzero(changed)

    if is_frame:
        originals = x.iloc[rows].copy()
        counterfactuals = originals.copy()
        counterfactuals[feature] = [new_values[i] for i in rows]
        return originals, counterfactuals
    if isinstance(x, dict):
        originals = {k: np.asarray(v)[rows] for k, v in x.items()}
        counterfactuals = dict(originals)
        counterfactuals[feature] = _array([new_values[i] for i in rows], np.asarray(x[feature]))
        return originals, counterfactuals
    array = np.asarray(x)
    return array[rows], _array([new_values[i] for i in rows], array)


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _array(values, like):
    if like.dtype.kind in "US":  # fixed-width strings: let NumPy pick a width that fits
        return np.asarray(values)
    return np.asarray(values, dtype=like.dtype if like.dtype.kind != "O" else object)
