"""Steps per second of `fit` on 1 and on 4 JAX devices (`keras.distribution.DataParallel`).

Run by hand (not part of the tests):

    .venv/bin/python benchmarks/data_parallel_step.py            # 1 and 4 virtual CPU devices
    .venv/bin/python benchmarks/data_parallel_step.py --devices 1 --platform gpu  # a real one

Each device count runs in its own process (`XLA_FLAGS=--xla_force_host_platform_device_count`
must be set before JAX starts). The user's path: `pack_min_diff_data` over arrays
(`batch_size` original rows + `min_diff_batch_size` rows per group), then
`MinDiffModel.fit(..., shuffle=False)`; against the plain model's `fit` on the same original
batches. Model: dense 64→256→256→1 (relu, sigmoid output), Adam, binary cross-entropy, MMD
(Gaussian kernel). One warm-up epoch (compilation), then the median over `--repeats` timed
epochs. Virtual CPU devices share the machine's cores: they check that the data-parallel step
runs and what it costs, not a speed-up; the load average is printed with the results.
"""

import argparse
import json
import os
import subprocess
import sys
import time

FEATURES = 64


def measure(args):
    if args.platform == "cpu":
        os.environ["XLA_FLAGS"] = (
            f"--xla_force_host_platform_device_count={args.devices}"
        )
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import numpy as np
    import keras

    from keras_remediation.min_diff.keras import MinDiffModel
    from keras_remediation.min_diff.keras.utils import pack_min_diff_data
    from keras_remediation.min_diff.losses import MMDLoss

    devices = jax.devices(args.platform)[: args.devices]
    if len(devices) < args.devices:
        raise SystemExit(f"{args.devices} {args.platform} devices asked; {len(devices)} found.")
    if args.devices > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, FEATURES)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    groups = rng.normal(size=(args.rows, FEATURES)).astype("float32")
    half = args.rows // 2

    def model():
        return keras.Sequential([
            keras.Input((FEATURES,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])

    def steps_per_second(fit_model, steps, *data, **kwargs):
        def epoch():
            fit_model.fit(*data, epochs=1, verbose=0, shuffle=False, **kwargs)

        epoch()  # warm-up: compiles
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - start)
        return steps / float(np.median(times))

    keras.utils.set_random_seed(0)
    plain = model()
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    plain_rate = steps_per_second(plain, args.rows // args.batch_size, x, y,
                                  batch_size=args.batch_size)

    min_diff_model = MinDiffModel(model(), MMDLoss("gaussian"), loss_weight=1.0)
    min_diff_model.compile(optimizer="adam", loss="binary_crossentropy")
    packed = pack_min_diff_data(
        (x, y), groups[:half], groups[half:], batch_size=args.batch_size,
        min_diff_batch_size=args.batch_size // 2, seed=0,
    )
    min_diff_rate = steps_per_second(min_diff_model, len(packed), packed)
    return {
        "devices": len(devices), "platform": devices[0].platform,
        "plain_steps_per_s": plain_rate, "min_diff_steps_per_s": min_diff_rate,
        "load_average": os.getloadavg()[0],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=None,
                        help="one device count to measure (default: 1 and 4, one process each)")
    parser.add_argument("--platform", default="cpu", help="cpu (virtual devices) or gpu")
    parser.add_argument("--rows", type=int, default=8192, help="original rows per epoch")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="original rows per step (and MinDiff rows per step)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs (median)")
    args = parser.parse_args()
    if args.devices is not None:
        print("RESULT " + json.dumps(measure(args)), flush=True)
        return
    print(f"rows/epoch {args.rows}, batch {args.batch_size} original + {args.batch_size} "
          f"MinDiff rows, {os.cpu_count()} CPU cores")
    print("| devices | plain steps/s | MinDiffModel steps/s | load avg |")
    print("|---|---|---|---|")
    for devices in (1, 4):
        output = subprocess.run(
            [sys.executable, __file__, "--devices", str(devices), "--platform", args.platform,
             "--rows", str(args.rows), "--batch-size", str(args.batch_size),
             "--repeats", str(args.repeats)],
            capture_output=True, text=True, check=True,
        ).stdout
        result = json.loads(output.split("RESULT ", 1)[1])
        print(f"| {result['devices']} {result['platform']} | {result['plain_steps_per_s']:.1f} | "
              f"{result['min_diff_steps_per_s']:.1f} | {result['load_average']:.1f} |")


if __name__ == "__main__":
    main()
