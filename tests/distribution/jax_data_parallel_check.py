"""Trains every technique on 1 and on 4 virtual CPU devices (JAX DataParallel); prints JSON.

Run as a script (the test starts it in a subprocess): `XLA_FLAGS` must give 4 host devices
before JAX is imported, which a pytest process that already imported JAX cannot do.
"""

import contextlib
import json
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import scenarios_testlib as scenarios  # noqa: E402
from keras_remediation.min_diff.keras.utils import pack_min_diff_data  # noqa: E402


def tf_data_min_diff():
    x, y, sensitive, nonsensitive = scenarios.arrays()
    return pack_min_diff_data(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(scenarios.BATCH_SIZE),
        tf.data.Dataset.from_tensor_slices(sensitive).batch(8),
        tf.data.Dataset.from_tensor_slices(nonsensitive).batch(8),
    )


def main():
    devices = jax.devices()
    data_parallel = keras.distribution.DataParallel(devices=devices)
    results = {"devices": len(devices)}
    for name in scenarios.SCENARIOS:
        _, single, single_logs = scenarios.run(name, contextlib.nullcontext())
        model, multi, multi_logs = scenarios.run(name, data_parallel.scope())
        results[name] = {
            "max_weight_difference": scenarios.max_difference(single, multi),
            "logs_1": single_logs,
            "logs_4": multi_logs,
            "kernel_devices": len(model.trainable_variables[0].value.sharding.device_set),
        }
        if name == "min_diff":
            distributed_model = model

    # tf.data input, packed by pack_min_diff_data (read by Keras's tf.data adapter).
    _, single, single_logs = scenarios.run("min_diff", contextlib.nullcontext(),
                                           data=tf_data_min_diff())
    _, multi, multi_logs = scenarios.run("min_diff", data_parallel.scope(),
                                         data=tf_data_min_diff())
    results["min_diff_tf_data"] = {
        "max_weight_difference": scenarios.max_difference(single, multi),
        "logs_1": single_logs, "logs_4": multi_logs,
    }

    # ModelParallel: the original model's hidden layer split over a "model" axis (2 x 2 mesh).
    mesh = keras.distribution.DeviceMesh((2, 2), ["batch", "model"], devices=devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[".*hidden/kernel"] = (None, "model")
    layout_map[".*hidden/bias"] = ("model",)
    model_parallel = keras.distribution.ModelParallel(layout_map=layout_map,
                                                      batch_dim_name="batch")
    _, single, single_logs = scenarios.run("min_diff", contextlib.nullcontext(), hidden=8)
    model, multi, multi_logs = scenarios.run("min_diff", model_parallel.scope(), hidden=8)
    results["min_diff_model_parallel"] = {
        "max_weight_difference": scenarios.max_difference(single, multi),
        "logs_1": single_logs, "logs_4": multi_logs,
        "kernel_spec": str(model.original_model.layers[0].kernel.value.sharding.spec),
    }

    # A batch that 4 devices cannot split evenly: JAX's error, not a silent wrong step.
    with data_parallel.scope():
        try:
            scenarios.min_diff(data=scenarios.min_diff_data(batch_size=10))
            results["indivisible_batch_error"] = None
        except Exception as error:  # noqa: BLE001 - the message is the result
            results["indivisible_batch_error"] = f"{type(error).__name__}: {error}"

    # Save after distributed training; load (outside and inside the distribution) and predict.
    x = scenarios.arrays()[0]
    expected = np.asarray(distributed_model.predict(x, verbose=0))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "min_diff.keras")
        distributed_model.save(path)
        loaded = keras.saving.load_model(path)
        with data_parallel.scope():
            loaded_distributed = keras.saving.load_model(path)
            again = np.asarray(loaded_distributed.predict(x, verbose=0))
            loaded_distributed.fit(scenarios.min_diff_data(), epochs=1, verbose=0)
    results["save_load"] = {
        "type": type(loaded).__name__,
        "max_prediction_difference": float(np.max(np.abs(
            np.asarray(loaded.predict(x, verbose=0)) - expected))),
        "max_prediction_difference_distributed": float(np.max(np.abs(again - expected))),
        "trains_after_load": bool(np.all(np.isfinite(
            np.asarray(loaded_distributed.predict(x, verbose=0))))),
    }
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
