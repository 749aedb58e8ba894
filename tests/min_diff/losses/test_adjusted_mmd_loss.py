"""Tests of `AdjustedMMDLoss`: MMD / (var_S / n_eff_S + var_N / n_eff_N + 0.01)."""

import numpy as np
import pytest

from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import adjusted_mmd_denominator_ref
from min_diff_losses_testlib import adjusted_mmd_ref
from min_diff_losses_testlib import case_inputs
from min_diff_losses_testlib import finite_difference
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy

KERNELS = {"gaussian": GaussianKernel, "laplacian": LaplacianKernel}


# MMD is a difference of O(1) kernel means (float32 cancellation ~1e-7) divided by a
# denominator >= 0.01, so absolute agreement is 1e-5 rather than 1e-7.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("kernel_length", [0.05, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("pred_shape", ["N", "ND"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_reference_kernels(kernel, kernel_length, pred_shape, weighted):
    case = ("adjusted", kernel, kernel_length, pred_shape, weighted)
    membership, predictions, weights = case_inputs(case, pred_shape, "N", "N" if weighted else None)
    loss = AdjustedMMDLoss(kernel=KERNELS[kernel](kernel_length))
    value = to_numpy(loss(membership, predictions, weights))
    expected = adjusted_mmd_ref(membership, predictions, weights, kernel, kernel_length)
    assert expected > 1e-3
    np.testing.assert_allclose(value, expected, **TOLERANCE)


@pytest.mark.parametrize("pred_shape", ["N", "N1", "ND"])
@pytest.mark.parametrize("membership_shape", ["N", "N1"])
@pytest.mark.parametrize("weight_shape", [None, "N", "N1"])
def test_matches_reference_shapes(pred_shape, membership_shape, weight_shape):
    case = ("adjusted-shapes", pred_shape, membership_shape, weight_shape)
    membership, predictions, weights = case_inputs(
        case, pred_shape, membership_shape, weight_shape
    )
    for kernel in ("gaussian", "laplacian"):
        value = to_numpy(AdjustedMMDLoss(kernel)(membership, predictions, weights))
        expected = adjusted_mmd_ref(membership, predictions, weights, kernel, 0.1)
        assert expected > 1e-3
        np.testing.assert_allclose(value, expected, **TOLERANCE)


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_is_mmd_over_variance_of_means(kernel):
    membership, predictions, weights = random_inputs(21)
    adjusted = to_numpy(AdjustedMMDLoss(kernel)(membership, predictions, weights))
    mmd = to_numpy(MMDLoss(kernel)(membership, predictions, weights))
    denominator = adjusted_mmd_denominator_ref(membership, predictions, weights, kernel)
    # The adjustment is material here (not just the 0.01 epsilon).
    assert denominator > 0.02
    np.testing.assert_allclose(adjusted * denominator, mmd, rtol=1e-5)


def test_effective_sample_size_uses_weights():
    # Unequal weights lower n_eff (Kish), raising the variance of the means: with the same
    # rows, the unweighted and the weighted denominators differ, and both match the reference.
    membership, predictions, weights = random_inputs(22)
    weights = weights**3
    loss = AdjustedMMDLoss()
    for w in (None, weights):
        np.testing.assert_allclose(
            to_numpy(loss(membership, predictions, w)),
            adjusted_mmd_ref(membership, predictions, w),
            rtol=1e-5,
        )
    assert abs(
        adjusted_mmd_denominator_ref(membership, predictions, weights)
        - adjusted_mmd_denominator_ref(membership, predictions)
    ) > 1e-3


def test_identical_groups_give_zero():
    predictions = np.array([0.2, 0.5, 0.9, 0.2, 0.5, 0.9], dtype=np.float32)
    membership = np.array([0, 0, 0, 1, 1, 1], dtype=np.float32)
    np.testing.assert_allclose(
        to_numpy(AdjustedMMDLoss()(membership, predictions)), 0.0, atol=1e-5
    )


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_denominator_is_not_differentiated(kernel):
    # loss = MMD / stop_gradient(denominator): d loss / dp = (d MMD / dp) / denominator.
    rng = np.random.default_rng(23)
    membership = np.array([1, 0, 1, 0, 0, 1], dtype=np.float64)
    predictions = rng.uniform(size=6)
    weights = rng.uniform(0.5, 2.0, size=6)
    with float64_enabled():
        g = grad(lambda p: AdjustedMMDLoss(kernel)(membership, p, weights), predictions)
    fd_mmd = finite_difference(lambda p: mmd_ref(membership, p, weights, kernel), predictions)
    denominator = adjusted_mmd_denominator_ref(membership, predictions, weights, kernel)
    np.testing.assert_allclose(g, fd_mmd / denominator, rtol=1e-5, atol=1e-8)
    # ...which differs from the gradient of the full ratio.
    fd_full = finite_difference(
        lambda p: adjusted_mmd_ref(membership, p, weights, kernel), predictions
    )
    assert np.max(np.abs(fd_full - fd_mmd / denominator)) > 1e-3


def test_defaults():
    loss = AdjustedMMDLoss()
    assert loss.name == "adjusted_mmd_loss"
    assert isinstance(loss.predictions_kernel, GaussianKernel)
    assert loss.predictions_kernel.kernel_length == 0.1
    assert isinstance(AdjustedMMDLoss("laplace").predictions_kernel, LaplacianKernel)
    assert isinstance(AdjustedMMDLoss(), MMDLoss)
