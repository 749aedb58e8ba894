"""Known values, errors, names and serialization of the pairwise counterfactual losses."""

import keras
import numpy as np
import pytest

from keras_remediation.counterfactual import losses

O = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 1.0]], "float32")
C = np.array([[0.0, 2.5, 1.0], [0.5, -1.0, 3.0], [1.0, -1.0, 0.0], [-2.0, 1.0, 1.0]], "float32")
W = np.array([1.0, 0.0, 2.0, 0.5], "float32")


def _per_pair(name, o, c):
    if name == "mse":
        return np.mean((o - c) ** 2, axis=-1)
    if name == "abs":
        return np.mean(np.abs(o - c), axis=-1)
    norm = lambda x: np.sqrt(np.maximum(np.sum(x * x, axis=-1), 1e-12))  # noqa: E731
    return 1.0 - np.sum(o * c, axis=-1) / (norm(o) * norm(c))


CASES = [
    ("mse", losses.PairwiseMSELoss),
    ("abs", losses.PairwiseAbsoluteDifferenceLoss),
    ("cos", losses.PairwiseCosineLoss),
]


@pytest.mark.parametrize("name,cls", CASES)
def test_known_values_unweighted(name, cls):
    expected = np.mean(_per_pair(name, O, C))
    value = keras.ops.convert_to_numpy(cls()(O, C))
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,cls", CASES)
@pytest.mark.parametrize("weight_shape", [(4,), (4, 1)])
def test_known_values_weighted(name, cls, weight_shape):
    expected = np.sum(W * _per_pair(name, O, C)) / np.sum(W)
    value = keras.ops.convert_to_numpy(cls()(O, C, W.reshape(weight_shape)))
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


def test_hand_computed_numbers():
    # Row diffs (1,-0.5,-1) -> MSE 0.75, MAE 0.8333; row 2 identical -> 0.
    o, c = O[:2], C[:2]
    mse = keras.ops.convert_to_numpy(losses.PairwiseMSELoss()(o, c))
    mae = keras.ops.convert_to_numpy(losses.PairwiseAbsoluteDifferenceLoss()(o, c, [3.0, 1.0]))
    np.testing.assert_allclose(mse, 0.375, rtol=1e-6)
    np.testing.assert_allclose(mae, 0.75 * (2.5 / 3), rtol=1e-6)
    cos = losses.PairwiseCosineLoss()([[1.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cos), 0.5, atol=1e-6)


@pytest.mark.parametrize("name,cls", CASES)
def test_one_dimensional_inputs(name, cls):
    o, c = O[:, 0], C[:, 0]
    expected = np.mean(_per_pair(name, o[:, None], c[:, None]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cls()(o, c)), expected, atol=1e-6)


@pytest.mark.parametrize("name,cls", CASES)
def test_all_zero_weights_give_zero(name, cls):
    value = keras.ops.convert_to_numpy(cls()(O, C, np.zeros(4, "float32")))
    assert value == 0.0 and np.isfinite(value)


def test_cosine_zero_rows_have_finite_gradients():
    zeros = np.zeros((2, 3), "float32")
    value = keras.ops.convert_to_numpy(losses.PairwiseCosineLoss()(zeros, zeros))
    np.testing.assert_allclose(value, 1.0)
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
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(grad)))


@pytest.mark.parametrize("cls", [c for _, c in CASES])
def test_shape_mismatch_names_both_shapes(cls):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        cls()(O, C[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        cls()(O[:, 0], O)


def test_weight_errors():
    loss = losses.PairwiseMSELoss()
    with pytest.raises(ValueError, match="non-negative"):
        loss(O, C, np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="batch size"):
        loss(O, C, np.ones(3))
    with pytest.raises(ValueError, match=r"\[batch_size\] or \[batch_size, 1\]"):
        loss(O, C, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"\[batch_size\] or \[batch_size, D\]"):
        loss(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


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
    with pytest.raises(ValueError, match="pairwise_mse_loss"):
        losses.get("mmd")
    with pytest.raises(TypeError, match="loss name"):
        losses.get(3)


@pytest.mark.parametrize("cls", [c for _, c in CASES])
def test_serialization_round_trip(cls):
    loss = cls(name="custom_name")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls and restored.name == "custom_name"
    assert type(cls.from_config(loss.get_config())) is cls
    assert type(losses.get(keras.saving.serialize_keras_object(loss))) is cls
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(O, C, W)), keras.ops.convert_to_numpy(loss(O, C, W))
    )
