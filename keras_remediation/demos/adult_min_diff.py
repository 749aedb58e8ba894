"""The main job: MinDiff on UCI Adult, baseline vs MinDiff, with a fairness report.

Trains an income classifier (`get_uci_model`) on the bundled UCI Adult training split twice,
with the same seed, architecture, batch size and number of steps: once plainly (baseline) and
once wrapped in `MinDiffModel` with MMD between the scores of label-0 women (sensitive group)
and label-0 men, which targets the false-positive-rate gap. Both are evaluated on the test
split with fairlearn's `MetricFrame` (`evaluation.group_report`, and bootstrap CIs of every
gap at several thresholds); the headline names every gap that moved, and `report.json`,
`report.png` and a self-contained `report.html` are written (`demos.fairness_report`).
"""

import time

import keras

from keras_remediation import min_diff
from keras_remediation.demos.adult_data import NONSENSITIVE_GROUP
from keras_remediation.demos.adult_data import SENSITIVE_GROUP
from keras_remediation.demos.adult_data import load_adult_arrays
from keras_remediation.demos.fairness_report import write_fairness_report
from keras_remediation.demos.settings import ADULT_MIN_DIFF
from keras_remediation.tools.tutorials_utils import uci

DEFAULTS = ADULT_MIN_DIFF


def _compile(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )


def load_adult(train_sample=None):
    """The demo's UCI Adult arrays (bundled files, preprocessed as in the guides).

    Args:
        train_sample: optional fraction in (0, 1] of the training split, drawn without
            replacement with seed `uci.SAMPLE_SEED`.

    Returns:
        A dict: `x` `[N, F]` float32, `y` `[N, 1]` float32 labels 0/1, `sex` `[N]` str
        ("Female"/"Male"), `x_test`, `y_test`, `test_sex` likewise for the test split, and
        `sensitive` / `nonsensitive`: the label-0 women / label-0 men rows of `x` (MinDiff data).
    """
    data = load_adult_arrays(train_sample)
    del data["train_frame"]
    x, sex = data["x"], data["sex"]
    negatives = data["y"][:, 0] == 0
    data["sensitive"] = x[(sex == SENSITIVE_GROUP) & negatives]
    data["nonsensitive"] = x[(sex == NONSENSITIVE_GROUP) & negatives]
    return data


def run(
    epochs=DEFAULTS["epochs"],
    batch_size=DEFAULTS["batch_size"],
    min_diff_batch_size=DEFAULTS["min_diff_batch_size"],
    min_diff_weight=DEFAULTS["min_diff_weight"],
    kernel=DEFAULTS["kernel"],
    seed=DEFAULTS["seed"],
    learning_rate=DEFAULTS["learning_rate"],
    output_dir="remediation-report",
    train_sample=None,
    verbose=1,
    log=print,
    n_boot=DEFAULTS["n_boot"],
    thresholds=DEFAULTS["thresholds"],
):
    """Runs the demo and returns its report dict.

    Args:
        epochs: passes over the training split, for both models. Default 8.
        batch_size: original rows per step. Default 128.
        min_diff_batch_size: rows per group in each MinDiff batch. Default 128.
        min_diff_weight: weight of the MMD loss. Default 4.0.
        kernel: `"gaussian"` or `"laplacian"`. Default `"gaussian"`.
        seed: seed of weights, dropout and shuffles (both models use it). Default 1.
        learning_rate: Adam's learning rate. Default 1e-3.
        output_dir: directory that receives `report.json`, `report.png` and `report.html`
            (created).
        train_sample: optional fraction in (0, 1] of the training split (for quick runs),
            drawn without replacement with seed `uci.SAMPLE_SEED`.
        verbose: Keras verbosity of `fit` (1: progress bars, 0: silent).
        log: callable receiving each line of the printed report.
        n_boot: bootstrap resamples of the test rows for the CIs. Default 100.
        thresholds: decision thresholds of the gap table. Default (0.3, 0.5, 0.7); the
            headline and report.json's `fpr_gap`/`fnr_gap` use 0.5.

    Returns:
        `{"baseline": report, "min_diff": report, "intervals": {...}, "gap_changes": [str],
        "settings": {...}}`, each report a `group_report` dict of the test split (accuracy,
        auc, fpr_gap, fnr_gap, groups) with `fpr_gap_ci` and `fnr_gap_ci`; `intervals` the
        `evaluation.intervals_to_dict` of each model; `gap_changes` the headline lines.
    """
    data = load_adult(train_sample)
    x, y, x_test, y_test = data["x"], data["y"], data["x_test"], data["y_test"]
    sensitive, nonsensitive = data["sensitive"], data["nonsensitive"]

    settings = {
        "backend": keras.backend.backend(),
        "epochs": epochs,
        "batch_size": batch_size,
        "min_diff_batch_size": min_diff_batch_size,
        "min_diff_weight": min_diff_weight,
        "kernel": kernel,
        "seed": seed,
        "learning_rate": learning_rate,
        "train_rows": int(len(x)),
        "test_rows": int(len(x_test)),
        "min_diff_rows": {SENSITIVE_GROUP: int(len(sensitive)), NONSENSITIVE_GROUP: int(len(nonsensitive))},
    }

    log(f"[1/2] Baseline: {epochs} epochs on {len(x)} rows ({settings['backend']} backend)")
    keras.utils.set_random_seed(seed)
    baseline = uci.get_uci_model()
    _compile(baseline, learning_rate)
    start = time.perf_counter()
    baseline.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose)
    baseline_seconds = time.perf_counter() - start

    log(
        f"[2/2] MinDiff (MMD, {kernel} kernel, weight {min_diff_weight}): label-0 women vs "
        f"label-0 men, {epochs} epochs"
    )
    keras.utils.set_random_seed(seed)
    packed = min_diff.keras.utils.pack_min_diff_data(
        (x, y),
        sensitive_group_dataset=sensitive,
        nonsensitive_group_dataset=nonsensitive,
        batch_size=batch_size,
        min_diff_batch_size=min_diff_batch_size,
        seed=seed,
    )
    remediated = min_diff.keras.MinDiffModel(
        uci.get_uci_model(), min_diff.losses.MMDLoss(kernel=kernel), loss_weight=min_diff_weight
    )
    _compile(remediated, learning_rate)
    start = time.perf_counter()
    remediated.fit(packed, epochs=epochs, verbose=verbose)
    min_diff_seconds = time.perf_counter() - start

    scores = {
        "baseline": baseline.predict(x_test, batch_size=4096, verbose=0)[:, 0],
        "min_diff": remediated.predict(x_test, batch_size=4096, verbose=0)[:, 0],
    }
    settings["train_seconds"] = {"baseline": baseline_seconds, "min_diff": min_diff_seconds}
    return write_fairness_report(
        output_dir, y_test[:, 0], data["test_sex"], scores,
        titles={"baseline": "Baseline", "min_diff": "MinDiff"}, settings=settings,
        title=f"UCI Adult test split: baseline vs MinDiff (weight {min_diff_weight:g})",
        n_boot=n_boot, thresholds=thresholds, seed=seed, log=log,
    )
