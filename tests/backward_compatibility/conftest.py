"""Shared fixtures of the backward-compatibility tests (every backend): seeds, tiny models, data."""

import numpy as np
import pytest
import keras

from bc_testlib import N_CLASSES
from bc_testlib import N_FEATURES
from bc_testlib import classifier


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python, NumPy and backend random state."""
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def make_classifier():
    """Factory of `classifier(...)`."""
    return classifier


@pytest.fixture
def blobs():
    """(x [96, 6] float32, y [96] int64 in {0, 1, 2}): three Gaussian blobs, some overlap."""
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(N_CLASSES), 32)
    centres = rng.normal(scale=1.5, size=(N_CLASSES, N_FEATURES))
    x = (centres[y] + rng.normal(size=(len(y), N_FEATURES))).astype("float32")
    order = rng.permutation(len(y))
    return x[order], y[order].astype("int64")


@pytest.fixture
def trained_h1(blobs):
    """A frozen-to-be h1 trained briefly on the first 32 blob rows (right on most, not all)."""
    x, y = blobs
    h1 = classifier()
    h1.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    h1.fit(x[:32], y[:32], epochs=5, batch_size=32, verbose=0)
    return h1
