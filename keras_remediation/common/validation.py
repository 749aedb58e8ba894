"""Argument checks shared by every technique, with one message style and TF-MR's error split.

Messages read "`arg` must be …; received …". A value of the wrong type raises TypeError, a
value of the right type outside its range raises ValueError (TF Model Remediation's split).
Tensor values are checked where they are known (NumPy, eager TensorFlow, JAX outside `jit`,
PyTorch outside `torch.compile`); inside a TensorFlow graph `assert_in_graph` adds the same
checks as runtime assertions, and inside a JAX trace nothing can be checked.
"""

import math
import numbers

import keras
import numpy as np

from keras_remediation.common.tensor_utils import all_finite_now
from keras_remediation.common.tensor_utils import concrete_value

_NUMERIC_PREFIXES = ("bool", "int", "uint", "float", "bfloat")


def check_loss_weight(value, arg_name="loss_weight", what="the weight of the extra loss"):
    """Returns `value` as a float after checking that it is a finite number ≥ 0.

    Args:
        value: the weight; Python and NumPy real numbers are accepted (not booleans).
        arg_name: the argument's name, for the message.
        what: what the weight multiplies, for the message.

    Raises:
        TypeError: if `value` is not a real number (booleans and strings included).
        ValueError: if `value` is negative, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{arg_name}` must be a non-negative finite number ({what}); received "
            f"{value!r} of type {type(value).__name__}."
        )
    result = float(value)
    if not math.isfinite(result) or result < 0:
        raise ValueError(
            f"`{arg_name}` must be a non-negative finite number ({what}); received {value!r}."
        )
    return result


def check_positive_int(value, arg_name, allow_none=False):
    """Returns `value` after checking that it is a positive int (or None if `allow_none`).

    Raises:
        TypeError: if `value` is not an int (booleans included).
        ValueError: if `value` is an int ≤ 0.
    """
    expected = "None or a positive int" if allow_none else "a positive int"
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{arg_name}` must be {expected}; received {value!r} of type "
            f"{type(value).__name__}."
        )
    if value <= 0:
        raise ValueError(f"`{arg_name}` must be {expected}; received {value!r}.")
    return int(value)


def check_choice(value, arg_name, choices, what="one of"):
    """Returns `value` after checking that it is one of the strings `choices`.

    Raises:
        TypeError: if `value` is not a string.
        ValueError: if `value` is a string not in `choices`.
    """
    expected = " or ".join(repr(choice) for choice in choices)
    if not isinstance(value, str):
        raise TypeError(
            f"`{arg_name}` must be {what} {expected}; received {value!r} of type "
            f"{type(value).__name__}."
        )
    if value not in choices:
        raise ValueError(f"`{arg_name}` must be {what} {expected}; received {value!r}.")
    return value


def check_numeric(x, arg_name, hint=""):
    """Raises TypeError unless `x` is a number, or a tensor, array or nested list of a bool,
    integer or float dtype (strings, objects, dicts and complex numbers are rejected).

    Raises ValueError for a nested list that is not rectangular.
    """
    if isinstance(x, (bool, int, float, np.number, np.bool_)):
        return
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        if not isinstance(x, (list, tuple)):
            raise TypeError(
                f"`{arg_name}` must be a numeric tensor or array; received {_short_repr(x)} of "
                f"type {type(x).__name__}.{hint}"
            )
        try:
            dtype = np.asarray(x).dtype
        except ValueError:
            raise ValueError(
                f"`{arg_name}` must be a rectangular numeric array; received a ragged "
                f"{type(x).__name__}.{hint}"
            ) from None
    try:
        name = keras.backend.standardize_dtype(dtype)
    except (ValueError, TypeError):
        name = str(dtype)
    if not name.startswith(_NUMERIC_PREFIXES):
        raise TypeError(
            f"`{arg_name}` must have a bool, integer or float dtype; received dtype {name} "
            f"({type(x).__name__}).{hint}"
        )


def _short_repr(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def check_finite_values(x, arg_name, hint=""):
    """Raises ValueError if the values of `x` are known now and any is NaN or infinite.

    Values that are not known yet (inside a compiled step) are not checked here.
    """
    if all_finite_now(x) is not False:
        return
    values = np.asarray(concrete_value(x), dtype=np.float64)
    bad = values[~np.isfinite(values)]
    raise ValueError(
        f"`{arg_name}` must be finite; received {bad.size} NaN or infinite value(s) of "
        f"{values.size}, e.g. {np.unique(bad)[:3].tolist()}.{hint}"
    )


def check_finite_leaves(structure, arg_name):
    """Raises ValueError if a float leaf of the nested `structure` (arrays, tensors) has NaN
    or infinite values known now; other leaves (integers, strings, None) are skipped."""
    for leaf in keras.tree.flatten(structure):
        if _is_float(leaf):
            check_finite_values(leaf, arg_name)


def _is_float(leaf):
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return False
    try:
        return "float" in keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        return False


def check_sample_weight_values(sample_weight, arg_name="sample_weight"):
    """Raises ValueError if concrete `sample_weight` values are negative or not finite, and
    TypeError (`check_numeric`) if they are not numeric."""
    if sample_weight is not None:
        check_numeric(sample_weight, arg_name)
    values = concrete_value(sample_weight)
    if values is None:
        return
    values = np.asarray(values, dtype=np.float64)
    if np.any(~np.isfinite(values)):
        raise ValueError(f"`{arg_name}` must be finite; received NaN or infinite values.")
    if np.any(values < 0):
        raise ValueError(
            f"`{arg_name}` must be non-negative; received negative values, e.g. "
            f"{values[values < 0][:5].tolist()}."
        )


def assert_in_graph(x, arg_name, non_negative=False):
    """In a TensorFlow graph (a compiled step), adds runtime assertions that `x` is finite
    (and, with `non_negative`, ≥ 0): cheap reductions, no host synchronisation. Elsewhere does
    nothing (eager values are checked by `check_finite_values` and
    `check_sample_weight_values`; JAX traces cannot raise on values).

    Raises (when the graph runs):
        tf.errors.InvalidArgumentError: whose message names `arg_name`.
    """
    if keras.backend.backend() != "tensorflow" or x is None:
        return
    import tensorflow as tf

    if tf.executing_eagerly() or not tf.is_tensor(x) or not x.dtype.is_floating:
        return
    tf.debugging.Assert(
        tf.reduce_all(tf.math.is_finite(x)),
        [f"`{arg_name}` must be finite; received NaN or infinite values."],
    )
    if non_negative:
        tf.debugging.Assert(
            tf.reduce_all(tf.greater_equal(x, 0)),
            [f"`{arg_name}` must be non-negative; received negative values."],
        )
