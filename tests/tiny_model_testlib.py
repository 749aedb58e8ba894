"""A tiny dense model and seeded arrays, shared by the tests that fit every wrapper."""

import numpy as np
import keras


def tiny_model(features, outputs=1, activation="sigmoid"):
    """Dense `features`→4→`outputs`, uncompiled."""
    return keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(outputs, activation=activation),
        ]
    )


def tiny_arrays(rows, features):
    """Seeded `x` `[rows, features]` float32 and binary `y` `[rows, 1]` float32."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).astype("float32")
    y = (rng.random((rows, 1)) > 0.5).astype("float32")
    return x, y
