"""Shared fixtures of the counterfactual (CLP) tests (all backends)."""

import keras
import pytest


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)
    yield
