"""`get_config`/`from_config` of losses and kernels keep every constructor argument."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffKernel
from keras_remediation.min_diff.losses import MinDiffLoss
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


# ---------------------------------------------------------------------------------------------
# 2. get_config / from_config keep every constructor argument.
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_remediation_tests")
def _keep_membership(membership):
    return membership * 1.0


@keras.saving.register_keras_serializable(package="keras_remediation_tests")
class _SerializableKernelLoss(MinDiffLoss):
    """Uses every base argument: both transforms and both kernels."""

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, weights = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        membership_matrix, predictions_matrix = self._apply_kernels(membership, predictions)
        return ops.sum(membership_matrix * predictions_matrix) + ops.sum(weights * predictions)


NON_DEFAULT_CASES = [
    ("base-all-arguments", lambda: _SerializableKernelLoss(
        _keep_membership, keras.ops.sigmoid, LaplacianKernel(0.3, tile_input=True),
        GaussianKernel(0.2), "every_argument", False)),
    ("base-kernel-names", lambda: _SerializableKernelLoss(
        membership_kernel="laplace", predictions_kernel="gauss", enable_summary_histogram=False)),
    ("mmd", lambda: MMDLoss(LaplacianKernel(0.35), keras.ops.sigmoid, "md", False)),
    ("adjusted-mmd", lambda: AdjustedMMDLoss(GaussianKernel(0.25), keras.ops.sigmoid, "adj",
                                             False)),
    ("abs-corr", lambda: AbsoluteCorrelationLoss("corr", False,
                                                 predictions_transform=keras.ops.sigmoid)),
]


@pytest.mark.parametrize("make_loss", [c[1] for c in NON_DEFAULT_CASES],
                         ids=[c[0] for c in NON_DEFAULT_CASES])
def test_config_round_trip_keeps_every_argument(make_loss):
    loss = make_loss()
    config = loss.get_config()
    restored = type(loss).from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    assert restored.name == loss.name
    assert restored.enable_summary_histogram == loss.enable_summary_histogram is False
    for attr in ("membership_transform", "predictions_transform"):
        assert (getattr(restored, attr) is None) == (getattr(loss, attr) is None), attr
    for attr in ("membership_kernel", "predictions_kernel"):
        original, copy = getattr(loss, attr), getattr(restored, attr)
        assert type(copy) is type(original), attr
        if original is not None:
            assert copy.get_config() == original.get_config()

    membership, predictions, weights = random_inputs(7)
    logits = 3.0 * predictions - 1.5 + membership
    np.testing.assert_allclose(
        to_numpy(restored(membership, logits, weights)),
        to_numpy(loss(membership, logits, weights)),
        rtol=1e-7,
    )
    deserialized = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(loss)))
    )
    assert deserialized.get_config() == config


def test_base_config_holds_membership_transform_and_kernels():
    config = _SerializableKernelLoss(
        membership_transform=_keep_membership,
        membership_kernel=LaplacianKernel(0.3),
        predictions_kernel="gauss",
    ).get_config()
    assert {"membership_transform", "membership_kernel", "predictions_kernel"} <= set(config)


def test_default_config_is_only_the_name():
    # As TF-MR: arguments left at None are not stored, so a subclass whose constructor takes
    # fewer arguments round-trips too.
    class NameOnlyLoss(MinDiffLoss):
        def __init__(self, name=None):
            super().__init__(name=name)

        def call(self, membership, predictions, sample_weight=None):
            return ops.sum(predictions)

    loss = NameOnlyLoss()
    assert loss.get_config() == {"name": "name_only_loss"}
    assert NameOnlyLoss.from_config(loss.get_config()).name == "name_only_loss"


def test_mmd_from_config_accepts_tfmr_predictions_kernel_key():
    loss = MMDLoss.from_config({"name": "m", "predictions_kernel": "laplacian"})
    assert type(loss.predictions_kernel) is LaplacianKernel


@pytest.mark.parametrize("tile_input", [True, False])
@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_kernel_config_round_trips_every_argument(cls, tile_input):
    kernel = cls(0.37, tile_input=tile_input)
    config = kernel.get_config()
    assert config == {"kernel_length": 0.37, "tile_input": tile_input}
    restored = cls.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(kernel)))
    )
    assert type(restored) is cls and restored.get_config() == config


def test_custom_kernel_config_as_tfmr():
    class ArgKernel(MinDiffKernel):
        def __init__(self, arg, **kwargs):
            super().__init__(**kwargs)
            self.arg = arg

        def call(self, x, y):
            return ops.sum(x * y, axis=-1)

        def get_config(self):
            config = super().get_config()
            config.update({"arg": self.arg})
            return config

    assert ArgKernel.from_config(ArgKernel(5).get_config()).tile_input is True
    restored = ArgKernel.from_config(ArgKernel(5, tile_input=False).get_config())
    assert restored.arg == 5 and restored.tile_input is False




def test_losses_and_kernels_compare_by_class_and_config():
    from keras_remediation.min_diff import losses as md_losses

    assert md_losses.MMDLoss("laplacian") == md_losses.MMDLoss("laplacian")
    assert md_losses.MMDLoss("laplacian") != md_losses.MMDLoss("gaussian")
    assert md_losses.MMDLoss() != md_losses.AdjustedMMDLoss()
    assert md_losses.GaussianKernel(0.2) == md_losses.GaussianKernel(0.2)
    assert md_losses.GaussianKernel(0.2) != md_losses.GaussianKernel(0.3)
    loss = md_losses.MMDLoss()
    assert len({loss, md_losses.MMDLoss()}) == 1  # equal losses hash alike
    clone = md_losses.MMDLoss.from_config(loss.get_config())
    assert clone == loss and clone is not loss
