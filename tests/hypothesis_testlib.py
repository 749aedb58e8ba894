"""Hypothesis settings shared by the property tests (`test_*_properties.py`).

`SETTINGS`: 20 examples, derandomized (the same examples on every run), no deadline (the
first call on a backend compiles) and no example database, so the tests are deterministic.
"""

from hypothesis import HealthCheck
from hypothesis import settings

SETTINGS = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
