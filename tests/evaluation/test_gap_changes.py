"""gap_change_table / describe_gap_changes: every gap named with its direction and CIs."""

import pandas as pd
import pytest

from keras_remediation.evaluation import describe_gap_changes
from keras_remediation.evaluation import gap_change_table


def _intervals(gaps, threshold=0.5):
    rows = []
    for metric, (value, low, high) in gaps.items():
        rows.append({"threshold": threshold, "metric": metric, "group": "gap", "value": value,
                     "ci_low": low, "ci_high": high})
        rows.append({"threshold": threshold, "metric": metric, "group": "a", "value": 0.5,
                     "ci_low": 0.4, "ci_high": 0.6})
    table = pd.DataFrame(rows)
    table.attrs["confidence"] = 0.95
    return table


BEFORE = _intervals({"fpr": (0.067, 0.05, 0.08), "fnr": (0.044, 0.03, 0.058),
                     "selection_rate": (0.10, 0.09, 0.11), "auc": (0.01, 0.0, 0.02)})
AFTER = _intervals({"fpr": (0.020, 0.01, 0.03), "fnr": (0.128, 0.11, 0.146),
                    "selection_rate": (0.102, 0.09, 0.11), "auc": (0.01, 0.0, 0.02)})


def test_table_lines_up_every_gap():
    table = gap_change_table(BEFORE, AFTER)
    assert table.index.tolist() == ["FPR gap", "FNR gap", "selection-rate gap", "AUC gap"]
    assert table.loc["FNR gap", "change"] == pytest.approx(0.084)
    assert table.loc["FPR gap", "after_ci_high"] == 0.03


def test_lines_name_the_gap_that_rose_as_well_as_the_one_that_fell():
    lines = describe_gap_changes(BEFORE, AFTER)
    assert lines[0] == "FPR gap fell 0.067 [0.050, 0.080] -> 0.020 [0.010, 0.030] (-0.047; 95% CIs)"
    assert lines[1] == "FNR gap rose 0.044 [0.030, 0.058] -> 0.128 [0.110, 0.146] (+0.084; 95% CIs)"
    assert lines[2].startswith("selection-rate gap unchanged: 0.100")
    assert lines[3].startswith("AUC gap unchanged:")
    assert describe_gap_changes(BEFORE, AFTER, tolerance=0.001)[2].startswith(
        "selection-rate gap rose")


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`before` must be a DataFrame"):
        gap_change_table({"a": 1}, AFTER)
    with pytest.raises(ValueError, match="no rows at threshold 0.7"):
        gap_change_table(BEFORE, AFTER, threshold=0.7)
    with pytest.raises(ValueError, match="`tolerance`"):
        describe_gap_changes(BEFORE, AFTER, tolerance=-1)
