"""TF Model Remediation's MinDiffModel on tf_keras: time per `fit` step, the reference figure.

Run in a separate virtual environment with TF Model Remediation 0.1.7.1 (it needs Keras 2):

    python3 -m venv /work/tfmr_venv
    /work/tfmr_venv/bin/pip install tensorflow-cpu==2.17.1 tf-keras==2.17.0 \\
        tensorflow-model-remediation==0.1.7.1
    TF_USE_LEGACY_KERAS=1 /work/tfmr_venv/bin/python benchmarks/reference_min_diff_step.py

Same net, data and batches as `min_diff_step.py`'s tiny case on tf.data: dense 20→64→64→1
(relu, sigmoid), Adam, binary cross-entropy, MMD (Gaussian kernel), 128 original rows +
64 + 64 MinDiff rows (`min_diff.keras.utils.pack_min_diff_data` of TF-MR over tf.data), against
the plain model on 256 rows; same timing method (difference of a short and a long fit,
interleaved, median over repeats). It imports nothing of keras-remediation.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from tensorflow_model_remediation import min_diff  # noqa: E402


def tiny_model():
    return tf_keras.Sequential(
        [
            tf_keras.Input((20,)),
            tf_keras.layers.Dense(64, activation="relu"),
            tf_keras.layers.Dense(64, activation="relu"),
            tf_keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def make_arrays(features, rows, steps, seed=0):
    """As `min_diff_step.make_arrays`."""
    rng = np.random.default_rng(seed)
    count = 2 * rows * steps
    x = rng.normal(size=(count, features)).astype("float32")
    y = (rng.random((count, 1)) > 0.5).astype("float32")
    sensitive = rng.normal(0.5, 1.0, size=(count // 2, features)).astype("float32")
    nonsensitive = rng.normal(size=(count // 2, features)).astype("float32")
    return x, y, sensitive, nonsensitive


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=128)
    args = parser.parse_args()

    tf_keras.utils.set_random_seed(0)
    rows, half = args.rows, args.rows // 2
    x, y, sensitive, nonsensitive = make_arrays(20, rows, args.long)
    plain = tiny_model()
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    plain_data = tf.data.Dataset.from_tensor_slices((x, y)).batch(2 * rows)
    wrapped = min_diff.keras.MinDiffModel(tiny_model(), min_diff.losses.MMDLoss())
    wrapped.compile(optimizer="adam", loss="binary_crossentropy")
    packed = min_diff.keras.utils.pack_min_diff_data(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(rows),
        tf.data.Dataset.from_tensor_slices(sensitive).batch(half),
        tf.data.Dataset.from_tensor_slices(nonsensitive).batch(half),
    )
    cases = {"plain": (plain, plain_data), "min_diff": (wrapped, packed)}

    def fit_seconds(name, steps):
        model, data = cases[name]
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        return time.perf_counter() - start

    for name in cases:
        fit_seconds(name, args.short)
    samples = {name: [] for name in cases}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name in cases:
            t_short = fit_seconds(name, args.short)
            t_long = fit_seconds(name, args.long)
            samples[name].append((t_long - t_short) / (args.long - args.short))
        loads.append(os.getloadavg()[0])
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"TF Model Remediation on tf_keras: tensorflow={tf.__version__} "
        f"tf_keras={tf_keras.__version__} cpu_count={os.cpu_count()} "
        f"python={platform.python_version()}"
    )
    print(f"{'model':<36}{'ms/step':>10}{'steps/s':>10}")
    print(f"{'plain, ' + str(2 * rows) + ' rows (tf.data)':<36}"
          f"{medians['plain'] * 1e3:>10.3f}{1 / medians['plain']:>10.0f}")
    print(f"{'TF-MR MinDiffModel, ' + str(rows) + ' + ' + str(rows) + ' rows':<36}"
          f"{medians['min_diff'] * 1e3:>10.3f}{1 / medians['min_diff']:>10.0f}")
    print(f"ratio MinDiff / plain: {medians['min_diff'] / medians['plain']:.2f}")
    print(f"1-min load average during the run: {min(loads):.2f}–{max(loads):.2f}")


if __name__ == "__main__":
    main()
