"""Counterfactual data for `CounterfactualModel`: pack it with the original data, build it.

TF Model Remediation's contract: a packed batch is a `CounterfactualPackedInputs(original_input,
counterfactual_data)` where `original_input` is the whole original batch as `fit` takes it
(`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`) and `counterfactual_data` is
`(original_x, counterfactual_x[, counterfactual_sample_weight])`, or for several objectives a
dict of such tuples keyed like the model's `loss` dict. `counterfactual_x` is whatever the
original model takes for those rows: the same features with one changed, or (as in TF Model
Remediation's examples) only the changed feature when the model reads only that one. Row i of
`counterfactual_x` is the counterfactual of row i of `original_x`.

`pack_counterfactual_data` zips the two: `tf.data.Dataset` in, `tf.data.Dataset` out (TF Model
Remediation's function); `keras.utils.PyDataset` or in-memory arrays in, a `PyDataset` out (no
TensorFlow needed, for the JAX and PyTorch backends). `CounterfactualModel.fit`, `evaluate` and
`predict` take these batches as they are.

`build_counterfactual_data` makes the counterfactual data: from a `tf.data.Dataset`, TF Model
Remediation's function; from a DataFrame, a dict of columns or an array,
`build_counterfactual_pairs` (keras-remediation's, no TensorFlow needed).
"""

import collections
import re

import keras
import numpy as np

from keras_remediation.common import structures
from keras_remediation.common.batching import batches
from keras_remediation.common.batching import is_tf_dataset
from keras_remediation.common.batching import kind_of_all
from keras_remediation.common.validation import check_finite_leaves
from keras_remediation.common.validation import check_sample_weight_values
from keras_remediation.counterfactual.keras.utils import structure_utils

__all__ = [
    "CounterfactualPackedInputs",
    "build_counterfactual_data",
    "build_counterfactual_pairs",
    "pack_counterfactual_data",
    "unpack_counterfactual_data",
    "unpack_original_inputs",
]


class CounterfactualPackedInputs(
    collections.namedtuple("CounterfactualPackedInputs", ["original_input", "counterfactual_data"])
):
    """Named tuple: one original batch and its counterfactual data (TF Model Remediation's).

    Attributes:
        original_input: the original batch as `keras.Model.fit` takes it: `x`, `(x,)`,
            `(x, y)` or `(x, y, sample_weight)`.
        counterfactual_data: `(original_x, counterfactual_x[, counterfactual_sample_weight])`,
            or a dict of such tuples (one per objective of a multi-objective model).
    """


class CounterfactualModelInputs(
    collections.namedtuple("CounterfactualModelInputs", ["original_x", "counterfactual_data"])
):
    """The `x` that `CounterfactualModel.call` receives from `fit`: inputs + counterfactual data.

    `CounterfactualModel.fit`, `evaluate` and `predict` turn each `CounterfactualPackedInputs`
    batch into `(CounterfactualModelInputs(x, counterfactual_data), y, sample_weight)`, the form
    Keras's training loop expects. A custom training loop may call the model on it directly.
    """


_FIELDS = {
    CounterfactualPackedInputs: set(CounterfactualPackedInputs._fields),
    CounterfactualModelInputs: set(CounterfactualModelInputs._fields),
}


def _as_packed(inputs):
    """`inputs` as one of the two named tuples, if it is one or a dict of exactly its fields."""
    if isinstance(inputs, (CounterfactualPackedInputs, CounterfactualModelInputs)):
        return inputs
    if isinstance(inputs, dict):
        for klass, fields in _FIELDS.items():
            if set(inputs) == fields:
                return klass(**inputs)
    return None


def unpack_original_inputs(inputs):
    """The original model's inputs `x` of a packed batch, or `inputs` unchanged if not packed."""
    packed = _as_packed(inputs)
    if isinstance(packed, CounterfactualModelInputs):
        return packed.original_x
    if isinstance(packed, CounterfactualPackedInputs):
        return keras.utils.unpack_x_y_sample_weight(_as_tuple(packed.original_input))[0]
    return inputs


def unpack_counterfactual_data(inputs):
    """The counterfactual data of a packed batch, or None if there is none."""
    packed = _as_packed(inputs)
    return None if packed is None else packed.counterfactual_data


def _as_tuple(value):
    return tuple(value) if isinstance(value, list) else value


def to_keras_batch(batch):
    """A `CounterfactualPackedInputs` batch as `(CounterfactualModelInputs(x, cf), y[, w])`.

    Other batches are returned unchanged.
    """
    packed = _as_packed(batch)
    if not isinstance(packed, CounterfactualPackedInputs):
        return batch
    x, y, weight = keras.utils.unpack_x_y_sample_weight(_as_tuple(packed.original_input))
    inputs = CounterfactualModelInputs(x, packed.counterfactual_data)
    if weight is not None:
        return (inputs, y, weight)
    if y is not None:
        return (inputs, y)
    return (inputs,)


def validate_counterfactual_batch(batch, arg_name="counterfactual_data"):
    """Checks one `(original_x, counterfactual_x[, weight])` batch; returns it as a tuple.

    `original_x` and `counterfactual_x` may differ in structure (`counterfactual_x` may hold
    only the changed feature) but must have the same number of rows where it is known.

    Raises:
        ValueError: if `batch` is not a 2- or 3-tuple, the row counts differ, float features
            are NaN or infinite, or weights are negative or not finite (values are checked
            when they are known: not inside a compiled step).
    """
    batch = _as_tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (2, 3):
        length = f" of length {len(batch)}" if isinstance(batch, tuple) else ""
        raise ValueError(
            f"`{arg_name}` must be a tuple `(original_x, counterfactual_x)` or `(original_x, "
            f"counterfactual_x, counterfactual_sample_weight)`; received "
            f"{type(batch).__name__}{length}."
        )

    def rows(part):
        sizes = set()
        for leaf in keras.tree.flatten(part):
            shape = getattr(leaf, "shape", None)
            if shape is not None and len(shape) > 0 and shape[0] is not None:
                sizes.add(int(shape[0]))
        return sizes

    sizes = rows(batch[0]) | rows(batch[1])
    if len(sizes) > 1:
        raise ValueError(
            f"In `{arg_name}`, `original_x` and `counterfactual_x` must have the same number of "
            f"rows (row i of one is the counterfactual of row i of the other); received row "
            f"counts {sorted(sizes)}."
        )
    check_finite_leaves(batch[0], f"{arg_name} original_x")
    check_finite_leaves(batch[1], f"{arg_name} counterfactual_x")
    if len(batch) == 3 and batch[2] is not None:
        check_sample_weight_values(batch[2], f"{arg_name} sample_weight")
    return batch


def _map_structure(function, struct):
    if isinstance(struct, dict):
        return {key: function(value, key) for key, value in struct.items()}
    return function(struct, None)


def _name(arg_name, key):
    return arg_name if key is None else f"{arg_name}[{key!r}]"


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
    """Batches `CounterfactualPackedInputs(original batch, counterfactual data)`."""

    def __init__(self, original, counterfactual, length, repeat):
        super().__init__()
        self._original, self._counterfactual = original, counterfactual
        self._length, self._repeat = length, repeat

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if index < 0 or index >= self._length:
            raise IndexError(f"Batch index {index} out of range [0, {self._length}).")

        def get(source, key):
            return source.get(index % len(source) if self._repeat else index)

        return CounterfactualPackedInputs(
            self._original.get(index), _map_structure(get, self._counterfactual)
        )

    def on_epoch_end(self):
        self._original.on_epoch_end()
        _map_structure(lambda source, key: source.on_epoch_end(), self._counterfactual)


class KerasFormPyDataset(keras.utils.PyDataset):
    """A PyDataset whose `CounterfactualPackedInputs` batches are given in Keras's form.

    Used by `CounterfactualModel.fit`, `evaluate` and `predict` (see `to_keras_batch`); other
    batches pass unchanged. Workers and queue settings are those of the wrapped dataset.
    """

    def __init__(self, dataset):
        super().__init__(
            workers=getattr(dataset, "workers", 1),
            use_multiprocessing=getattr(dataset, "use_multiprocessing", False),
            max_queue_size=getattr(dataset, "max_queue_size", 10),
        )
        self.dataset = dataset

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return to_keras_batch(self.dataset[index])

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def as_keras_data(data):
    """`data` with its `CounterfactualPackedInputs` batches in Keras's form (see `to_keras_batch`).

    A `tf.data.Dataset` of `CounterfactualPackedInputs` is mapped; a `PyDataset` is wrapped
    (`KerasFormPyDataset`); anything else is returned unchanged.
    """
    if is_tf_dataset(data):
        if isinstance(data.element_spec, CounterfactualPackedInputs):
            # tf.data hands a named tuple to the function as one argument.
            return data.map(
                lambda *parts: to_keras_batch(
                    parts[0] if len(parts) == 1 else CounterfactualPackedInputs(*parts)
                )
            )
        return data
    if isinstance(data, keras.utils.PyDataset) and not isinstance(data, KerasFormPyDataset):
        return KerasFormPyDataset(data)
    return data


def _tf_pack(original, counterfactual, repeat):
    import tensorflow as tf

    if repeat:
        counterfactual = _map_structure(lambda dataset, key: dataset.repeat(), counterfactual)

    def pack(original_batch, counterfactual_batch):
        return CounterfactualPackedInputs(original_batch, counterfactual_batch)

    return tf.data.Dataset.zip((original, counterfactual)).map(pack)


def pack_counterfactual_data(
    original_input,
    counterfactual_data,
    *,
    repeat_counterfactual_data=False,
    batch_size=32,
    counterfactual_batch_size=None,
    shuffle=True,
    seed=None,
):
    """Packs `counterfactual_data` with `original_input` into `CounterfactualPackedInputs` batches.

    Each batch is `CounterfactualPackedInputs(original_batch, counterfactual_batch)`: the whole
    original batch (`x`, `(x, y)` or `(x, y, sample_weight)`) and one batch of
    `(original_x, counterfactual_x[, counterfactual_sample_weight])` (a dict of them for a
    multi-objective model). The two may have different batch sizes.

    Args:
        original_input: the training data: a batched `tf.data.Dataset`, a
            `keras.utils.PyDataset`, or in-memory arrays `x`, `(x, y)` or `(x, y, w)`.
        counterfactual_data: of the same kind: a batched `tf.data.Dataset` or a `PyDataset`
            whose items are `(original_x, counterfactual_x[, weight])`, or arrays as such a
            tuple (e.g. from `build_counterfactual_pairs`, after preprocessing); or a dict of
            these, keyed like a multi-objective model's `loss`.
        repeat_counterfactual_data: default False (TF Model Remediation's behaviour): stop at
            the shorter of the datasets, so an epoch may not cover all of the original data.
            True: cycle the counterfactual data so every original batch gets a counterfactual
            batch (an epoch covers all of the original data).
        batch_size: rows per original batch, for array inputs. Default 32.
        counterfactual_batch_size: pairs per counterfactual batch, for array inputs. Default:
            `batch_size`.
        shuffle: shuffle array inputs each epoch. Default True.
        seed: seed of that shuffle. Default None.

    Returns:
        A `tf.data.Dataset` for tf.data inputs (do not batch it again if its inputs were
        batched), else a `keras.utils.PyDataset`.

    Raises:
        TypeError / ValueError: if `counterfactual_data` is not one element or a flat dict
            (`counterfactual.keras.utils.validate_counterfactual_structure`).
        ValueError: if the datasets differ in kind; arrays have unequal row counts; a
            counterfactual dataset is empty; a counterfactual batch is not
            `(original_x, counterfactual_x[, weight])`, its parts differ in row count, its
            float features are NaN or infinite, or its weights are negative or not finite
            (checked on the first batch for tf.data, on every batch otherwise).
    """
    if counterfactual_data is None:
        raise ValueError(
            "`counterfactual_data` must be the counterfactual pairs `(original_x, "
            "counterfactual_x[, counterfactual_sample_weight])` (or a dict of them); received None."
        )
    structure_utils.validate_counterfactual_structure(
        counterfactual_data, struct_name="counterfactual_data"
    )
    flat = structures.flatten_structure(counterfactual_data)
    kind = kind_of_all([original_input] + flat, "pack_counterfactual_data")
    if kind == "tf.data":

        def check_first(dataset, key):
            name = _name("counterfactual_data", key)
            for batch in dataset.take(1):
                validate_counterfactual_batch(batch, name)
                return
            raise ValueError(
                f"`{name}` must have at least one batch; received an empty tf.data.Dataset "
                "(e.g. a filter that matched no row)."
            )

        _map_structure(check_first, counterfactual_data)
        return _tf_pack(original_input, counterfactual_data, repeat_counterfactual_data)
    if kind == "arrays":
        _map_structure(
            lambda data, key: validate_counterfactual_batch(
                data, _name("counterfactual_data", key)
            ),
            counterfactual_data,
        )
    cf_batch_size = batch_size if counterfactual_batch_size is None else counterfactual_batch_size
    original = batches(original_input, kind, batch_size, shuffle, seed, "original_input")

    def source(data, key):
        name = _name("counterfactual_data", key)
        cf_seed = None if seed is None else seed + 101
        return _CheckedBatches(batches(data, kind, cf_batch_size, shuffle, cf_seed, name), name)

    counterfactual = _map_structure(source, counterfactual_data)
    for key, checked in (
        counterfactual.items() if isinstance(counterfactual, dict) else [(None, counterfactual)]
    ):
        if len(checked) == 0:
            raise ValueError(
                f"`{_name('counterfactual_data', key)}` must have at least one batch; received "
                "an empty PyDataset."
            )
    lengths = [len(s) for s in structures.flatten_structure(counterfactual)]
    length = len(original) if repeat_counterfactual_data else min([len(original)] + lengths)
    return _PackedPyDataset(original, counterfactual, length, repeat_counterfactual_data)


def _match_case(replacement, matched):
    if matched.isupper() and len(matched) > 1:
        return replacement.upper()
    if matched[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _text_swapper(terms, case_sensitive):
    """A function swapping every whole-word occurrence of `terms`' keys in a string, at once."""
    if not terms:
        raise ValueError(f"`sensitive_terms_to_remove` must not be empty; received {terms!r}.")
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
    raise TypeError(
        "`sensitive_terms_to_remove` must be a dict of term -> replacement (or a list of terms "
        f"to remove); received {terms!r} of type {type(terms).__name__}."
    )


def build_counterfactual_data(
    original_input,
    sensitive_terms_to_remove=None,
    custom_counterfactual_function=None,
    **kwargs,
):
    """Builds counterfactual data: TF Model Remediation's function on a `tf.data.Dataset`.

    For a `tf.data.Dataset` `original_input` whose elements are `x`, `(x,)`, `(x, y)` or
    `(x, y, sample_weight)` (batched or not), returns a `tf.data.Dataset` of
    `(original_x, counterfactual_x, counterfactual_sample_weight)`:

    - with `sensitive_terms_to_remove` (a list of terms, RE2 patterns): keeps the elements
      whose `x` (a string tensor) contains one of the terms as a whole word in every entry
      (a batch is kept only if all its rows match), and removes every whole-word occurrence
      (`\\b(term1|term2)\\b` replaced by ""); the weights are ones shaped like `x`.
    - with `custom_counterfactual_function`: maps each element (the tuple, or `x` alone) to
      the function's result, which must be `(original_x, counterfactual_x,
      counterfactual_sample_weight)`; if `sensitive_terms_to_remove` is also given, the
      elements are first filtered by the terms as above.

    For anything else (a `pandas.DataFrame`, a dict of columns, a 1-D array or list), calls
    `build_counterfactual_pairs(original_input, sensitive_terms_to_remove,
    custom_counterfactual_function, **kwargs)`, which needs no TensorFlow and returns
    `(originals, counterfactuals)`; see there for `feature=`, `mode=`, `case_sensitive=`.

    Raises:
        ValueError: if neither `custom_counterfactual_function` nor `sensitive_terms_to_remove`
            is given; for a `tf.data.Dataset`, if keyword arguments of
            `build_counterfactual_pairs` are given.
        TypeError: for a tf.data input that is not one `tf.data.Dataset`; on that path, if
            `sensitive_terms_to_remove` is not a string or a list of strings (a dict of swaps
            is `build_counterfactual_pairs`'); if `custom_counterfactual_function` is not
            callable.
    """
    if not is_tf_dataset(original_input) and not (
        isinstance(original_input, dict)
        and original_input
        and all(is_tf_dataset(v) for v in original_input.values())
    ):
        return build_counterfactual_pairs(
            original_input, sensitive_terms_to_remove, custom_counterfactual_function, **kwargs
        )
    if kwargs:
        raise ValueError(
            f"For a tf.data.Dataset, `build_counterfactual_data` takes only "
            f"`sensitive_terms_to_remove` and `custom_counterfactual_function`; received "
            f"{sorted(kwargs)} (arguments of `build_counterfactual_pairs`)."
        )
    if custom_counterfactual_function is None and not sensitive_terms_to_remove:
        raise ValueError(
            "Either `custom_counterfactual_function` must be provided or "
            "`sensitive_terms_to_remove` must provided.\n"
            f"Found:\nsensitive_terms_to_remove: {sensitive_terms_to_remove}\n"
            f"custom_counterfactual_function: {custom_counterfactual_function}"
        )
    _check_callable(custom_counterfactual_function)
    import tensorflow as tf

    structure_utils.validate_counterfactual_structure(
        original_input, struct_name="original_input", element_type=tf.data.Dataset
    )
    if isinstance(original_input, dict):
        raise TypeError(
            "`build_counterfactual_data` builds one counterfactual dataset from one "
            "`tf.data.Dataset`; call it once per dataset of a dict."
        )

    terms = _regex_terms(sensitive_terms_to_remove)
    words = "\\b(" + "|".join(terms) + ")\\b"

    def element(parts):
        return parts[0] if len(parts) == 1 else tuple(parts)

    def has_term(*parts):
        x = keras.utils.unpack_x_y_sample_weight(element(parts))[0]
        return tf.math.reduce_all(tf.strings.regex_full_match(x, ".*" + words + ".*"))

    def remove_terms(*parts):
        x = keras.utils.unpack_x_y_sample_weight(element(parts))[0]
        return (x, tf.strings.regex_replace(x, words, ""), tf.ones_like(x, tf.float32))

    def custom(*parts):
        return custom_counterfactual_function(element(parts))

    build = remove_terms if custom_counterfactual_function is None else custom
    if terms:
        original_input = original_input.filter(has_term)
    return original_input.map(build)


def _regex_terms(sensitive_terms_to_remove):
    """`sensitive_terms_to_remove` of the tf.data path as a list of strings ([] for None)."""
    if not sensitive_terms_to_remove:
        return []
    if isinstance(sensitive_terms_to_remove, str):
        return [sensitive_terms_to_remove]
    terms = sensitive_terms_to_remove
    if not isinstance(terms, (list, tuple)) or not all(isinstance(t, str) and t for t in terms):
        raise TypeError(
            "`sensitive_terms_to_remove` must be a list of strings (RE2 patterns to remove) for "
            f"a tf.data.Dataset; received {terms!r}. To swap terms (a dict term -> "
            "replacement), use `build_counterfactual_pairs` or a "
            "`custom_counterfactual_function`."
        )
    return list(terms)


def build_counterfactual_pairs(
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
        TypeError: if `custom_counterfactual_function` is not callable, or
            `sensitive_terms_to_remove` is neither a dict nor a list of terms.
    """
    if (sensitive_terms_to_remove is None) == (custom_counterfactual_function is None):
        raise ValueError(
            "Give exactly one of `sensitive_terms_to_remove` and "
            "`custom_counterfactual_function`."
        )
    _check_callable(custom_counterfactual_function)
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
            raise ValueError(
                f"`feature` must be None when `x` is a single array of values; received {feature!r}."
            )
        values = np.asarray(x).tolist()
        if np.ndim(np.asarray(x, dtype=object)) != 1:
            raise ValueError(
                "`x` must be 1-D when it is a single array (one value per example); received "
                f"shape {np.shape(np.asarray(x, dtype=object))}."
            )

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
                raise ValueError(
                    "`sensitive_terms_to_remove` must not be empty; received "
                    f"{sensitive_terms_to_remove!r}."
                )

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


def _check_callable(function):
    if function is not None and not callable(function):
        raise TypeError(
            f"`custom_counterfactual_function` must be callable (or None); received "
            f"{function!r} of type {type(function).__name__}."
        )


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _array(values, like):
    if like.dtype.kind in "US":  # fixed-width strings: let NumPy pick a width that fits
        return np.asarray(values)
    return np.asarray(values, dtype=like.dtype if like.dtype.kind != "O" else object)
