"""TF-MR's signatures: positional order of arguments, TypeError for wrong types and
ValueError for bad values, public names and default names."""

import json
import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_remediation.min_diff import losses as losses_module
from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffKernel
from keras_remediation.min_diff.losses import MinDiffLoss
from keras_remediation.min_diff.losses import MMDLoss
from keras_remediation.min_diff.losses import get_kernel
from keras_remediation.min_diff.losses import get_min_diff_loss
from min_diff_losses_testlib import abs_corr_ref
from min_diff_losses_testlib import kernel_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


class _WeightedMeanLoss(MinDiffLoss):
    """A loss written as TF-MR documents: `call` preprocesses its own inputs."""

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, normed_weights = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        return ops.sum(normed_weights * predictions)


class _TiledSquaredDistanceKernel(MinDiffKernel):
    """TF-MR's documented example kernel: `call` gets `[N, 1, D]` and `[1, M, D]` tensors."""

    def call(self, x, y):
        return ops.exp(-ops.sum(ops.square(x - y), axis=2) / 0.01)


# ---------------------------------------------------------------------------------------------
# 4. Positional arguments in TF-MR's order.
# ---------------------------------------------------------------------------------------------


def test_absolute_correlation_loss_positional_order():
    loss = AbsoluteCorrelationLoss("custom_name")
    assert loss.name == "custom_name"
    assert AbsoluteCorrelationLoss("n", False).enable_summary_histogram is False
    membership, predictions, weights = random_inputs(13)
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)),
        abs_corr_ref(membership, predictions, weights),
        rtol=1e-5,
    )


@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss])
def test_mmd_losses_positional_order(cls):
    loss = cls("laplacian", keras.ops.sigmoid, "custom_name", False)
    assert type(loss.predictions_kernel) is LaplacianKernel
    assert loss.predictions_transform is keras.ops.sigmoid
    assert loss.name == "custom_name"
    assert loss.enable_summary_histogram is False


def test_base_loss_positional_order():
    loss = _WeightedMeanLoss(abs, keras.ops.sigmoid, "gauss", "laplace", "custom_name", False)
    assert loss.membership_transform is abs
    assert loss.predictions_transform is keras.ops.sigmoid
    assert type(loss.membership_kernel) is GaussianKernel
    assert type(loss.predictions_kernel) is LaplacianKernel
    assert loss.name == "custom_name"
    assert loss.enable_summary_histogram is False


def test_kernel_positional_order():
    assert GaussianKernel(0.3).kernel_length == pytest.approx(0.3)
    assert LaplacianKernel(3).kernel_length == 3
    assert _TiledSquaredDistanceKernel(False).tile_input is False
    with pytest.raises(TypeError):
        GaussianKernel(0.3, False)  # TF-MR takes `tile_input` by keyword only.


# ---------------------------------------------------------------------------------------------
# 5. TypeError for wrong types, ValueError for bad values.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, None, 0.1, MMDLoss, GaussianKernel(),
                                 keras.losses.MeanSquaredError()])
def test_get_min_diff_loss_wrong_type_raises_type_error(bad):
    with pytest.raises(TypeError, match=r"`my_loss` must be .*MinDiffLoss.*; received"):
        get_min_diff_loss(bad, "my_loss")


@pytest.mark.parametrize("bad", [3, None, 0.1, GaussianKernel, lambda x: x])
def test_get_kernel_wrong_type_raises_type_error(bad):
    with pytest.raises(TypeError, match=r"`my_kernel` must be .*MinDiffKernel.*; received"):
        get_kernel(bad, "my_kernel")


@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss])
@pytest.mark.parametrize("bad", [4, None, lambda x: x])
def test_loss_kernel_wrong_type_raises_type_error(cls, bad):
    with pytest.raises(TypeError, match="kernel.*must be"):
        cls(bad)


def test_unknown_names_raise_value_error():
    with pytest.raises(ValueError, match="`my_loss`.*'bad_name'"):
        get_min_diff_loss("bad_name", "my_loss")
    with pytest.raises(ValueError, match="`my_kernel`.*'bad_name'"):
        get_kernel("bad_name", "my_kernel")
    with pytest.raises(ValueError, match="membership_kernel"):
        _WeightedMeanLoss(membership_kernel="cosine")


@pytest.mark.parametrize("bad", ["0.1", None, True, np.bool_(True), [0.1], 1j])
@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_kernel_length_wrong_type_raises_type_error(cls, bad):
    with pytest.raises(TypeError, match=r"`kernel_length` must be .*number.*; received"):
        cls(bad)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, -1, math.inf, -math.inf, math.nan,
                                 np.float32(np.nan), np.float64(0.0)])
@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_kernel_length_bad_value_raises_value_error(cls, bad):
    with pytest.raises(ValueError, match=r"`kernel_length` must be .*positive.*finite.*received"):
        cls(bad)


@pytest.mark.parametrize("length", [np.float32(0.1), np.float64(0.25), np.int64(2), 3])
def test_kernel_length_accepts_numpy_scalars(length):
    kernel = GaussianKernel(length)
    assert isinstance(kernel.kernel_length, float)
    assert kernel.kernel_length == float(length)
    x = np.array([0.0, 0.05], np.float32)
    np.testing.assert_allclose(
        to_numpy(kernel(x)), kernel_ref(x, None, "gaussian", float(length)), rtol=1e-5
    )
    json.dumps(kernel.get_config())


@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss, AbsoluteCorrelationLoss])
def test_name_wrong_type_raises_type_error(cls):
    with pytest.raises(TypeError, match="`name` must be a string"):
        cls(name=3)


def test_callable_as_abs_corr_first_argument_is_a_type_error():
    # `AbsoluteCorrelationLoss`'s first positional argument is `name`, as in TF-MR.
    with pytest.raises(TypeError, match="`name` must be a string"):
        AbsoluteCorrelationLoss(keras.ops.sigmoid)


# ---------------------------------------------------------------------------------------------
# 6. Other contract points of TF-MR's tests.
# ---------------------------------------------------------------------------------------------


def test_public_names_of_tfmr_losses_module():
    for name in ("MinDiffLoss", "MMDLoss", "AdjustedMMDLoss", "AbsoluteCorrelationLoss",
                 "MinDiffKernel", "GaussianKernel", "LaplacianKernel", "kernels"):
        assert hasattr(losses_module, name), name
    for name in ("MinDiffKernel", "GaussianKernel", "LaplacianKernel"):
        assert getattr(losses_module.kernels, name) is getattr(losses_module, name)


def test_default_names_follow_tfmr():
    class _CustomLoss(_WeightedMeanLoss):
        pass

    class Loss2D(_WeightedMeanLoss):
        pass

    class CustomLoss(_WeightedMeanLoss):
        pass

    assert CustomLoss().name == "custom_loss"
    assert _CustomLoss().name == "private__custom_loss"
    assert Loss2D().name == "loss2d"
    assert MMDLoss().name == "mmd_loss"
    assert AdjustedMMDLoss().name == "adjusted_mmd_loss"
    assert AbsoluteCorrelationLoss().name == "absolute_correlation_loss"


def test_abstract_classes():
    with pytest.raises(TypeError):
        MinDiffLoss()
    with pytest.raises(TypeError):
        MinDiffKernel()

    class NoCall(MinDiffKernel):
        pass

    with pytest.raises(TypeError):
        NoCall()
