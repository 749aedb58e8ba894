"""How a remediation moved each between-group gap: before/after with CIs, as a table and text.

A remediation aimed at one gap (MinDiff on label-0 data targets the FPR gap) can widen
another; `gap_change_table` lines every gap of two `group_metric_intervals` tables up, and
`describe_gap_changes` words each one ("FPR gap fell 0.067 [0.052, 0.083] -> 0.020 [...]
(-0.047)") so that a headline cannot report one gap and hide the others.
"""

import math
import numbers

__all__ = ["GAP_LABELS", "describe_gap_changes", "gap_change_table"]

#: The gaps compared, in order, with their printed names. The TPR gap equals the FNR gap.
GAP_LABELS = {
    "fpr": "FPR gap",
    "fnr": "FNR gap",
    "selection_rate": "selection-rate gap",
    "auc": "AUC gap",
}


def _gap_rows(table, threshold, name):
    required = {"threshold", "metric", "group", "value", "ci_low", "ci_high"}
    if not required <= set(getattr(table, "columns", ())):
        raise ValueError(
            f"`{name}` must be a DataFrame of `group_metric_intervals`; received "
            f"{type(table).__name__}."
        )
    rows = table[(table["group"] == "gap") & ((table["threshold"] - threshold).abs() < 1e-12)]
    if len(rows) == 0:
        raise ValueError(
            f"`{name}` has no rows at threshold {threshold:g}; its thresholds are "
            f"{sorted(set(table['threshold']))}."
        )
    return rows.set_index("metric")


def gap_change_table(before, after, threshold=0.5):
    """Every gap of two models side by side, with intervals and the change.

    Args:
        before, after: DataFrames of `group_metric_intervals` (e.g. baseline and MinDiff on the
            same test split).
        threshold: float, the threshold of the threshold-dependent gaps. Default 0.5.

    Returns:
        `pandas.DataFrame` indexed by gap name (`GAP_LABELS` values), columns `before`,
        `before_ci_low`, `before_ci_high`, `after`, `after_ci_low`, `after_ci_high`, `change`
        (after − before), float64.

    Raises:
        ValueError: if an argument is not such a table or has no rows at `threshold`.
    """
    import pandas as pd

    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"`threshold` must be a number; received {threshold!r}.")
    b = _gap_rows(before, threshold, "before")
    a = _gap_rows(after, threshold, "after")
    rows = {}
    for metric, label in GAP_LABELS.items():
        if metric not in b.index or metric not in a.index:
            continue
        rows[label] = {
            "before": b.loc[metric, "value"],
            "before_ci_low": b.loc[metric, "ci_low"],
            "before_ci_high": b.loc[metric, "ci_high"],
            "after": a.loc[metric, "value"],
            "after_ci_low": a.loc[metric, "ci_low"],
            "after_ci_high": a.loc[metric, "ci_high"],
            "change": a.loc[metric, "value"] - b.loc[metric, "value"],
        }
    table = pd.DataFrame.from_dict(rows, orient="index", dtype="float64")
    table.index.name = "gap"
    return table


def _with_ci(value, low, high, digits):
    if math.isnan(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def describe_gap_changes(before, after, threshold=0.5, *, tolerance=0.005, digits=3,
                         confidence=None):
    """One line per gap saying whether it rose, fell or held, by how much, with the CIs.

    Args:
        before, after, threshold: as `gap_change_table`.
        tolerance: keyword-only float ≥ 0; a change smaller in size is worded "unchanged".
            Default 0.005.
        digits: keyword-only int ≥ 0, decimals. Default 3.
        confidence: keyword-only float or None; named in the lines (e.g. "95% CI") when given,
            default None: `after.attrs["confidence"]` if present.

    Returns:
        A list of str, e.g. `"FNR gap rose 0.044 [0.030, 0.058] -> 0.128 [0.110, 0.146]
        (+0.084; 95% CIs)"`, in `GAP_LABELS` order.

    Raises:
        ValueError: as `gap_change_table`; if `tolerance` < 0 or `digits` is not an int ≥ 0.
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or tolerance < 0:
        raise ValueError(f"`tolerance` must be a number >= 0; received {tolerance!r}.")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"`digits` must be an int >= 0; received {digits!r}.")
    table = gap_change_table(before, after, threshold)
    if confidence is None:
        confidence = getattr(after, "attrs", {}).get("confidence")
    ci_note = f"; {100 * confidence:g}% CIs" if confidence else ""
    lines = []
    for label, row in table.iterrows():
        change = row["change"]
        if math.isnan(change):
            verb = "is undefined for a model:"
        elif abs(change) < tolerance:
            verb = "unchanged:"
        else:
            verb = "rose" if change > 0 else "fell"
        before_text = _with_ci(row["before"], row["before_ci_low"], row["before_ci_high"], digits)
        after_text = _with_ci(row["after"], row["after_ci_low"], row["after_ci_high"], digits)
        change_text = "n/a" if math.isnan(change) else f"{change:+.{digits}f}"
        lines.append(f"{label} {verb} {before_text} -> {after_text} ({change_text}{ci_note})")
    return lines
