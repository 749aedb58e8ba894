"""`MMDLoss`'s large-batch computations: row blocks (`block_size`) and random Fourier features
(`estimator='random_features'`), against the full-matrix estimator."""

import keras
import numpy as np
import pytest

from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffKernel
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import BACKEND
from min_diff_losses_testlib import compiled_call
from min_diff_losses_testlib import compiled_grad
from min_diff_losses_testlib import dtype_of
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import prepare
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy

KERNELS = {"gaussian": GaussianKernel, "laplacian": LaplacianKernel}


def _grouped_inputs(seed, n=40, d=None, shift=0.15):
    """Weighted inputs whose groups differ (the sensitive rows are shifted up)."""
    membership, predictions, weights = random_inputs(seed, n=n, d=d)
    column = membership.reshape((-1,) + (1,) * (predictions.ndim - 1))
    predictions = predictions * 0.5 + shift * column
    return membership, predictions.astype(np.float32), weights


# ---------------------------------------------------------------------------------------------
# Blocked quadratic computation.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("block_size", [3, 7, 40, 64])
@pytest.mark.parametrize("d", [None, 3])
def test_blocked_equals_full_matrix(kernel, block_size, d):
    membership, predictions, weights = _grouped_inputs(11, d=d)
    full = MMDLoss(KERNELS[kernel](0.2))
    blocked = MMDLoss(KERNELS[kernel](0.2), block_size=block_size)
    value = to_numpy(blocked(membership, predictions, weights))
    expected = to_numpy(full(membership, predictions, weights))
    assert expected > 1e-2
    np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        value, mmd_ref(membership, predictions, weights, kernel, 0.2), rtol=1e-5
    )
    full_grad = grad(lambda p: full(membership, p, weights), predictions)
    blocked_grad = grad(lambda p: blocked(membership, p, weights), predictions)
    assert np.all(np.isfinite(blocked_grad)) and np.abs(full_grad).max() > 1e-2
    np.testing.assert_allclose(blocked_grad, full_grad, rtol=1e-5, atol=1e-6)


class _ShapeRecordingKernel(GaussianKernel):
    """A Gaussian kernel that records the row counts it is called on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []

    def call(self, x, y):
        self.rows.append((x.shape[0], y.shape[1]))
        return super().call(x, y)


def test_blocked_never_builds_the_full_matrix():
    membership, predictions, weights = _grouped_inputs(15, n=40)
    kernel = _ShapeRecordingKernel(0.2)
    value = MMDLoss(kernel, block_size=16)(membership, predictions, weights)
    assert kernel.rows and set(kernel.rows) == {(16, 40)}  # [16, 40] blocks, not [40, 40].
    np.testing.assert_allclose(
        to_numpy(value), mmd_ref(membership, predictions, weights, "gaussian", 0.2), rtol=1e-5
    )


def test_blocked_compiled_and_run_time_batch_size():
    """Inside `tf.function` (batch size unknown when traced) and `jax.jit` the value and the
    gradient are those of the full matrix; on torch, eager."""
    membership, predictions, weights = _grouped_inputs(12, n=29)
    full = MMDLoss("laplacian")
    blocked = MMDLoss("laplacian", block_size=8)
    expected = to_numpy(full(membership, predictions, weights))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec([None], tf.float32)
        fn = tf.function(lambda m, p, w: blocked(m, p, w), input_signature=[spec] * 3)
        value = fn(membership, predictions, weights).numpy()
    else:
        value = compiled_call(lambda m, p, w: blocked(m, p, w), membership, predictions, weights)
    np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        compiled_grad(lambda p: blocked(membership, p, weights), predictions),
        grad(lambda p: full(membership, p, weights), predictions),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("empty_group", ["reference", "zero"])
def test_blocked_empty_group_as_full(empty_group):
    membership, predictions, weights = _grouped_inputs(13, n=10)
    membership[:] = 1.0
    full = MMDLoss(empty_group=empty_group)(membership, predictions, weights)
    blocked = MMDLoss(empty_group=empty_group, block_size=3)(membership, predictions, weights)
    np.testing.assert_allclose(to_numpy(blocked), to_numpy(full), rtol=1e-6, atol=1e-7)


def test_blocked_float64():
    membership, predictions, weights = _grouped_inputs(14, n=23)
    with float64_enabled():
        p64 = predictions.astype(np.float64)
        value = MMDLoss(block_size=5)(membership, p64, weights)
        assert dtype_of(value) == "float64"
        np.testing.assert_allclose(
            to_numpy(value), mmd_ref(membership, p64, weights), rtol=1e-12, atol=1e-14
        )


# ---------------------------------------------------------------------------------------------
# Random Fourier features.
# ---------------------------------------------------------------------------------------------


def _features_reference(kernel, membership, predictions, weights, num_features, seed):
    """`||Σ c_i φ(x_i)||²` in float64 NumPy, with the kernel's own frequencies."""
    m, p, w = prepare(membership, predictions, weights)
    s, n = w * (m == 1), w * (m == 0)
    c = (s / s.sum() - n / n.sum())[:, 0]
    phases = p @ kernel.random_frequencies(p.shape[1], num_features, seed)
    return (np.sum((c @ np.cos(phases)) ** 2) + np.sum((c @ np.sin(phases)) ** 2)) / num_features


@pytest.mark.parametrize("d", [None, 2])
def test_random_features_is_the_feature_formula(d):
    """Exact identity: the loss is `||Φᵀc||²` of the kernel's frequencies (not the matrix)."""
    membership, predictions, weights = _grouped_inputs(21, d=d)
    loss = MMDLoss(GaussianKernel(0.3), estimator="random_features", num_features=16, seed=5)
    value = to_numpy(loss(membership, predictions, weights))
    expected = _features_reference(loss.predictions_kernel, membership, predictions, weights, 16, 5)
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-7)
    quadratic = to_numpy(MMDLoss(GaussianKernel(0.3))(membership, predictions, weights))
    assert abs(value - quadratic) > 1e-4  # 16 features: an approximation, not the matrix.
    other_seed = MMDLoss(GaussianKernel(0.3), estimator="random_features", num_features=16,
                         seed=6)
    assert abs(to_numpy(other_seed(membership, predictions, weights)) - value) > 1e-5


@pytest.mark.parametrize("kernel_length", [0.1, 0.3])
def test_random_features_expectation_is_the_quadratic_value(kernel_length):
    """Averaged over 32 seeded draws of 1024 features, value and gradient are the quadratic
    estimator's, within 4 standard errors of the draws (which do differ)."""
    membership, predictions, weights = _grouped_inputs(22, n=48, d=2)
    kernel = GaussianKernel(kernel_length)
    expected = to_numpy(MMDLoss(kernel)(membership, predictions, weights))
    values = np.array([
        to_numpy(MMDLoss(kernel, estimator="random_features", seed=seed)(
            membership, predictions, weights))
        for seed in range(32)
    ])
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    assert values.std() > 1e-4
    assert abs(values.mean() - expected) < 4 * standard_error
    assert abs(values.mean() - expected) < 0.05 * expected
    # The gradient is linear in the kernel values too: 65,536 features give the matrix's.
    many = MMDLoss(kernel, estimator="random_features", num_features=65536)
    full_grad = grad(lambda p: MMDLoss(kernel)(membership, p, weights), predictions)
    features_grad = grad(lambda p: many(membership, p, weights), predictions)
    assert np.all(np.isfinite(features_grad))
    cosine = np.sum(full_grad * features_grad) / (
        np.linalg.norm(full_grad) * np.linalg.norm(features_grad))
    assert cosine > 0.98


def test_random_features_gradient_finite_and_compiled():
    membership, predictions, weights = _grouped_inputs(23, n=30)
    predictions[:4] = 0.5  # Identical predictions: distance 0.
    loss = MMDLoss(GaussianKernel(0.05), estimator="random_features", num_features=64)
    eager = grad(lambda p: loss(membership, p, weights), predictions)
    compiled = compiled_grad(lambda p: loss(membership, p, weights), predictions)
    assert np.all(np.isfinite(eager)) and np.abs(eager).max() > 1e-3
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-6)


def test_random_features_empty_group():
    membership, predictions, weights = _grouped_inputs(24, n=10)
    membership[:] = 0.0
    zero = MMDLoss(estimator="random_features", empty_group="zero")
    assert to_numpy(zero(membership, predictions, weights)) == 0.0
    reference = MMDLoss(estimator="random_features")(membership, predictions, weights)
    assert 0.0 < to_numpy(reference) <= 1.0 + 1e-6  # ||mean embedding||² of one group.


@pytest.mark.parametrize("estimator, extra", [
    ("quadratic", {"block_size": 16}), ("random_features", {}),
])
def test_min_diff_model_fit_moves_weights(estimator, extra):
    """Both computations train inside `fit`'s compiled step (TF graph, `jax.jit`, torch)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    sensitive = rng.normal(loc=0.5, size=(20, 4)).astype("float32")
    nonsensitive = rng.normal(loc=-0.5, size=(28, 4)).astype("float32")
    data = pack_min_diff_data((x, y), sensitive, nonsensitive, batch_size=32, shuffle=False)
    original = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model = MinDiffModel(original, MMDLoss(estimator=estimator, **extra), loss_weight=1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    before = [to_numpy(w).copy() for w in original.weights]
    history = model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(np.abs(to_numpy(w) - b).max() > 1e-6 for w, b in zip(original.weights, before))


# ---------------------------------------------------------------------------------------------
# Arguments and config.
# ---------------------------------------------------------------------------------------------


def test_config_round_trip():
    for loss in (
        MMDLoss(GaussianKernel(0.2), estimator="random_features", num_features=32, seed=9),
        MMDLoss(GaussianKernel(0.2), block_size=128),
    ):
        config = loss.get_config()
        rebuilt = MMDLoss.from_config(config)
        assert rebuilt.get_config() == config
        assert (rebuilt.estimator, rebuilt.block_size, rebuilt.num_features, rebuilt.seed) == (
            loss.estimator, loss.block_size, loss.num_features, loss.seed)
    assert MMDLoss(estimator="random_features").get_config()["num_features"] == 1024
    assert MMDLoss(estimator="random_features").get_config()["seed"] == 0
    # Defaults add no keys: configs written before these options load and compare unchanged.
    assert set(MMDLoss().get_config()) == {"name", "kernel"}
    assert set(AdjustedMMDLoss().get_config()) == {"name", "kernel"}


class _CustomKernel(MinDiffKernel):
    def call(self, x, y):
        return keras.ops.exp(-keras.ops.sum(keras.ops.abs(x - y), axis=2))


class _GaussianSubclass(GaussianKernel):
    pass


@pytest.mark.parametrize("kwargs, error, match", [
    ({"estimator": "linear"}, ValueError, "`estimator` must be one of 'quadratic' or "
                                          "'random_features'; received 'linear'"),
    ({"estimator": 1}, TypeError, "`estimator` must be"),
    ({"block_size": 0}, ValueError, r"`block_size` must be None or a positive int; received 0"),
    ({"block_size": 2.5}, TypeError, "`block_size` must be None or a positive int"),
    ({"block_size": True}, TypeError, "`block_size` must be None or a positive int"),
    ({"num_features": 0, "estimator": "random_features"}, ValueError, "`num_features`"),
    ({"seed": -1, "estimator": "random_features"}, ValueError, "`seed` must be None or an int ≥ 0"),
    ({"block_size": 8, "estimator": "random_features"}, ValueError,
     "`block_size` is only used with `estimator='quadratic'`"),
    ({"num_features": 8}, ValueError, "`num_features` is only used with "
                                      "`estimator='random_features'`"),
    ({"seed": 1}, ValueError, "`seed` is only used with `estimator='random_features'`"),
    ({"kernel": _CustomKernel(), "estimator": "random_features"}, ValueError,
     "needs `kernel='gaussian'` or a GaussianKernel"),
    ({"kernel": _GaussianSubclass(), "estimator": "random_features"}, ValueError,
     "needs `kernel='gaussian'` or a GaussianKernel"),
    ({"kernel": "laplacian", "estimator": "random_features"}, ValueError,
     r"spectrum\); received LaplacianKernel"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MMDLoss(**kwargs)


def test_kernels_share_the_length_scale_base():
    for cls in (GaussianKernel, LaplacianKernel):
        kernel = cls(0.25, tile_input=False)
        assert kernel.get_config() == {"kernel_length": 0.25, "tile_input": False}
        assert cls.from_config(kernel.get_config()) == kernel
        assert "__init__" not in vars(cls) and "get_config" not in vars(cls)
        with pytest.raises(ValueError, match="`kernel_length` must be a positive"):
            cls(0.0)


def test_gaussian_random_frequencies_sample_the_spectrum():
    """`E[cos(ωᵀδ)] = exp(-||δ||²/l²)`: checked on 200,000 draws, and the draw is seeded."""
    kernel = GaussianKernel(0.4)
    frequencies = kernel.random_frequencies(2, 200_000, seed=1)
    assert frequencies.shape == (2, 200_000)
    np.testing.assert_array_equal(frequencies, kernel.random_frequencies(2, 200_000, seed=1))
    for delta in ([0.1, 0.0], [0.2, -0.3], [0.5, 0.5]):
        expected = np.exp(-np.sum(np.square(delta)) / 0.16)
        np.testing.assert_allclose(np.mean(np.cos(np.array(delta) @ frequencies)), expected,
                                   atol=0.005)
