"""Shared fixtures of the MinDiffModel and MinDiff data-utility tests (all backends)."""

import numpy as np
import pytest
import keras

N_FEATURES = 4


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python, NumPy and backend random state."""
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def data(rng):
    """Original data (x, y) plus sensitive and non-sensitive groups, float32 NumPy."""
    x = rng.normal(size=(256, N_FEATURES)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(256, 1)) > 0).astype("float32")
    sensitive = rng.normal(loc=0.5, size=(64, N_FEATURES)).astype("float32")
    nonsensitive = rng.normal(loc=-0.5, size=(128, N_FEATURES)).astype("float32")
    return {"x": x, "y": y, "sensitive": sensitive, "nonsensitive": nonsensitive}


def _dense_model(activation="sigmoid", **layer_kwargs):
    return keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(8, activation="relu", **layer_kwargs),
            keras.layers.Dense(1, activation=activation),
        ]
    )


@pytest.fixture
def make_model():
    """Factory of a tiny Sequential model 4 → 8 → 1 (no dropout: deterministic)."""
    return _dense_model


def _multi_output_model():
    inputs = keras.Input((N_FEATURES,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = {
        "output1": keras.layers.Dense(1, activation="sigmoid", name="output1")(hidden),
        "output2": keras.layers.Dense(1, name="output2")(hidden),
    }
    return keras.Model(inputs, outputs)


@pytest.fixture
def make_multi_output_model():
    """Factory of a Functional model with dict outputs {'output1': sigmoid, 'output2': linear}."""
    return _multi_output_model


@pytest.fixture
def min_diff_batch(rng):
    """One MinDiff batch (x, membership, weight) as float32 NumPy, 16 sensitive then 24 not."""
    md_x = rng.normal(size=(40, N_FEATURES)).astype("float32")
    md_x[:16] += 1.0
    membership = np.concatenate([np.ones((16, 1)), np.zeros((24, 1))]).astype("float32")
    weight = rng.uniform(0.5, 2.0, size=(40, 1)).astype("float32")
    return md_x, membership, weight

