"""group_metric_intervals: point values against hand counts, thresholds, seeded bootstrap CIs."""

import json
import math

import numpy as np
import pytest

from keras_remediation.evaluation import group_metric_intervals
from keras_remediation.evaluation import group_report
from keras_remediation.evaluation import intervals_to_dict

# Women: labels 0 0 0 1 1, predictions (> 0.5) 0 1 0 1 0.
# Men:   labels 0 0 1 1 1, predictions          1 1 0 1 1.
Y_TRUE = [0, 0, 0, 1, 1, 0, 0, 1, 1, 1]
Y_SCORE = [0.1, 0.6, 0.3, 0.8, 0.4, 0.7, 0.9, 0.2, 0.6, 0.55]
GROUPS = ["Female"] * 5 + ["Male"] * 5


def _value(table, metric, group, threshold=0.5, column="value"):
    row = table[
        (table.threshold == threshold) & (table.metric == metric) & (table.group == group)
    ]
    assert len(row) == 1
    return float(row[column].iloc[0])


def test_point_values_match_hand_counts_and_group_report():
    table = group_metric_intervals(Y_TRUE, Y_SCORE, GROUPS, n_boot=0)
    assert list(table.columns) == ["threshold", "metric", "group", "value", "ci_low", "ci_high"]
    assert table.groupby("metric", sort=False).size().index.tolist() == [
        "fpr", "fnr", "tpr", "selection_rate", "auc"
    ]
    assert table[table.metric == "fpr"].group.tolist() == ["Female", "Male", "overall", "gap"]
    assert _value(table, "fpr", "Female") == pytest.approx(1 / 3)
    assert _value(table, "fpr", "Male") == pytest.approx(1.0)
    assert _value(table, "fpr", "gap") == pytest.approx(2 / 3)
    assert _value(table, "tpr", "Female") == pytest.approx(1 / 2)
    assert _value(table, "tpr", "Male") == pytest.approx(2 / 3)
    assert _value(table, "selection_rate", "Female") == pytest.approx(2 / 5)
    assert _value(table, "selection_rate", "Male") == pytest.approx(4 / 5)
    assert _value(table, "selection_rate", "gap") == pytest.approx(2 / 5)
    assert _value(table, "auc", "Female") == pytest.approx(5 / 6)
    report = group_report(Y_TRUE, Y_SCORE, GROUPS)
    assert _value(table, "fnr", "gap") == pytest.approx(report["fnr_gap"])
    assert _value(table, "auc", "overall") == pytest.approx(report["auc"])
    assert table.ci_low.isna().all() and table.ci_high.isna().all()  # n_boot=0


def test_each_threshold_gets_its_own_rows():
    table = group_metric_intervals(Y_TRUE, Y_SCORE, GROUPS, thresholds=[0.25, 0.65], n_boot=0)
    assert sorted(set(table.threshold)) == [0.25, 0.65]
    # Female scores 0.1 0.6 0.3 0.8 0.4: 4 of 5 above 0.25, 1 of 5 above 0.65.
    assert _value(table, "selection_rate", "Female", 0.25) == pytest.approx(4 / 5)
    assert _value(table, "selection_rate", "Female", 0.65) == pytest.approx(1 / 5)
    assert _value(table, "auc", "Male", 0.25) == _value(table, "auc", "Male", 0.65)


def _synthetic(n=1500, seed=0):
    # Label-0 women get a score shift: a true FPR gap of about 0.3 at threshold 0.5.
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b"], n)
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.3 + 0.4 * labels + 0.3 * ((groups == "a") & (labels == 0))
                     + rng.normal(0, 0.15, n), 0, 1)
    return labels, scores, groups


def test_bootstrap_intervals_are_seeded_and_cover_the_value():
    labels, scores, groups = _synthetic()
    first = group_metric_intervals(labels, scores, groups, n_boot=30, seed=3)
    again = group_metric_intervals(labels, scores, groups, n_boot=30, seed=3)
    other = group_metric_intervals(labels, scores, groups, n_boot=30, seed=4)
    assert first.equals(again)
    assert not np.allclose(first.ci_low, other.ci_low)
    assert first.attrs == {"n_boot": 30, "confidence": 0.95, "seed": 3}
    assert ((first.ci_low <= first.value + 1e-9) & (first.value <= first.ci_high + 1e-9)).all()
    # The large FPR gap is resolved: its interval is narrow and excludes 0.
    gap_low = _value(first, "fpr", "gap", column="ci_low")
    gap_high = _value(first, "fpr", "gap", column="ci_high")
    assert 0.55 < gap_low < _value(first, "fpr", "gap") < gap_high < 0.8
    assert gap_high - gap_low < 0.15
    # A wider confidence gives a wider interval from the same resamples.
    wide = group_metric_intervals(labels, scores, groups, n_boot=30, seed=3, confidence=0.99)
    assert _value(wide, "fpr", "gap", column="ci_low") <= gap_low
    assert _value(wide, "fpr", "gap", column="ci_high") >= gap_high


def test_interval_width_shrinks_with_more_rows():
    def width(n):
        labels, scores, groups = _synthetic(n)
        table = group_metric_intervals(labels, scores, groups, n_boot=40, seed=1)
        return _value(table, "fpr", "b", column="ci_high") - _value(
            table, "fpr", "b", column="ci_low"
        )

    assert width(2000) < 0.6 * width(200)


def test_undefined_rates_are_nan_not_zero():
    # Group "b" has no label-0 rows: its FPR is undefined and left out of the gap.
    table = group_metric_intervals([0, 1, 1, 1], [0.9, 0.2, 0.7, 0.8], ["a", "a", "b", "b"],
                                   n_boot=20)
    assert math.isnan(_value(table, "fpr", "b"))
    assert math.isnan(_value(table, "fpr", "b", column="ci_low"))
    assert _value(table, "fpr", "gap") == 0.0


def test_intervals_to_dict_is_plain_json():
    table = group_metric_intervals(Y_TRUE, Y_SCORE, GROUPS, thresholds=(0.5, 0.7), n_boot=10)
    data = intervals_to_dict(table)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["n_boot"] == 10 and data["seed"] == 0
    assert set(data["thresholds"]) == {"0.5", "0.7"}
    gap = data["thresholds"]["0.5"]["fpr"]["gap"]
    assert gap["value"] == pytest.approx(2 / 3)
    assert gap["ci_low"] is not None and gap["ci_low"] <= gap["ci_high"]
    with pytest.raises(ValueError, match="missing columns"):
        intervals_to_dict({"value": [1]})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"thresholds": []}, ValueError, "`thresholds` must hold at least one"),
        ({"thresholds": [0.5, 1.0]}, ValueError, "received 1.0"),
        ({"thresholds": "0.5"}, TypeError, "`thresholds` must be a number or a sequence"),
        ({"n_boot": -1}, ValueError, "`n_boot` must be an int >= 0"),
        ({"n_boot": 2.5}, TypeError, "`n_boot` must be an int"),
        ({"confidence": 1.0}, ValueError, "`confidence` must be a number in (0, 1)"),
        ({"seed": "1"}, TypeError, "`seed` must be an int"),
    ],
)
def test_bad_options_raise_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        group_metric_intervals(Y_TRUE, Y_SCORE, GROUPS, **kwargs)


def test_bad_data_raises_as_group_report():
    with pytest.raises(ValueError, match="differ in length"):
        group_metric_intervals([0, 1], [0.2], ["a", "b"])
    with pytest.raises(ValueError, match="probabilities"):
        group_metric_intervals([0, 1], [0.2, 3.0], ["a", "b"])


def test_a_resample_that_draws_every_row_once_gives_the_point_values():
    # The bootstrap evaluates fairlearn's functions on cell counts as sample weights: with
    # every row drawn once they must reproduce MetricFrame's values on the rows themselves.
    from keras_remediation.evaluation import intervals

    labels, scores, groups = _synthetic(600)
    table = group_metric_intervals(labels, scores, groups, thresholds=(0.4, 0.6), n_boot=0)
    names = np.array(["a", "b"], dtype=object)
    values = intervals._resample_values(
        labels, scores, np.searchsorted(names, groups), names, [0.4, 0.6], np.ones(600)
    )
    for row in table.itertuples():
        assert values[row.threshold, row.metric, row.group] == pytest.approx(row.value)
    twice = intervals._resample_values(
        labels, scores, np.searchsorted(names, groups), names, [0.4], np.full(600, 2.0)
    )
    assert twice[0.4, "fpr", "gap"] == pytest.approx(values[0.4, "fpr", "gap"])
