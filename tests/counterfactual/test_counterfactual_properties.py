"""Property-based tests of every counterfactual (CLP) loss (hypothesis; seeded, a few examples).

For random batches of pairs (identical pairs, all-zero rows, zero weights and all-zero weights
included), under both batch reductions: the value and its gradient with respect to `original`
are finite; the value keeps its documented sign and bounds (MSE and absolute difference ≥ 0
and 0 for identical pairs; cosine in [−1, 1] per pair); it is symmetric in `original` and
`counterfactual`; it does not depend on the order of the pairs; and it agrees with an
independent float64 NumPy reference written here from the formulas of the docstrings.

Outputs are drawn from a grid of step 0.05 in [-2, 2] and weights from {0, 0.5, …, 2}, so
float32 and the float64 references agree to fixed tolerances.
"""

import pathlib
import sys

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "min_diff" / "losses"))

from hypothesis_testlib import SETTINGS  # noqa: E402
from hypothesis_testlib import draw_grid  # noqa: E402
from hypothesis_testlib import draw_weights  # noqa: E402
from keras_remediation.counterfactual import losses  # noqa: E402
from min_diff_losses_testlib import grad  # noqa: E402
from min_diff_losses_testlib import to_numpy  # noqa: E402


def _mse_ref(o, c):
    return np.mean((o - c) ** 2, axis=-1)


def _abs_ref(o, c):
    return np.mean(np.abs(o - c), axis=-1)


def _cosine_ref(o, c):
    norm_o = np.sqrt(np.maximum(np.sum(o * o, axis=-1), 1e-12))
    norm_c = np.sqrt(np.maximum(np.sum(c * c, axis=-1), 1e-12))
    return -np.sum(o * c, axis=-1) / (norm_o * norm_c)


def reference(per_pair, o, c, w, batch_reduction):
    """Σ w·l / B (`sum_over_batch_size`) or Σ w·l / Σ w (`weighted_mean`, 0 if Σ w = 0)."""
    o, c = o.astype(np.float64), c.astype(np.float64)
    values = per_pair(o, c)
    weights = np.ones_like(values) if w is None else w.astype(np.float64)
    total = np.sum(weights * values)
    if batch_reduction == "weighted_mean":
        return 0.0 if np.sum(weights) == 0 else total / np.sum(weights)
    return total / len(values)


# (id, class, per-pair reference, lower and upper bound of a per-pair value).
LOSSES = [
    ("mse", losses.PairwiseMSELoss, _mse_ref, 0.0, 16.0),
    ("abs", losses.PairwiseAbsoluteDifferenceLoss, _abs_ref, 0.0, 4.0),
    ("cosine", losses.PairwiseCosineLoss, _cosine_ref, -1.0, 1.0),
]
IDS = [entry[0] for entry in LOSSES]
REDUCTIONS = ["sum_over_batch_size", "weighted_mean"]


@st.composite
def pairs(draw):
    """`(original [n, d], counterfactual [n, d], weights [n] or None)` as float32."""
    n = draw(st.sampled_from([1, 6]))  # two shapes: JAX compiles each op once per shape
    d = 3

    original = draw_grid(draw, (n, d))
    counterfactual = original.copy() if draw(st.booleans()) and n > 1 else draw_grid(draw, (n, d))
    if draw(st.booleans()):  # some pairs identical, some rows all zero
        counterfactual[0] = original[0]
        original[-1] = 0.0
    return original, counterfactual, draw_weights(draw, n)


def _value(loss, o, c, w):
    return float(to_numpy(loss(o, c, w)))


@pytest.mark.parametrize("batch_reduction", REDUCTIONS)
@pytest.mark.parametrize("name, cls, per_pair, low, high", LOSSES, ids=IDS)
@SETTINGS
@given(batch=pairs())
def test_value_and_gradient_are_finite_and_agree_with_the_reference(
    name, cls, per_pair, low, high, batch_reduction, batch
):
    o, c, w = batch
    loss = cls(batch_reduction=batch_reduction)
    value = _value(loss, o, c, w)
    assert np.isfinite(value)
    np.testing.assert_allclose(
        value, reference(per_pair, o, c, w, batch_reduction), rtol=1e-5, atol=1e-5
    )
    gradient = grad(lambda x: loss(x, c, w), o)
    assert gradient.shape == o.shape and np.all(np.isfinite(gradient))


@pytest.mark.parametrize("name, cls, per_pair, low, high", LOSSES, ids=IDS)
@SETTINGS
@given(batch=pairs())
def test_sign_bounds_and_symmetry(name, cls, per_pair, low, high, batch):
    o, c, w = batch
    loss = cls(batch_reduction="weighted_mean")  # a weighted mean of per-pair values
    value = _value(loss, o, c, w)
    if w is None or np.sum(w) > 0:
        assert low - 1e-6 <= value <= high + 1e-5
    else:
        assert value == 0.0
    np.testing.assert_allclose(_value(loss, c, o, w), value, rtol=1e-6, atol=1e-7)
    if name != "cosine":
        assert _value(loss, o, o, w) == 0.0
    else:
        nonzero = np.any(o != 0, axis=-1)
        if np.all(nonzero) and (w is None or np.sum(w) > 0):
            np.testing.assert_allclose(_value(loss, o, o, w), -1.0, atol=1e-5)


@pytest.mark.parametrize("batch_reduction", REDUCTIONS)
@pytest.mark.parametrize("name, cls, per_pair, low, high", LOSSES, ids=IDS)
@SETTINGS
@given(batch=pairs(), seed=st.integers(0, 2**16))
def test_invariant_to_the_order_of_the_pairs(
    name, cls, per_pair, low, high, batch_reduction, batch, seed
):
    o, c, w = batch
    order = np.random.default_rng(seed).permutation(len(o))
    loss = cls(batch_reduction=batch_reduction)
    shuffled = _value(loss, o[order], c[order], None if w is None else w[order])
    np.testing.assert_allclose(shuffled, _value(loss, o, c, w), rtol=1e-5, atol=1e-6)
