"""Issue #14 (MinDiff losses): non-finite predictions and weights never pass silently, and
`empty_group` chooses what a batch lacking a group gets."""

import keras
import numpy as np
import pytest

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffLoss
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import BACKEND
from min_diff_losses_testlib import abs_corr_ref
from min_diff_losses_testlib import adjusted_mmd_ref
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy

# (id, loss factory taking keyword arguments).
LOSSES = [
    ("mmd-gaussian", lambda **kw: MMDLoss("gaussian", **kw)),
    ("mmd-laplacian", lambda **kw: MMDLoss("laplacian", **kw)),
    ("adjusted-gaussian", lambda **kw: AdjustedMMDLoss("gaussian", **kw)),
    ("adjusted-laplacian", lambda **kw: AdjustedMMDLoss("laplacian", **kw)),
    ("abs-corr", lambda **kw: AbsoluteCorrelationLoss(**kw)),
]
IDS = [entry[0] for entry in LOSSES]
MAKERS = [entry[1] for entry in LOSSES]
BAD = [np.nan, np.inf, -np.inf]


def _with_bad_prediction(bad, seed=61):
    membership, predictions, weights = random_inputs(seed)
    predictions = predictions.copy()
    predictions[3] = bad
    return membership, predictions, weights


# ---------------------------------------------------------------------------------------------
# 1. Non-finite predictions raise wherever values are known.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_non_finite_predictions_raise_eagerly(make_loss, bad):
    membership, predictions, weights = _with_bad_prediction(bad)
    with pytest.raises(ValueError, match=r"`predictions` must be finite; received 1 NaN"):
        make_loss()(membership, predictions, weights)


@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_non_finite_predictions_raise_for_backend_tensors(make_loss):
    membership, predictions, _ = _with_bad_prediction(np.nan)
    with pytest.raises(ValueError, match="`predictions` must be finite"):
        make_loss()(keras.ops.convert_to_tensor(membership), keras.ops.convert_to_tensor(predictions))


def test_non_finite_after_predictions_transform_raises():
    membership, predictions, _ = random_inputs(62)
    loss = MMDLoss(predictions_transform=lambda p: keras.ops.log(p - 2.0))  # log(<0) = NaN
    with pytest.raises(ValueError, match="`predictions` must be finite"):
        loss(membership, predictions)


def test_error_names_membership_first_for_swapped_arguments():
    membership, predictions, _ = random_inputs(63)
    predictions[0] = np.nan
    with pytest.raises(ValueError, match="`membership` must contain only"):
        MMDLoss()(predictions, membership)


@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_nan_sample_weight_raises(make_loss):
    membership, predictions, weights = random_inputs(64)
    weights[2] = np.nan
    with pytest.raises(ValueError, match="`sample_weight` must be finite"):
        make_loss()(membership, predictions, weights)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="graph assertions are TensorFlow-only")
@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_graph_mode_prediction_assertion(make_loss):
    import tensorflow as tf

    membership, predictions, weights = _with_bad_prediction(np.nan)
    loss = make_loss()
    compiled = tf.function(lambda m, p, w: loss(m, p, w))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`predictions` must be finite"):
        compiled(tf.constant(membership), tf.constant(predictions), tf.constant(weights))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="graph assertions are TensorFlow-only")
@pytest.mark.parametrize("bad, message", [(np.inf, "finite"), (-1.0, "non-negative")])
def test_graph_mode_sample_weight_assertion(bad, message):
    import tensorflow as tf

    membership, predictions, weights = random_inputs(65)
    weights[5] = bad
    loss = MMDLoss()
    compiled = tf.function(lambda m, p, w: loss(m, p, w))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"`sample_weight` must be {message}"):
        compiled(tf.constant(membership), tf.constant(predictions), tf.constant(weights))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="graph assertions are TensorFlow-only")
def test_graph_mode_finite_inputs_pass():
    import tensorflow as tf

    membership, predictions, weights = random_inputs(66)
    loss = MMDLoss()
    value = tf.function(lambda m, p, w: loss(m, p, w))(
        tf.constant(membership), tf.constant(predictions), tf.constant(weights)
    )
    np.testing.assert_allclose(value.numpy(), mmd_ref(membership, predictions, weights, "gaussian"),
                               rtol=1e-5)


@pytest.mark.parametrize("bad", BAD, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_kernel_matrix_propagates_nan(kernel, bad):
    """The Laplacian used to turn a NaN distance into 0 (kernel value 1): a finite loss."""
    from keras_remediation.min_diff.losses import get_kernel

    x = np.array([[0.1], [bad], [0.7]], np.float32)
    matrix = to_numpy(get_kernel(kernel)(x))
    assert np.isnan(matrix[1, 1])
    assert np.all(np.isfinite(np.delete(np.delete(matrix, 1, 0), 1, 1)))


@pytest.mark.skipif(BACKEND != "jax", reason="documents JAX-jit behaviour")
@pytest.mark.parametrize("empty_group", ["reference", "zero"])
@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_jit_nan_predictions_give_nan_loss(make_loss, empty_group):
    """Under `jax.jit` values cannot raise: the NaN must reach the loss, never a finite value."""
    import jax

    membership, predictions, weights = _with_bad_prediction(np.nan)
    loss = make_loss(empty_group=empty_group)
    value = jax.jit(lambda m, p, w: loss(m, p, w))(membership, predictions, weights)
    assert np.isnan(to_numpy(value))
    # One group absent: `empty_group='zero'` must not hide the NaN either.
    value = jax.jit(lambda m, p, w: loss(m, p, w))(np.ones_like(membership), predictions, weights)
    assert np.isnan(to_numpy(value))


# ---------------------------------------------------------------------------------------------
# 8. empty_group.
# ---------------------------------------------------------------------------------------------


def _absent_group_batches():
    membership, predictions, weights = random_inputs(67)
    mixed = np.tile(np.array([1.0, 0.0], np.float32), 6)
    return {
        "all-sensitive": (np.ones(12, np.float32), predictions, weights),
        "all-non-sensitive": (np.zeros(12, np.float32), predictions, weights),
        "sensitive-zero-weight": (mixed, predictions, weights * (1 - mixed)),
        "non-sensitive-zero-weight": (mixed, predictions, weights * mixed),
        "all-zero-weight": (mixed, predictions, np.zeros(12, np.float32)),
    }


REFERENCES = {
    "mmd-gaussian": lambda m, p, w: mmd_ref(m, p, w, "gaussian"),
    "mmd-laplacian": lambda m, p, w: mmd_ref(m, p, w, "laplacian"),
    "adjusted-gaussian": lambda m, p, w: adjusted_mmd_ref(m, p, w, "gaussian"),
    "adjusted-laplacian": lambda m, p, w: adjusted_mmd_ref(m, p, w, "laplacian"),
    "abs-corr": abs_corr_ref,
}


@pytest.mark.parametrize("case", list(_absent_group_batches()))
@pytest.mark.parametrize("loss_id, make_loss", list(zip(IDS, MAKERS)), ids=IDS)
def test_empty_group_zero_gives_zero_value_and_gradient(loss_id, make_loss, case):
    membership, predictions, weights = _absent_group_batches()[case]
    loss = make_loss(empty_group="zero")
    assert float(to_numpy(loss(membership, predictions, weights))) == 0.0
    g = grad(lambda p: loss(membership, p, weights), predictions)
    np.testing.assert_array_equal(g, np.zeros_like(g))


@pytest.mark.parametrize("loss_id, make_loss", list(zip(IDS, MAKERS)), ids=IDS)
def test_empty_group_reference_keeps_the_reference_value(loss_id, make_loss):
    membership, predictions, weights = _absent_group_batches()["all-sensitive"]
    value = float(to_numpy(make_loss()(membership, predictions, weights)))
    np.testing.assert_allclose(value, REFERENCES[loss_id](membership, predictions, weights),
                               rtol=1e-5, atol=1e-7)
    if loss_id.startswith("mmd") or loss_id.startswith("adjusted"):
        assert value > 0.1  # The reference penalises the spread of the only group.


@pytest.mark.parametrize("loss_id, make_loss", list(zip(IDS, MAKERS)), ids=IDS)
def test_empty_group_zero_leaves_batches_with_both_groups_unchanged(loss_id, make_loss):
    membership, predictions, weights = random_inputs(68)
    zero = to_numpy(make_loss(empty_group="zero")(membership, predictions, weights))
    reference = to_numpy(make_loss()(membership, predictions, weights))
    np.testing.assert_allclose(zero, reference, rtol=1e-6)
    g_zero = grad(lambda p: make_loss(empty_group="zero")(membership, p, weights), predictions)
    g_ref = grad(lambda p: make_loss()(membership, p, weights), predictions)
    np.testing.assert_allclose(g_zero, g_ref, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_empty_group_round_trips_through_config(make_loss):
    loss = make_loss(empty_group="zero")
    config = loss.get_config()
    assert config["empty_group"] == "zero"
    rebuilt = type(loss).from_config(config)
    assert rebuilt.empty_group == "zero" and rebuilt == loss
    assert "empty_group" not in make_loss().get_config()  # TF-MR's config keys by default.


@pytest.mark.parametrize("bad, error", [("Zero", ValueError), ("none", ValueError),
                                        (0, TypeError), (None, TypeError)])
@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_bad_empty_group_raises(make_loss, bad, error):
    with pytest.raises(error, match=r"`empty_group` must be one of 'reference' or 'zero'; "
                                    r"received"):
        make_loss(empty_group=bad)


def test_custom_loss_can_apply_empty_group():
    class MeanGapLoss(MinDiffLoss):
        def call(self, membership, predictions, sample_weight=None):
            m, p, w = self._preprocess_inputs(membership, predictions, sample_weight)
            gap = keras.ops.sum(w * p * (2.0 * m - 1.0))
            return self._apply_empty_group(keras.ops.abs(gap), m, w)

    membership, predictions, weights = _absent_group_batches()["all-sensitive"]
    assert float(to_numpy(MeanGapLoss(empty_group="zero")(membership, predictions, weights))) == 0
    assert float(to_numpy(MeanGapLoss()(membership, predictions, weights))) > 0


# ---------------------------------------------------------------------------------------------
# 9. dtypes are documented, with JAX's float32 default.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [MinDiffLoss, MMDLoss, AdjustedMMDLoss, AbsoluteCorrelationLoss])
def test_docstrings_say_float64_is_float32_under_jax_without_x64(cls):
    assert "jax_enable_x64" in cls.__doc__


# ---------------------------------------------------------------------------------------------
# Found by benchmarks/fuzz_min_diff_losses.py.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss])
def test_gradient_is_finite_for_predictions_near_the_float32_limit(cls, kernel):
    """`square(d)`'s gradient `2d · 0` overflowed to inf · 0 = NaN for |d| > 1.7e38."""
    membership, predictions, weights = random_inputs(69)
    predictions[2] = 3e38
    loss = cls(kernel)
    assert np.isfinite(float(to_numpy(loss(membership, predictions, weights))))
    g = grad(lambda p: loss(membership, p, weights), predictions)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize(
    "arg, bad",
    [
        ("predictions", np.array(["a", "b"])),
        ("predictions", {"p": np.zeros(2)}),
        ("membership", "0.5"),
        ("membership", np.array([1 + 1j, 0j])),
        ("sample_weight", np.array(["1", "2"])),
        ("sample_weight", object()),
    ],
)
@pytest.mark.parametrize("make_loss", MAKERS, ids=IDS)
def test_inputs_of_a_non_numeric_type_raise_type_error_naming_them(make_loss, arg, bad):
    inputs = {"membership": np.array([1.0, 0.0]), "predictions": np.array([0.2, 0.4], "float32"),
              "sample_weight": None}
    inputs[arg] = bad
    with pytest.raises(TypeError, match=f"`{arg}` must (be|have)"):
        make_loss()(inputs["membership"], inputs["predictions"], inputs["sample_weight"])


def test_ragged_list_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="`predictions` must be a rectangular numeric array"):
        MMDLoss()([1.0, 0.0], [[0.1, 0.2], [0.3]])
