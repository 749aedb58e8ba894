"""Backward-compatibility scores of a model update h1 → h2: BTC, BEC and new errors (NumPy only).

Source: Srivastava, Nushi, Kamar, Shah, Horvitz, "An Empirical Analysis of Backward
Compatibility in Machine Learning Systems", KDD 2020 (after Bansal et al., AAAI 2019).

* Backward Trust Compatibility, BTC = |h1 right ∧ h2 right| / |h1 right|: the share of the
  examples h1 gets right that h2 still gets right.
* Backward Error Compatibility, two denominators. `error_compatibility_score` divides by h1's
  errors by default, as BackwardCompatibilityML does: |h1 wrong ∧ h2 wrong| / |h1 wrong|, the
  share of h1's mistakes that h2 repeats (`normalize_by="h1_errors"`). The papers divide by h2's
  errors: |h1 wrong ∧ h2 wrong| / |h2 wrong|, the share of h2's mistakes that h1 made too ("a
  mistake of the new model is not new"; `normalize_by="h2_errors"`).
* New errors: |h1 right ∧ h2 wrong|.

Every function takes the models' outputs as predicted labels `[N]`, as probabilities or scores
`[N, classes]` (argmax), or as binary probabilities `[N, 1]` (float: `> threshold`, default 0.5;
integer: labels), and the expected labels as `[N]` / `[N, 1]` class labels or one-hot
`[N, classes]`. Labels `[N]` are integers, booleans, strings or whole-number floats: a `[N]`
float array with fractional values is probabilities, not labels, and is refused (pass binary
probabilities as `[N, 1]`). No deep-learning framework is imported; pass NumPy arrays (or
anything `np.asarray` accepts). Every function raises ValueError when the three inputs have
different lengths, a NaN, or fractional `[N]` labels, and TypeError for inputs that are not
arrays of numbers (or of strings, for labels).
"""

import numpy as np

#: The two denominators of `error_compatibility_score` (the first is the default).
BEC_NORMALIZATIONS = ("h1_errors", "h2_errors")

#: Column order of `error_overlap`.
OVERLAP_COLUMNS = ("both_right", "only_h1_right", "only_h2_right", "both_wrong")


def _as_array(value, arg_name, expected):
    """`value` as a NumPy array of numbers, booleans or strings; TypeError otherwise, and
    ValueError for a ragged nested list."""
    try:
        values = np.asarray(value) if not isinstance(value, (dict, set, str, bytes)) else None
    except ValueError:
        raise ValueError(
            f"`{arg_name}` must be {expected} (a rectangular array); received a ragged "
            f"{type(value).__name__}."
        ) from None
    if values is None or values.dtype == object or not (
        np.issubdtype(values.dtype, np.number)
        or np.issubdtype(values.dtype, np.bool_)
        or np.issubdtype(values.dtype, np.str_)
    ):
        raise TypeError(
            f"`{arg_name}` must be {expected} (an array of numbers); received "
            f"{type(value).__name__}"
            + (f" of dtype {values.dtype}" if values is not None and values.ndim else "")
            + "."
        )
    return values


def _check_labels_1d(values, arg_name, expected):
    if np.issubdtype(values.dtype, np.floating):
        if np.any(np.isnan(values)):
            raise ValueError(f"`{arg_name}` must be {expected} without NaN; received NaN values.")
        if np.any(values != np.round(values)):
            raise ValueError(
                f"`{arg_name}` must be {expected}; received fractional floats "
                f"{values[values != np.round(values)][:3].tolist()} in a [N] array. Class "
                "labels are whole numbers; pass binary probabilities as [N, 1]."
            )
    return values


_OUTPUT_FORMS = "labels [N], scores [N, classes] or binary scores [N, 1]"
_LABEL_FORMS = "labels [N] / [N, 1] or one-hot [N, classes]"


def predicted_labels(output, threshold=0.5, arg_name="output"):
    """A model's outputs as labels `[N]`.

    Args:
        output: labels `[N]` (integers, booleans, strings or whole-number floats; returned as
            they are); scores `[N, classes]` with classes > 1 (argmax); binary outputs
            `[N, 1]`: float probabilities give `output > threshold` (0/1), integers are labels.
        threshold: the binary decision threshold. Default 0.5 (use 0.0 for logits).
        arg_name: name used in error messages.

    Returns:
        A NumPy array `[N]`.

    Raises:
        ValueError: for a scalar or an array of rank above 2; for NaN values; for a `[N]`
            float array with fractional values (probabilities, not labels).
        TypeError: if `output` is not an array of numbers (or of strings, for labels `[N]`).
    """
    values = _as_array(output, arg_name, _OUTPUT_FORMS)
    if values.ndim == 1:
        return _check_labels_1d(values, arg_name, _OUTPUT_FORMS)
    if values.ndim != 2:
        raise ValueError(
            f"`{arg_name}` must be {_OUTPUT_FORMS}; received an array of shape {values.shape}."
        )
    if np.issubdtype(values.dtype, np.str_):
        raise TypeError(
            f"`{arg_name}` must be {_OUTPUT_FORMS}: scores must be numbers; received an array "
            f"of strings of shape {values.shape}."
        )
    if np.issubdtype(values.dtype, np.floating) and np.any(np.isnan(values)):
        rows = np.flatnonzero(np.any(np.isnan(values), axis=1))
        raise ValueError(
            f"`{arg_name}` must be {_OUTPUT_FORMS} without NaN; received NaN in rows "
            f"{rows[:5].tolist()}."
        )
    if values.shape[1] == 1:
        if np.issubdtype(values.dtype, np.floating):
            return (values[:, 0] > threshold).astype(np.int64)
        return values[:, 0]
    return np.argmax(values, axis=1)


def _expected_labels(expected_labels):
    arg_name = "expected_labels"
    values = _as_array(expected_labels, arg_name, _LABEL_FORMS)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1:
        return _check_labels_1d(values, arg_name, _LABEL_FORMS)
    if values.ndim == 2 and not np.issubdtype(values.dtype, np.str_):
        if np.issubdtype(values.dtype, np.floating) and np.any(np.isnan(values)):
            raise ValueError(f"`{arg_name}` must be {_LABEL_FORMS} without NaN; received NaN.")
        return np.argmax(values, axis=1)
    raise ValueError(
        f"`{arg_name}` must be {_LABEL_FORMS}; received an array of shape {values.shape}."
    )


def _check_number(value, arg_name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"`{arg_name}` must be a real number; received {value!r} of type "
            f"{type(value).__name__}."
        )
    if not np.isfinite(value):
        raise ValueError(f"`{arg_name}` must be a finite number; received {value!r}.")
    return value


def _correctness(h1_output, h2_output, expected_labels, threshold):
    """Boolean arrays (h1 right, h2 right, expected labels) after the length checks."""
    _check_number(threshold, "threshold")
    h1 = predicted_labels(h1_output, threshold, "h1_output")
    h2 = predicted_labels(h2_output, threshold, "h2_output")
    y = _expected_labels(expected_labels)
    if not len(h1) == len(h2) == len(y):
        raise ValueError(
            "`h1_output`, `h2_output` and `expected_labels` must describe the same examples; "
            f"received {len(h1)}, {len(h2)} and {len(y)} rows."
        )
    return h1 == y, h2 == y, y


def _ratio(numerator, denominator, zero_division):
    _check_number(zero_division, "zero_division")
    return float(numerator) / float(denominator) if denominator else float(zero_division)


def trust_compatibility_score(
    h1_output, h2_output, expected_labels, *, threshold=0.5, zero_division=0.0
):
    """Backward Trust Compatibility: BTC = |h1 right ∧ h2 right| / |h1 right|.

    The share of the examples the old model h1 classifies correctly that the new model h2 still
    classifies correctly (1.0: no new errors). Srivastava, Nushi, Kamar, Shah, Horvitz, KDD 2020.
    Same argument order as BackwardCompatibilityML's `trust_compatibility_score`.

    Args:
        h1_output: h1's labels `[N]`, scores `[N, classes]` or binary scores `[N, 1]`.
        h2_output: h2's, in the same forms.
        expected_labels: true labels `[N]`, `[N, 1]` or one-hot `[N, classes]`.
        threshold: decision threshold of float `[N, 1]` outputs. Default 0.5.
        zero_division: the value when h1 is right on no example. Default 0.0 (as
            BackwardCompatibilityML).

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: if the three inputs have different numbers of rows, a shape above, a ragged
            list, NaN values, or `[N]` floats with fractional values (probabilities are `[N, 1]`).
        TypeError: if an input is not an array of numbers (labels `[N]` may be strings).
    """
    h1_right, h2_right, _ = _correctness(h1_output, h2_output, expected_labels, threshold)
    return _ratio(np.sum(h1_right & h2_right), np.sum(h1_right), zero_division)


def error_compatibility_score(
    h1_output,
    h2_output,
    expected_labels,
    *,
    normalize_by="h1_errors",
    threshold=0.5,
    zero_division=0.0,
):
    """Backward Error Compatibility, BEC, in either of its two definitions.

    * `normalize_by="h1_errors"` (default; BackwardCompatibilityML's `error_compatibility_score`,
      so migrated code reports the same number): |h1 wrong ∧ h2 wrong| / |h1 wrong|, the share
      of h1's mistakes that h2 repeats.
    * `normalize_by="h2_errors"` (the papers' BEC; Bansal et al., AAAI 2019; Srivastava, Nushi,
      Kamar, Shah, Horvitz, KDD 2020): |h1 wrong ∧ h2 wrong| / |h2 wrong|, the share of h2's
      mistakes that h1 made too ("a mistake of the new model is not new").

    Args:
        h1_output, h2_output, expected_labels, threshold: as `trust_compatibility_score`.
        normalize_by: `"h1_errors"` (default) or `"h2_errors"` (see above). Keyword only.
        zero_division: the value when the denominator is 0. Default 0.0 (as
            BackwardCompatibilityML).

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: for an unknown `normalize_by`; inputs as `trust_compatibility_score`.
        TypeError: as `trust_compatibility_score`.
    """
    if normalize_by not in BEC_NORMALIZATIONS:
        raise ValueError(
            f"`normalize_by` must be one of {BEC_NORMALIZATIONS}; received {normalize_by!r}."
        )
    h1_right, h2_right, _ = _correctness(h1_output, h2_output, expected_labels, threshold)
    both_wrong = np.sum(~h1_right & ~h2_right)
    denominator = np.sum(~h2_right) if normalize_by == "h2_errors" else np.sum(~h1_right)
    return _ratio(both_wrong, denominator, zero_division)


def new_error_count(h1_output, h2_output, expected_labels, *, threshold=0.5):
    """The number of new errors |h1 right ∧ h2 wrong| (inputs as `trust_compatibility_score`)."""
    h1_right, h2_right, _ = _correctness(h1_output, h2_output, expected_labels, threshold)
    return int(np.sum(h1_right & ~h2_right))


def compatibility_summary(h1_output, h2_output, expected_labels, *, threshold=0.5):
    """All scores of an update at once, as a dict of Python numbers.

    Keys: `h1_accuracy`, `h2_accuracy`, `btc`, `bec` (over h2's errors), `bec_h1_errors`
    (over h1's errors), `new_errors`, `fixed_errors` (|h1 wrong ∧ h2 right|), `both_wrong`,
    `examples`. Inputs and errors as `trust_compatibility_score`.
    """
    h1_right, h2_right, y = _correctness(h1_output, h2_output, expected_labels, threshold)
    both_wrong = int(np.sum(~h1_right & ~h2_right))
    return {
        "h1_accuracy": float(np.mean(h1_right)) if len(y) else 0.0,
        "h2_accuracy": float(np.mean(h2_right)) if len(y) else 0.0,
        "btc": _ratio(np.sum(h1_right & h2_right), np.sum(h1_right), 0.0),
        "bec": _ratio(both_wrong, np.sum(~h2_right), 0.0),
        "bec_h1_errors": _ratio(both_wrong, np.sum(~h1_right), 0.0),
        "new_errors": int(np.sum(h1_right & ~h2_right)),
        "fixed_errors": int(np.sum(~h1_right & h2_right)),
        "both_wrong": both_wrong,
        "examples": int(len(y)),
    }


def error_overlap(h1_output, h2_output, expected_labels, *, classes=None, threshold=0.5):
    """Per-class counts of both right, only h1 right, only h2 right and both wrong.

    Args:
        h1_output, h2_output, expected_labels, threshold: as `trust_compatibility_score`.
        classes: the classes to report, in order. Default None: the sorted distinct expected
            labels.

    Returns:
        `(classes, counts)`: the class labels `[C]` and an int64 array `[C, 4]` whose columns
        follow `OVERLAP_COLUMNS` (`both_right`, `only_h1_right` — the new errors,
        `only_h2_right` — the fixed errors, `both_wrong`), each row counting the examples whose
        expected label is that class.

    Raises:
        ValueError, TypeError: as `trust_compatibility_score`.
    """
    h1_right, h2_right, y = _correctness(h1_output, h2_output, expected_labels, threshold)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    categories = np.stack(
        [h1_right & h2_right, h1_right & ~h2_right, ~h1_right & h2_right, ~h1_right & ~h2_right],
        axis=1,
    ).astype(np.int64)
    membership = (y[:, None] == classes[None, :]).astype(np.int64)  # [N, C]
    return classes, membership.T @ categories


__all__ = [
    "BEC_NORMALIZATIONS",
    "OVERLAP_COLUMNS",
    "compatibility_summary",
    "error_compatibility_score",
    "error_overlap",
    "new_error_count",
    "predicted_labels",
    "trust_compatibility_score",
]
