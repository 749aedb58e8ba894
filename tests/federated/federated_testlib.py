"""Helpers of the federated tests: a small binary task split across clients, model factories.

Module-level functions (not closures), so Ray can pickle them by reference.
"""

import numpy as np
import keras

from keras_remediation import federated
from keras_remediation import min_diff

N_FEATURES = 5
N_ROWS = 240
LEARNING_RATE = 0.1
JIT_COMPILE = "auto"


def task_data(seed=0, rows=N_ROWS):
    """`(x [rows, 5] float32, y [rows, 1] float32 0/1, group [rows] 0/1)`: a noisy linear task."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES)).astype("float32")
    w = np.array([[1.5], [-1.0], [0.5], [0.0], [1.0]], dtype="float32")
    y = (x @ w + 0.5 * rng.normal(size=(rows, 1)) > 0).astype("float32")
    group = (rng.random(rows) < 0.4).astype("int64")
    return x, y, group


X, Y, GROUP = task_data()
PARTITIONS = np.array_split(np.arange(N_ROWS), 3)


def dense_model(seed=1):
    """A deterministic (no dropout) 5 → 8 → 1 sigmoid classifier, weights from `seed`."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((N_FEATURES,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))


def metrics():
    return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]


def model_fn():
    """A plain federated model (SGD 0.1), the same initial weights every call."""
    return federated.from_keras_model(
        dense_model(), "binary_crossentropy", (X[:2], Y[:2]), metrics=metrics(),
        optimizer=lambda: keras.optimizers.SGD(LEARNING_RATE), jit_compile=JIT_COMPILE,
    )


def min_diff_model_fn():
    """A MinDiff (MMD, weight 1) federated model on `dense_model`."""
    model = min_diff.keras.MinDiffModel(dense_model(), min_diff.losses.MMDLoss(), loss_weight=1.0)
    return federated.from_keras_model(
        model, "binary_crossentropy", (X[:2], Y[:2]), metrics=metrics(),
        optimizer=lambda: keras.optimizers.SGD(LEARNING_RATE), jit_compile=JIT_COMPILE,
    )


def data_fn(partition_id, num_partitions):
    """Partition `partition_id` of 3 (contiguous thirds of the task data)."""
    rows = PARTITIONS[partition_id]
    return X[rows], Y[rows]


def failing_data_fn(partition_id, num_partitions):
    """Like `data_fn`, but partition 1 raises."""
    if partition_id == 1:
        raise RuntimeError("partition 1 is broken")
    return data_fn(partition_id, num_partitions)


def whole_batches(x, size=8):
    """The first rows of `x`, a multiple of `size` (fixed batch shapes: fewer retraces)."""
    return x[: (len(x) // size) * size]


def min_diff_data_fn(partition_id, num_partitions):
    """Each client packs its own MinDiff data (label-0 rows, group 1 vs group 0)."""
    rows = PARTITIONS[partition_id]
    x, y, group = X[rows], Y[rows], GROUP[rows]
    negatives = y[:, 0] == 0
    return federated.pack_client_min_diff_data(
        (x, y),
        whole_batches(x[negatives & (group == 1)]),
        whole_batches(x[negatives & (group == 0)]),
        batch_size=16, min_diff_batch_size=8, seed=partition_id,
    )


def central_data():
    return X, Y


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))
