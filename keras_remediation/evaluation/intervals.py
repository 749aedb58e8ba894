"""Group metrics at several thresholds with seeded bootstrap confidence intervals.

`group_metric_intervals(y_true, y_score, sensitive_features, thresholds)` gives, per threshold,
the false-positive rate (FPR), false-negative rate (FNR), true-positive rate (TPR), selection
rate and ROC AUC of every group and overall, and the gap of each (largest minus smallest group
value), each with a percentile bootstrap confidence interval (Efron & Tibshirani, "An
Introduction to the Bootstrap", 1993, ch. 13), as Fairness Indicators reports them.

Point estimates come from `fairlearn.metrics.MetricFrame` (fairlearn's `false_positive_rate`,
`false_negative_rate`, `true_positive_rate`, `selection_rate`, scikit-learn's
`roc_auc_score`; each gap is the largest minus the smallest defined group value of its
`MetricFrame.by_group` column, as `MetricFrame.difference(method="between_groups")`). The bootstrap
resamples rows with replacement (`numpy.random.default_rng(seed)`, the same resamples for every
threshold and metric) and evaluates the same fairlearn and scikit-learn functions on each
resample, given as `sample_weight` (how often each row, or each (group, label, prediction) cell,
was drawn). It does not use `MetricFrame(n_boot=...)`: that copies every column element by
element in Python on each call, which took 42 s for 100 resamples of the 16,281 UCI Adult test
rows on the project's loaded 2-core machine, against about 10 s here.

pandas, fairlearn and scikit-learn are imported inside the functions.
"""

import math
import numbers

import numpy as np

from keras_remediation.evaluation.group_metrics import _validate

__all__ = ["INTERVAL_METRICS", "group_metric_intervals", "intervals_to_dict"]

#: Metrics of `group_metric_intervals`, in table order.
INTERVAL_METRICS = ("fpr", "fnr", "tpr", "selection_rate", "auc")
_THRESHOLD_METRICS = INTERVAL_METRICS[:-1]
#: Rows of each metric besides the groups: all examples, and the between-groups gap.
OVERALL, GAP = "overall", "gap"


def _check_thresholds(thresholds):
    if isinstance(thresholds, numbers.Real) and not isinstance(thresholds, bool):
        thresholds = (thresholds,)
    if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
        raise TypeError(
            f"`thresholds` must be a number or a sequence of numbers in (0, 1); received "
            f"{thresholds!r}."
        )
    values = list(thresholds)
    if not values:
        raise ValueError("`thresholds` must hold at least one number in (0, 1); received [].")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or not 0 < value < 1
        ):
            raise ValueError(
                f"`thresholds` must hold numbers in (0, 1); received {value!r} in {values!r}."
            )
    return [float(v) for v in values]


def _check_options(n_boot, confidence, seed):
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral):
        raise TypeError(f"`n_boot` must be an int >= 0; received {n_boot!r}.")
    if n_boot < 0:
        raise ValueError(f"`n_boot` must be an int >= 0; received {n_boot!r}.")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, numbers.Real)
        or not 0 < confidence < 1
    ):
        raise ValueError(f"`confidence` must be a number in (0, 1); received {confidence!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an int; received {seed!r}.")


def _rate_functions():
    from fairlearn.metrics import false_negative_rate
    from fairlearn.metrics import false_positive_rate
    from fairlearn.metrics import selection_rate
    from fairlearn.metrics import true_positive_rate

    def defined_for(label, function):
        # FPR needs negatives, FNR/TPR positives: NaN (not fairlearn's 0.0) when absent.
        def metric(y_true, y_pred, sample_weight=None):
            present = np.asarray(y_true) == label
            if sample_weight is not None:
                present &= np.asarray(sample_weight) > 0
            if not np.any(present):
                return math.nan
            return function(y_true, y_pred, sample_weight=sample_weight, pos_label=1)

        return metric

    def selection(y_true, y_pred, sample_weight=None):
        if sample_weight is not None and not np.any(np.asarray(sample_weight) > 0):
            return math.nan
        return selection_rate(y_true, y_pred, pos_label=1, sample_weight=sample_weight)

    return {
        "fpr": defined_for(0, false_positive_rate),
        "fnr": defined_for(1, false_negative_rate),
        "tpr": defined_for(1, true_positive_rate),
        "selection_rate": selection,
    }


def _auc(y_true, y_score, sample_weight=None):
    from sklearn.metrics import roc_auc_score

    present = y_true if sample_weight is None else np.asarray(y_true)[sample_weight > 0]
    if len(np.unique(present)) < 2:
        return math.nan
    return roc_auc_score(y_true, y_score, sample_weight=sample_weight)


def _gap(values):
    defined = [v for v in values if not math.isnan(v)]
    return max(defined) - min(defined) if defined else math.nan


def _point_estimates(labels, scores, groups, names, thresholds):
    """{(threshold, metric, row): value} from MetricFrame."""
    from fairlearn.metrics import MetricFrame

    estimates = {}
    auc_frame = MetricFrame(
        metrics={"auc": _auc}, y_true=labels, y_pred=scores, sensitive_features=groups
    )
    for threshold in thresholds:
        frame = MetricFrame(
            metrics=_rate_functions(),
            y_true=labels,
            y_pred=(scores > threshold).astype("int64"),
            sensitive_features=groups,
        )
        for by_group, overall, metrics in (
            (frame.by_group, frame.overall, _THRESHOLD_METRICS),
            (auc_frame.by_group, auc_frame.overall, ("auc",)),
        ):
            for metric in metrics:
                column = by_group[metric]
                for name in names:
                    estimates[threshold, metric, name] = float(column.loc[name])
                estimates[threshold, metric, OVERALL] = float(overall[metric])
                # MetricFrame.difference skips undefined (NaN) groups, as `_gap` does.
                estimates[threshold, metric, GAP] = _gap(
                    [float(column.loc[n]) for n in names]
                )
    return estimates


# The four (label, prediction) cells of a confusion matrix, as rows of a tiny data set.
_CELL_LABELS = np.array([0, 0, 1, 1])
_CELL_PREDICTIONS = np.array([0, 1, 0, 1])


def _resample_values(labels, scores, group_index, names, thresholds, counts):
    """{(threshold, metric, row): value} on one bootstrap resample.

    `counts[i]` is how often row i was drawn. The rates depend only on the weighted counts
    of the (group, label, prediction) cells, so the same fairlearn functions run on the four
    cells of each group with those counts as `sample_weight`; AUC runs on all rows weighted
    by `counts`. Both equal evaluating the resampled rows themselves.
    """
    rates = _rate_functions()
    values = {}
    aucs = {
        name: _auc(labels[group_index == i], scores[group_index == i],
                   counts[group_index == i])
        for i, name in enumerate(names)
    }
    auc_overall = _auc(labels, scores, counts)
    for threshold in thresholds:
        cell = group_index * 4 + labels * 2 + (scores > threshold)
        cells = np.bincount(cell, weights=counts, minlength=4 * len(names)).reshape(-1, 4)
        for metric, function in rates.items():
            by_name = {
                name: function(_CELL_LABELS, _CELL_PREDICTIONS, sample_weight=cells[i])
                for i, name in enumerate(names)
            }
            values.update({(threshold, metric, n): v for n, v in by_name.items()})
            values[threshold, metric, OVERALL] = function(
                _CELL_LABELS, _CELL_PREDICTIONS, sample_weight=cells.sum(axis=0)
            )
            values[threshold, metric, GAP] = _gap(list(by_name.values()))
        values.update({(threshold, "auc", n): v for n, v in aucs.items()})
        values[threshold, "auc", OVERALL] = auc_overall
        values[threshold, "auc", GAP] = _gap(list(aucs.values()))
    return values


def group_metric_intervals(
    y_true,
    y_score,
    sensitive_features,
    thresholds=(0.5,),
    *,
    n_boot=200,
    confidence=0.95,
    seed=0,
):
    """Per-group FPR, FNR, TPR, selection rate and AUC, and their gaps, with bootstrap CIs.

    Predictions are `y_score > threshold` (as `group_report` and Keras's `BinaryAccuracy`).
    A gap is the largest minus the smallest group value (fairlearn's
    `MetricFrame.difference(method="between_groups")`), so it is ≥ 0 and its interval is that
    of the absolute difference for two groups. The interval of each value is the percentile
    bootstrap interval: the `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles of the
    value over `n_boot` resamples of the rows drawn with replacement (seeded; resamples where
    the value is undefined are skipped). AUC does not depend on the threshold: its rows repeat
    for each threshold.

    Args:
        y_true: array-like `[N]` or `[N, 1]`, labels 0/1.
        y_score: array-like `[N]` or `[N, 1]`, float scores in [0, 1] (sigmoid outputs).
        sensitive_features: array-like `[N]`, the group of each example (named by `str()`).
        thresholds: a number or a sequence of numbers in (0, 1). Default `(0.5,)`.
        n_boot: keyword-only int ≥ 0, number of bootstrap resamples; 0 gives NaN intervals.
            Default 200.
        confidence: keyword-only float in (0, 1), coverage of the intervals. Default 0.95.
        seed: keyword-only int, seed of the resampling (`numpy.random.default_rng`).
            Default 0.

    Returns:
        `pandas.DataFrame`, one row per (threshold, metric, group): columns `threshold`
        (float64), `metric` (one of `INTERVAL_METRICS`), `group` (each group name, sorted,
        then `"overall"` and `"gap"`), `value`, `ci_low`, `ci_high` (float64; NaN where
        undefined, e.g. FPR of a group without label-0 examples). `df.attrs` holds `n_boot`,
        `confidence` and `seed`.

    Raises:
        ValueError: for the input errors of `group_report` (lengths, shapes, labels other
            than 0/1, scores outside [0, 1], missing groups); if `thresholds` is empty or
            holds a value outside (0, 1); if `n_boot` < 0 or `confidence` is not in (0, 1).
        TypeError: if `thresholds` is not a number or a sequence, or `n_boot` or `seed` is
            not an int.
        ImportError: if fairlearn, scikit-learn or pandas is missing (the `report` extra).

    Example:
        >>> table = group_metric_intervals(y_test, scores, sex, thresholds=(0.3, 0.5))
        >>> table.query("metric == 'fpr' and group == 'gap'")
    """
    threshold_values = _check_thresholds(thresholds)
    _check_options(n_boot, confidence, seed)
    labels, scores, groups, _ = _validate(y_true, y_score, sensitive_features, 0.5)
    import pandas as pd

    names = np.array(sorted(set(groups.tolist())), dtype=object)
    estimates = _point_estimates(labels, scores, groups, names, threshold_values)
    keys = list(estimates)
    samples = np.full((n_boot, len(keys)), np.nan)
    rng = np.random.default_rng(seed)
    group_index = np.searchsorted(names, groups)
    import sklearn

    # The inputs were validated once above; re-validating them on every call was 90% of the time.
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        for b in range(n_boot):
            # How often each row is drawn when N rows are drawn with replacement.
            counts = np.bincount(rng.integers(0, len(labels), len(labels)),
                                 minlength=len(labels)).astype("float64")
            values = _resample_values(
                labels, scores, group_index, names, threshold_values, counts
            )
            samples[b] = [values[key] for key in keys]
    tail = (1.0 - confidence) / 2.0
    low = np.full(len(keys), np.nan)
    high = np.full(len(keys), np.nan)
    defined = np.isfinite(samples).any(axis=0) if n_boot else np.zeros(len(keys), bool)
    if defined.any():
        low[defined], high[defined] = np.nanquantile(
            samples[:, defined], [tail, 1.0 - tail], axis=0
        )
    order = {name: i for i, name in enumerate([*names, OVERALL, GAP])}
    table = pd.DataFrame(
        {
            "threshold": [k[0] for k in keys],
            "metric": [k[1] for k in keys],
            "group": [k[2] for k in keys],
            "value": [estimates[k] for k in keys],
            "ci_low": low,
            "ci_high": high,
        }
    )
    table["_m"] = table["metric"].map(INTERVAL_METRICS.index)
    table["_g"] = table["group"].map(order)
    table = table.sort_values(["threshold", "_m", "_g"]).drop(columns=["_m", "_g"])
    table = table.reset_index(drop=True)
    table.attrs.update(n_boot=int(n_boot), confidence=float(confidence), seed=int(seed))
    return table


def intervals_to_dict(table):
    """A `group_metric_intervals` table as plain JSON-serialisable values.

    Args:
        table: the DataFrame of `group_metric_intervals`.

    Returns:
        `{"n_boot": int, "confidence": float, "seed": int, "thresholds": {"<threshold>":
        {metric: {group: {"value": float | None, "ci_low": ..., "ci_high": ...}}}}}`, the
        thresholds keyed by `format(threshold, "g")` (e.g. `"0.5"`), NaN as None.

    Raises:
        ValueError: if `table` lacks the columns of `group_metric_intervals`.
    """
    columns = ("threshold", "metric", "group", "value", "ci_low", "ci_high")
    missing = [c for c in columns if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"`table` must be the DataFrame of `group_metric_intervals`; missing columns "
            f"{missing}."
        )

    def plain(value):
        value = float(value)
        return None if math.isnan(value) else value

    thresholds = {}
    for row in table.itertuples(index=False):
        entry = thresholds.setdefault(format(row.threshold, "g"), {}).setdefault(row.metric, {})
        entry[str(row.group)] = {
            "value": plain(row.value),
            "ci_low": plain(row.ci_low),
            "ci_high": plain(row.ci_high),
        }
    attrs = getattr(table, "attrs", {})
    return {
        "n_boot": attrs.get("n_boot"),
        "confidence": attrs.get("confidence"),
        "seed": attrs.get("seed"),
        "thresholds": thresholds,
    }
