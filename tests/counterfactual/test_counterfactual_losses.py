"""Known values, reductions, errors, names and serialization of the pairwise counterfactual losses.

Default reduction (TF Model Remediation's, Keras's SUM_OVER_BATCH_SIZE): Σ w·l / batch size;
`batch_reduction="weighted_mean"`: Σ w·l / Σ w.
"""

import warnings

import keras
import numpy as np
import pytest

from keras_remediation.counterfactual import losses
from keras_remediation.counterfactual.losses import base_loss
from keras_remediation.counterfactual.losses import loss_utils

O = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 1.0]], "float32")
C = np.array([[0.0, 2.5, 1.0], [0.5, -1.0, 3.0], [1.0, -1.0, 0.0], [-2.0, 1.0, 1.0]], "float32")
W = np.array([1.0, 0.0, 2.0, 0.5], "float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _per_pair(name, o, c):
    if name == "mse":
        return np.mean((o - c) ** 2, axis=-1)
    if name == "abs":
        return np.mean(np.abs(o - c), axis=-1)
    norm = lambda x: np.sqrt(np.maximum(np.sum(x * x, axis=-1), 1e-12))  # noqa: E731
    return -np.sum(o * c, axis=-1) / (norm(o) * norm(c))


CASES = [
    ("mse", losses.PairwiseMSELoss),
    ("abs", losses.PairwiseAbsoluteDifferenceLoss),
    ("cos", losses.PairwiseCosineLoss),
]


@pytest.mark.parametrize("name,cls", CASES)
def test_known_values_unweighted(name, cls):
    expected = np.mean(_per_pair(name, O, C))
    np.testing.assert_allclose(_np(cls()(O, C)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,cls", CASES)
@pytest.mark.parametrize("weight_shape", [(4,), (4, 1)])
def test_default_reduction_divides_by_the_batch_size(name, cls, weight_shape):
    expected = np.sum(W * _per_pair(name, O, C)) / 4
    value = _np(cls()(O, C, W.reshape(weight_shape)))
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,cls", CASES)
def test_weighted_mean_option(name, cls):
    loss = cls(batch_reduction="weighted_mean")
    expected = np.sum(W * _per_pair(name, O, C)) / np.sum(W)
    np.testing.assert_allclose(_np(loss(O, C, W)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(loss(O, C, 2.3)), np.mean(_per_pair(name, O, C)), rtol=1e-5,
                               atol=1e-6)
    assert _np(loss(O, C, np.zeros(4, "float32"))) == 0.0
    assert loss.get_config()["batch_reduction"] == "weighted_mean"
    assert type(loss).from_config(loss.get_config()).batch_reduction == "weighted_mean"


def test_scalar_weight_scales_the_loss_tf_mr_values():
    # TF Model Remediation's pairwise_mse_loss_test numbers.
    o = np.array([[1, 9], [2, -5], [-2, 6]], "float32")
    c = np.array([[4, 8], [12, 8], [1, 3]], "float32")
    np.testing.assert_allclose(_np(losses.PairwiseMSELoss()(o, c)), 49.5, rtol=1e-6)
    np.testing.assert_allclose(_np(losses.PairwiseMSELoss()(o, c, 2.3)), 113.85, rtol=1e-5)
    np.testing.assert_allclose(_np(losses.PairwiseCosineLoss()(o, c)), -0.511, atol=1e-3)
    np.testing.assert_allclose(_np(losses.PairwiseCosineLoss()(o, c, 2.3)), -1.175, atol=1e-3)
    o2 = np.array([[1, 9, 2], [-5, -2, 6]], "float32")
    c2 = np.array([[4, 8, 12], [8, 1, 3]], "float32")
    w2 = np.array([1.2, 3.4], "float32")
    np.testing.assert_allclose(_np(losses.PairwiseMSELoss()(o2, c2, w2)), 127.9666, atol=1e-2)


def test_global_batch_size_is_the_divisor():
    loss = losses.PairwiseMSELoss(global_batch_size=8)
    expected = np.sum(W * _per_pair("mse", O, C)) / 8
    np.testing.assert_allclose(_np(loss(O, C, W)), expected, rtol=1e-5)
    assert loss.get_config() == {"name": "pairwise_mse_loss", "global_batch_size": 8}
    with pytest.raises(ValueError, match="global_batch_size"):
        losses.PairwiseMSELoss(global_batch_size=0)


def test_cosine_is_minus_the_similarity():
    cos = losses.PairwiseCosineLoss()([[1.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(_np(cos), -0.5, atol=1e-6)
    same = losses.PairwiseCosineLoss()(O[[0, 1, 3]], O[[0, 1, 3]])
    np.testing.assert_allclose(_np(same), -1.0, atol=1e-6)


def test_cosine_empty_batch_is_zero_not_nan():
    empty = np.zeros((0, 3), "float32")
    value = _np(losses.PairwiseCosineLoss()(empty, empty))
    assert value == 0.0
    value = _np(losses.PairwiseCosineLoss()(np.zeros((0,), "float32"), np.zeros((0,), "float32")))
    assert value == 0.0


def test_cosine_warns_on_single_value_outputs():
    loss = losses.PairwiseCosineLoss()
    with pytest.warns(UserWarning, match="PairwiseMSELoss"):
        loss(O[:, :1], C[:, :1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(O[:, :1], C[:, :1])  # once per instance
        losses.PairwiseCosineLoss()(O, C)  # D > 1: no warning


@pytest.mark.parametrize("name,cls", CASES)
def test_all_zero_weights_give_zero(name, cls):
    value = _np(cls()(O, C, np.zeros(4, "float32")))
    assert value == 0.0 and np.isfinite(value)


def test_cosine_zero_rows_have_finite_gradients():
    zeros = np.zeros((2, 3), "float32")
    np.testing.assert_allclose(_np(losses.PairwiseCosineLoss()(zeros, zeros)), 0.0)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grad = jax.grad(lambda a: losses.PairwiseCosineLoss()(a, a))(zeros)
    elif backend == "tensorflow":
        import tensorflow as tf

        a = tf.Variable(zeros)
        with tf.GradientTape() as tape:
            loss = losses.PairwiseCosineLoss()(a, a)
        grad = tape.gradient(loss, a)
    else:
        import torch

        a = torch.zeros((2, 3), requires_grad=True)
        losses.PairwiseCosineLoss()(a, a).backward()
        grad = a.grad
    assert np.all(np.isfinite(_np(grad)))


@pytest.mark.parametrize("cls", [c for _, c in CASES])
def test_shape_mismatch_names_both_shapes(cls):
    with pytest.raises(ValueError, match=r"Incompatible shape \[4, 3\] vs \[4, 2\]"):
        cls()(O, C[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        cls()(O[:, 0], O)
    with pytest.raises(ValueError, match="Argument `original` must not be None"):
        cls()(None, None)


def test_weight_errors():
    loss = losses.PairwiseMSELoss()
    with pytest.raises(ValueError, match="non-negative"):
        loss(O, C, np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"Incompatible `sample_weight` shape \[3\]"):
        loss(O, C, np.ones(3))
    with pytest.raises(ValueError, match=r"Incompatible `sample_weight` shape \[4, 2\]"):
        loss(O, C, np.ones((4, 2)))


class _TfMrStyleLoss(losses.CounterfactualLoss):
    """A subclass written against TF Model Remediation's contract: `call` gives per-example losses."""

    def call(self, original, counterfactual):
        return keras.ops.max(keras.ops.abs(original - counterfactual), axis=-1)


def test_subclass_implements_call():
    with pytest.raises(TypeError, match="abstract"):
        losses.CounterfactualLoss()
    loss = _TfMrStyleLoss()
    assert loss.name == "private__tf_mr_style_loss"
    assert isinstance(loss, keras.losses.Loss) and loss.reduction == "none"
    expected = np.sum(W * np.max(np.abs(O - C), axis=-1)) / 4
    np.testing.assert_allclose(_np(loss(O, C, W)), expected, rtol=1e-6)


def test_snake_case_names():
    assert losses.PairwiseMSELoss().name == "pairwise_mse_loss"

    class CustomLoss(losses.CounterfactualLoss):
        def call(self, original, counterfactual):
            return original

    assert CustomLoss().name == "custom_loss"
    assert CustomLoss(name="x").name == "x"
    assert CustomLoss().get_config() == {"name": "custom_loss"}


def test_sparse_inputs_are_densified():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.SparseTensor inputs are TensorFlow-backend inputs")
    o = tf.sparse.from_dense([[1.0, 0.0, 2.0, 0.0], [3.0, 0.0, 0.0, 4.0]])
    c = tf.sparse.from_dense([[1.0, 1.0, 2.0, 0.0], [7.0, 0.0, 0.0, 4.0]])
    value = losses.PairwiseCosineLoss()(o, c, tf.constant([1.2, 0.5]))
    np.testing.assert_allclose(_np(value), -0.777, atol=1e-3)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("pairwise_mse_loss", losses.PairwiseMSELoss),
        ("Pairwise_MSE", losses.PairwiseMSELoss),
        ("pairwise_absolute_difference_loss", losses.PairwiseAbsoluteDifferenceLoss),
        ("PAIRWISE_ABSOLUTE_DIFFERENCE", losses.PairwiseAbsoluteDifferenceLoss),
        ("pairwise_cosine_loss", losses.PairwiseCosineLoss),
        ("pairwise_cosine", losses.PairwiseCosineLoss),
    ],
)
def test_string_names(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert loss.name == cls().name


def test_get_errors_and_instances():
    instance = losses.PairwiseCosineLoss(name="cos")
    assert losses.get(instance) is instance
    assert loss_utils._get_loss(None) is None
    with pytest.raises(ValueError, match="custom_name.*must be.*supported values.*mmd"):
        loss_utils._get_loss("mmd", "custom_name")
    with pytest.raises(TypeError, match="custom_name.*must be.*CounterfactualLoss.*string"):
        loss_utils._get_loss(3, "custom_name")


def test_tf_mr_module_layout():
    assert base_loss.CounterfactualLoss is losses.CounterfactualLoss
    from keras_remediation.counterfactual.losses import pairwise_cosine_loss
    from keras_remediation.counterfactual.losses import pairwise_mse_loss
    from keras_remediation.counterfactual.losses import pairwise_absolute_difference_loss

    assert pairwise_mse_loss.PairwiseMSELoss is losses.PairwiseMSELoss
    assert pairwise_cosine_loss.PairwiseCosineLoss is losses.PairwiseCosineLoss
    assert (pairwise_absolute_difference_loss.PairwiseAbsoluteDifferenceLoss
            is losses.PairwiseAbsoluteDifferenceLoss)


@pytest.mark.parametrize("cls", [c for _, c in CASES])
def test_serialization_round_trip(cls):
    loss = cls(name="custom_name")
    restored = loss_utils.deserialize_keras_object(loss_utils.serialize_keras_object(loss))
    assert type(restored) is cls and restored.name == "custom_name"
    assert type(cls.from_config(loss.get_config())) is cls
    assert type(losses.get(keras.saving.serialize_keras_object(loss))) is cls
    np.testing.assert_allclose(_np(restored(O, C, W)), _np(loss(O, C, W)))


def test_ragged_inputs_on_tensorflow():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.RaggedTensor inputs are TensorFlow-backend inputs")
    o = tf.ragged.constant([[1.0, 1.0, 9.0], [2.0, 5.0]])
    c = tf.ragged.constant([[4.0, 1.0, 8.0], [12.0, 3.0]])
    # Row MSEs over each row's own length: (3² + 0 + 1²) / 3 = 10/3 and (10² + 2²) / 2 = 52.
    value = losses.PairwiseMSELoss()(o, c, tf.constant([1.2, 0.5]))
    np.testing.assert_allclose(_np(value), (10 / 3 * 1.2 + 52 * 0.5) / 2, rtol=1e-5)
