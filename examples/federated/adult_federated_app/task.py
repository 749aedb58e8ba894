"""The model and the data of the app, read from the run config (`[tool.flwr.app.config]`).

Both apps call `model_fn(context)`; clients call `data_fn(partition_id, num_partitions,
context)`. Everything comes from keras-remediation: the bundled UCI Adult data and the guides'
model (`tools.tutorials_utils.uci`), `min_diff.keras.MinDiffModel`, and
`federated.from_keras_model` / `federated.pack_client_min_diff_data`.
"""

import functools
import os

import keras

from keras_remediation import federated
from keras_remediation import min_diff
from keras_remediation.demos.adult_federated import partition_by_column
from keras_remediation.demos.adult_federated import iid_partition
from keras_remediation.tools.tutorials_utils import uci


def _config(context):
    config = context.run_config
    return {
        "learning_rate": float(config.get("learning-rate", 1e-3)),
        "use_min_diff": str(config.get("use-min-diff", True)).lower() in ("true", "1"),
        "min_diff_weight": float(config.get("min-diff-weight", 4.0)),
        "min_diff_batch_size": int(config.get("min-diff-batch-size", 128)),
        "batch_size": int(config.get("batch-size", 128)),
        "partition_column": str(config.get("partition-column", "education")) or None,
        "train_sample": float(config.get("train-sample", 1.0)),
        "seed": int(config.get("seed", 1)),
        "jax_compilation_cache": str(config.get("jax-compilation-cache", "")),
    }


def _share_compiled_programs(directory):
    """With JAX, keeps compiled XLA programs in `directory` for the next processes: a
    deployment SuperNode starts a new ClientApp process for every message (see README.md)."""
    if directory and keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_compilation_cache_dir", os.path.expanduser(directory))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def model_fn(context):
    """A new `FederatedModel`: the income model, in a MinDiffModel when `use-min-diff`."""
    config = _config(context)
    _share_compiled_programs(config["jax_compilation_cache"])
    keras.utils.set_random_seed(config["seed"])  # the same initial weights everywhere
    model = uci.get_uci_model()
    if config["use_min_diff"]:
        model = min_diff.keras.MinDiffModel(
            model, min_diff.losses.MMDLoss(), loss_weight=config["min_diff_weight"]
        )
    features = uci.get_uci_preprocessor().num_features
    return federated.from_keras_model(
        model,
        loss="binary_crossentropy",
        input_spec=(keras.KerasTensor((None, features)), keras.KerasTensor((None, 1))),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
        optimizer=functools.partial(keras.optimizers.Adam, config["learning_rate"]),
    )


@functools.lru_cache(maxsize=2)
def _train_arrays(train_sample, partition_column, num_partitions, seed):
    frame = uci.get_uci_data("train")
    if train_sample < 1.0:  # distinct rows (`get_uci_data(sample=...)` draws with replacement)
        frame = frame.sample(frac=train_sample, replace=False, random_state=uci.SAMPLE_SEED)
    x, y = uci.df_to_arrays(frame, uci.get_uci_preprocessor())
    if partition_column:
        parts = partition_by_column(frame[partition_column].to_numpy(), num_partitions, seed)
    else:
        parts = iid_partition(len(x), num_partitions, seed)
    return x, y, frame["sex"].str.strip().to_numpy(), parts  # " Female" -> "Female"


def data_fn(partition_id, num_partitions, context):
    """The client's rows; with MinDiff, packed with its own label-0 women and men."""
    config = _config(context)
    x, y, sex, parts = _train_arrays(
        config["train_sample"], config["partition_column"], num_partitions, config["seed"]
    )
    rows = parts[partition_id]
    x, y, sex = x[rows], y[rows], sex[rows]
    if not config["use_min_diff"]:
        return x, y
    negatives = y[:, 0] == 0
    return federated.pack_client_min_diff_data(
        (x, y),
        x[negatives & (sex == "Female")],
        x[negatives & (sex == "Male")],
        batch_size=config["batch_size"],
        min_diff_batch_size=config["min_diff_batch_size"],
        seed=config["seed"] + partition_id,
    )


def test_data(context):
    """The test split, for the server's evaluation of the global model after each round."""
    return uci.df_to_arrays(uci.get_uci_data("test"), uci.get_uci_preprocessor())
