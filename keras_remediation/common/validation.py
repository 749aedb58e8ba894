"""Argument checks shared by every technique, with one message style and TF-MR's error split.

Messages read "`arg` must be …; received …". A value of the wrong type raises TypeError, a
value of the right type outside its range raises ValueError (TF Model Remediation's split).
"""

import math
import numbers


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
