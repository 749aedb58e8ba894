"""Time per `fit` step of CounterfactualModel against the plain model on the same total rows.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/counterfactual_step.py

Model: dense 20→64→64→1 (relu, sigmoid), Adam, binary cross-entropy. CounterfactualModel
(pairwise MSE loss) on 128 labelled rows + 128 counterfactual pairs (its step runs the model on
128 + 128 + 128 rows), against the plain model on 384 rows. Data users pass: `pack_counterfactual_data`
over tf.data datasets, arrays and `keras.utils.PyDataset`s; the plain model on the same kind.
Interleaved in one run (`step_timing.time_cases`), medians over `--repeats`.
"""

import argparse

import numpy as np
import keras

from keras_remediation import counterfactual
from min_diff_step import ArrayPyDataset
from min_diff_step import plain_data
from min_diff_step import tiny_model
from step_timing import Case
from step_timing import add_arguments
from step_timing import header
from step_timing import load_line
from step_timing import time_cases
from step_timing import use_clock

ROWS = 128
KINDS = ("tf.data", "arrays", "pydataset")


def _packed(kind, x, y, x_cf):
    pack = counterfactual.keras.utils.pack_counterfactual_data
    if kind == "tf.data":
        import tensorflow as tf

        return pack(
            tf.data.Dataset.from_tensor_slices((x, y)).batch(ROWS),
            tf.data.Dataset.from_tensor_slices((x, x_cf)).batch(ROWS),
        ), {}
    if kind == "arrays":
        return pack((x, y), (x, x_cf), batch_size=ROWS, seed=0), {}
    return pack(ArrayPyDataset((x, y), ROWS), ArrayPyDataset((x, x_cf), ROWS)), {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    count = 3 * ROWS * args.long
    x = rng.normal(size=(count, 20)).astype("float32")
    y = (rng.random((count, 1)) > 0.5).astype("float32")
    x_cf = x.copy()
    x_cf[:, 0] = -x_cf[:, 0]
    cases = []
    for kind in KINDS:
        plain = tiny_model()
        plain.compile(optimizer="adam", loss="binary_crossentropy")
        cases.append(Case((kind, "plain"), plain, *plain_data(kind, x, y, 3 * ROWS, args.long)))
        model = counterfactual.keras.CounterfactualModel(tiny_model())
        model.compile(optimizer="adam", loss="binary_crossentropy")
        cases.append(Case((kind, "clp"), model, *_packed(kind, x, y, x_cf)))
    clock = use_clock(args)
    loads = time_cases(cases, args.short, args.long, args.repeats)

    print(header(), clock)
    print(f"CounterfactualModel on {ROWS} rows + {ROWS} pairs vs plain on {3 * ROWS} rows")
    print(f"{'data':<11}{'plain ms':>10}{'CLP ms':>10}{'ratio':>8}")
    by_name = {case.name: case for case in cases}
    for kind in KINDS:
        plain, clp = by_name[(kind, "plain")].median, by_name[(kind, "clp")].median
        print(f"{kind:<11}{plain * 1e3:>10.3f}{clp * 1e3:>10.3f}{clp / plain:>8.2f}")
    print(load_line(loads))


if __name__ == "__main__":
    main()
