"""Hypothesis settings and array draws shared by the property tests (`test_*_properties.py`).

`SETTINGS`: 20 examples, derandomized (the same examples on every run), no deadline (the
first call on a backend compiles) and no example database, so the tests are deterministic.
Inside an `@st.composite` strategy, `draw_grid(draw, shape)` draws float32 values on a grid of
step 0.05 in [-2, 2] and `draw_weights(draw, n)` None or `[n]` float32 weights in
{0, 0.5, …, 2}: values far enough apart that float32 and float64 references agree to fixed
tolerances, with ties and zero weights included.
"""

import math

import numpy as np
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def draw_grid(draw, shape):
    """A float32 array of `shape`, each value a multiple of 0.05 in [-2, 2]."""
    size = math.prod(shape)
    values = draw(st.lists(st.integers(-40, 40), min_size=size, max_size=size))
    return (np.array(values, np.float32) * np.float32(0.05)).reshape(shape)


def draw_weights(draw, n):
    """None (half the time) or float32 weights `[n]`, each in {0, 0.5, 1, 1.5, 2}."""
    if not draw(st.booleans()):
        return None
    return np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)),
                    np.float32) * np.float32(0.5)
