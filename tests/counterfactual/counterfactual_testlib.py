"""Models and data shared by the counterfactual (CLP) tests."""

import keras
import numpy as np

N_FEATURES = 4


def make_model(hidden=8):
    """A tiny deterministic model 4 -> hidden -> 1 (sigmoid), no dropout."""
    return keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def synthetic_data(n=512, seed=0):
    """Labels that depend on feature 0 (the "sensitive" one, ±1) and feature 1.

    Returns `(x, y, x_cf)` with `x_cf` equal to `x` with feature 0 flipped.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES)).astype("float32")
    x[:, 0] = rng.choice([-1.0, 1.0], size=n)
    y = ((x[:, 1] + 1.5 * x[:, 0] + 0.3 * rng.normal(size=n)) > 0).astype("float32")[:, None]
    x_cf = x.copy()
    x_cf[:, 0] = -x_cf[:, 0]
    return x, y, x_cf
