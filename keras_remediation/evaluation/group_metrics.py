"""Group-fairness metrics of a binary classifier, computed with fairlearn and scikit-learn.

`group_report(y_true, y_score, sensitive_features)` gives a plain, JSON-serialisable dict:
overall accuracy and ROC AUC, and per group the false-positive rate (FPR), false-negative rate
(FNR), accuracy, AUC and counts, with the FPR and FNR gaps between groups. The per-group numbers
come from `fairlearn.metrics.MetricFrame` with fairlearn's `false_positive_rate`,
`false_negative_rate` and `count` and scikit-learn's `accuracy_score` and `roc_auc_score`; the
gaps from `MetricFrame.difference(method="between_groups")` (max − min over groups).

`group_report_table` and `format_group_report` turn a report into a pandas table or text;
`compare_reports` lines several reports up (e.g. a baseline and a MinDiff model).

A rate that is undefined for a group (FPR without negative examples, FNR without positive
examples, AUC without both) is reported as None (not 0.0, as `confusion_matrix` normalisation
would give) and left out of the gaps.

pandas, fairlearn and scikit-learn are imported inside the functions, so importing this module
stays light.
"""

import math
import numbers

import numpy as np

__all__ = ["compare_reports", "format_group_report", "group_report", "group_report_table"]

#: Columns of `group_report_table`, in order.
TABLE_COLUMNS = ("count", "positives", "negatives", "accuracy", "auc", "fpr", "fnr")
_COUNT_COLUMNS = ("count", "positives", "negatives")


def _as_1d(values, name):
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be one-dimensional (shape [N] or [N, 1]); received shape "
            f"{array.shape}."
        )
    return array


def _validate(y_true, y_score, sensitive_features, threshold):
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
        or not 0 < threshold < 1
    ):
        raise ValueError(f"`threshold` must be a number in (0, 1); received {threshold!r}.")
    y_true = _as_1d(y_true, "y_true")
    y_score = _as_1d(y_score, "y_score")
    groups = _as_1d(sensitive_features, "sensitive_features")
    lengths = {"y_true": len(y_true), "y_score": len(y_score), "sensitive_features": len(groups)}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"`y_true`, `y_score` and `sensitive_features` differ in length: {lengths}."
        )
    if len(y_true) == 0:
        raise ValueError("`y_true`, `y_score` and `sensitive_features` are empty.")
    try:
        labels = y_true.astype("float64")
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`y_true` must hold the labels 0 and 1; received dtype {y_true.dtype}."
        ) from err
    if not np.all((labels == 0) | (labels == 1)):
        bad = np.unique(labels[(labels != 0) & (labels != 1)])[:5]
        raise ValueError(f"`y_true` must hold only the labels 0 and 1; found {bad.tolist()}.")
    try:
        scores = y_score.astype("float64")
    except (TypeError, ValueError) as err:
        raise ValueError(f"`y_score` must be numeric; received {y_score.dtype}.") from err
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ValueError(
            "`y_score` must hold probabilities in [0, 1] (apply a sigmoid to logits first); "
            f"found values from {np.nanmin(scores)} to {np.nanmax(scores)}"
            + (" and non-finite values." if not np.all(np.isfinite(scores)) else ".")
        )
    import pandas as pd

    missing = np.flatnonzero(pd.isna(groups))
    if len(missing):
        raise ValueError(
            f"`sensitive_features` has {len(missing)} missing values (first at index "
            f"{missing[0]}); give every example a group."
        )
    group_names = np.array([_group_name(g) for g in groups], dtype=object)
    return labels.astype("int64"), scores, group_names, float(threshold)


def _group_name(group):
    if isinstance(group, (bytes, np.bytes_)):
        return group.decode("utf-8")
    if isinstance(group, np.generic):
        group = group.item()
    return str(group)


def _metric_functions():
    from fairlearn.metrics import count, false_negative_rate, false_positive_rate
    from sklearn.metrics import accuracy_score

    def positives(y_true, y_pred):
        return int(np.sum(np.asarray(y_true) == 1))

    def negatives(y_true, y_pred):
        return int(np.sum(np.asarray(y_true) == 0))

    def fpr(y_true, y_pred):  # undefined without negatives
        if negatives(y_true, y_pred) == 0:
            return math.nan
        return false_positive_rate(y_true, y_pred, pos_label=1)

    def fnr(y_true, y_pred):  # undefined without positives
        if positives(y_true, y_pred) == 0:
            return math.nan
        return false_negative_rate(y_true, y_pred, pos_label=1)

    return {
        "count": count,
        "positives": positives,
        "negatives": negatives,
        "accuracy": accuracy_score,
        "fpr": fpr,
        "fnr": fnr,
    }


def _auc(y_true, y_score):
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:  # undefined with one class
        return math.nan
    return roc_auc_score(y_true, y_score)


def _json_number(value, kind=float):
    value = float(value)
    if math.isnan(value):
        return None
    return int(round(value)) if kind is int else value


def _row(series):
    return {
        name: _json_number(series[name], int if name in _COUNT_COLUMNS else float)
        for name in TABLE_COLUMNS
    }


def group_report(y_true, y_score, sensitive_features, threshold=0.5):
    """Overall and per-group metrics of a binary classifier's scores.

    Predictions are `y_score > threshold` (as Keras's `BinaryAccuracy`). Per group and overall:
    `count`, `positives`, `negatives` (examples with label 1 / 0), `accuracy`, `auc` (ROC AUC of
    the scores), `fpr` (false-positive rate, FP / negatives) and `fnr` (false-negative rate,
    FN / positives), computed with `fairlearn.metrics.MetricFrame` (fairlearn's
    `false_positive_rate`, `false_negative_rate`, `count`; scikit-learn's `accuracy_score`,
    `roc_auc_score`). `fpr_gap` and `fnr_gap` are `MetricFrame.difference(method=
    "between_groups")`: the largest minus the smallest group value.

    Args:
        y_true: array-like of shape `[N]` or `[N, 1]`, labels 0/1 (int, float or bool).
        y_score: array-like of shape `[N]` or `[N, 1]`, float scores in [0, 1] (the model's
            sigmoid output), e.g. `model.predict(x)`.
        sensitive_features: array-like of shape `[N]` (list, NumPy array, pandas Series), the
            group of each example (e.g. the `sex` column); values are named by `str()`.
        threshold: float in (0, 1), default 0.5.

    Returns:
        A dict of plain Python values (JSON-serialisable with `json.dumps`):
        `{"threshold": float, "count": int, "positives": int, "negatives": int,
        "accuracy": float, "auc": float | None, "fpr": float | None, "fnr": float | None,
        "groups": {group name (str): {"count", "positives", "negatives", "accuracy", "auc",
        "fpr", "fnr"}}, "fpr_gap": float | None, "fnr_gap": float | None}`, groups in sorted
        order. An undefined value (AUC without both labels, FPR without negatives, FNR without
        positives) is None and is left out of the gaps; a gap over fewer than two defined
        groups is 0.0 for one and None for none.

    Raises:
        ValueError: if the three arrays differ in length or are empty, are not
            one-dimensional, `y_true` holds values other than 0 and 1, `y_score` holds values
            outside [0, 1] or non-finite values, `sensitive_features` has missing values
            (None/NaN), or `threshold` is not a number in (0, 1).
        ImportError: if fairlearn, scikit-learn or pandas is missing (install
            `keras-remediation[report]`).

    Example:
        >>> group_report([0, 0, 1, 1], [0.2, 0.7, 0.9, 0.4], ["a", "a", "b", "b"])["fpr_gap"]
        0.5
    """
    labels, scores, groups, threshold = _validate(y_true, y_score, sensitive_features, threshold)
    from fairlearn.metrics import MetricFrame

    predictions = (scores > threshold).astype("int64")
    frame = MetricFrame(
        metrics=_metric_functions(),
        y_true=labels,
        y_pred=predictions,
        sensitive_features=groups,
    )
    auc_frame = MetricFrame(
        metrics={"auc": _auc}, y_true=labels, y_pred=scores, sensitive_features=groups
    )
    overall = frame.overall.copy()
    overall["auc"] = auc_frame.overall["auc"]
    by_group = frame.by_group.copy()
    by_group["auc"] = auc_frame.by_group["auc"]
    gaps = frame.difference(method="between_groups")

    def gap(name):
        defined = by_group[name].dropna()
        if len(defined) == 0:
            return None
        return _json_number(gaps[name])

    report = {"threshold": threshold}
    report.update(_row(overall))
    report["groups"] = {
        str(name): _row(by_group.loc[name]) for name in sorted(by_group.index, key=str)
    }
    report["fpr_gap"] = gap("fpr")
    report["fnr_gap"] = gap("fnr")
    return report


def _check_report(report, name="report"):
    if not isinstance(report, dict) or "groups" not in report or "fpr_gap" not in report:
        raise ValueError(
            f"`{name}` must be a dict returned by `group_report`; received "
            f"{type(report).__name__}."
        )


def group_report_table(report):
    """Turns a `group_report` dict into a pandas table.

    Args:
        report: a dict from `group_report`.

    Returns:
        `pandas.DataFrame` with one row per group and a last row `"overall"`, index named
        `"group"`, and the columns `count`, `positives`, `negatives` (Int64) and `accuracy`,
        `auc`, `fpr`, `fnr` (float64, NaN where undefined).

    Raises:
        ValueError: if `report` is not a `group_report` dict.
    """
    import pandas as pd

    _check_report(report)
    rows = dict(report["groups"])
    rows["overall"] = {name: report[name] for name in TABLE_COLUMNS}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))
    table.index.name = "group"
    for name in TABLE_COLUMNS:
        kind = "Int64" if name in _COUNT_COLUMNS else "float64"
        table[name] = table[name].astype(kind)
    return table


def format_group_report(report, digits=3):
    """Formats a `group_report` dict as text for printing: the table and the two gaps.

    Args:
        report: a dict from `group_report`.
        digits: int ≥ 0, decimal places of rates. Default 3.

    Returns:
        A multi-line `str`.

    Raises:
        ValueError: if `report` is not a `group_report` dict or `digits` is not an int ≥ 0.
    """
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 0:
        raise ValueError(f"`digits` must be an integer >= 0; received {digits!r}.")
    table = group_report_table(report)

    def number(value):
        return "n/a" if value is None else f"{value:.{digits}f}"

    text = table.to_string(float_format=lambda v: f"{v:.{digits}f}", na_rep="n/a")
    return (
        f"{text}\nthreshold {report['threshold']:g}   "
        f"FPR gap {number(report['fpr_gap'])}   FNR gap {number(report['fnr_gap'])}"
    )


def compare_reports(reports):
    """Lines several `group_report` dicts up in one table (e.g. baseline vs MinDiff).

    Args:
        reports: dict mapping a model name (str) to its `group_report` dict, in display order.

    Returns:
        `pandas.DataFrame`, one column per report (float64, NaN where undefined or absent) and
        the rows `accuracy`, `auc`, `fpr`, `fnr`, `fpr_gap`, `fnr_gap`, then
        `fpr[<group>]` and `fnr[<group>]` for every group of any report (sorted).

    Raises:
        ValueError: if `reports` is not a non-empty dict of `group_report` dicts.
    """
    import pandas as pd

    if not isinstance(reports, dict) or not reports:
        raise ValueError("`reports` must be a non-empty dict of name -> `group_report` dict.")
    for name, report in reports.items():
        _check_report(report, f"reports[{name!r}]")
    groups = sorted({g for report in reports.values() for g in report["groups"]})
    rows = ["accuracy", "auc", "fpr", "fnr", "fpr_gap", "fnr_gap"]
    rows += [f"{metric}[{g}]" for metric in ("fpr", "fnr") for g in groups]

    def value(report, row):
        if "[" in row:
            metric, group = row[:-1].split("[", 1)
            entry = report["groups"].get(group)
            v = None if entry is None else entry[metric]
        else:
            v = report[row]
        return math.nan if v is None else float(v)

    data = {name: [value(report, row) for row in rows] for name, report in reports.items()}
    return pd.DataFrame(data, index=pd.Index(rows, name="metric"), dtype="float64")
