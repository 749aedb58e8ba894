"""Time per `fit` step of a backward-compatibility model against plain training of h2.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bc_step.py

or `make bench` for all three. Models h1 and h2: dense 20→64→64→10 (relu, softmax), Adam,
sparse categorical cross-entropy, batches of 128 rows. Timed, interleaved in one run
(`step_timing.time_cases`), on the data users pass to `fit` (a tf.data dataset, arrays with
`batch_size=128`, a `keras.utils.PyDataset`, and one fixed batch as the lower bound): a plain
training step of h2 and a training step of `BCNewErrorCompatibilityModel(h2, h1=h1,
lambda_c=1.0)`; and one inference pass of h1 on a batch (`predict_on_batch`, compiled). The
target: BC step ≤ 1.1 × (plain h2 step + h1 inference).
"""

import argparse

import numpy as np
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from min_diff_step import ArrayPyDataset
from step_timing import Case
from step_timing import FixedBatch
from step_timing import add_arguments
from step_timing import header
from step_timing import load_line
from step_timing import per_call_seconds
from step_timing import time_cases
from step_timing import use_clock

ROWS = 128
KINDS = ("tf.data", "arrays", "pydataset", "fixed")


def _model():
    return keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _compiled(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _data(kind, x, y, steps):
    if kind == "tf.data":
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(ROWS), {}
    if kind == "arrays":
        return (x, y), {"batch_size": ROWS}
    if kind == "pydataset":
        return ArrayPyDataset((x, y), ROWS), {}
    return FixedBatch((x[:ROWS], y[:ROWS]), steps), {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS * args.long, 20)).astype("float32")
    y = rng.integers(0, 10, size=(ROWS * args.long,)).astype("int32")

    h1 = _compiled(_model())
    h1.fit(x[:1024], y[:1024], epochs=1, verbose=0)
    kinds = args.kinds.split(",")
    cases = []
    for kind in kinds:
        cases.append(Case((kind, "plain"), _compiled(_model()), *_data(kind, x, y, args.long)))
        bc_model = _compiled(BCNewErrorCompatibilityModel(_model(), h1=h1, lambda_c=1.0))
        cases.append(Case((kind, "bc"), bc_model, *_data(kind, x, y, args.long)))
    clock = use_clock(args)
    loads = time_cases(cases, args.short, args.long, args.repeats)
    h1_pass = per_call_seconds(lambda: h1.predict_on_batch(x[:ROWS]), args.repeats)

    print(header(), clock)
    print(f"h1 inference, {ROWS} rows (predict_on_batch): {h1_pass * 1e3:.3f} ms")
    print(f"{'data':<11}{'plain h2 ms':>13}{'BC ms':>9}{'BC/(plain+h1)':>15}{'BC/plain':>10}")
    by_name = {case.name: case for case in cases}
    for kind in kinds:
        plain, bc = by_name[(kind, "plain")].median, by_name[(kind, "bc")].median
        print(
            f"{kind:<11}{plain * 1e3:>13.3f}{bc * 1e3:>9.3f}{bc / (plain + h1_pass):>15.2f}"
            f"{bc / plain:>10.2f}"
        )
    print(load_line(loads))


if __name__ == "__main__":
    main()
