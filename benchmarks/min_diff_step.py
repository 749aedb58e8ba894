"""Time per `fit` step of MinDiffModel against the plain model on the same total rows.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/min_diff_step.py

or `make bench` for all three. Models (Adam, binary cross-entropy, sigmoid output):

- tiny: dense 20→64→64→1 (relu); MinDiffModel (MMD, Gaussian kernel) on `--tiny-rows`
  original rows + as many MinDiff rows (half per group), against the plain model on twice
  `--tiny-rows` rows (default 128 + 128 against 256);
- wide: dense 256→2048→2048→2048→2048→1 (relu), `--wide-rows` original + as many MinDiff
  rows against plain on twice as many (default 64 + 64 against 128 on CPU; use 2048 on a GPU).

Data paths, what users run: `pack_min_diff_data` over tf.data datasets (original batches of
n rows, each group batched n/2), over arrays (`batch_size=n`, `min_diff_batch_size=n/2`) and
over `keras.utils.PyDataset`s, then `fit`; the plain model is fit on the same kind of data
(a tf.data dataset batched 2n, arrays with `batch_size=2n`, a PyDataset of 2n-row batches).
`fixed` feeds one pre-built batch (the lower bound, no pipeline cost). All cases of a model
are interleaved in one run (`step_timing.time_cases`); medians over `--repeats`.
`MinDiffModel` runs with `--fuse-forward-passes` (default `auto`, which fuses both models:
one forward pass over the original and the MinDiff rows; `false` for TF-MR's two passes).
"""

import argparse

import numpy as np
import keras

from keras_remediation import min_diff
from step_timing import Case
from step_timing import FixedBatch
from step_timing import add_arguments
from step_timing import header
from step_timing import load_line
from step_timing import time_cases
from step_timing import use_clock

KINDS = ("tf.data", "arrays", "pydataset", "fixed")


def tiny_model():
    return keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def wide_model():
    return keras.Sequential(
        [keras.Input((256,))]
        + [keras.layers.Dense(2048, activation="relu") for _ in range(4)]
        + [keras.layers.Dense(1, activation="sigmoid")]
    )


class ArrayPyDataset(keras.utils.PyDataset):
    """Consecutive `batch_size`-row slices of in-memory arrays, as a user's PyDataset."""

    def __init__(self, arrays, batch_size):
        super().__init__()
        self.arrays, self.batch_size = arrays, batch_size

    def __len__(self):
        return len(self.arrays[0]) // self.batch_size

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return tuple(array[rows] for array in self.arrays)


def make_arrays(features, rows, steps, seed=0):
    """Original `(x, y)`, sensitive and non-sensitive `x` for `steps` batches of `rows`."""
    rng = np.random.default_rng(seed)
    count = 2 * rows * steps
    x = rng.normal(size=(count, features)).astype("float32")
    y = (rng.random((count, 1)) > 0.5).astype("float32")
    sensitive = rng.normal(0.5, 1.0, size=(count // 2, features)).astype("float32")
    nonsensitive = rng.normal(size=(count // 2, features)).astype("float32")
    return x, y, sensitive, nonsensitive


def plain_data(kind, x, y, rows, steps):
    """The plain model's data of `kind`, batches of `rows`: `(data, fit kwargs)`."""
    if kind == "tf.data":
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(rows), {}
    if kind == "arrays":
        return (x, y), {"batch_size": rows}
    if kind == "pydataset":
        return ArrayPyDataset((x, y), rows), {}
    return FixedBatch((x[:rows], y[:rows]), steps), {}


def packed_data(kind, x, y, sensitive, nonsensitive, rows, steps):
    """`pack_min_diff_data` of `kind`: `rows` original rows + `rows // 2` per group."""
    half = rows // 2
    pack = min_diff.keras.utils.pack_min_diff_data
    if kind == "tf.data":
        import tensorflow as tf

        data = pack(
            tf.data.Dataset.from_tensor_slices((x, y)).batch(rows),
            tf.data.Dataset.from_tensor_slices(sensitive).batch(half),
            tf.data.Dataset.from_tensor_slices(nonsensitive).batch(half),
        )
        return data, {}
    if kind == "arrays":
        data = pack(
            (x, y), sensitive, nonsensitive, batch_size=rows, min_diff_batch_size=half, seed=0
        )
        return data, {}
    if kind == "pydataset":
        data = pack(
            ArrayPyDataset((x, y), rows),
            ArrayPyDataset((sensitive,), half),
            ArrayPyDataset((nonsensitive,), half),
        )
        return data, {}
    membership = np.concatenate([np.ones((half, 1)), np.zeros((half, 1))]).astype("float32")
    md_x = np.concatenate([sensitive[:half], nonsensitive[:half]])
    packed = min_diff.keras.utils.MinDiffPackedInputs(x[:rows], (md_x, membership))
    return FixedBatch((packed, y[:rows]), steps), {}


def compiled(model, jit_compile):
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=jit_compile)
    return model


def cases_for(name, build, features, rows, steps, kinds, jit_compile, fuse="auto"):
    x, y, sensitive, nonsensitive = make_arrays(features, rows, steps)
    cases = []
    for kind in kinds:
        plain = compiled(build(), jit_compile)
        cases.append(Case((name, kind, "plain"), plain, *plain_data(kind, x, y, 2 * rows, steps)))
        wrapped = min_diff.keras.MinDiffModel(build(), "mmd", fuse_forward_passes=fuse)
        wrapped = compiled(wrapped, jit_compile)
        data = packed_data(kind, x, y, sensitive, nonsensitive, rows, steps)
        cases.append(Case((name, kind, "min_diff"), wrapped, *data))
    return cases


def print_table(title, cases, rows):
    print(f"\n{title}: MinDiffModel on {rows} + {rows} rows vs plain on {2 * rows} rows")
    print(f"{'data':<11}{'plain ms/step':>15}{'MinDiff ms/step':>17}{'ratio':>8}")
    by_key = {case.name: case for case in cases}
    for kind in KINDS:
        plain = by_key.get((title, kind, "plain"))
        wrapped = by_key.get((title, kind, "min_diff"))
        if plain is None:
            continue
        print(
            f"{kind:<11}{plain.median * 1e3:>15.3f}{wrapped.median * 1e3:>17.3f}"
            f"{wrapped.median / plain.median:>8.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--tiny-rows", type=int, default=128)
    parser.add_argument("--wide-rows", type=int, default=64)
    parser.add_argument("--models", default="tiny,wide")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--wide-short", type=int, default=3)
    parser.add_argument("--wide-long", type=int, default=13)
    parser.add_argument("--jit-compile", default="auto")
    parser.add_argument(
        "--fuse-forward-passes", default="auto",
        help="MinDiffModel's fuse_forward_passes: auto (default; both models here fuse), "
        "true or false (two forward passes, as TF Model Remediation)",
    )
    args = parser.parse_args()
    flags = {"auto": "auto", "true": True, "false": False}
    jit = flags[args.jit_compile.lower()]
    fuse = flags[args.fuse_forward_passes.lower()]
    kinds = args.kinds.split(",")

    keras.utils.set_random_seed(0)
    print(
        header(), use_clock(args), f"jit_compile={args.jit_compile}",
        f"fuse_forward_passes={args.fuse_forward_passes}",
    )
    models = args.models.split(",")
    if "tiny" in models:
        cases = cases_for("tiny", tiny_model, 20, args.tiny_rows, args.long, kinds, jit, fuse)
        loads = time_cases(cases, args.short, args.long, args.repeats)
        print_table("tiny", cases, args.tiny_rows)
        print(load_line(loads))
    if "wide" in models:
        cases = cases_for(
            "wide", wide_model, 256, args.wide_rows, args.wide_long, kinds, jit, fuse
        )
        loads = time_cases(cases, args.wide_short, args.wide_long, args.repeats)
        print_table("wide", cases, args.wide_rows)
        print(load_line(loads))


if __name__ == "__main__":
    main()
