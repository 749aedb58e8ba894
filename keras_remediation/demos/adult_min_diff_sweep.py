"""The MinDiff weight sweep on UCI Adult (`keras-remediation demo --sweep`).

Trains the main demo's MinDiff model (`demos.adult_min_diff`: the guides' income model, MMD
with a gaussian kernel between label-0 women and label-0 men) for every weight and seed
(`min_diff.sweep.min_diff_weight_sweep`; weight 0 is the plain model on the same batches),
prints one line per trained model and the table averaged over seeds with its Pareto fronts,
states the weight that halves the FPR gap for the smallest AUC cost, and writes `sweep.csv`
(every run), `summary.csv`, `report.json`, `sweep.png` (FPR and FNR gaps against AUC, error
bars over seeds) and a self-contained `report.html` to `output_dir`.
"""

import json
import os
import pathlib
import time

import keras

from keras_remediation.demos.adult_min_diff import load_adult
from keras_remediation.demos.settings import ADULT_MIN_DIFF
from keras_remediation.demos.settings import ADULT_MIN_DIFF_SWEEP
from keras_remediation.evaluation import write_html_report
from keras_remediation.min_diff import sweep
from keras_remediation.tools.tutorials_utils import uci

_SUMMARY_COLUMNS = [
    "weight", "seeds", "auc_mean", "auc_std", "accuracy_mean", "fpr_gap_mean", "fpr_gap_std",
    "fnr_gap_mean", "fnr_gap_std", "pareto_fpr", "pareto_fnr",
]


def _halving_text(found, summary):
    reference = summary.sort_values("weight").iloc[0]
    if found is None:
        return (
            f"No weight halves the mean FPR gap of weight {reference['weight']:g} "
            f"({reference['fpr_gap_mean']:.3f})."
        )
    return (
        f"Weight {found['weight']:g} halves the FPR gap for the smallest AUC cost: mean FPR gap "
        f"{found['reference_gap_mean']:.3f} -> {found['gap_mean']:.3f}, mean AUC "
        f"{found['reference_auc_mean']:.4f} -> {found['auc_mean']:.4f} (cost "
        f"{found['auc_cost']:.4f})."
    )


def run(
    weights=ADULT_MIN_DIFF_SWEEP["weights"],
    seeds=ADULT_MIN_DIFF_SWEEP["seeds"],
    epochs=ADULT_MIN_DIFF["epochs"],
    batch_size=ADULT_MIN_DIFF["batch_size"],
    min_diff_batch_size=ADULT_MIN_DIFF["min_diff_batch_size"],
    kernel=ADULT_MIN_DIFF["kernel"],
    learning_rate=ADULT_MIN_DIFF["learning_rate"],
    output_dir="sweep-report",
    train_sample=None,
    verbose=1,
    log=print,
):
    """Runs the sweep and returns its report dict.

    Args:
        weights: MinDiff weights ≥ 0. Default (0, 0.5, 1, 2, 4, 8).
        seeds: int seeds, each trained at every weight. Default (1, 2, 3).
        epochs, batch_size, min_diff_batch_size, kernel, learning_rate: as
            `demos.adult_min_diff.run` (defaults 8, 128, 128, "gaussian", 1e-3).
        output_dir: directory receiving sweep.csv, summary.csv, report.json, sweep.png and
            report.html (created). Default "sweep-report".
        train_sample: optional fraction in (0, 1] of the training split (quick runs).
        verbose: 1 prints a line per trained model; 0 only the table and the file names.
        log: callable receiving each printed line.

    Returns:
        `{"runs": [row per (weight, seed)], "summary": [row per weight], "halving": dict or
        None, "settings": {...}}`: rows as `min_diff.sweep.min_diff_weight_sweep` and
        `summarize_weight_sweep`, `halving` from `halving_weight` (FPR gap).

    Raises:
        ValueError, TypeError: for bad weights or seeds (see `min_diff_weight_sweep`).
    """
    from keras_remediation import min_diff

    start = time.perf_counter()
    data = load_adult(train_sample)
    settings = {
        "backend": keras.backend.backend(),
        "weights": [float(w) for w in weights],
        "seeds": [int(s) for s in seeds],
        "epochs": epochs,
        "batch_size": batch_size,
        "min_diff_batch_size": min_diff_batch_size,
        "kernel": kernel,
        "learning_rate": learning_rate,
        "train_rows": int(len(data["x"])),
        "test_rows": int(len(data["x_test"])),
    }
    log(
        f"MinDiff weight sweep on UCI Adult: weights {settings['weights']} x seeds "
        f"{settings['seeds']}, {epochs} epochs on {settings['train_rows']} rows each "
        f"({settings['backend']} backend)"
    )
    table = sweep.min_diff_weight_sweep(
        uci.get_uci_model,
        (data["x"], data["y"]),
        data["sensitive"],
        data["nonsensitive"],
        (data["x_test"], data["y_test"]),
        data["test_sex"],
        weights,
        seeds,
        loss=lambda: min_diff.losses.MMDLoss(kernel=kernel),
        epochs=epochs,
        batch_size=batch_size,
        min_diff_batch_size=min_diff_batch_size,
        optimizer=lambda: keras.optimizers.Adam(learning_rate),
        log=log if verbose else None,
    )
    summary = sweep.summarize_weight_sweep(table)[_SUMMARY_COLUMNS]
    found = sweep.halving_weight(summary)
    settings["seconds"] = round(time.perf_counter() - start, 1)

    log("")
    log(f"Test split ({settings['test_rows']} rows), mean and std over {len(seeds)} seeds; "
        "pareto_*: on the AUC-gap Pareto front")
    log(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    halving = _halving_text(found, summary)
    log(halving)
    log(f"Total {settings['seconds']:.0f} s")

    os.makedirs(output_dir, exist_ok=True)
    runs_path = os.path.join(output_dir, "sweep.csv")
    table.to_csv(runs_path, index=False)
    summary.to_csv(os.path.join(output_dir, "summary.csv"), index=False)
    png_path = os.path.join(output_dir, "sweep.png")
    sweep.plot_weight_sweep(
        table, png_path,
        title=f"UCI Adult, MinDiff (MMD, {kernel}) weight sweep over {len(seeds)} seeds: "
        "gaps against test AUC",
    )
    result = {
        "runs": json.loads(table.to_json(orient="records")),
        "summary": json.loads(summary.to_json(orient="records")),
        "halving": found,
        "settings": settings,
    }
    json_path = os.path.join(output_dir, "report.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    html_path = write_html_report(
        os.path.join(output_dir, "report.html"),
        "UCI Adult: MinDiff weight sweep",
        [
            ("Choice of weight", [halving]),
            ("Mean and standard deviation over seeds", [summary.set_index("weight")]),
            ("Trade-off", [pathlib.Path(png_path)]),
            ("Every run", [table.set_index(["weight", "seed"])]),
            ("Settings", [json.dumps(settings)]),
        ],
        digits=4,
    )
    log(f"Wrote {runs_path}, {json_path}, {png_path} and {html_path}")
    return result
