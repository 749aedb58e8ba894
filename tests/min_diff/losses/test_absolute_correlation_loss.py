"""Tests of `AbsoluteCorrelationLoss`: |weighted cov / (sqrt(var_m + 1e-7) sqrt(var_p + 1e-7))|."""

import numpy as np
import pytest

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from min_diff_losses_testlib import abs_corr_ref
from min_diff_losses_testlib import case_inputs
from min_diff_losses_testlib import finite_difference
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


@pytest.mark.parametrize("pred_shape", ["N", "N1", "ND"])
@pytest.mark.parametrize("membership_shape", ["N", "N1"])
@pytest.mark.parametrize("weight_shape", [None, "N", "N1"])
def test_matches_reference(pred_shape, membership_shape, weight_shape):
    case = ("abs_corr", pred_shape, membership_shape, weight_shape)

    def shift(membership, predictions):
        # Make the predictions depend on membership so the correlation is far from 0.
        if pred_shape == "ND":
            return predictions + membership[:, None] * [0.5, -0.3, 0.0]
        return predictions + membership

    membership, predictions, weights = case_inputs(
        case, pred_shape, membership_shape, weight_shape, adjust=shift
    )

    value = to_numpy(AbsoluteCorrelationLoss()(membership, predictions, weights))
    expected = abs_corr_ref(membership, predictions, weights)
    assert expected > 0.1
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


def test_one_dimensional_predictions_equal_column():
    # The anchor gave a wrong correlation for [N] predictions (broadcast to [N, N]).
    membership, predictions, weights = random_inputs(31)
    loss = AbsoluteCorrelationLoss()
    flat = to_numpy(loss(membership, predictions, weights))
    column = to_numpy(loss(membership.reshape(-1, 1), predictions.reshape(-1, 1), weights))
    np.testing.assert_allclose(flat, column, rtol=1e-6)
    np.testing.assert_allclose(flat, abs_corr_ref(membership, predictions, weights), rtol=1e-5)


def test_multi_column_is_mean_of_columns():
    membership, predictions, weights = random_inputs(32, d=3)
    loss = AbsoluteCorrelationLoss()
    per_column = [to_numpy(loss(membership, predictions[:, j], weights)) for j in range(3)]
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)), np.mean(per_column), rtol=1e-5
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_perfect_correlation_is_one(sign):
    membership = np.array([1, 0, 0, 1, 1, 0], dtype=np.float32)
    predictions = (sign * (3.0 * membership - 1.0)).astype(np.float32)
    value = to_numpy(AbsoluteCorrelationLoss()(membership, predictions))
    # Exactly 1 up to the 1e-7 variance epsilon: var_m = 0.25, var_p = 2.25.
    expected = 0.75 / (np.sqrt(0.25 + 1e-7) * np.sqrt(2.25 + 1e-7))
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    assert value < 1.0


def test_uncorrelated_is_zero():
    membership = np.array([1, 1, 1, 0, 0, 0], dtype=np.float32)
    predictions = np.array([0.2, 0.8, 0.5, 0.8, 0.2, 0.5], dtype=np.float32)
    np.testing.assert_allclose(
        to_numpy(AbsoluteCorrelationLoss()(membership, predictions)), 0.0, atol=1e-7
    )


def test_weights_are_used():
    membership, predictions, weights = random_inputs(33)
    predictions = predictions + 0.3 * membership
    weights = weights**4
    loss = AbsoluteCorrelationLoss()
    weighted = to_numpy(loss(membership, predictions, weights))
    assert abs(weighted - to_numpy(loss(membership, predictions))) > 1e-3
    np.testing.assert_allclose(weighted, abs_corr_ref(membership, predictions, weights), rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, 10.0 * weights)), weighted, rtol=1e-5
    )


@pytest.mark.parametrize("d", [None, 2])
def test_gradient_matches_finite_difference(d):
    rng = np.random.default_rng(34)
    membership = np.array([1, 0, 1, 0, 0, 1], dtype=np.float64)
    predictions = rng.uniform(size=(6,) if d is None else (6, d))
    weights = rng.uniform(0.5, 2.0, size=6)
    with float64_enabled():
        g = grad(lambda p: AbsoluteCorrelationLoss()(membership, p, weights), predictions)
    fd = finite_difference(lambda p: abs_corr_ref(membership, p, weights), predictions)
    assert np.max(np.abs(fd)) > 1e-2
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_defaults():
    loss = AbsoluteCorrelationLoss()
    assert loss.name == "absolute_correlation_loss"
    assert loss.predictions_kernel is None
    assert AbsoluteCorrelationLoss(name="corr").name == "corr"
