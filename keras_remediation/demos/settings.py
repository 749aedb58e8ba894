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
    # The report: bootstrap resamples of the test rows, and the thresholds of the gap table.
    "n_boot": 100,
    "thresholds": (0.3, 0.5, 0.7),
}

#: Defaults of the MinDiff weight sweep on UCI Adult (`demos.adult_min_diff_sweep.run`,
#: `keras-remediation demo --sweep`): the main demo's training settings for every weight and
#: seed.
ADULT_MIN_DIFF_SWEEP = {
    "weights": (0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
    "seeds": (1, 2, 3),
}

#: Defaults of the backward-compatibility demo on scikit-learn's digits
#: (`demos.digits_compatibility.run`, `keras-remediation demo compatibility`). h1 is trained
#: for twice `epochs` on its `h1_fraction` of the training rows; each h2 for `epochs` on all of
#: them, with `label_noise` of the labels h1 never saw replaced by another class. `dataset`
#: "fashion_mnist" runs it on a seeded subsample of Fashion-MNIST instead (offline only:
#: `datasets.fashion_mnist`): `fashion_mnist_train_rows` of the 60,000 training images and
#: `fashion_mnist_test_rows` of the 10,000 test images, 784 features in [0, 1].
DIGITS_COMPATIBILITY = {
    "epochs": 20,
    "batch_size": 32,
    "lambdas": (0.0, 0.5, 1.0, 2.0, 5.0),
    "seed": 1,
    "learning_rate": 1e-3,
    "h1_fraction": 0.2,
    "label_noise": 0.3,
    "test_fraction": 0.3,
    "hidden_units": 32,
    "dataset": "digits",
    "fashion_mnist_train_rows": 10_000,
    "fashion_mnist_test_rows": 2_000,
}

#: Defaults of the federated MinDiff demo on UCI Adult (`demos.adult_federated.run`,
#: `keras-remediation demo federated`): FedAvg over clients holding whole `partition_column`
#: values (non-IID), with the main demo's MinDiff settings.
ADULT_FEDERATED = {
    "num_clients": 10,
    "rounds": 10,
    "local_epochs": 1,
    "batch_size": 128,
    "min_diff_batch_size": 128,
    "min_diff_weight": 4.0,
    "kernel": "gaussian",
    "partition_column": "education",
    "learning_rate": 1e-3,
    "seed": 1,
    "engine": "inprocess",
    "n_boot": 100,
    "thresholds": (0.3, 0.5, 0.7),
}
