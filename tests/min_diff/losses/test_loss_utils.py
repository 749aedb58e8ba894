"""Tests of `get_min_diff_loss` name resolution and of loss serialization."""

import json

import keras
import numpy as np
import pytest

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MMDLoss
from keras_remediation.min_diff.losses import get_min_diff_loss
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mmd", MMDLoss),
        ("MMD", MMDLoss),
        ("MMD_loss", MMDLoss),
        ("mmd_loss", MMDLoss),
        ("maximum_mean_discrepancy", MMDLoss),
        ("Maximum_Mean_Discrepancy_Loss", MMDLoss),
        ("abs_corr", AbsoluteCorrelationLoss),
        ("ABS_CORR_LOSS", AbsoluteCorrelationLoss),
        ("absolute_correlation", AbsoluteCorrelationLoss),
        ("absolute_correlation_loss", AbsoluteCorrelationLoss),
        ("adjusted_mmd", AdjustedMMDLoss),
        ("Adjusted_MMD_Loss", AdjustedMMDLoss),
    ],
)
def test_get_min_diff_loss_by_name(name, cls):
    loss = get_min_diff_loss(name)
    assert type(loss) is cls
    if cls is not AbsoluteCorrelationLoss:
        assert type(loss.predictions_kernel) is GaussianKernel


def test_get_min_diff_loss_returns_instances_unchanged():
    loss = AdjustedMMDLoss("laplacian")
    assert get_min_diff_loss(loss) is loss
    assert get_min_diff_loss("mmd") is not get_min_diff_loss("mmd")


@pytest.mark.parametrize("bad", ["mse", "mmd_", "loss", "", "correlation", "adjusted"])
def test_get_min_diff_loss_unknown_name(bad):
    with pytest.raises(ValueError, match="`min_diff_loss`") as info:
        get_min_diff_loss(bad, "min_diff_loss")
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="`loss`"):
        get_min_diff_loss(bad)


@pytest.mark.parametrize("bad", [None, 1, MMDLoss, GaussianKernel(), keras.losses.MeanSquaredError()])
def test_get_min_diff_loss_wrong_type(bad):
    with pytest.raises(TypeError, match="`loss` must be a MinDiffLoss instance or a string"):
        get_min_diff_loss(bad)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("gauss", GaussianKernel),
        ("Gaussian", GaussianKernel),
        ("gaussian_kernel", GaussianKernel),
        ("laplace", LaplacianKernel),
        ("laplacian", LaplacianKernel),
        ("laplacian_kernel", LaplacianKernel),
        ("LAPLACE_KERNEL", LaplacianKernel),
    ],
)
@pytest.mark.parametrize("loss_cls", [MMDLoss, AdjustedMMDLoss])
def test_loss_kernel_names(loss_cls, name, cls):
    assert type(loss_cls(kernel=name).predictions_kernel) is cls


def test_laplacian_kernel_name_changes_the_value():
    membership, predictions, weights = random_inputs(61)
    gaussian = to_numpy(MMDLoss(kernel="gaussian")(membership, predictions, weights))
    laplacian = to_numpy(MMDLoss(kernel="laplacian")(membership, predictions, weights))
    explicit = to_numpy(MMDLoss(kernel=LaplacianKernel())(membership, predictions, weights))
    assert laplacian == pytest.approx(explicit, rel=1e-6)
    assert abs(gaussian - laplacian) > 1e-3


# ---------------------------------------------------------------------------------------------
# Serialization.
# ---------------------------------------------------------------------------------------------

SERIALIZATION_CASES = [
    ("mmd-default", lambda: MMDLoss()),
    ("mmd-laplacian", lambda: MMDLoss(kernel=LaplacianKernel(0.35), name="md_mmd")),
    ("mmd-gaussian-sigmoid",
     lambda: MMDLoss(kernel=GaussianKernel(0.25), predictions_transform=keras.ops.sigmoid)),
    ("adjusted-default", lambda: AdjustedMMDLoss()),
    ("adjusted-laplacian-sigmoid",
     lambda: AdjustedMMDLoss(kernel=LaplacianKernel(0.2), predictions_transform=keras.ops.sigmoid,
                             name="adj")),
    ("abs-corr-default", lambda: AbsoluteCorrelationLoss()),
    ("abs-corr-sigmoid",
     lambda: AbsoluteCorrelationLoss(predictions_transform=keras.ops.sigmoid, name="corr")),
]


def _assert_same_loss(restored, original):
    assert type(restored) is type(original)
    assert restored.name == original.name
    if original.predictions_kernel is None:
        assert restored.predictions_kernel is None
    else:
        assert type(restored.predictions_kernel) is type(original.predictions_kernel)
        assert restored.predictions_kernel.kernel_length == original.predictions_kernel.kernel_length
    assert (restored.predictions_transform is None) == (original.predictions_transform is None)

    membership, predictions, weights = random_inputs(62)
    logits = 3.0 * predictions - 1.5 + membership
    np.testing.assert_allclose(
        to_numpy(restored(membership, logits, weights)),
        to_numpy(original(membership, logits, weights)),
        rtol=1e-7,
    )


@pytest.mark.parametrize("make_loss", [c[1] for c in SERIALIZATION_CASES],
                         ids=[c[0] for c in SERIALIZATION_CASES])
def test_serialize_deserialize_round_trip(make_loss):
    loss = make_loss()
    config = keras.saving.serialize_keras_object(loss)
    config = json.loads(json.dumps(config))  # Must survive a JSON (`.keras`) file.
    restored = keras.saving.deserialize_keras_object(config)
    _assert_same_loss(restored, loss)


@pytest.mark.parametrize("make_loss", [c[1] for c in SERIALIZATION_CASES],
                         ids=[c[0] for c in SERIALIZATION_CASES])
def test_get_config_from_config_round_trip(make_loss):
    loss = make_loss()
    config = loss.get_config()
    restored = type(loss).from_config(config)
    _assert_same_loss(restored, loss)
    # The config is unchanged by a round trip, and from_config does not mutate it.
    assert restored.get_config() == config
    assert type(loss).from_config(json.loads(json.dumps(config))).get_config() == config


def test_config_contents():
    config = MMDLoss(kernel=LaplacianKernel(0.35), name="md").get_config()
    assert config["name"] == "md"
    assert config["kernel"]["config"] == {"kernel_length": 0.35, "tile_input": True}
    assert "predictions_transform" not in config
    assert AbsoluteCorrelationLoss().get_config() == {"name": "absolute_correlation_loss"}


def test_from_config_accepts_kernel_names():
    loss = AdjustedMMDLoss.from_config({"name": "a", "kernel": "laplace"})
    assert type(loss.predictions_kernel) is LaplacianKernel
    assert loss.name == "a"


def test_losses_are_registered():
    for cls in (MMDLoss, AdjustedMMDLoss, AbsoluteCorrelationLoss):
        assert keras.saving.get_registered_object(f"keras_remediation>{cls.__name__}") is cls
