"""Trains every technique with and without `tf.distribute.MirroredStrategy` on 2 logical CPUs.

Run as a script (the test starts it in a subprocess): logical devices must be configured
before TensorFlow initialises its devices. Prints one JSON line `RESULTS {...}`.
"""

import contextlib
import json
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

REPLICAS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration() for _ in range(REPLICAS)],
)

import numpy as np  # noqa: E402
import keras  # noqa: E402

import scenarios_testlib as scenarios  # noqa: E402
from keras_remediation.counterfactual.losses import PairwiseMSELoss  # noqa: E402
from keras_remediation.min_diff.keras import MinDiffModel  # noqa: E402
from keras_remediation.min_diff.keras.utils import pack_min_diff_data  # noqa: E402
from keras_remediation.min_diff.keras.utils import unpack_min_diff_data  # noqa: E402
from keras_remediation.min_diff.losses import MMDLoss  # noqa: E402

GLOBAL_BATCH = scenarios.BATCH_SIZE
MIN_DIFF_BATCH = 8  # rows per group per replica


def replica_dataset(context):
    """Packed tf.data batches of per-replica size, each with rows of both MinDiff groups.

    `distribute_datasets_from_function` calls this once per input pipeline (once on one
    machine) and hands consecutive batches to the replicas; with several pipelines (workers)
    each reads its own shard.
    """
    x, y, sensitive, nonsensitive = scenarios.arrays()

    def shard(*arrays):
        dataset = tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0])
        return dataset.shard(context.num_input_pipelines, context.input_pipeline_id)

    return pack_min_diff_data(
        shard(x, y).batch(context.get_per_replica_batch_size(GLOBAL_BATCH),
                          drop_remainder=True),
        shard(sensitive).batch(MIN_DIFF_BATCH // REPLICAS, drop_remainder=True),
        shard(nonsensitive).batch(MIN_DIFF_BATCH // REPLICAS, drop_remainder=True),
    )


def replica_steps():
    """Per step, the batches of replicas 0..R-1 (consecutive batches of the one pipeline)."""
    batches = list(replica_dataset(tf.distribute.InputContext(1, 0, REPLICAS)))
    return [batches[i:i + REPLICAS] for i in range(0, len(batches) - REPLICAS + 1, REPLICAS)]


def min_diff_model():
    model = MinDiffModel(scenarios.binary_model(), MMDLoss("gaussian"), loss_weight=1.0)
    model.compile(optimizer=keras.optimizers.SGD(scenarios.LEARNING_RATE),
                  loss="binary_crossentropy")
    return model


def per_replica_reference(model, steps):
    """The documented semantics, on one device: per step, `(1/R) Σ_r loss(rows of replica r)`.

    `loss` is the model's own `compute_loss` on one replica's rows (for MinDiff: its MinDiff
    batch), the SGD step is taken on the sum. Returns the trained weights.
    """
    extra_losses = []
    for step in steps:
        with tf.GradientTape() as tape:
            total = 0.0
            for batch in step:
                x, y = batch[0], batch[1]
                y_pred = model(x, training=True)
                extra_losses += [float(loss) for loss in model.losses]
                total += model.compute_loss(x=x, y=y, y_pred=y_pred) / len(step)
        variables = model.trainable_variables
        model.optimizer.apply(tape.gradient(total, variables), variables)
    per_replica_reference.extra_losses = extra_losses
    return [np.asarray(w) for w in model.original_model.get_weights()]


def halves(batches):
    """Per step, the rows each replica gets when a global batch is split (contiguous halves)."""
    def split(batch, r):
        return keras.tree.map_structure(
            lambda t: t[r * (len(t) // REPLICAS):(r + 1) * (len(t) // REPLICAS)], batch)
    return [[split(batch, r) for r in range(REPLICAS)] for batch in batches]


def counterfactual_model(loss, loss_weight):
    model = scenarios.CounterfactualModel(scenarios.binary_model(), loss=loss,
                                          loss_weight=loss_weight)
    return scenarios._compile(model)


def counterfactual_data():
    x, y, _, _ = scenarios.arrays()
    counterfactual_x = x.copy()
    counterfactual_x[:, 0] = -counterfactual_x[:, 0]
    return scenarios.pack_counterfactual_data((x, y), (x, counterfactual_x),
                                              batch_size=GLOBAL_BATCH, shuffle=False)


def check_groups_per_replica(strategy):
    """Membership of each replica's first MinDiff batch (both groups expected on every one)."""
    dataset = strategy.distribute_datasets_from_function(replica_dataset)
    inputs, _ = next(iter(dataset))
    membership = unpack_min_diff_data(inputs)[1]
    return [sorted(set(np.asarray(m).ravel().tolist()))
            for m in strategy.experimental_local_results(membership)]


def main():
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(REPLICAS)])
    results = {"replicas": strategy.num_replicas_in_sync}
    for name in ("plain", "counterfactual"):
        _, single, single_logs = scenarios.run(name, contextlib.nullcontext())
        _, multi, multi_logs = scenarios.run(name, strategy.scope())
        results[name] = {
            "max_weight_difference": scenarios.max_difference(single, multi),
            "logs_1": single_logs, f"logs_{REPLICAS}": multi_logs,
        }

    # CLP with TF Model Remediation's `global_batch_size`: under `fit`, Keras divides by the
    # replicas again, so the counterfactual term counts 1/R: as one device with weight w/R.
    keras.utils.set_random_seed(scenarios.SEED)
    with strategy.scope():
        model = counterfactual_model(PairwiseMSELoss(global_batch_size=GLOBAL_BATCH), 2.0)
    model.fit(counterfactual_data(), epochs=1, verbose=0, shuffle=False)
    keras.utils.set_random_seed(scenarios.SEED)
    divided = counterfactual_model("pairwise_mse_loss", 2.0 / REPLICAS)
    divided.fit(counterfactual_data(), epochs=1, verbose=0, shuffle=False)
    keras.utils.set_random_seed(scenarios.SEED)
    undivided = counterfactual_model("pairwise_mse_loss", 2.0)
    undivided.fit(counterfactual_data(), epochs=1, verbose=0, shuffle=False)
    results["counterfactual_global_batch_size"] = {
        "max_weight_difference_weight_over_replicas": scenarios.max_difference(
            model.original_model.get_weights(), divided.original_model.get_weights()),
        "max_weight_difference_one_device": scenarios.max_difference(
            model.original_model.get_weights(), undivided.original_model.get_weights()),
    }

    # Backward compatibility: the dissonance is a mean over the rows h1 gets right, per replica.
    model, multi, multi_logs = scenarios.run("backward_compatibility", strategy.scope())
    _, single, single_logs = scenarios.run("backward_compatibility", contextlib.nullcontext())
    keras.utils.set_random_seed(scenarios.SEED)
    h1 = scenarios.bc_h1()  # built first, as in the scenario, for the same initial weights
    reference_model = scenarios._compile(scenarios.BCNewErrorCompatibilityModel(
        scenarios.binary_model(), h1=h1, lambda_c=1.0))
    x, y, _, _ = scenarios.arrays()
    batches = [(x[i:i + GLOBAL_BATCH], y[i:i + GLOBAL_BATCH])
               for i in range(0, len(x), GLOBAL_BATCH)]
    reference = per_replica_reference(reference_model, halves(batches))
    results["backward_compatibility"] = {
        "max_weight_difference_per_replica_reference": scenarios.max_difference(
            multi, reference),
        "max_weight_difference_one_device": scenarios.max_difference(multi, single),
        "logs_1": single_logs, f"logs_{REPLICAS}": multi_logs,
    }

    # MinDiff, fed by distribute_datasets_from_function (both groups on every replica).
    keras.utils.set_random_seed(scenarios.SEED)
    with strategy.scope():
        model = min_diff_model()
        initial = [np.asarray(w) for w in model.original_model.get_weights()]
        # `steps_per_epoch`: without it the epoch ends on running out of data, and Keras
        # counts one or two empty trailing steps into the logged means (not the weights).
        history = model.fit(strategy.distribute_datasets_from_function(replica_dataset),
                            epochs=1, verbose=0, steps_per_epoch=len(replica_steps()))
    trained = [np.asarray(w) for w in model.original_model.get_weights()]
    reference_model = min_diff_model()
    reference_model.original_model.set_weights(initial)
    reference = per_replica_reference(reference_model, replica_steps())
    # The global MinDiff loss of the same rows on one device (the kernel across replicas),
    # trained from the same start: what the per-replica loss differs from.
    global_model = min_diff_model()
    global_model.original_model.set_weights(initial)
    global_model.fit(_global_batches(), epochs=1, verbose=0)
    results["min_diff"] = {
        "max_weight_difference_per_replica_reference": scenarios.max_difference(
            trained, reference),
        "max_weight_difference_global_one_device": scenarios.max_difference(
            trained, [np.asarray(w) for w in global_model.original_model.get_weights()]),
        "logs": history.history,
        "reference_mean_min_diff_loss": float(np.mean(per_replica_reference.extra_losses)),
        "weights_moved": scenarios.max_difference(trained, initial),
        "groups_per_replica": check_groups_per_replica(strategy),
    }

    # Save after distributed training; load outside the strategy and predict the same.
    x = scenarios.arrays()[0]
    expected = np.asarray(model.predict(x, verbose=0))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "min_diff.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        with strategy.scope():
            loaded_in_scope = keras.saving.load_model(path)
            loaded_in_scope.fit(strategy.distribute_datasets_from_function(replica_dataset),
                                epochs=1, verbose=0)
    results["save_load"] = {
        "type": type(loaded).__name__,
        "max_prediction_difference": float(np.max(np.abs(
            np.asarray(loaded.predict(x, verbose=0)) - expected))),
        "trains_after_load": bool(np.all(np.isfinite(loaded_in_scope.get_weights()[0]))),
    }
    print("RESULTS " + json.dumps(results))


def _global_batches():
    """All replicas' rows of each step as one batch (replica 0's rows first)."""
    steps = []
    for step in replica_steps():
        steps.append(keras.tree.map_structure(lambda *parts: tf.concat(parts, 0), *step))
    return tf.data.Dataset.from_generator(
        lambda: iter(steps),
        output_signature=keras.tree.map_structure(tf.TensorSpec.from_tensor, steps[0]),
    )


if __name__ == "__main__":
    main()
