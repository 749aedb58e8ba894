"""Evaluate remediation: group-fairness metrics (fairlearn, scikit-learn) and plots (matplotlib).

`group_report(y_true, y_score, sensitive_features)`: overall and per-group accuracy, AUC, FPR,
FNR and the FPR/FNR gaps, as a JSON-serialisable dict; `group_report_table`,
`format_group_report` and `compare_reports` print them; `group_metric_intervals` adds FPR, FNR,
TPR, selection rate and AUC per group at several thresholds with bootstrap confidence intervals;
`gap_change_table` and `describe_gap_changes` say how every gap moved between two models;
`plot_remediation_report` draws a before/after figure; `write_html_report` writes one
self-contained HTML report. pandas, fairlearn, scikit-learn and matplotlib (the `report` extra) are
imported only when these functions run.
"""

from keras_remediation.evaluation.gap_changes import describe_gap_changes
from keras_remediation.evaluation.gap_changes import gap_change_table
from keras_remediation.evaluation.group_metrics import compare_reports
from keras_remediation.evaluation.group_metrics import format_group_report
from keras_remediation.evaluation.group_metrics import group_report
from keras_remediation.evaluation.group_metrics import group_report_table
from keras_remediation.evaluation.intervals import group_metric_intervals
from keras_remediation.evaluation.intervals import intervals_to_dict
from keras_remediation.evaluation.html_report import write_html_report
from keras_remediation.evaluation.plots import plot_remediation_report

__all__ = [
    "compare_reports",
    "describe_gap_changes",
    "format_group_report",
    "gap_change_table",
    "group_metric_intervals",
    "group_report",
    "group_report_table",
    "intervals_to_dict",
    "plot_remediation_report",
    "write_html_report",
]
