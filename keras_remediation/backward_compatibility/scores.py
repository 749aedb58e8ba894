"""Backward-compatibility scores of a model update h1 → h2: BTC, BEC and new errors (NumPy only).

Source: Srivastava, Nushi, Kamar, Shah, Horvitz, "An Empirical Analysis of Backward
Compatibility in Machine Learning Systems", KDD 2020 (after Bansal et al., AAAI 2019).

* Backward Trust Compatibility, BTC = |h1 right ∧ h2 right| / |h1 right|: the share of the
  examples h1 gets right that h2 still gets right.
* Backward Error Compatibility, BEC = |h1 wrong ∧ h2 wrong| / |h2 wrong|: the share of h2's
  mistakes that h1 made too ("a mistake of the new model is not new"; the papers' definition,
  `normalize_by="h2_errors"`). BackwardCompatibilityML divides by |h1 wrong| instead, the share of
  h1's mistakes that h2 repeats (`normalize_by="h1_errors"`).
* New errors: |h1 right ∧ h2 wrong|.

Every function takes the models' outputs as predicted labels `[N]`, as probabilities or scores
`[N, classes]` (argmax), or as binary probabilities `[N, 1]` (float: `> threshold`, default 0.5;
integer: labels), and the expected labels as `[N]` / `[N, 1]` class labels or one-hot
`[N, classes]`. Labels may have any dtype that compares with `==` (integers, floats,
strings). No deep-learning framework is imported; pass NumPy arrays (or anything `np.asarray`
accepts). Every function raises ValueError when the three inputs have different lengths.
"""

import numpy as np

#: The two denominators of `error_compatibility_score`.
BEC_NORMALIZATIONS = ("h2_errors", "h1_errors")

#: Column order of `error_overlap`.
OVERLAP_COLUMNS = ("both_right", "only_h1_right", "only_h2_right", "both_wrong")


def predicted_labels(output, threshold=0.5, arg_name="output"):
    """A model's outputs as labels `[N]`.

    Args:
        output: labels `[N]` (returned as they are); scores `[N, classes]` with classes > 1
            (argmax); binary outputs `[N, 1]`: float probabilities give `output > threshold`
            (0/1), integers are labels.
        threshold: the binary decision threshold. Default 0.5 (use 0.0 for logits).
        arg_name: name used in error messages.

    Returns:
        A NumPy array `[N]`.

    Raises:
        ValueError: for a scalar or an array of rank above 2.
    """
    values = np.asarray(output)
    if values.ndim == 1:
        return values
    if values.ndim != 2:
        raise ValueError(
            f"`{arg_name}` must be labels [N], scores [N, classes] or binary scores [N, 1]; "
            f"received an array of shape {values.shape}."
        )
    if values.shape[1] == 1:
        if np.issubdtype(values.dtype, np.floating):
            return (values[:, 0] > threshold).astype(np.int64)
        return values[:, 0]
    return np.argmax(values, axis=1)


def _expected_labels(expected_labels):
    values = np.asarray(expected_labels)
    if values.ndim == 1:
        return values
    if values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim == 2:
        return np.argmax(values, axis=1)
    raise ValueError(
        "`expected_labels` must be labels [N] / [N, 1] or one-hot [N, classes]; received an "
        f"array of shape {values.shape}."
    )


def _correctness(h1_output, h2_output, expected_labels, threshold):
    """Boolean arrays (h1 right, h2 right, expected labels) after the length checks."""
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
        ValueError: if the three inputs have different numbers of rows, or a shape above.
    """
    h1_right, h2_right, _ = _correctness(h1_output, h2_output, expected_labels, threshold)
    return _ratio(np.sum(h1_right & h2_right), np.sum(h1_right), zero_division)


def error_compatibility_score(
    h1_output,
    h2_output,
    expected_labels,
    *,
    normalize_by="h2_errors",
    threshold=0.5,
    zero_division=0.0,
):
    """Backward Error Compatibility, BEC, in either of its two definitions.

    * `normalize_by="h2_errors"` (default, the papers'): BEC = |h1 wrong ∧ h2 wrong| / |h2 wrong|,
      the share of h2's mistakes that are not new (Srivastava, Nushi, Kamar, Shah, Horvitz,
      KDD 2020).
    * `normalize_by="h1_errors"` (BackwardCompatibilityML's `error_compatibility_score`):
      |h1 wrong ∧ h2 wrong| / |h1 wrong|, the share of h1's mistakes that h2 repeats.

    Args:
        h1_output, h2_output, expected_labels, threshold: as `trust_compatibility_score`.
        normalize_by: `"h2_errors"` or `"h1_errors"` (see above).
        zero_division: the value when the denominator is 0. Default 0.0 (as
            BackwardCompatibilityML).

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: for an unknown `normalize_by`, inputs with different numbers of rows, or
            unsupported shapes.
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
        ValueError: as `trust_compatibility_score`.
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
