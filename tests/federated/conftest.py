"""Shared fixtures of the federated tests (every backend)."""

import pytest
import keras


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python, NumPy and backend random state."""
    keras.utils.set_random_seed(1234)
    yield
