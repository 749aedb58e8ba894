"""Bad input to counterfactual logit pairing gets a named error (issue 14), on every backend.

Losses: non-numeric inputs raise TypeError, NaN or infinite outputs raise ValueError naming
`original` or `counterfactual` wherever the values are known (a TensorFlow graph raises
InvalidArgumentError naming them). Data: non-finite counterfactual features and empty
counterfactual datasets raise when the data is packed, before any training step.
`build_counterfactual_data` on tf.data takes a list of string terms only.
"""

import keras
import numpy as np
import pytest

from array_batches_testlib import ArrayBatches
from counterfactual_testlib import make_model
from counterfactual_testlib import synthetic_data
from keras_remediation.counterfactual import losses
from keras_remediation.counterfactual.keras import CounterfactualModel
from keras_remediation.counterfactual.keras import utils

LOSSES = [losses.PairwiseMSELoss, losses.PairwiseAbsoluteDifferenceLoss, losses.PairwiseCosineLoss]
O = np.array([[0.1, 0.2], [0.5, 0.4], [0.9, 0.3]], "float32")
C = np.array([[0.2, 0.1], [0.4, 0.4], [0.3, 0.8]], "float32")


def _with(array, row, value):
    array = array.copy()
    array[row, 0] = value
    return array


@pytest.mark.parametrize("cls", LOSSES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_outputs_raise_naming_the_argument(cls, value):
    with pytest.raises(ValueError, match=r"`original` must be finite; received 1 NaN or inf"):
        cls()(_with(O, 1, value), C)
    with pytest.raises(ValueError, match=r"`counterfactual` must be finite"):
        cls()(O, _with(C, 2, value))
    with pytest.raises(ValueError, match=r"`sample_weight` must be finite"):
        cls()(O, C, np.array([1.0, value, 1.0], "float32"))


@pytest.mark.parametrize("cls", LOSSES)
def test_non_numeric_inputs_raise_type_error(cls):
    with pytest.raises(TypeError, match=r"`original` must have a bool, integer or float dtype"):
        cls()(np.array([["a"], ["b"]]), np.array([["c"], ["d"]]))
    with pytest.raises(TypeError, match=r"`counterfactual` must be a numeric tensor or array"):
        cls()(O, {"a": 1})
    with pytest.raises(TypeError, match=r"`sample_weight` must have a bool, integer or float"):
        cls()(O, C, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"`original` must be a rectangular numeric array"):
        cls()([[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("value", [True, "8", 2.0])
def test_global_batch_size_of_a_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"`global_batch_size` must be None or a positive int"):
        losses.PairwiseMSELoss(global_batch_size=value)


def test_non_finite_outputs_in_a_tensorflow_graph_raise_naming_the_argument():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("graph assertions are TensorFlow's")
    import tensorflow as tf

    loss = losses.PairwiseMSELoss()
    step = tf.function(lambda o, c: loss(o, c))
    assert np.isfinite(float(step(O, C)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`counterfactual` must be finite"):
        step(O, _with(C, 0, np.nan))


def test_model_with_non_finite_outputs_raises_in_an_eager_step():
    """TensorFlow and PyTorch run `run_eagerly` steps on values; JAX traces the gradient
    even then, so there the step cannot raise and the loss is NaN (never a finite value)."""
    x, y, x_cf = synthetic_data(32)
    original = make_model()
    model = CounterfactualModel(original)
    model.compile("sgd", "binary_crossentropy", run_eagerly=True)
    kernel = original.layers[-1].kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=16, shuffle=False)
    if keras.backend.backend() == "jax":
        history = model.fit(data, epochs=1, verbose=0).history
        assert np.isnan(history["counterfactual_loss"][0])
        return
    with pytest.raises(ValueError, match=r"`original` must be finite"):
        model.fit(data, epochs=1, verbose=0)


@pytest.mark.parametrize("where", ["original_x", "counterfactual_x"])
def test_non_finite_counterfactual_features_raise_when_packed(where):
    x, y, x_cf = synthetic_data(32)
    pair = [x, x_cf]
    pair[where == "counterfactual_x"] = _with(pair[where == "counterfactual_x"], 5, np.nan)
    with pytest.raises(ValueError, match=rf"`counterfactual_data {where}` must be finite"):
        utils.pack_counterfactual_data((x, y), tuple(pair))
    data = utils.pack_counterfactual_data(ArrayBatches((x, y), 8), ArrayBatches(tuple(pair), 8))
    with pytest.raises(ValueError, match=rf"`counterfactual_data {where}` must be finite"):
        [batch for batch in data]


def test_empty_counterfactual_datasets_raise_when_packed():
    x, y, x_cf = synthetic_data(32)
    with pytest.raises(ValueError, match=r"`counterfactual_data` must have at least one row"):
        utils.pack_counterfactual_data((x, y), (x[:0], x_cf[:0]))
    with pytest.raises(ValueError, match=r"`counterfactual_data` must have at least one batch"):
        utils.pack_counterfactual_data(ArrayBatches((x, y), 8), ArrayBatches((x[:0], x_cf[:0]), 8))
    tf = pytest.importorskip("tensorflow")
    original = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    empty = tf.data.Dataset.from_tensor_slices((x, x_cf)).filter(lambda a, b: False).batch(8)
    with pytest.raises(ValueError, match=r"`counterfactual_data\['a'\]` must have at least one"):
        utils.pack_counterfactual_data(original, {"a": empty})


@pytest.mark.parametrize(
    "weight, error", [(True, TypeError), ("1", TypeError), (-0.5, ValueError),
                      (float("nan"), ValueError), (np.inf, ValueError)],
)
def test_bad_loss_weight_raises_before_the_model_changes(weight, error):
    original = make_model()
    before = [w.copy() for w in original.get_weights()]
    with pytest.raises(error, match=r"`loss_weight(\['a'\])?` must be a non-negative finite"):
        CounterfactualModel(original, loss_weight=weight)
    with pytest.raises(error, match=r"`loss_weight\['a'\]` must be a non-negative finite"):
        CounterfactualModel(original, loss={"a": "pairwise_mse_loss"}, loss_weight={"a": weight})
    for got, want in zip(original.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_build_counterfactual_data_on_tf_data_takes_a_list_of_string_terms():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices(["he is here", "she is there", "none"])
    with pytest.raises(TypeError, match=r"`sensitive_terms_to_remove` must be a list of strings"):
        utils.build_counterfactual_data(dataset, sensitive_terms_to_remove={"he": "she"})
    with pytest.raises(TypeError, match=r"`sensitive_terms_to_remove` must be a list of strings"):
        utils.build_counterfactual_data(dataset, sensitive_terms_to_remove=[1, 2])
    with pytest.raises(TypeError, match=r"`custom_counterfactual_function` must be callable"):
        utils.build_counterfactual_data(dataset, custom_counterfactual_function="swap")
    pairs = list(utils.build_counterfactual_data(dataset, sensitive_terms_to_remove="he"))
    assert [(a.numpy(), b.numpy()) for a, b, _ in pairs] == [(b"he is here", b" is here")]
    both = utils.build_counterfactual_data(
        dataset, sensitive_terms_to_remove=["she"],
        custom_counterfactual_function=lambda x: (x, tf.strings.upper(x), 2.0),
    )
    assert [(a.numpy(), b.numpy(), float(w)) for a, b, w in both] == [
        (b"she is there", b"SHE IS THERE", 2.0)
    ]


@pytest.mark.parametrize("cls", LOSSES)
def test_empty_rank_one_batch_is_zero_not_nan(cls):
    empty = np.zeros((0,), "float32")
    assert float(keras.ops.convert_to_numpy(cls()(empty, empty))) == 0.0


@pytest.mark.parametrize("cls", [losses.PairwiseMSELoss, losses.PairwiseAbsoluteDifferenceLoss])
def test_finite_outputs_that_overflow_the_loss_raise(cls):
    huge = np.array([[3e38, 0.0], [1.0, 2.0]], "float32")
    with pytest.raises(ValueError, match=r"`original` and `counterfactual` must be small enough "
                       r"for the loss to be finite in float32; received values up to 3e\+38"):
        cls()(huge, -huge)
    weights = np.array([1e30, 1.0], "float32")
    with pytest.raises(ValueError, match=r"`sample_weight` must be small enough"):
        cls()(huge / 1e20, huge / 1e20 + 1e10, weights * 1e8)


def test_cosine_of_outputs_near_the_float_limit_has_a_finite_value_and_gradient():
    sys_path = __import__("sys").path
    sys_path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "min_diff" / "losses"))
    from min_diff_losses_testlib import grad

    big = np.array([[3e38, 1e38], [1.0, -2.0]], "float32")
    other = np.array([[1.0, 0.0], [2.0, -4.0]], "float32")
    loss = losses.PairwiseCosineLoss()
    value = float(keras.ops.convert_to_numpy(loss(big, other)))
    cos_first = 3.0 / np.sqrt(10.0)
    np.testing.assert_allclose(value, -(cos_first + 1.0) / 2, rtol=1e-5)
    assert np.all(np.isfinite(grad(lambda x: loss(x, other), big)))


def _compiled(function):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    pytest.skip("no compiled mode on PyTorch here")


def test_compiled_weighted_mean_of_empty_or_zero_weight_batches():
    """An empty batch gives 0 in a compiled step (TensorFlow crashed with SIGFPE on one with
    weights); all-zero weights never hide a NaN output under `jit` (0 · NaN is NaN)."""
    loss = losses.PairwiseMSELoss(batch_reduction="weighted_mean")
    step = _compiled(lambda o, c, w: loss(o, c, w))
    empty = np.zeros((0, 4, 1), "float32")
    assert float(step(empty, empty, np.zeros((0,), "float32"))) == 0.0
    if keras.backend.backend() == "jax":
        value = float(step(_with(O, 0, np.nan), C, np.zeros((3,), "float32")))
        assert np.isnan(value)
