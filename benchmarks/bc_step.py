"""Time per training step of a backward-compatibility model against plain training of h2.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bc_step.py

or `make bench` for all three. Models h1 and h2: dense 20→64→64→10 (relu, softmax), Adam,
sparse categorical cross-entropy, batches of 128 rows. Timed: a plain training step of h2, one
inference pass of h1 on the batch (`predict_on_batch`, compiled), and a training step of
`BCNewErrorCompatibilityModel(h2, h1=h1, lambda_c=1.0)`. The target: BC step ≤ 1.1 × (plain h2
step + h1 inference).

Method: `step_timing.per_step_seconds` (fit on one fixed batch, difference of a short and a long
fit, median of several runs); h1's pass with `step_timing.per_call_seconds`.
"""

import argparse
import os

import numpy as np
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from step_timing import add_arguments
from step_timing import per_call_seconds
from step_timing import per_step_seconds


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 20)).astype("float32")
    y = rng.integers(0, 10, size=(128,)).astype("int32")

    h1 = _compiled(_model())
    h1.fit(x, y, epochs=3, verbose=0)
    plain = per_step_seconds(_compiled(_model()), (x, y), args.short, args.long, args.repeats)
    h1_pass = per_call_seconds(lambda: h1.predict_on_batch(x), args.repeats)
    bc_model = _compiled(BCNewErrorCompatibilityModel(_model(), h1=h1, lambda_c=1.0))
    bc = per_step_seconds(bc_model, (x, y), args.short, args.long, args.repeats)

    backend = keras.backend.backend()
    print(f"backend={backend} keras={keras.__version__} cpu_count={os.cpu_count()}")
    print(f"{'':<36}{'ms':>10}")
    print(f"{'plain h2 step, 128 rows':<36}{plain * 1e3:>10.3f}")
    print(f"{'h1 inference, 128 rows':<36}{h1_pass * 1e3:>10.3f}")
    print(f"{'BC (new error) step, 128 rows':<36}{bc * 1e3:>10.3f}")
    print(f"ratio BC / (plain + h1 inference): {bc / (plain + h1_pass):.2f}")
    print(f"ratio BC / plain: {bc / plain:.2f}")


if __name__ == "__main__":
    main()
