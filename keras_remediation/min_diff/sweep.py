"""MinDiff weight sweeps: train over weights and seeds, tabulate AUC and the group gaps, plot.

The MinDiff twin of `backward_compatibility.sweep.lambda_sweep`. `min_diff_weight_sweep`
trains one `MinDiffModel` per (weight, seed) and returns a pandas DataFrame of its test AUC,
accuracy and FPR/FNR gaps (`evaluation.group_report`); `summarize_weight_sweep` averages it
over seeds and marks the Pareto front (no other weight has both a higher mean AUC and a smaller
mean gap); `halving_weight` picks the weight that halves a gap for the smallest AUC cost;
`plot_weight_sweep` draws FPR gap and FNR gap against AUC with error bars over seeds. pandas,
fairlearn and matplotlib (the `report` extra) are imported inside the functions.
"""

import numbers
import os
import time

import numpy as np
import keras

from keras_remediation.common.validation import check_positive_int

#: Columns of the table returned by `min_diff_weight_sweep`, in order.
SWEEP_COLUMNS = (
    "weight", "seed", "auc", "accuracy", "fpr_gap", "fnr_gap", "fpr", "fnr", "min_diff_loss",
    "seconds",
)
#: Metrics averaged by `summarize_weight_sweep` (each gives `<name>_mean` and `<name>_std`).
SUMMARY_METRICS = ("auc", "accuracy", "fpr_gap", "fnr_gap")


def _check_numbers(values, name, kind, minimum):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"`{name}` must be a non-empty sequence of numbers; received {values!r}.")
    values = list(values)
    if not values:
        raise ValueError(f"`{name}` must be a non-empty sequence; received [].")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TypeError(
                f"`{name}` must hold {'ints' if kind is numbers.Integral else 'numbers'}; "
                f"received {value!r} in {values!r}."
            )
        if minimum is not None and not (value >= minimum and np.isfinite(value)):
            raise ValueError(
                f"`{name}` must hold finite numbers >= {minimum}; received {value!r}."
            )
    if len(set(values)) != len(values):
        raise ValueError(f"`{name}` must not repeat a value; received {values!r}.")
    return values


def min_diff_weight_sweep(
    build_model,
    training_data,
    sensitive_group_data,
    nonsensitive_group_data,
    testing_data,
    test_groups,
    weights=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
    seeds=(1, 2, 3),
    *,
    loss=None,
    epochs=8,
    batch_size=128,
    min_diff_batch_size=128,
    optimizer=None,
    compile_loss="binary_crossentropy",
    threshold=0.5,
    verbose=0,
    log=None,
):
    """Trains a `MinDiffModel` for every (weight, seed) and tabulates its test fairness.

    For each seed and weight: `keras.utils.set_random_seed(seed)`, `build_model()` builds a
    fresh binary classifier, which is wrapped in `MinDiffModel(model, loss(), loss_weight=
    weight)` (weight 0 trains the plain model on the same batches), compiled with Adam and
    `compile_loss`, and fitted on `training_data` packed with the two groups' data
    (`pack_min_diff_data`, shuffled with `seed`). Its scores on `testing_data` are evaluated by
    `evaluation.group_report` with `test_groups`.

    Args:
        build_model: callable with no arguments returning a new, uncompiled `keras.Model` with
            one sigmoid output `[batch, 1]`.
        training_data: `(x, y)` arrays, x `[N, F]`, y `[N, 1]` labels 0/1.
        sensitive_group_data, nonsensitive_group_data: arrays `[M, F]` of the two groups'
            MinDiff examples (e.g. label-0 women and label-0 men, to target the FPR gap).
        testing_data: `(x, y)` arrays, y `[T]` or `[T, 1]` labels 0/1.
        test_groups: array-like `[T]`, the group of each test example.
        weights: MinDiff loss weights, numbers ≥ 0. Default (0, 0.5, 1, 2, 4, 8).
        seeds: ints, seeds of weights, dropout and shuffles. Default (1, 2, 3).
        loss: keyword-only; None (default: `MMDLoss(kernel="gaussian")`) or a callable
            returning a new MinDiff loss for each run.
        epochs: keyword-only positive int. Default 8.
        batch_size: keyword-only positive int, original rows per step. Default 128.
        min_diff_batch_size: keyword-only positive int, rows per group per step. Default 128.
        optimizer: keyword-only callable returning a new optimizer; default None (Adam 1e-3).
        compile_loss: keyword-only, the model's own loss. Default "binary_crossentropy".
        threshold: keyword-only float in (0, 1), decision threshold of the gaps. Default 0.5.
        verbose: keyword-only, `fit` verbosity. Default 0.
        log: keyword-only callable receiving one progress line per trained model, or None.

    Returns:
        `pandas.DataFrame`, one row per (weight, seed) in (weight, seed) order, with the
        columns of `SWEEP_COLUMNS`: `weight`, `seed`, test `auc`, `accuracy`, `fpr_gap`,
        `fnr_gap`, overall `fpr` and `fnr`, the last epoch's weighted `min_diff_loss`, and
        `seconds` of training. `df.attrs` holds `threshold`, `epochs` and `test_examples`.

    Raises:
        TypeError: if `weights` or `seeds` is not a sequence of numbers / ints, `epochs`,
            `batch_size` or `min_diff_batch_size` is not an int, `loss` is neither None nor a
            callable, or `build_model()` does not return a `keras.Model`.
        ValueError: if `weights` or `seeds` is empty or repeats a value, a weight is
            negative or not finite, `epochs`, `batch_size` or `min_diff_batch_size` is < 1, `training_data` or `testing_data` is not an `(x, y)` pair, or for
            the data errors of `pack_min_diff_data` and `group_report`.
        ImportError: if pandas or fairlearn is missing (the `report` extra).
    """
    import pandas as pd

    from keras_remediation import min_diff
    from keras_remediation.evaluation import group_report

    weights = [float(w) for w in _check_numbers(weights, "weights", numbers.Real, 0)]
    seeds = [int(s) for s in _check_numbers(seeds, "seeds", numbers.Integral, None)]
    for name, value in (
        ("epochs", epochs), ("batch_size", batch_size), ("min_diff_batch_size", min_diff_batch_size)
    ):
        check_positive_int(value, name)
    if not callable(build_model):
        raise TypeError(f"`build_model` must be a callable; received {build_model!r}.")
    if loss is not None and not callable(loss):
        raise TypeError(
            "`loss` must be None (MMD, gaussian kernel) or a callable returning a new MinDiff "
            f"loss; received {loss!r}."
        )
    make_loss = loss or (lambda: min_diff.losses.MMDLoss(kernel="gaussian"))
    make_optimizer = optimizer or (lambda: keras.optimizers.Adam(1e-3))
    for name, data in (("training_data", training_data), ("testing_data", testing_data)):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(
                f"`{name}` must be a pair (x, y) of arrays; received {type(data).__name__}"
                + (f" of length {len(data)}." if isinstance(data, (tuple, list)) else ".")
            )
    x, y = training_data
    x_test, y_test = testing_data
    y_test = np.asarray(y_test).reshape(-1)
    test_groups = np.asarray(test_groups).reshape(-1)

    rows = []
    total = len(weights) * len(seeds)
    for weight in weights:
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = build_model()
            if not isinstance(model, keras.Model):
                raise TypeError(
                    f"`build_model()` must return a keras.Model; it returned "
                    f"{type(model).__name__}."
                )
            packed = min_diff.keras.utils.pack_min_diff_data(
                (x, y),
                sensitive_group_dataset=sensitive_group_data,
                nonsensitive_group_dataset=nonsensitive_group_data,
                batch_size=batch_size,
                min_diff_batch_size=min_diff_batch_size,
                seed=seed,
            )
            wrapped = min_diff.keras.MinDiffModel(model, make_loss(), loss_weight=weight)
            wrapped.compile(optimizer=make_optimizer(), loss=compile_loss)
            start = time.perf_counter()
            history = wrapped.fit(packed, epochs=epochs, verbose=verbose)
            seconds = time.perf_counter() - start
            scores = np.asarray(wrapped.predict(x_test, batch_size=4096, verbose=0)).reshape(-1)
            report = group_report(y_test, scores, test_groups, threshold=threshold)
            rows.append({
                "weight": weight,
                "seed": seed,
                "auc": report["auc"],
                "accuracy": report["accuracy"],
                "fpr_gap": report["fpr_gap"],
                "fnr_gap": report["fnr_gap"],
                "fpr": report["fpr"],
                "fnr": report["fnr"],
                "min_diff_loss": float(history.history["min_diff_loss"][-1]),
                "seconds": seconds,
            })
            if log is not None:
                log(
                    f"  [{len(rows)}/{total}] weight {weight:g}, seed {seed}: AUC "
                    f"{report['auc']:.4f}, FPR gap {report['fpr_gap']:.3f}, FNR gap "
                    f"{report['fnr_gap']:.3f} ({seconds:.1f} s)"
                )
    table = pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)).astype(
        {"weight": "float64", "seed": "int64"}
    )
    table.attrs.update(threshold=float(threshold), epochs=int(epochs),
                       test_examples=int(len(y_test)))
    return table


def _check_table(table, name="table", columns=("weight", "auc", "fpr_gap", "fnr_gap")):
    missing = [c for c in columns if c not in getattr(table, "columns", ())]
    if missing:
        raise ValueError(
            f"`{name}` must be the DataFrame of `min_diff_weight_sweep`; missing columns "
            f"{missing}."
        )


def _pareto(auc, gap):
    """Booleans: no other point has AUC ≥ and gap ≤ with one strictly better."""
    front = []
    for i in range(len(auc)):
        dominated = any(
            auc[j] >= auc[i] and gap[j] <= gap[i] and (auc[j] > auc[i] or gap[j] < gap[i])
            for j in range(len(auc)) if j != i
        )
        front.append(not dominated)
    return np.array(front, dtype=bool)


def summarize_weight_sweep(table):
    """Averages a sweep over seeds and marks its Pareto fronts.

    Args:
        table: the DataFrame of `min_diff_weight_sweep`.

    Returns:
        `pandas.DataFrame`, one row per weight (ascending): `weight`, `seeds` (count),
        `<metric>_mean` and `<metric>_std` (sample standard deviation over seeds; NaN for one
        seed) for `auc`, `accuracy`, `fpr_gap`, `fnr_gap`, and the booleans `pareto_fpr` and
        `pareto_fnr`: True when no other weight has a mean AUC at least as high and a mean
        FPR (FNR) gap at least as small, one of them strictly.

    Raises:
        ValueError: if `table` lacks the sweep's columns or is empty.
    """
    import pandas as pd

    _check_table(table, columns=("weight", "seed", *SUMMARY_METRICS))
    if len(table) == 0:
        raise ValueError("`table` is empty.")
    grouped = table.groupby("weight", sort=True)
    summary = pd.DataFrame({"weight": list(grouped.groups)})
    summary["seeds"] = grouped.size().to_numpy()
    for metric in SUMMARY_METRICS:
        summary[f"{metric}_mean"] = grouped[metric].mean().to_numpy()
        summary[f"{metric}_std"] = grouped[metric].std().to_numpy()
    for gap in ("fpr", "fnr"):
        summary[f"pareto_{gap}"] = _pareto(
            summary["auc_mean"].to_numpy(), summary[f"{gap}_gap_mean"].to_numpy()
        )
    return summary


def halving_weight(summary, gap="fpr_gap", reduction=0.5):
    """The weight that cuts a mean gap by `reduction` for the smallest loss of mean AUC.

    The reference is the smallest weight of the sweep (0 when it includes the plain model).

    Args:
        summary: the DataFrame of `summarize_weight_sweep`.
        gap: "fpr_gap" (default) or "fnr_gap".
        reduction: float in (0, 1], share of the reference gap to remove. Default 0.5.

    Returns:
        None when no weight reaches it, else a dict with `weight`, `gap_mean`, `auc_mean`,
        `auc_cost` (reference mean AUC minus this one's), `reference_weight`,
        `reference_gap_mean`, `reference_auc_mean`.

    Raises:
        ValueError: if `gap` is not "fpr_gap" / "fnr_gap", `reduction` is not in (0, 1], or
            `summary` lacks the columns of `summarize_weight_sweep`.
    """
    if gap not in ("fpr_gap", "fnr_gap"):
        raise ValueError(f"`gap` must be 'fpr_gap' or 'fnr_gap'; received {gap!r}.")
    if isinstance(reduction, bool) or not isinstance(reduction, numbers.Real) or not (
        0 < reduction <= 1
    ):
        raise ValueError(f"`reduction` must be a number in (0, 1]; received {reduction!r}.")
    _check_table(summary, "summary", ("weight", "auc_mean", f"{gap}_mean"))
    ordered = summary.sort_values("weight").reset_index(drop=True)
    reference = ordered.iloc[0]
    target = (1 - reduction) * reference[f"{gap}_mean"]
    reached = ordered[(ordered["weight"] != reference["weight"])
                      & (ordered[f"{gap}_mean"] <= target)]
    if len(reached) == 0:
        return None
    best = reached.sort_values(["auc_mean", "weight"], ascending=[False, True]).iloc[0]
    return {
        "weight": float(best["weight"]),
        "gap_mean": float(best[f"{gap}_mean"]),
        "auc_mean": float(best["auc_mean"]),
        "auc_cost": float(reference["auc_mean"] - best["auc_mean"]),
        "reference_weight": float(reference["weight"]),
        "reference_gap_mean": float(reference[f"{gap}_mean"]),
        "reference_auc_mean": float(reference["auc_mean"]),
    }


def plot_weight_sweep(table, path=None, *, title=None):
    """Draws the fairness-performance trade-off of a weight sweep: each gap against AUC.

    Two panels (FPR gap, FNR gap), one point per weight at its mean over seeds with error bars
    of ± one standard deviation in both directions, annotated with the weight; the Pareto front
    (`summarize_weight_sweep`) is joined by a red line and its points circled.

    Args:
        table: the DataFrame of `min_diff_weight_sweep`.
        path: optional image path (format from the extension); its directory is created.
        title: optional figure title.

    Returns:
        The `matplotlib.figure.Figure` (Agg canvas, no pyplot).

    Raises:
        ValueError: as `summarize_weight_sweep`.
        ImportError: if matplotlib is missing (the `report` extra).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary = summarize_weight_sweep(table)
    figure = Figure(figsize=(11, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    seeds = int(summary["seeds"].max())
    for axis, gap, label in ((axes[0], "fpr", "FPR gap"), (axes[1], "fnr", "FNR gap")):
        x = summary["auc_mean"].to_numpy()
        y = summary[f"{gap}_gap_mean"].to_numpy()
        axis.errorbar(
            x, y, xerr=np.nan_to_num(summary["auc_std"].to_numpy()),
            yerr=np.nan_to_num(summary[f"{gap}_gap_std"].to_numpy()),
            fmt="o", color="tab:blue", ecolor="0.55", capsize=3, label=f"mean ± std ({seeds} seeds)",
        )
        for weight, xi, yi in zip(summary["weight"], x, y):
            axis.annotate(f"w={weight:g}", (xi, yi), textcoords="offset points", xytext=(5, 5),
                          fontsize=8)
        front = summary[f"pareto_{gap}"].to_numpy()
        order = np.argsort(x[front])
        axis.plot(x[front][order], y[front][order], color="tab:red", linewidth=1.2,
                  marker="o", markersize=11, markerfacecolor="none", label="Pareto front")
        axis.set_xlabel("test AUC (higher is better)")
        axis.set_ylabel(f"{label} between groups (lower is better)")
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_title(f"{label} vs AUC over the MinDiff weight")
    figure.suptitle(title or "MinDiff weight sweep: fairness-performance trade-off")
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure


__all__ = [
    "SUMMARY_METRICS",
    "SWEEP_COLUMNS",
    "halving_weight",
    "min_diff_weight_sweep",
    "plot_weight_sweep",
    "summarize_weight_sweep",
]
