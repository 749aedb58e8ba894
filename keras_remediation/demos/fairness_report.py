"""The report of the two UCI Adult MinDiff demos: baseline vs remediated model on the test split.

`write_fairness_report` evaluates both models' test scores (`evaluation.group_report`, and
`evaluation.group_metric_intervals` at several thresholds with bootstrap CIs), prints the
tables and a headline naming every gap that moved (`evaluation.describe_gap_changes`), and
writes `report.json` (every gap with its CI), `report.png` (per-group rates and the label-0
score CDFs) and the self-contained `report.html` to `output_dir`. Extra figures (e.g. the
federated convergence plot) join the HTML report.
"""

import json
import os
import pathlib
import time

import numpy as np

from keras_remediation.evaluation import describe_gap_changes
from keras_remediation.evaluation import format_group_report
from keras_remediation.evaluation import gap_change_table
from keras_remediation.evaluation import group_metric_intervals
from keras_remediation.evaluation import group_report
from keras_remediation.evaluation import group_report_table
from keras_remediation.evaluation import intervals_to_dict
from keras_remediation.evaluation import plot_remediation_report
from keras_remediation.evaluation import write_html_report

#: The decision threshold of the headline and of `report.json`'s gaps.
HEADLINE_THRESHOLD = 0.5


def _gap_interval(table, metric):
    row = table[(table.threshold == HEADLINE_THRESHOLD) & (table.metric == metric)
                & (table.group == "gap")].iloc[0]
    low, high = float(row.ci_low), float(row.ci_high)
    return None if np.isnan(low) else [low, high]


def write_fairness_report(
    output_dir, y_test, test_groups, scores, *, titles, settings, title, n_boot, thresholds,
    seed, log, extra=None, extra_figures=(), extra_sections=(),
):
    """Evaluates, prints and writes the report; returns the result dict.

    Args:
        output_dir: directory receiving report.json, report.png and report.html (created).
        y_test: labels `[T]` 0/1; test_groups: the group (sex) of each test row `[T]`.
        scores: `{"baseline": [T] scores, "min_diff": [T] scores}` in [0, 1].
        titles: `{"baseline": str, "min_diff": str}`, display names of the two models.
        settings: the demo's settings dict (written to report.json, `report_seconds` added).
        title: the figure and HTML title.
        n_boot, thresholds, seed: as `group_metric_intervals`.
        log: callable receiving each printed line.
        extra: optional dict merged into the result (e.g. the federated history).
        extra_figures: paths of further figures for the HTML report.
        extra_sections: further `(heading, blocks)` sections for the HTML report.

    Returns:
        `{"baseline": report, "min_diff": report, "intervals": {...}, "gap_changes": [str],
        "settings": settings, **extra}`: each report a `group_report` dict with
        `fpr_gap_ci` and `fnr_gap_ci` (`[low, high]` at threshold 0.5) added.
    """
    start = time.perf_counter()
    reports, intervals = {}, {}
    for name, values in scores.items():
        reports[name] = group_report(y_test, values, test_groups, threshold=HEADLINE_THRESHOLD)
        intervals[name] = group_metric_intervals(
            y_test, values, test_groups, thresholds, n_boot=n_boot, seed=seed
        )
        reports[name]["fpr_gap_ci"] = _gap_interval(intervals[name], "fpr")
        reports[name]["fnr_gap_ci"] = _gap_interval(intervals[name], "fnr")
    settings["report_seconds"] = round(time.perf_counter() - start, 2)
    settings["n_boot"], settings["thresholds"] = n_boot, [float(t) for t in thresholds]

    for name in ("baseline", "min_diff"):
        log("")
        log(f"{titles[name]} — test split ({len(y_test)} rows)")
        log(format_group_report(reports[name]))
    b, m = reports["baseline"], reports["min_diff"]
    changes = describe_gap_changes(intervals["baseline"], intervals["min_diff"],
                                   HEADLINE_THRESHOLD)
    log("")
    log(f"{titles['baseline']} -> {titles['min_diff']} (threshold {HEADLINE_THRESHOLD:g}, "
        f"{n_boot} bootstrap resamples):")
    for line in changes:
        log(f"  {line}")
    log(f"  AUC {b['auc']:.3f} -> {m['auc']:.3f}; accuracy {b['accuracy']:.3f} -> "
        f"{m['accuracy']:.3f}")

    os.makedirs(output_dir, exist_ok=True)
    result = {
        "baseline": b,
        "min_diff": m,
        "intervals": {name: intervals_to_dict(table) for name, table in intervals.items()},
        "gap_changes": changes,
        "settings": settings,
        **(extra or {}),
    }
    json_path = os.path.join(output_dir, "report.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    label_0 = np.asarray(y_test) == 0
    png_path = plot_remediation_report(
        {titles["baseline"]: b, titles["min_diff"]: m},
        {titles[name]: (values[label_0], np.asarray(test_groups)[label_0])
         for name, values in scores.items()},
        os.path.join(output_dir, "report.png"),
        title=f"{title}\n(score CDFs of the label-0 test examples: the share right of the "
        f"{HEADLINE_THRESHOLD:g} line is the group's FPR)",
    )
    html_path = write_html_report(
        os.path.join(output_dir, "report.html"),
        title,
        [
            ("Headline", [
                f"{titles['baseline']} -> {titles['min_diff']}, threshold "
                f"{HEADLINE_THRESHOLD:g}, {100 * intervals['min_diff'].attrs['confidence']:g}% "
                f"percentile bootstrap intervals over {n_boot} resamples of the test rows:",
                *changes,
                f"AUC {b['auc']:.3f} -> {m['auc']:.3f}; accuracy {b['accuracy']:.3f} -> "
                f"{m['accuracy']:.3f}.",
                gap_change_table(intervals["baseline"], intervals["min_diff"],
                                 HEADLINE_THRESHOLD),
            ]),
            (f"{titles['baseline']}: per group", [group_report_table(b)]),
            (f"{titles['min_diff']}: per group", [group_report_table(m)]),
            ("Gaps at each threshold", [_threshold_table(intervals, titles)]),
            ("Figures", [pathlib.Path(png_path), *map(pathlib.Path, extra_figures)]),
            *extra_sections,
            ("Settings", [json.dumps(settings)]),
        ],
    )
    written = [json_path, png_path, *map(str, extra_figures)]
    log(f"Wrote {', '.join(written)} and {html_path}")
    return result


def _threshold_table(intervals, titles):
    """Gaps of both models at every threshold: value and CI columns per model."""
    import pandas as pd

    parts = []
    for name, table in intervals.items():
        gaps = table[table.group == "gap"].set_index(["threshold", "metric"])
        gaps = gaps[["value", "ci_low", "ci_high"]]
        gaps.columns = [f"{titles[name]} {c}" for c in gaps.columns]
        parts.append(gaps)
    return pd.concat(parts, axis=1)
