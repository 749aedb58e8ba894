"""TFF's `from_keras_model` contract (issue #13): what TFF's own tests rely on.

Specs are types (dtypes, structure), not batch shapes; metric constructors; string inputs;
`num_examples` / `num_batches` and `reset_metrics`; one loss on a multi-output model sees the
whole structures; TFF's error types.
"""

import collections

import numpy as np
import pytest
import keras

from keras_remediation import federated


def _linear(feature_dims):
    """A zero-initialised linear regression (predictions are 0 until trained)."""
    inputs = keras.Input((feature_dims,))
    outputs = keras.layers.Dense(1, kernel_initializer="zeros")(inputs)
    return keras.Model(inputs, outputs)


def _whimsy_spec(feature_dims):
    # TFF's tests: a batch of 1 declared, batches of 2 fed; labels rank 1 declared, [n, 1] fed.
    return collections.OrderedDict(
        x=keras.KerasTensor((1, feature_dims), dtype="float32"),
        y=keras.KerasTensor((1,), dtype="float32"),
    )


def _batch(feature_dims):
    x = np.stack([np.zeros(feature_dims, "float32"), np.ones(feature_dims, "float32")])
    y = np.array([[0.0], [1.0]], "float32")
    return x, y


def _three_outputs():
    a = keras.Input((1,))
    b = keras.Input((1,))
    outputs = [keras.layers.Dense(1, kernel_initializer="ones", name=f"out_{i}")(a) for i in range(2)]
    outputs.append(keras.layers.Dense(1, kernel_initializer="ones", name="out_2")(b))
    return keras.Model([a, b], outputs)


# 1. The spec is a type: its batch dimension (and rank of labels) is not a constraint. ------------


@pytest.mark.parametrize("feature_dims", [1, 3])
def test_fixed_batch_dimension_in_spec_is_not_a_constraint(feature_dims):
    fm = federated.from_keras_model(_linear(feature_dims), keras.losses.MeanSquaredError(),
                                    _whimsy_spec(feature_dims))
    result = fm.evaluate(_batch(feature_dims))
    assert result.num_examples == 2
    np.testing.assert_allclose(result.metrics["loss"], 0.5)
    assert np.isfinite(fm.train(_batch(feature_dims)).metrics["loss"])


def test_ragged_batch_sizes_in_spec_construct():
    spec = (keras.KerasTensor((3, 2)), keras.KerasTensor((1,)))
    fm = federated.from_keras_model(_linear(2), "mse", spec)
    assert fm.evaluate((np.ones((5, 2), "float32"), np.ones((5, 1), "float32"))).num_examples == 5


def test_unknown_labels_rank_and_multiple_inputs_with_fixed_batch():
    a = keras.Input((1,), name="a")
    b = keras.Input((1,), name="b")
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    spec = collections.OrderedDict(
        x=collections.OrderedDict(a=keras.KerasTensor((None, 1)), b=keras.KerasTensor((1, 1))),
        y=keras.KerasTensor((None,)),
    )
    fm = federated.from_keras_model(model, "mse", spec)
    x = {"a": np.ones((2, 1), "float32"), "b": np.ones((2, 1), "float32")}
    assert fm.evaluate((x, np.full((2, 1), 2.0, "float32"))).num_examples == 2


def test_feature_dimensions_are_still_checked():
    fm = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3))
    with pytest.raises(ValueError, match="input_spec"):
        fm.evaluate((np.zeros((2, 4), "float32"), np.zeros((2, 1), "float32")))


# 2. Metric constructors. -----------------------------------------------------------------------


class _Counter(keras.metrics.Sum):
    """A custom metric whose constructor takes an extra argument (TFF's test)."""

    def __init__(self, name="new_counter", arg1=0, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self._arg1 = arg1

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(self._arg1)


def test_metric_constructors_are_accepted():
    fm = federated.from_keras_model(
        _linear(3), keras.losses.MeanSquaredError(), _whimsy_spec(3),
        metrics=[keras.metrics.MeanAbsoluteError, lambda: _Counter(arg1=1)],
    )
    result = fm.evaluate(_batch(3))
    np.testing.assert_allclose(result.metrics["mean_absolute_error"], 0.5)
    assert result.metrics["new_counter"] == 1.0


def test_metric_constructors_build_fresh_metrics_per_model():
    metrics = [keras.metrics.MeanAbsoluteError]
    first = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3), metrics=metrics)
    second = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3), metrics=metrics)
    first.evaluate(_batch(3))
    for key, value in second.metric_state().items():
        assert np.all(value == 0), key
    assert first.keras_model.metrics_variables[-1] is not second.keras_model.metrics_variables[-1]


@pytest.mark.parametrize(
    "metrics, message",
    [
        ([keras.metrics.MeanAbsoluteError, keras.metrics.MeanSquaredError()], "found both types"),
        ([42], "found a non-callable"),
        ([keras.losses.MeanSquaredError], "not a no-arg callable"),
    ],
)
def test_invalid_metrics_raise_type_error(metrics, message):
    with pytest.raises(TypeError, match=message):
        federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3), metrics=metrics)


# 3. String inputs. -----------------------------------------------------------------------------


def _lookup_model():
    inputs = keras.Input((1,), dtype="string")
    ids = keras.layers.StringLookup(vocabulary=["R", "G", "B"])(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.ops.cast(ids, "float32")))


def test_string_inputs():
    spec = (keras.KerasTensor((None, 1), dtype="string"), keras.KerasTensor((None, 1)))
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(TypeError, match="input_spec"):
            federated.from_keras_model(keras.Sequential([keras.layers.Dense(1)]), "mse", spec)
        return
    tf = pytest.importorskip("tensorflow")
    fm = federated.from_keras_model(_lookup_model(), "mse", spec,
                                    metrics=[keras.metrics.MeanAbsoluteError()])
    x = np.array([["G"], ["B"], ["R"]])
    y = np.array([[1.0], [2.0], [3.0]], "float32")
    assert fm.evaluate((x, y)).num_examples == 3
    fm2 = federated.from_keras_model(
        _lookup_model(), "mse", (tf.TensorSpec([None, 1], tf.string), tf.TensorSpec([None, 1])),
    )
    assert np.isfinite(fm2.train((x, y)).metrics["loss"])


# 4. num_examples, num_batches, reset_metrics. --------------------------------------------------


def test_num_examples_and_num_batches_are_reported_and_summed():
    fm = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3),
                                    metrics=[keras.metrics.MeanAbsoluteError()])
    x = np.ones((10, 3), "float32")
    y = np.ones((10, 1), "float32")
    trained = fm.train((x, y), epochs=3, batch_size=4)
    assert trained.metrics["num_examples"] == 30
    assert trained.metrics["num_batches"] == 9
    assert trained.num_examples == 10
    evaluated = fm.evaluate((x, y), batch_size=4)
    assert evaluated.metrics["num_examples"] == 10
    assert evaluated.metrics["num_batches"] == 3
    other = fm.evaluate((x[:2], y[:2]))
    aggregated = fm.aggregate([evaluated, other])
    assert aggregated.metrics["num_examples"] == 12
    assert aggregated.metrics["num_batches"] == 4
    assert fm.finalize_metrics(fm.zero_metric_state())["num_batches"] == 0


def test_reset_metrics_zeroes_the_state():
    fm = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3),
                                    metrics=[keras.metrics.MeanAbsoluteError()])
    fm.evaluate(_batch(3))
    state = fm.metric_state()
    assert state["num_batches"] == 1 and state["num_examples"] == 2
    fm.reset_metrics()
    for key, value in fm.metric_state().items():
        assert np.all(value == 0), key
    assert fm.finalize_metrics(fm.metric_state())["num_examples"] == 0


def test_a_metric_named_num_examples_overrides_the_default():
    metric = keras.metrics.MeanSquaredError(name="num_examples")
    fm = federated.from_keras_model(_linear(3), "mse", _whimsy_spec(3), metrics=[metric])
    result = fm.evaluate(_batch(3))
    np.testing.assert_allclose(result.metrics["num_examples"], 0.5)
    assert result.metrics["num_batches"] == 1


# 5. One loss on a multi-output model sees the whole structures. -------------------------------


class _StructuredLoss(keras.losses.Loss):
    def __init__(self):
        super().__init__(name="structured_loss")

    def call(self, y_true, y_pred):
        # Weighs the outputs by position: only possible when it sees them all.
        total = 0.0
        for i, (label, prediction) in enumerate(zip(y_true, y_pred)):
            total = total + (i + 1) * keras.ops.mean(keras.ops.square(label - prediction))
        return total


def _multi_batch():
    x = [np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32")]
    y = [np.zeros((1, 1), "float32"), np.ones((1, 1), "float32"), np.ones((1, 1), "float32")]
    return x, y


def _multi_spec():
    return collections.OrderedDict(
        x=[keras.KerasTensor((None, 1)), keras.KerasTensor((None, 1))],
        y=[keras.KerasTensor((None, 1))] * 3,
    )


def test_single_custom_loss_receives_the_whole_output_structure():
    fm = federated.from_keras_model(_three_outputs(), _StructuredLoss(), _multi_spec())
    # Predictions (0, 0, 0) vs labels (0, 1, 1): 1 * 0 + 2 * 1 + 3 * 1.
    x, y = _multi_batch()
    np.testing.assert_allclose(fm.evaluate((tuple(x), y)).metrics["loss"], 5.0, rtol=1e-6)


def test_single_loss_function_receives_the_whole_output_structure():
    seen = []

    def loss(y_true, y_pred):
        seen.append((len(y_true), len(y_pred)))
        return sum(keras.ops.mean(keras.ops.square(t - p)) for t, p in zip(y_true, y_pred))

    fm = federated.from_keras_model(_three_outputs(), loss, _multi_spec(), loss_weights=0.5)
    x, y = _multi_batch()
    np.testing.assert_allclose(fm.evaluate((tuple(x), y)).metrics["loss"], 1.0, rtol=1e-6)
    assert seen and all(pair == (3, 3) for pair in seen)


def test_loss_list_on_multi_output_model_is_still_per_output():
    fm = federated.from_keras_model(
        _three_outputs(), [keras.losses.MeanSquaredError()] * 3, _multi_spec(),
        loss_weights=[0.1, 0.2, 0.3],
    )
    x, y = _multi_batch()
    # Per output: (0-0)^2, (1-0)^2, (1-0)^2 weighted 0.1, 0.2, 0.3.
    np.testing.assert_allclose(fm.evaluate((tuple(x), y)).metrics["loss"], 0.5, rtol=1e-5)


# 6. TFF's error types; input_spec as given. ----------------------------------------------------


def test_unknown_names_in_loss_dict_raise_type_error_and_key_error():
    with pytest.raises(TypeError):
        federated.from_keras_model(_three_outputs(), {"out_0": "mse", "out_1": "mse", "whimsy": "mse"},
                                   _multi_spec())
    with pytest.raises(KeyError):
        federated.from_keras_model(_three_outputs(), {"out_0": "mse", "out_1": "mse", "whimsy": "mse"},
                                   _multi_spec())
    with pytest.raises(TypeError):
        federated.from_keras_model(_three_outputs(), ["mse"] * 3, _multi_spec(),
                                   loss_weights={"out_0": 0.1, "out_1": 0.2, "whimsy": 0.4})


def test_scalar_in_input_spec_raises_type_error():
    spec = collections.OrderedDict(x=np.float32(0.0), y=keras.KerasTensor((None, 1)))
    with pytest.raises(TypeError, match="Expected input spec member to be of type.*TensorSpec"):
        federated.from_keras_model(_linear(1), "mse", spec)


def test_input_spec_is_returned_as_given():
    spec = _whimsy_spec(3)
    fm = federated.from_keras_model(_linear(3), "mse", spec)
    assert fm.input_spec is spec
    assert fm.normalized_input_spec.x.shape == (1, 3)
