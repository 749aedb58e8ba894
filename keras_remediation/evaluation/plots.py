"""Before/after figures of a remediation (e.g. a baseline model against its MinDiff version).

Drawn with matplotlib's Agg renderer on a standalone `Figure` (no `pyplot`, no display, no change
to the global backend), so it works headless and in tests. matplotlib is imported inside the
function.
"""

import math
import numbers
import os

import numpy as np

__all__ = ["plot_remediation_report"]

_METRIC_TITLES = {
    "fpr": "False-positive rate by group",
    "fnr": "False-negative rate by group",
    "accuracy": "Accuracy by group",
    "auc": "AUC by group",
}

_SCORE_PLOTS = ("cdf", "histogram")


def _check_inputs(reports, scores, metrics, bins, score_plot="cdf", threshold=0.5):
    if score_plot not in _SCORE_PLOTS:
        raise ValueError(
            f"`score_plot` must be one of {_SCORE_PLOTS}; received {score_plot!r}."
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0 < threshold < 1
    ):
        raise ValueError(f"`threshold` must be a number in (0, 1); received {threshold!r}.")
    if not isinstance(reports, dict) or not reports:
        raise ValueError("`reports` must be a non-empty dict of name -> `group_report` dict.")
    for name, report in reports.items():
        if not isinstance(report, dict) or "groups" not in report:
            raise ValueError(
                f"`reports[{name!r}]` must be a dict returned by `group_report`; received "
                f"{type(report).__name__}."
            )
    if isinstance(metrics, str) or not metrics or any(m not in _METRIC_TITLES for m in metrics):
        raise ValueError(
            f"`metrics` must be a non-empty sequence of {sorted(_METRIC_TITLES)}; received "
            f"{metrics!r}."
        )
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"`bins` must be a positive integer; received {bins!r}.")
    if scores is None:
        return {}
    if not isinstance(scores, dict):
        raise ValueError(
            "`scores` must be None or a dict of name -> (y_score, groups); received "
            f"{type(scores).__name__}."
        )
    checked = {}
    for name, entry in scores.items():
        if (
            not isinstance(entry, (tuple, list))
            or len(entry) != 2
            or np.ndim(entry[0]) not in (1, 2)
            or np.ndim(entry[1]) not in (1, 2)
        ):
            raise ValueError(
                f"`scores[{name!r}]` must be a pair (y_score, groups) of arrays of shape [N]."
            )
        y_score = np.asarray(entry[0], dtype="float64").reshape(-1)
        groups = np.asarray(entry[1]).reshape(-1)
        if len(y_score) != len(groups):
            raise ValueError(
                f"`scores[{name!r}]`: y_score has {len(y_score)} values but groups has "
                f"{len(groups)}."
            )
        if len(y_score) and (
            not np.all(np.isfinite(y_score)) or y_score.min() < 0 or y_score.max() > 1
        ):
            raise ValueError(f"`scores[{name!r}]`: y_score must hold values in [0, 1].")
        checked[name] = (y_score, np.array([str(g) for g in groups], dtype=object))
    return checked


def plot_remediation_report(
    reports,
    scores,
    path,
    *,
    metrics=("fpr", "fnr"),
    title=None,
    bins=40,
    dpi=100,
    score_plot="cdf",
    threshold=0.5,
):
    """Draws per-group rates and score distributions of several models, and saves the figure.

    Top row: one grouped bar chart per metric in `metrics` (default FPR and FNR), one bar per
    group and model, each model's gap (max − min over groups) in the legend. Bottom row (when
    `scores` is given): one panel per model with the empirical cumulative distribution (CDF) of
    its scores for each group on [0, 1] (`score_plot="cdf"`, the default: readable even when most
    scores sit near 0, where a histogram is one spike), or their histograms (density), with the
    decision threshold marked and, per group, the share of scores above it. To see what the FPR
    measures, pass the scores of the label-0 examples only (the share above the threshold is
    then the group's FPR); MinDiff with label-0 MinDiff data should bring the curves together.

    Args:
        reports: dict mapping a model name (str, e.g. `"baseline"`, `"MinDiff"`) to its
            `group_report` dict, in display order.
        scores: None (bar charts only) or a dict mapping a model name to a pair
            `(y_score, groups)`: array-likes of shape `[N]` (or `[N, 1]`), scores float in
            [0, 1], and the group of each example (named by `str()`).
        path: str or path-like of the image file; the format follows its extension (`.png`,
            `.svg`, `.pdf`, ...). Missing parent directories are created. An existing file is
            overwritten.
        metrics: keyword-only; sequence of rates to chart, from `"fpr"`, `"fnr"`, `"accuracy"`,
            `"auc"`. Default `("fpr", "fnr")`.
        title: keyword-only str, the figure's title. Default None (no title).
        bins: keyword-only positive int, histogram bins on [0, 1] (`score_plot="histogram"`).
            Default 40.
        dpi: keyword-only number, resolution of raster output. Default 100.
        score_plot: keyword-only, `"cdf"` (default) or `"histogram"`.
        threshold: keyword-only float in (0, 1), the decision threshold marked on the score
            panels. Default 0.5.

    Returns:
        The path written, as a `str`.

    Raises:
        ValueError: if `reports` is empty or holds something other than `group_report` dicts,
            `metrics` names an unknown rate, `bins` is not a positive int, `score_plot` is not
            "cdf" / "histogram", `threshold` is not in (0, 1), or an entry of
            `scores` is not a pair of equal-length arrays with scores in [0, 1].
        ImportError: if matplotlib is missing (install `keras-remediation[report]`).
    """
    checked_scores = _check_inputs(reports, scores, metrics, bins, score_plot, threshold)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(reports)
    groups = sorted({g for report in reports.values() for g in report["groups"]})
    has_scores = bool(checked_scores)
    width = max(6.0, 4.5 * max(len(metrics), len(checked_scores)))
    fig = Figure(figsize=(width, 8.0 if has_scores else 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    if title:
        fig.suptitle(title)
    top, bottom = fig.subfigures(2, 1) if has_scores else (fig, None)
    colours = [f"C{i % 10}" for i in range(len(names))]

    bar_axes = np.atleast_1d(top.subplots(1, len(metrics)))
    x = np.arange(len(groups))
    bar_width = 0.8 / len(names)
    for ax, metric in zip(bar_axes, metrics):
        for i, name in enumerate(names):
            report = reports[name]
            values = [
                (report["groups"].get(g) or {}).get(metric) for g in groups
            ]
            heights = [math.nan if v is None else v for v in values]
            label = name
            gap = report.get(f"{metric}_gap")
            if gap is not None:
                label = f"{name} (gap {gap:.3f})"
            offsets = x - 0.4 + bar_width * (i + 0.5)
            bars = ax.bar(offsets, heights, bar_width, label=label, color=colours[i])
            ax.bar_label(
                bars,
                labels=["n/a" if v is None else f"{v:.3f}" for v in values],
                fontsize=7,
                padding=2,
            )
        ax.set_xticks(x, groups)
        ax.set_title(_METRIC_TITLES[metric])
        finite = [
            v
            for report in reports.values()
            for g in report["groups"].values()
            if (v := g.get(metric)) is not None
        ]
        ax.set_ylim(0, max(finite + [1e-3]) * 1.25)
        ax.legend(fontsize=8)

    if has_scores:
        score_names = list(checked_scores)
        hist_axes = np.atleast_1d(bottom.subplots(1, len(score_names), sharex=True, sharey=True))
        edges = np.linspace(0.0, 1.0, bins + 1)
        for ax, name in zip(hist_axes, score_names):
            y_score, group_of = checked_scores[name]
            for j, g in enumerate(sorted(set(group_of))):
                values = y_score[group_of == g]
                colour = f"C{(j + len(names)) % 10}"
                label = (
                    f"{g} (n={len(values)}, mean {values.mean():.3f}, "
                    f"> {threshold:g}: {np.mean(values > threshold):.3f})"
                )
                if score_plot == "cdf":
                    ax.ecdf(values, color=colour, linewidth=1.6, label=label)
                else:
                    ax.hist(values, bins=edges, density=True, histtype="stepfilled",
                            alpha=0.45, color=colour, label=label)
            ax.axvline(threshold, color="0.4", linestyle=":", linewidth=1)
            kind = "CDF" if score_plot == "cdf" else "histogram"
            ax.set_title(f"{name}: score {kind}")
            ax.set_xlabel("score")
            ax.set_xlim(0, 1)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="lower right" if score_plot == "cdf" else "upper right")
        hist_axes[0].set_ylabel(
            "share of examples with score ≤ x" if score_plot == "cdf" else "density"
        )

    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
