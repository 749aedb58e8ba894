"""Default settings of the demos, importable without importing Keras (the CLI reads them
before it chooses the backend)."""

#: Defaults of the UCI Adult MinDiff demo (`demos.adult_min_diff.run`), chosen on the
#: measurements recorded in the README.
ADULT_MIN_DIFF = {
    "epochs": 8,
    "batch_size": 128,
    "min_diff_batch_size": 128,
    "min_diff_weight": 4.0,
    "kernel": "gaussian",
    "seed": 1,
    "learning_rate": 1e-3,
}
