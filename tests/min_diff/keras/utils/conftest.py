"""Shared fixtures and helpers of the MinDiff data-utility tests (all backends).

tf.data tests are skipped only when TensorFlow is not installed: tf.data is an input pipeline
for every backend, so the packers are tested on tf.data under JAX and PyTorch too.
"""

import numpy as np
import pytest


@pytest.fixture
def arrays(rng):
    """320 original rows (10 batches of 32), 40 sensitive and 100 non-sensitive rows.

    Sensitive rows are near +5 and non-sensitive rows near -5, so each row's group is visible.
    """
    x = rng.normal(size=(320, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    sensitive = rng.normal(size=(40, 4)).astype("float32") + 5.0
    nonsensitive = rng.normal(size=(100, 4)).astype("float32") - 5.0
    return {"x": x, "y": y, "sensitive": sensitive, "nonsensitive": nonsensitive}
