"""Tests of what every MinDiff loss shares (`MinDiffLoss`): input validation and errors, edge
cases (finite values and gradients), dtypes, compiled execution and `predictions_transform`."""

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
from min_diff_losses_testlib import compiled_call
from min_diff_losses_testlib import compiled_grad
from min_diff_losses_testlib import dtype_of
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy

# (id, loss factory, reference(membership, predictions, weights)).
LOSSES = [
    ("mmd-gaussian", lambda **kw: MMDLoss(GaussianKernel(0.3), **kw),
     lambda m, p, w: mmd_ref(m, p, w, "gaussian", 0.3)),
    ("mmd-laplacian", lambda **kw: MMDLoss(LaplacianKernel(0.3), **kw),
     lambda m, p, w: mmd_ref(m, p, w, "laplacian", 0.3)),
    ("adjusted-gaussian", lambda **kw: AdjustedMMDLoss(GaussianKernel(0.3), **kw),
     lambda m, p, w: adjusted_mmd_ref(m, p, w, "gaussian", 0.3)),
    ("adjusted-laplacian", lambda **kw: AdjustedMMDLoss(LaplacianKernel(0.3), **kw),
     lambda m, p, w: adjusted_mmd_ref(m, p, w, "laplacian", 0.3)),
    ("abs-corr", lambda **kw: AbsoluteCorrelationLoss(**kw), abs_corr_ref),
]
LOSS_IDS = [entry[0] for entry in LOSSES]


def _edge_case(name):
    """(membership, predictions, weights) of a degenerate batch."""
    # Batches of 12 rows, the size of `random_inputs`, so that JAX reuses compiled ops.
    rng = np.random.default_rng(41)
    p = rng.uniform(size=12).astype(np.float32)
    w = rng.uniform(0.5, 2.0, size=12).astype(np.float32)
    mixed = np.tile(np.array([1, 0], dtype=np.float32), 6)
    if name == "all-sensitive":
        return np.ones(12, np.float32), p, w
    if name == "all-non-sensitive":
        return np.zeros(12, np.float32), p, w
    if name == "all-zero-weights":
        return mixed, p, np.zeros(12, np.float32)
    if name == "one-group-zero-weight":
        return mixed, p, w * (1 - mixed)
    if name == "single-sensitive-example":
        return np.ones(1, np.float32), p[:1], None
    if name == "single-non-sensitive-example":
        return np.zeros(1, np.float32), p[:1].reshape(1, 1), w[:1]
    if name == "constant-predictions":
        return mixed, np.full(12, 0.4, np.float32), w
    if name == "duplicated-predictions":
        return mixed, np.repeat(np.array([0.2, 0.7, 0.2, 0.9], np.float32), 3), None
    raise ValueError(name)


EDGE_CASES = [
    "all-sensitive",
    "all-non-sensitive",
    "all-zero-weights",
    "one-group-zero-weight",
    "single-sensitive-example",
    "single-non-sensitive-example",
    "constant-predictions",
    "duplicated-predictions",
]


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("make_loss, reference", [e[1:] for e in LOSSES], ids=LOSS_IDS)
def test_edge_case_value_and_gradient_are_finite(make_loss, reference, case):
    membership, predictions, weights = _edge_case(case)
    loss = make_loss()
    value = to_numpy(loss(membership, predictions, weights))
    assert np.isfinite(value)
    np.testing.assert_allclose(value, reference(membership, predictions, weights), rtol=1e-5,
                               atol=1e-5)
    if case == "all-zero-weights":
        assert value == 0.0

    g = grad(lambda p: loss(membership, p, weights), predictions)
    assert g.shape == predictions.shape
    assert np.all(np.isfinite(g)), g


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize(
    "make_loss", [e[1] for e in LOSSES], ids=LOSS_IDS
)
def test_edge_case_gradient_is_finite_when_compiled(make_loss, case):
    # The anchor's Laplacian kernel gave NaN gradients under graph compilation (d‖0‖).
    membership, predictions, weights = _edge_case(case)
    loss = make_loss()
    g_compiled = compiled_grad(lambda p: loss(membership, p, weights), predictions)
    assert np.all(np.isfinite(g_compiled)), g_compiled
    if case == "constant-predictions" and isinstance(loss, AbsoluteCorrelationLoss):
        # The correlation is 0 up to rounding, where |·| has no derivative: the sign of the
        # (large, 1/sqrt(1e-7)-scaled) gradient depends on the order of float operations.
        return
    g_eager = grad(lambda p: loss(membership, p, weights), predictions)
    np.testing.assert_allclose(g_compiled, g_eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", [GaussianKernel, LaplacianKernel])
def test_laplacian_gradient_compiled_on_random_batch(kernel):
    membership, predictions, weights = random_inputs(42, d=2)
    predictions[3] = predictions[4]  # A zero off-diagonal distance too.
    for loss in (MMDLoss(kernel(0.2)), AdjustedMMDLoss(kernel(0.2))):
        g_compiled = compiled_grad(lambda p: loss(membership, p, weights), predictions)
        g_eager = grad(lambda p: loss(membership, p, weights), predictions)
        assert np.all(np.isfinite(g_compiled))
        assert np.any(g_compiled != 0)
        np.testing.assert_allclose(g_compiled, g_eager, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make_loss, reference", [e[1:] for e in LOSSES], ids=LOSS_IDS)
def test_compiled_value_equals_eager(make_loss, reference):
    membership, predictions, weights = random_inputs(43)
    loss = make_loss()
    compiled = compiled_call(lambda m, p, w: loss(m, p, w), membership, predictions, weights)
    np.testing.assert_allclose(
        compiled, reference(membership, predictions, weights), rtol=1e-5, atol=1e-5
    )


# ---------------------------------------------------------------------------------------------
# dtypes.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_loss, reference", [e[1:] for e in LOSSES], ids=LOSS_IDS)
def test_prediction_dtypes(make_loss, reference):
    membership, predictions, weights = random_inputs(44, n=12)
    predictions = predictions.astype(np.float64) + 0.2 * membership
    loss = make_loss()

    # float16 inputs are computed in float32: exact up to float32 rounding on the
    # float16-rounded values (a float16 computation would be ~1e-3 off).
    p16 = predictions.astype(np.float16)
    out16 = loss(membership, p16, weights)
    assert dtype_of(out16) == "float32"
    np.testing.assert_allclose(
        to_numpy(out16), reference(membership, p16, weights), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(out16), reference(membership, predictions, weights), rtol=2e-2, atol=1e-3
    )

    p32 = predictions.astype(np.float32)
    out32 = loss(membership, p32, weights)
    assert dtype_of(out32) == "float32"
    np.testing.assert_allclose(
        to_numpy(out32), reference(membership, p32, weights), rtol=1e-5, atol=1e-5
    )

    with float64_enabled():
        out64 = loss(membership, predictions, weights.astype(np.float64))
        assert dtype_of(out64) == "float64"
        np.testing.assert_allclose(
            to_numpy(out64), reference(membership, predictions, weights), rtol=1e-6, atol=1e-7
        )


@pytest.mark.parametrize("make_loss, reference", [e[1:] for e in LOSSES], ids=LOSS_IDS)
def test_float64_is_computed_in_float64(make_loss, reference):
    membership, predictions, weights = random_inputs(44, n=12)
    predictions = predictions.astype(np.float64) + 0.2 * membership
    with float64_enabled():
        out64 = make_loss()(membership, predictions, weights.astype(np.float64))
        assert dtype_of(out64) == "float64"
        np.testing.assert_allclose(
            to_numpy(out64), reference(membership, predictions, weights), rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("make_loss", [e[1] for e in LOSSES], ids=LOSS_IDS)
def test_float16_weights_and_integer_predictions(make_loss):
    membership, predictions, weights = random_inputs(45)
    loss = make_loss()
    expected = to_numpy(loss(membership, predictions, weights.astype(np.float16)))
    assert np.isfinite(expected)
    ints = np.array([0, 1, 2, 3, 1, 0, 2, 3, 3, 2, 1, 0])
    value = loss(membership, ints, None)
    assert dtype_of(value) == "float32"
    np.testing.assert_allclose(
        to_numpy(value), to_numpy(loss(membership, ints.astype(np.float32))), rtol=1e-6
    )


# ---------------------------------------------------------------------------------------------
# Validation errors.
# ---------------------------------------------------------------------------------------------

ALL_LOSSES = [e[1] for e in LOSSES]


@pytest.mark.parametrize("make_loss", ALL_LOSSES, ids=LOSS_IDS)
def test_swapped_arguments_raise(make_loss):
    membership, predictions, _ = random_inputs(46)
    with pytest.raises(ValueError, match=r"`membership`.*loss\(membership, predictions"):
        make_loss()(predictions, membership)


@pytest.mark.parametrize("bad_value", [2.0, -1.0, 0.5, np.nan])
def test_non_binary_membership_raises(bad_value):
    membership, predictions, _ = random_inputs(47)
    membership[3] = bad_value
    with pytest.raises(ValueError, match="`membership` must contain only 0.0") as info:
        MMDLoss()(membership, predictions)
    assert "loss(membership, predictions" in str(info.value)


@pytest.mark.parametrize("make_loss", ALL_LOSSES, ids=LOSS_IDS)
def test_negative_sample_weight_raises(make_loss):
    membership, predictions, weights = random_inputs(48)
    weights[2] = -0.5
    with pytest.raises(ValueError, match="`sample_weight` must be non-negative"):
        make_loss()(membership, predictions, weights)
    with pytest.raises(ValueError, match="sample_weight"):
        make_loss()(membership, predictions, -1.0)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_sample_weight_raises(bad_value):
    membership, predictions, weights = random_inputs(49)
    weights[0] = bad_value
    with pytest.raises(ValueError, match="`sample_weight` must be finite"):
        MMDLoss()(membership, predictions, weights)


@pytest.mark.parametrize("make_loss", ALL_LOSSES, ids=LOSS_IDS)
def test_batch_size_mismatch_raises(make_loss):
    membership, predictions, weights = random_inputs(50)
    loss = make_loss()
    with pytest.raises(ValueError, match="`membership` and `predictions` must have the same"):
        loss(membership[:7], predictions)
    with pytest.raises(ValueError, match="`membership` and `predictions` must have the same"):
        loss(membership.reshape(-1, 1), predictions[:5].reshape(-1, 1))
    with pytest.raises(ValueError, match="`sample_weight` must have the batch size"):
        loss(membership, predictions, weights[:6])
    with pytest.raises(ValueError, match="`sample_weight` must have the batch size"):
        loss(membership, predictions, np.ones((9, 1), np.float32))


def test_bad_shapes_raise():
    membership, predictions, weights = random_inputs(51)
    loss = MMDLoss()
    with pytest.raises(ValueError, match=r"`membership` must have shape \[batch_size\]"):
        loss(np.stack([membership, 1 - membership], axis=1), predictions)
    with pytest.raises(ValueError, match=r"`membership` must have shape"):
        loss(membership.reshape(12, 1, 1), predictions)
    with pytest.raises(ValueError, match=r"`membership` must have shape"):
        loss(np.float32(1.0), predictions)
    with pytest.raises(ValueError, match=r"`predictions` must have shape"):
        loss(membership, np.float32(0.3))
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape"):
        loss(membership, predictions, np.ones((12, 2), np.float32))


def test_missing_inputs_raise():
    membership, predictions, _ = random_inputs(52)
    with pytest.raises(ValueError, match="required"):
        MMDLoss()(None, predictions)
    with pytest.raises(ValueError, match="required"):
        MMDLoss()(membership, None)


@pytest.mark.parametrize("bad", ["sigmoid", 3, [keras.ops.sigmoid]])
@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss, AbsoluteCorrelationLoss])
def test_non_callable_predictions_transform_raises(cls, bad):
    with pytest.raises(ValueError, match="`predictions_transform` must be callable"):
        cls(predictions_transform=bad)


@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss])
def test_bad_kernel_raises(cls):
    with pytest.raises(ValueError, match="kernel") as info:
        cls(kernel="rbf")
    assert "'rbf'" in str(info.value)
    with pytest.raises(TypeError, match="kernel"):
        cls(kernel=1.5)
    with pytest.raises(ValueError, match="kernel_length"):
        cls(kernel=GaussianKernel(kernel_length=0.0))
    with pytest.raises(ValueError, match="kernel_length"):
        cls(kernel=LaplacianKernel(kernel_length=-2))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="graph assertion is TensorFlow-only")
def test_graph_mode_membership_assertion():
    import tensorflow as tf

    membership, predictions, _ = random_inputs(53)
    membership[0] = 3.0
    loss = MMDLoss()
    compiled = tf.function(lambda m, p: loss(m, p))
    with pytest.raises(tf.errors.InvalidArgumentError, match="membership"):
        compiled(tf.constant(membership), tf.constant(predictions))


@pytest.mark.skipif(BACKEND != "jax", reason="documents JAX-jit behaviour")
def test_jit_non_binary_rows_belong_to_no_group():
    import jax

    membership, predictions, weights = random_inputs(54)
    membership[4] = 0.5
    keep = np.arange(12) != 4
    loss = MMDLoss()
    value = jax.jit(lambda m, p, w: loss(m, p, w))(membership, predictions, weights)
    np.testing.assert_allclose(
        to_numpy(value),
        mmd_ref(membership[keep], predictions[keep], weights[keep]),
        rtol=1e-5,
    )


# ---------------------------------------------------------------------------------------------
# predictions_transform, names and the subclass contract.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_loss, reference", [e[1:] for e in LOSSES], ids=LOSS_IDS)
def test_predictions_transform_is_applied(make_loss, reference):
    membership, predictions, weights = random_inputs(55)
    logits = (4.0 * predictions - 2.0 + membership).astype(np.float32)
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    transformed = to_numpy(make_loss(predictions_transform=keras.ops.sigmoid)(
        membership, logits, weights))
    on_probabilities = to_numpy(make_loss()(membership, probabilities.astype(np.float32), weights))
    np.testing.assert_allclose(transformed, on_probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        transformed, reference(membership, probabilities, weights), rtol=1e-4, atol=1e-5
    )
    on_logits = to_numpy(make_loss()(membership, logits, weights))
    assert abs(transformed - on_logits) > 1e-4


def test_predictions_transform_gradient_flows_through():
    membership, predictions, weights = random_inputs(56)
    loss = MMDLoss(predictions_transform=lambda p: 0.5 * p)
    g = grad(lambda p: loss(membership, p, weights), predictions)
    g_plain = grad(lambda p: MMDLoss()(membership, p, weights), 0.5 * predictions)
    np.testing.assert_allclose(g, 0.5 * g_plain, rtol=1e-5, atol=1e-7)


class _RecordingLoss(MinDiffLoss):
    """Returns Σ w̃ and records what `_preprocess_inputs` gives `call`."""

    def call(self, membership, predictions, sample_weight=None):
        self.received = self._preprocess_inputs(membership, predictions, sample_weight)
        return keras.ops.sum(self.received[2])


@pytest.mark.parametrize("pred_shape", [(6,), (6, 1), (6, 3), (6, 2, 2)])
@pytest.mark.parametrize("weights", [None, "vector", "column", "scalar"])
def test_preprocess_inputs_gives_columns_and_normalised_weights(pred_shape, weights):
    rng = np.random.default_rng(57)
    membership = np.array([1, 0, 1, 1, 0, 0], dtype=np.int32)
    predictions = rng.uniform(size=pred_shape).astype(np.float32)
    w = {
        None: None,
        "vector": rng.uniform(size=6),
        "column": rng.uniform(size=(6, 1)),
        "scalar": 4.0,
    }[weights]
    loss = _RecordingLoss()
    np.testing.assert_allclose(to_numpy(loss(membership, predictions, w)), 1.0, rtol=1e-6)
    m, p, normed = loss.received
    assert tuple(m.shape) == (6, 1)
    assert tuple(p.shape) == (6, int(np.prod(pred_shape[1:])))
    assert tuple(normed.shape) == (6, 1)
    for t in (m, p, normed):
        assert dtype_of(t) == "float32"
    np.testing.assert_array_equal(to_numpy(m)[:, 0], membership)
    expected_w = np.ones(6) if w is None else np.broadcast_to(np.reshape(w, (-1,)), (6,))
    np.testing.assert_allclose(to_numpy(normed)[:, 0], expected_w / expected_w.sum(), rtol=1e-6)


def test_all_zero_weights_normalise_to_zero():
    loss = _RecordingLoss()
    value = loss(np.array([1, 0, 1.0]), np.array([0.1, 0.2, 0.3]), np.zeros(3))
    assert to_numpy(value) == 0.0
    assert np.all(to_numpy(loss.received[2]) == 0.0)


def test_membership_transform_runs_before_validation():
    loss = _RecordingLoss(membership_transform=lambda m: m / 2.0)
    loss(np.array([2.0, 0.0, 2.0]), np.array([0.1, 0.2, 0.3]))
    np.testing.assert_array_equal(to_numpy(loss.received[0])[:, 0], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="`membership_transform` must be callable"):
        _RecordingLoss(membership_transform="half")


def test_base_names_and_abstractness():
    with pytest.raises(TypeError):
        MinDiffLoss()
    assert _RecordingLoss().name == "private__recording_loss"  # TF-MR's rule.

    class MyHTTPLoss(_RecordingLoss):
        pass

    assert MyHTTPLoss().name == "my_http_loss"
    assert _RecordingLoss(name="custom").name == "custom"
    assert _RecordingLoss(predictions_kernel="laplace").predictions_kernel.kernel_length == 0.1
    with pytest.raises(ValueError, match="membership_kernel"):
        _RecordingLoss(membership_kernel="cosine")
