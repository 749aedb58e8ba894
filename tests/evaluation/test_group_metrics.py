"""group_report on hand-computed examples, its validation, and the table formatters."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from keras_remediation.evaluation import compare_reports
from keras_remediation.evaluation import format_group_report
from keras_remediation.evaluation import group_report
from keras_remediation.evaluation import group_report_table

# Women: labels 0 0 0 1 1, predictions (> 0.5) 0 1 0 1 0.
# Men:   labels 0 0 1 1 1, predictions          1 1 0 1 1.
Y_TRUE = [0, 0, 0, 1, 1, 0, 0, 1, 1, 1]
Y_SCORE = [0.1, 0.6, 0.3, 0.8, 0.4, 0.7, 0.9, 0.2, 0.6, 0.55]
GROUPS = ["Female"] * 5 + ["Male"] * 5


def test_hand_computed_example():
    report = group_report(Y_TRUE, Y_SCORE, GROUPS)
    female, male = report["groups"]["Female"], report["groups"]["Male"]
    assert list(report["groups"]) == ["Female", "Male"]
    assert female == pytest.approx(
        {"count": 5, "positives": 2, "negatives": 3, "accuracy": 0.6, "auc": 5 / 6,
         "fpr": 1 / 3, "fnr": 1 / 2}
    )
    assert male == pytest.approx(
        {"count": 5, "positives": 3, "negatives": 2, "accuracy": 0.4, "auc": 0.0,
         "fpr": 1.0, "fnr": 1 / 3}
    )
    assert report["threshold"] == 0.5
    assert report["count"] == 10 and report["positives"] == 5 and report["negatives"] == 5
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["auc"] == pytest.approx(11.5 / 25)  # one tied pair counts 1/2
    assert report["fpr"] == pytest.approx(0.6) and report["fnr"] == pytest.approx(0.4)
    assert report["fpr_gap"] == pytest.approx(2 / 3)
    assert report["fnr_gap"] == pytest.approx(1 / 6)


def test_report_is_plain_json():
    report = group_report(np.array(Y_TRUE), np.array(Y_SCORE, dtype=np.float32), np.array(GROUPS))
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or type(value) in (int, float)

    assert plain(report)


def test_threshold_is_strict_and_configurable():
    # A score equal to the threshold is a negative prediction (as Keras's BinaryAccuracy).
    report = group_report([0, 1], [0.5, 0.5], ["a", "a"])
    assert report["fpr"] == 0.0 and report["fnr"] == 1.0
    report = group_report(Y_TRUE, Y_SCORE, GROUPS, threshold=0.65)
    assert report["groups"]["Male"]["fpr"] == 1.0  # 0.7 and 0.9 still above
    assert report["groups"]["Female"]["fpr"] == 0.0
    assert report["groups"]["Female"]["fnr"] == 0.5


def test_undefined_rates_are_none_and_left_out_of_gaps():
    # Group b has no negatives, group c no positives.
    report = group_report(
        [0, 1, 1, 1, 0, 0], [0.9, 0.8, 0.2, 0.9, 0.1, 0.7], ["a", "a", "b", "b", "c", "c"]
    )
    b, c = report["groups"]["b"], report["groups"]["c"]
    assert b["fpr"] is None and b["auc"] is None and b["fnr"] == 0.5
    assert c["fnr"] is None and c["auc"] is None and c["fpr"] == 0.5
    assert report["fpr_gap"] == pytest.approx(1.0 - 0.5)  # a: 1.0, c: 0.5
    assert report["fnr_gap"] == pytest.approx(0.5 - 0.0)  # a: 0.0, b: 0.5
    one_group = group_report([1, 1], [0.9, 0.1], ["x", "x"])
    assert one_group["auc"] is None and one_group["fpr"] is None
    assert one_group["fpr_gap"] is None and one_group["fnr_gap"] == 0.0


def test_accepts_columns_series_and_non_string_groups():
    import pandas as pd

    y = np.array(Y_TRUE, dtype=np.float32).reshape(-1, 1)
    scores = np.array(Y_SCORE).reshape(-1, 1)
    groups = pd.Series([0] * 5 + [1] * 5, index=range(100, 110))
    report = group_report(y, scores, groups)
    assert list(report["groups"]) == ["0", "1"]
    assert report["groups"]["1"]["fpr"] == 1.0
    assert group_report([True, False], [0.9, 0.2], ["a", "b"])["accuracy"] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_true": [0, 1]}, "differ in length"),
        ({"y_score": [0.1] * 9}, "differ in length"),
        ({"sensitive_features": ["a"] * 11}, "differ in length"),
        ({"y_score": [1.2] + Y_SCORE[1:]}, r"\[0, 1\]"),
        ({"y_score": [-0.1] + Y_SCORE[1:]}, r"\[0, 1\]"),
        ({"y_score": [math.nan] + Y_SCORE[1:]}, "non-finite"),
        ({"y_true": [2] + Y_TRUE[1:]}, "labels 0 and 1"),
        ({"sensitive_features": [None] + GROUPS[1:]}, "missing"),
        ({"sensitive_features": np.ones((10, 2))}, "one-dimensional"),
        ({"threshold": 0.0}, "`threshold`"),
        ({"threshold": 1}, "`threshold`"),
        ({"threshold": True}, "`threshold`"),
        ({"threshold": "0.5"}, "`threshold`"),
        ({"y_true": [], "y_score": [], "sensitive_features": []}, "empty"),
    ],
)
def test_validation(kwargs, match):
    arguments = {"y_true": Y_TRUE, "y_score": Y_SCORE, "sensitive_features": GROUPS}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        group_report(**arguments)


def test_table_and_text():
    report = group_report(Y_TRUE, Y_SCORE, GROUPS)
    table = group_report_table(report)
    assert list(table.index) == ["Female", "Male", "overall"]
    assert list(table.columns) == [
        "count", "positives", "negatives", "accuracy", "auc", "fpr", "fnr",
    ]
    assert table.loc["Male", "fpr"] == 1.0 and table.loc["overall", "count"] == 10
    text = format_group_report(report, digits=2)
    assert "Female" in text and "overall" in text
    assert "FPR gap 0.67" in text and "FNR gap 0.17" in text
    with pytest.raises(ValueError, match="group_report"):
        group_report_table({"accuracy": 1.0})
    with pytest.raises(ValueError, match="digits"):
        format_group_report(report, digits=-1)


def test_compare_reports():
    before = group_report(Y_TRUE, Y_SCORE, GROUPS)
    capped = [min(s, 0.5) if g == "Male" else s for s, g in zip(Y_SCORE, GROUPS)]
    after = group_report(Y_TRUE, capped, GROUPS)
    table = compare_reports({"baseline": before, "MinDiff": after})
    assert list(table.columns) == ["baseline", "MinDiff"]
    assert table.loc["fpr[Male]", "baseline"] == 1.0 and table.loc["fpr[Male]", "MinDiff"] == 0.0
    assert table.loc["fpr_gap", "MinDiff"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_reports({})


def test_importing_evaluation_does_not_import_fairlearn():
    code = (
        "import sys, keras_remediation.evaluation, keras_remediation.datasets;"
        "print(','.join(m for m in ('fairlearn', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
