"""TF-MR's contract of a custom `MinDiffLoss`: `__call__` hands the raw inputs to `call`,
which preprocesses them itself with `_preprocess_inputs` and `_apply_kernels`."""

import numpy as np
import pytest
from keras import ops

from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import MinDiffLoss
from min_diff_losses_testlib import kernel_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


# ---------------------------------------------------------------------------------------------
# 1. `__call__` hands the raw inputs to `call`; `call` preprocesses them itself.
# ---------------------------------------------------------------------------------------------


class _WeightedMeanLoss(MinDiffLoss):
    """A loss written as TF-MR documents: `call` preprocesses its own inputs."""

    def call(self, membership, predictions, sample_weight=None):
        self.raw = (membership, predictions, sample_weight)
        membership, predictions, normed_weights = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        return ops.sum(normed_weights * predictions)


def test_custom_loss_applies_predictions_transform_once():
    loss = _WeightedMeanLoss(predictions_transform=lambda p: 2.0 * p)
    value = loss(np.array([1.0, 0.0]), np.array([1.0, 1.0], np.float32))
    np.testing.assert_allclose(to_numpy(value), 2.0, rtol=1e-6)


def test_custom_loss_call_receives_raw_inputs():
    membership = np.array([1.0, 0.0, 1.0])
    predictions = np.array([0.2, 0.4, 0.9], np.float32)
    loss = _WeightedMeanLoss()
    loss(membership, predictions)
    raw_membership, raw_predictions, raw_weight = loss.raw
    assert raw_membership is membership
    assert raw_predictions is predictions
    assert raw_weight is None
    weights = np.array([1.0, 2.0, 1.0])
    loss(membership, predictions, weights)
    assert loss.raw[2] is weights


def test_preprocess_inputs_contract():
    # As TF-MR's `testPreprocessInputs`: weights default to equal, normalised, `[batch, 1]`.
    loss = _WeightedMeanLoss(membership_transform=lambda m: ops.convert_to_tensor(m) * 1)
    membership, predictions, weights = loss._preprocess_inputs([1, 1], [2, 2])
    np.testing.assert_allclose(to_numpy(weights), [[0.5], [0.5]])
    np.testing.assert_allclose(to_numpy(predictions), [[2.0], [2.0]])
    _, _, weights = loss._preprocess_inputs([1, 1], [2, 2], np.array([[1], [3]]))
    np.testing.assert_allclose(to_numpy(weights), [[0.25], [0.75]])
    with pytest.raises(ValueError, match="`sample_weight` must be non-negative"):
        loss._preprocess_inputs([1, 1], [2, 2], np.array([[-1], [3]]))


class _KernelMeanLoss(MinDiffLoss):
    """Mean of the predictions kernel matrix, via `_preprocess_inputs` and `_apply_kernels`."""

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, weights = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        membership, predictions = self._apply_kernels(membership, predictions)
        return ops.mean(predictions)


def test_custom_loss_with_kernels_and_transform():
    membership, predictions, _ = random_inputs(3)
    loss = _KernelMeanLoss(
        predictions_transform=lambda p: 0.5 * p, predictions_kernel=GaussianKernel(0.3)
    )
    expected = np.mean(kernel_ref(0.5 * predictions.astype(np.float64), kernel_length=0.3))
    np.testing.assert_allclose(to_numpy(loss(membership, predictions)), expected, rtol=1e-5)


