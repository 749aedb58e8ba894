"""Property-based tests of every MinDiff loss (hypothesis; seeded, a few examples each).

For random batches (ties, duplicate rows, a single group, zero weights and all-zero weights
included): the value and its gradient are finite; the value keeps its documented sign and
bounds (MMD and adjusted MMD ≥ 0 up to rounding, |corr| in [0, 1]); it does not depend on the
order of the rows; and it agrees with the independent float64 NumPy references of
`tests/min_diff/losses/min_diff_losses_testlib.py`. With `empty_group='zero'` a batch that
lacks a group gives exactly 0.

Predictions are drawn from a grid of step 0.05 in [-2, 2] and weights from {0, 0.5, …, 2}:
values far enough apart that float32 and the float64 references agree to fixed tolerances,
while keeping the degenerate cases.
"""

import pathlib
import sys

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent / "losses"))

from hypothesis_testlib import SETTINGS  # noqa: E402
from hypothesis_testlib import draw_grid  # noqa: E402
from hypothesis_testlib import draw_weights  # noqa: E402
from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss  # noqa: E402
from keras_remediation.min_diff.losses import AdjustedMMDLoss  # noqa: E402
from keras_remediation.min_diff.losses import MMDLoss  # noqa: E402
from min_diff_losses_testlib import abs_corr_ref  # noqa: E402
from min_diff_losses_testlib import adjusted_mmd_ref  # noqa: E402
from min_diff_losses_testlib import grad  # noqa: E402
from min_diff_losses_testlib import mmd_ref  # noqa: E402
from min_diff_losses_testlib import to_numpy  # noqa: E402

# (id, factory(**kwargs), reference(m, p, w), lower bound, upper bound, atol vs reference).
LOSSES = [
    ("mmd-gaussian", lambda **kw: MMDLoss("gaussian", **kw),
     lambda m, p, w: mmd_ref(m, p, w, "gaussian", 0.1), -1e-6, 2.0 + 1e-6, 1e-5),
    ("mmd-laplacian", lambda **kw: MMDLoss("laplacian", **kw),
     lambda m, p, w: mmd_ref(m, p, w, "laplacian", 0.1), -1e-6, 2.0 + 1e-6, 1e-5),
    ("adjusted-gaussian", lambda **kw: AdjustedMMDLoss("gaussian", **kw),
     lambda m, p, w: adjusted_mmd_ref(m, p, w, "gaussian", 0.1), -1e-4, 200.0 + 1e-3, 1e-3),
    ("adjusted-laplacian", lambda **kw: AdjustedMMDLoss("laplacian", **kw),
     lambda m, p, w: adjusted_mmd_ref(m, p, w, "laplacian", 0.1), -1e-4, 200.0 + 1e-3, 1e-3),
    ("abs-corr", lambda **kw: AbsoluteCorrelationLoss(**kw), abs_corr_ref, 0.0, 1.0 + 1e-6, 1e-5),
]
IDS = [entry[0] for entry in LOSSES]


@st.composite
def batches(draw):
    """`(membership [n], predictions [n] or [n, d], weights [n] or None)` as float32."""
    # Few distinct shapes: JAX compiles each op once per shape.
    n = draw(st.sampled_from([1, 5, 12]))
    d = draw(st.sampled_from([None, 2]))
    membership = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)),
                          np.float32)
    predictions = draw_grid(draw, (n,) if d is None else (n, d))
    return membership, predictions, draw_weights(draw, n)


def _value(loss, membership, predictions, weights):
    return float(to_numpy(loss(membership, predictions, weights)))


def _has_both_groups(membership, weights):
    w = np.ones_like(membership) if weights is None else weights
    return w[membership == 1].sum() > 0 and w[membership == 0].sum() > 0


@pytest.mark.parametrize("entry", LOSSES, ids=IDS)
@SETTINGS
@given(batch=batches())
def test_value_and_gradient_are_finite(entry, batch):
    _, make_loss, _, _, _, _ = entry
    membership, predictions, weights = batch
    loss = make_loss()
    assert np.isfinite(_value(loss, membership, predictions, weights))
    g = grad(lambda p: loss(membership, p, weights), predictions)
    assert g.shape == predictions.shape and np.all(np.isfinite(g))


@pytest.mark.parametrize("entry", LOSSES, ids=IDS)
@SETTINGS
@given(batch=batches())
def test_documented_bounds(entry, batch):
    _, make_loss, _, lower, upper, _ = entry
    value = _value(make_loss(), *batch)
    assert lower <= value <= upper


@pytest.mark.parametrize("entry", LOSSES, ids=IDS)
@SETTINGS
@given(batch=batches(), seed=st.integers(0, 2**16))
def test_invariant_to_row_order(entry, batch, seed):
    _, make_loss, _, _, _, atol = entry
    membership, predictions, weights = batch
    order = np.random.default_rng(seed).permutation(len(membership))
    loss = make_loss()
    permuted = _value(
        loss, membership[order], predictions[order], None if weights is None else weights[order]
    )
    np.testing.assert_allclose(permuted, _value(loss, *batch), rtol=1e-5, atol=atol / 10)


@pytest.mark.parametrize("entry", LOSSES, ids=IDS)
@SETTINGS
@given(batch=batches())
def test_agrees_with_numpy_reference(entry, batch):
    _, make_loss, reference, _, _, atol = entry
    np.testing.assert_allclose(
        _value(make_loss(), *batch), reference(*batch), rtol=1e-4, atol=atol
    )


@pytest.mark.parametrize("entry", LOSSES, ids=IDS)
@SETTINGS
@given(batch=batches())
def test_empty_group_zero(entry, batch):
    """`'zero'`: 0 with a zero gradient without both groups, the reference value with both."""
    _, make_loss, reference, _, _, atol = entry
    membership, predictions, weights = batch
    loss = make_loss(empty_group="zero")
    value = _value(loss, membership, predictions, weights)
    if _has_both_groups(membership, weights):
        np.testing.assert_allclose(value, reference(*batch), rtol=1e-4, atol=atol)
    else:
        assert value == 0.0
        g = grad(lambda p: loss(membership, p, weights), predictions)
        np.testing.assert_array_equal(g, np.zeros_like(g))
