"""Time per training step of MinDiffModel against the plain model, on the current backend.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/min_diff_step.py

or `make bench` for all three. Model: dense 20→64→64→1 (relu, sigmoid), Adam, binary
cross-entropy. Rows: plain model on 128 rows, plain model on 256 rows, MinDiffModel (MMD,
Gaussian kernel) on 128 original rows + 128 MinDiff rows (64 per group), in two passes (the
default) and fused (`fuse_forward_passes=True`).

Method: `step_timing.per_step_seconds` (fit on one fixed batch, difference of a short and a long
fit, median of several runs).
"""

import argparse
import os

import numpy as np
import keras

from keras_remediation import min_diff
from step_timing import add_arguments
from step_timing import per_step_seconds


def _model():
    return keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def _per_step_seconds(model, batch, args):
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return per_step_seconds(model, batch, args.short, args.long, args.repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 20)).astype("float32")
    y = (rng.random((256, 1)) > 0.5).astype("float32")
    md_x = rng.normal(size=(128, 20)).astype("float32")
    membership = np.concatenate([np.ones((64, 1)), np.zeros((64, 1))]).astype("float32")

    plain_128 = _per_step_seconds(_model(), (x[:128], y[:128]), args)
    plain_256 = _per_step_seconds(_model(), (x, y), args)
    packed = min_diff.keras.utils.MinDiffPackedInputs(x[:128], (md_x, membership))
    wrapped = min_diff.keras.MinDiffModel(_model(), min_diff.losses.MMDLoss())
    with_min_diff = _per_step_seconds(wrapped, (packed, y[:128]), args)
    fused = min_diff.keras.MinDiffModel(
        _model(), min_diff.losses.MMDLoss(), fuse_forward_passes=True
    )
    with_fused = _per_step_seconds(fused, (packed, y[:128]), args)

    backend = keras.backend.backend()
    print(f"backend={backend} keras={keras.__version__} cpu_count={os.cpu_count()}")
    print(f"{'model':<34}{'ms/step':>10}")
    print(f"{'plain, 128 rows':<34}{plain_128 * 1e3:>10.3f}")
    print(f"{'plain, 256 rows':<34}{plain_256 * 1e3:>10.3f}")
    print(f"{'MinDiffModel, 128 + 128 rows':<34}{with_min_diff * 1e3:>10.3f}")
    print(f"{'MinDiffModel fused, 128 + 128 rows':<34}{with_fused * 1e3:>10.3f}")
    print(f"ratio MinDiff / plain-128: {with_min_diff / plain_128:.2f}")
    print(f"ratio MinDiff / plain-256: {with_min_diff / plain_256:.2f}")
    print(f"ratio MinDiff fused / plain-256: {with_fused / plain_256:.2f}")


if __name__ == "__main__":
    main()
