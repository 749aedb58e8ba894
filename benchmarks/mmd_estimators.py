"""Time and peak memory of `MMDLoss` (value + gradient) per estimator and MinDiff batch size.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/mmd_estimators.py

For each estimator (`quadratic`: the full kernel matrix; `blocked`: the same sum in row blocks
of `--block-size`; `random_features`: `--num-features` random Fourier features) and each size
in `--rows` (MinDiff rows, half per group), a child process builds `[rows, 1]` logits, and
times `loss(membership, sigmoid(logits))` with its gradient with respect to the logits:
`jax.jit(jax.value_and_grad)`, a `tf.function` with a `GradientTape`, or eager PyTorch
autograd, as `fit` runs them. The first call (tracing, compilation) is left out; the median of
`--repeats` calls is reported. Memory, from Linux's peak resident set size (`VmHWM`, reset
through `/proc/self/clear_refs`), whatever allocator the backend uses (CPU only here):
`peak_mib` is the peak during all calls, the first included, minus the resident size
before them (TensorFlow's allocator keeps what the first call took, so only this figure
shows its need); `steady_peak_mib` the peak of the timed calls over the resident size after
the first. One JSON line per case, with the load average.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ESTIMATORS = ("quadratic", "blocked", "random_features")


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # Resets VmHWM to the current RSS.


def _loss(estimator, block_size, num_features):
    from keras_remediation.min_diff.losses import MMDLoss

    if estimator == "quadratic":
        return MMDLoss()
    if estimator == "blocked":
        return MMDLoss(block_size=block_size)
    return MMDLoss(estimator="random_features", num_features=num_features)


def _step(loss, membership, logits):
    """A callable that computes the loss and its gradient and waits for the result."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        fn = jax.jit(jax.value_and_grad(lambda z: loss(membership, jax.nn.sigmoid(z))))
        return lambda: jax.block_until_ready(fn(logits))
    if backend == "tensorflow":
        import tensorflow as tf

        z = tf.constant(logits)
        m = tf.constant(membership)

        @tf.function
        def value_and_grad(z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                value = loss(m, tf.sigmoid(z))
            return value, tape.gradient(value, z)

        return lambda: [t.numpy() for t in value_and_grad(z)]
    import torch

    z = torch.tensor(logits, requires_grad=True)
    m = torch.tensor(membership)

    def step():
        z.grad = None
        value = loss(m, torch.sigmoid(z))
        value.backward()
        return value.item(), z.grad.numpy()

    return step


def run_case(estimator, rows, repeats, block_size, num_features):
    import numpy as np
    import keras

    rng = np.random.default_rng(0)
    membership = np.repeat(np.array([1.0, 0.0], np.float32), rows // 2)
    logits = (rng.normal(size=(rows, 1)) + 0.3 * membership[:, None]).astype(np.float32)
    step = _step(_loss(estimator, block_size, num_features), membership, logits)
    before = _status_kib("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    first_peak = _status_kib("VmHWM")
    steady_before = _status_kib("VmRSS")
    _reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    steady_peak = _status_kib("VmHWM")
    return {
        "backend": keras.backend.backend(),
        "estimator": estimator,
        "rows": rows,
        "block_size": block_size if estimator == "blocked" else None,
        "num_features": num_features if estimator == "random_features" else None,
        "median_ms": round(1000 * float(np.median(times)), 2),
        "first_call_s": round(first, 2),
        "peak_mib": round((max(first_peak, steady_peak) - before) / 1024, 1),
        "steady_peak_mib": round((steady_peak - steady_before) / 1024, 1),
        "repeats": repeats,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2048, 4096, 16384])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--num-features", type=int, default=1024)
    parser.add_argument("--case", nargs=2, metavar=("ESTIMATOR", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        estimator, rows = args.case[0], int(args.case[1])
        print(json.dumps(run_case(estimator, rows, args.repeats, args.block_size,
                                  args.num_features)), flush=True)
        return
    for rows in args.rows:
        for estimator in args.estimators:
            command = [sys.executable, __file__, "--case", estimator, str(rows),
                       "--repeats", str(args.repeats), "--block-size", str(args.block_size),
                       "--num-features", str(args.num_features)]
            result = subprocess.run(command, capture_output=True, text=True)
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode != 0 or not lines:
                print(json.dumps({"estimator": estimator, "rows": rows,
                                  "error": result.stderr.strip().splitlines()[-1:]}), flush=True)
            else:
                print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
