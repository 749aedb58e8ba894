"""Tests of `MMDLoss` against an independent NumPy reference (TF Model Remediation's mask form)."""

import keras
import numpy as np
import pytest

from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import case_inputs
from min_diff_losses_testlib import finite_difference
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy

KERNELS = {"gaussian": GaussianKernel, "laplacian": LaplacianKernel}


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("kernel_length", [0.05, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("pred_shape", ["N", "ND"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_reference_kernels(kernel, kernel_length, pred_shape, weighted):
    case = ("mmd", kernel, kernel_length, pred_shape, weighted)
    membership, predictions, weights = case_inputs(case, pred_shape, "N", "N" if weighted else None)
    value = MMDLoss(kernel=KERNELS[kernel](kernel_length))(membership, predictions, weights)
    assert tuple(value.shape) == ()
    expected = mmd_ref(membership, predictions, weights, kernel, kernel_length)
    assert expected > 1e-3  # The inputs are random: the two groups do differ.
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pred_shape", ["N", "N1", "ND"])
@pytest.mark.parametrize("membership_shape", ["N", "N1"])
@pytest.mark.parametrize("weight_shape", [None, "N", "N1"])
def test_matches_reference_shapes(pred_shape, membership_shape, weight_shape):
    case = ("mmd-shapes", pred_shape, membership_shape, weight_shape)
    membership, predictions, weights = case_inputs(
        case, pred_shape, membership_shape, weight_shape
    )
    for kernel in ("gaussian", "laplacian"):
        value = MMDLoss(kernel=kernel)(membership, predictions, weights)
        expected = mmd_ref(membership, predictions, weights, kernel, 0.1)
        assert expected > 1e-3
        np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5, atol=1e-6)


def test_default_kernel_is_gaussian_with_length_0_1():
    membership, predictions, weights = random_inputs(5)
    value = to_numpy(MMDLoss()(membership, predictions, weights))
    np.testing.assert_allclose(value, mmd_ref(membership, predictions, weights), rtol=1e-5)
    laplacian = mmd_ref(membership, predictions, weights, "laplacian", 0.1)
    assert abs(value - laplacian) > 1e-3


def test_identical_groups_give_zero():
    predictions = np.array([0.1, 0.7, 0.4, 0.1, 0.7, 0.4], dtype=np.float32)
    membership = np.array([1, 1, 1, 0, 0, 0], dtype=np.float32)
    for kernel in ("gaussian", "laplacian"):
        value = to_numpy(MMDLoss(kernel)(membership, predictions))
        np.testing.assert_allclose(value, 0.0, atol=1e-6)


def test_separated_groups_give_large_loss():
    membership = np.array([1, 1, 1, 0, 0, 0], dtype=np.float32)
    predictions = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    # K(S,S) = K(N,N) = 1 and K(S,N) = exp(-100) ≈ 0: MMD = 2.
    np.testing.assert_allclose(to_numpy(MMDLoss()(membership, predictions)), 2.0, rtol=1e-6)


def test_integer_weights_equal_duplicated_rows():
    membership, predictions, _ = random_inputs(6)
    weights = np.array([1, 2, 3, 1, 1, 2, 1, 1, 2, 1, 1, 1], dtype=np.float32)
    repeated = np.repeat(np.arange(12), weights.astype(int))
    loss = MMDLoss(LaplacianKernel(0.3))
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)),
        to_numpy(loss(membership[repeated], predictions[repeated])),
        rtol=1e-5,
    )


def test_zero_weight_equals_removing_the_row():
    membership, predictions, weights = random_inputs(7)
    weights[3] = 0.0
    keep = np.arange(12) != 3
    loss = MMDLoss()
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)),
        to_numpy(loss(membership[keep], predictions[keep], weights[keep])),
        rtol=1e-5,
    )


def test_weights_scale_invariance_and_scalar_weight():
    membership, predictions, weights = random_inputs(8)
    loss = MMDLoss()
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)),
        to_numpy(loss(membership, predictions, 7.5 * weights)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, 3.0)),
        to_numpy(loss(membership, predictions)),
        rtol=1e-6,
    )


def test_weights_change_the_value():
    # Guards against sample weights being silently ignored (the anchor ignored [N] weights).
    membership, predictions, weights = random_inputs(9)
    loss = MMDLoss()
    weighted = to_numpy(loss(membership, predictions, weights))
    unweighted = to_numpy(loss(membership, predictions))
    assert abs(weighted - unweighted) > 1e-4
    np.testing.assert_allclose(weighted, mmd_ref(membership, predictions, weights), rtol=1e-5)


def test_higher_rank_predictions_are_flattened():
    rng = np.random.default_rng(10)
    membership = np.array([1, 0, 1, 0, 1, 0], dtype=np.float32)
    predictions = rng.uniform(size=(6, 2, 2)).astype(np.float32)
    loss = MMDLoss(GaussianKernel(0.8))
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions)),
        mmd_ref(membership, predictions.reshape(6, 4), None, "gaussian", 0.8),
        rtol=1e-5,
    )


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16", "float64"])
def test_membership_dtypes(dtype):
    membership, predictions, weights = random_inputs(11)
    loss = MMDLoss()
    expected = to_numpy(loss(membership, predictions, weights))
    np.testing.assert_allclose(
        to_numpy(loss(membership.astype(dtype), predictions, weights)), expected, rtol=1e-6
    )


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("d", [None, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_difference(kernel, d, weighted):
    rng = np.random.default_rng(12)
    membership = np.array([1, 0, 1, 0, 0, 1], dtype=np.float64)
    shape = (6,) if d is None else (6, d)
    predictions = rng.uniform(size=shape)
    weights = rng.uniform(0.5, 2.0, size=6) if weighted else None
    loss = MMDLoss(KERNELS[kernel](0.4))
    with float64_enabled():
        g = grad(lambda p: loss(membership, p, weights), predictions)
    fd = finite_difference(
        lambda p: mmd_ref(membership, p, weights, kernel, 0.4), predictions, eps=1e-6
    )
    assert np.max(np.abs(fd)) > 1e-2
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_gradient_ignores_zero_weight_rows():
    membership, predictions, weights = random_inputs(13)
    weights[2] = 0.0
    g = grad(lambda p: MMDLoss()(membership, p, weights), predictions)
    assert g[2] == 0.0
    assert np.all(g[np.arange(12) != 2] != 0.0)


def test_name_and_kernel_attributes():
    loss = MMDLoss()
    assert loss.name == "mmd_loss"
    assert isinstance(loss.predictions_kernel, GaussianKernel)
    assert loss.membership_kernel is None
    assert MMDLoss(name="fairness").name == "fairness"
    assert isinstance(MMDLoss(kernel="laplacian").predictions_kernel, LaplacianKernel)
    kernel = LaplacianKernel(0.2)
    assert MMDLoss(kernel=kernel).predictions_kernel is kernel
    assert repr(MMDLoss()) == "MMDLoss(name='mmd_loss')"


def test_returns_scalar_of_float32():
    membership, predictions, _ = random_inputs(14)
    value = MMDLoss()(membership, predictions)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    assert tuple(value.shape) == ()
