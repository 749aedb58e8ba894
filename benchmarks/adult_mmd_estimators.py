"""UCI Adult MinDiff with large MinDiff batches: FPR gap of each `MMDLoss` estimator.

The setup of `keras_remediation.demos.adult_min_diff` (its defaults: `get_uci_model`, Adam
1e-3, 8 epochs of 128 original rows, MMD with the Gaussian kernel between the scores of label-0
women and label-0 men, weight 4, seed 1), but with `--min-diff-batch-size` rows per group in
each MinDiff batch (default 2,048: 4,096 MinDiff rows per step) and the loss built with each
`--estimators` entry (`baseline`: the plain model on the original rows, as the demo's
first model). Every model starts from the same seed. Prints one JSON line per model
(test FPR gap, AUC, accuracy, training seconds) and the load average.

    KERAS_BACKEND=jax .venv/bin/python benchmarks/adult_mmd_estimators.py
"""

import argparse
import json
import os
import time

import keras

from keras_remediation import min_diff
from keras_remediation.demos.settings import ADULT_MIN_DIFF
from keras_remediation.evaluation import group_report
from keras_remediation.tools.tutorials_utils import uci

ESTIMATORS = {
    "baseline": None,  # The plain model, no MinDiff: the gap MinDiff starts from.
    "quadratic": {},
    "blocked": {"block_size": 1024},
    "random_features": {"estimator": "random_features"},
}


def _compile(model):
    model.compile(
        optimizer=keras.optimizers.Adam(ADULT_MIN_DIFF["learning_rate"]),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-diff-batch-size", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=ADULT_MIN_DIFF["epochs"])
    parser.add_argument("--estimators", nargs="+", default=["quadratic", "random_features"],
                        choices=sorted(ESTIMATORS))
    parser.add_argument("--seed", type=int, default=ADULT_MIN_DIFF["seed"])
    args = parser.parse_args()

    train_df, test_df = uci.get_uci_data("train"), uci.get_uci_data("test")
    preprocessor = uci.get_uci_preprocessor()
    x, y = uci.df_to_arrays(train_df, preprocessor)
    x_test, y_test = uci.df_to_arrays(test_df, preprocessor)
    sex = train_df["sex"].str.strip().to_numpy()
    test_sex = test_df["sex"].str.strip().to_numpy()
    negatives = y[:, 0] == 0
    sensitive = x[(sex == "Female") & negatives]
    nonsensitive = x[(sex == "Male") & negatives]

    for name in args.estimators:
        keras.utils.set_random_seed(args.seed)
        if ESTIMATORS[name] is None:
            model = uci.get_uci_model()
            _compile(model)
            start = time.perf_counter()
            model.fit(x, y, batch_size=ADULT_MIN_DIFF["batch_size"], epochs=args.epochs,
                      shuffle=True, verbose=2)
        else:
            packed = min_diff.keras.utils.pack_min_diff_data(
                (x, y),
                sensitive_group_dataset=sensitive,
                nonsensitive_group_dataset=nonsensitive,
                batch_size=ADULT_MIN_DIFF["batch_size"],
                min_diff_batch_size=args.min_diff_batch_size,
                seed=args.seed,
            )
            loss = min_diff.losses.MMDLoss(kernel=ADULT_MIN_DIFF["kernel"], **ESTIMATORS[name])
            model = min_diff.keras.MinDiffModel(
                uci.get_uci_model(), loss, loss_weight=ADULT_MIN_DIFF["min_diff_weight"]
            )
            _compile(model)
            start = time.perf_counter()
            model.fit(packed, epochs=args.epochs, verbose=2)
        seconds = time.perf_counter() - start
        scores = model.predict(x_test, batch_size=4096, verbose=0)[:, 0]
        report = group_report(y_test[:, 0], scores, test_sex)
        print(json.dumps({
            "backend": keras.backend.backend(),
            "estimator": name,
            "min_diff_rows_per_step": 0 if name == "baseline" else 2 * args.min_diff_batch_size,
            "epochs": args.epochs,
            "fpr_gap": round(report["fpr_gap"], 4),
            "auc": round(report["auc"], 4),
            "accuracy": round(report["accuracy"], 4),
            "train_seconds": round(seconds, 1),
            "load_average": [round(v, 2) for v in os.getloadavg()],
        }), flush=True)


if __name__ == "__main__":
    main()
