"""`from_keras_model`'s argument contract (TFF's): model, compile state, spec, losses."""

import numpy as np
import pytest
import keras

from keras_remediation import federated

X = np.zeros((2, 4), "float32")
Y = np.zeros((2, 1), "float32")


def _single():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1)(inputs))


def _two_outputs(as_dict=False):
    inputs = keras.Input((4,))
    a = keras.layers.Dense(1, name="a")(inputs)
    b = keras.layers.Dense(1, name="b")(inputs)
    return keras.Model(inputs, {"a": a, "b": b} if as_dict else [a, b])


def test_not_a_keras_model_raises_type_error():
    with pytest.raises(TypeError, match="keras.Model"):
        federated.from_keras_model(lambda x: x, "mse", (X, Y))
    with pytest.raises(TypeError):
        federated.from_keras_model(keras.layers.Dense(1), "mse", (X, Y))


def test_compiled_model_raises_value_error():
    model = _single()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="compiled"):
        federated.from_keras_model(model, "mse", (X, Y))


def test_not_a_keras_model_message_names_the_class_path():
    # TFF's test matches `keras\..*\.Model`.
    with pytest.raises(TypeError, match=r"keras\..*\.Model"):
        federated.from_keras_model(0, "mse", (X, Y))


def test_arguments_are_checked_before_the_compile_state():
    # TFF's tests wrap one model several times; `from_keras_model` compiles the model it is
    # given, so a second call fails, but a bad argument must be reported as such first.
    model = _two_outputs()
    federated.from_keras_model(model, ["mse", "mse"], (X, [Y, Y]), loss_weights=[0.1, 0.2])
    with pytest.raises(TypeError, match="output names"):
        federated.from_keras_model(model, {"a": "mse", "b": "mse"}, (X, [Y, Y]),
                                   loss_weights={"nope": 0.1})
    with pytest.raises(ValueError, match="new model for each call"):
        federated.from_keras_model(model, ["mse", "mse"], (X, [Y, Y]))


@pytest.mark.parametrize("spec", [(X,), (X, Y, Y), X])
def test_input_spec_must_have_two_elements(spec):
    with pytest.raises(ValueError, match="two elements"):
        federated.from_keras_model(_single(), "mse", spec)


def test_loss_dict_keys_must_match_outputs():
    with pytest.raises(KeyError, match="output names"):
        federated.from_keras_model(
            _two_outputs(), {"a": "mse", "c": "mse"}, (X, [Y, Y])
        )
    with pytest.raises(KeyError):
        federated.from_keras_model(_two_outputs(as_dict=True), {"a": "mse"}, (X, {"a": Y, "b": Y}))


def test_loss_list_length_must_match_outputs():
    with pytest.raises(ValueError, match="one loss per output"):
        federated.from_keras_model(_two_outputs(), ["mse"], (X, [Y, Y]))


def test_loss_weights_checked_against_loss():
    with pytest.raises(ValueError, match="one weight per output"):
        federated.from_keras_model(_two_outputs(), ["mse", "mae"], (X, [Y, Y]), loss_weights=[1.0])
    with pytest.raises(KeyError):
        federated.from_keras_model(
            _two_outputs(), {"a": "mse", "b": "mae"}, (X, [Y, Y]), loss_weights={"z": 1.0}
        )
    with pytest.raises(TypeError):
        federated.from_keras_model(_single(), "mse", (X, Y), loss_weights="heavy")


def test_metrics_must_be_a_list_of_metrics():
    with pytest.raises(TypeError, match="metrics"):
        federated.from_keras_model(_single(), "mse", (X, Y), metrics=keras.metrics.AUC())
    with pytest.raises(TypeError, match="metrics"):
        federated.from_keras_model(_single(), "mse", (X, Y), metrics=[42])


def _loss_after_weights(model_builder, loss, y, loss_weights):
    fm = federated.from_keras_model(model_builder(), loss, (X, y), loss_weights=loss_weights)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    labels = keras.tree.map_structure(lambda _: rng.normal(size=(16, 1)).astype("float32"), y)
    outputs = fm.keras_model.predict(x, verbose=0)
    return fm.evaluate((x, labels)).metrics["loss"], outputs, labels


def test_list_losses_are_summed_with_loss_weights():
    loss, outputs, labels = _loss_after_weights(_two_outputs, ["mse", "mae"], [Y, Y], [0.5, 2.0])
    mse = np.mean((outputs[0] - labels[0]) ** 2)
    mae = np.mean(np.abs(outputs[1] - labels[1]))
    np.testing.assert_allclose(loss, 0.5 * mse + 2.0 * mae, rtol=1e-4)


def test_dict_losses_are_summed_with_loss_weights():
    loss, outputs, labels = _loss_after_weights(
        lambda: _two_outputs(as_dict=True), {"a": "mse", "b": "mae"}, {"a": Y, "b": Y},
        {"b": 3.0},
    )
    mse = np.mean((outputs["a"] - labels["a"]) ** 2)
    mae = np.mean(np.abs(outputs["b"] - labels["b"]))
    np.testing.assert_allclose(loss, mse + 3.0 * mae, rtol=1e-4)


def test_single_loss_with_a_number_weight():
    loss, outputs, labels = _loss_after_weights(_single, "mse", Y, 0.25)
    np.testing.assert_allclose(loss, 0.25 * np.mean((outputs - labels) ** 2), rtol=1e-4)


def test_unknown_output_names_raise_an_error_that_is_both_key_and_type_error():
    from keras_remediation.federated.losses import OutputNamesError

    assert issubclass(OutputNamesError, KeyError) and issubclass(OutputNamesError, TypeError)
    with pytest.raises(TypeError, match="output names"):
        federated.from_keras_model(_two_outputs(), {"a": "mse", "whimsy": "mse"}, (X, [Y, Y]))
    with pytest.raises(TypeError, match="not output"):
        federated.from_keras_model(_two_outputs(), ["mse", "mse"], (X, [Y, Y]),
                                   loss_weights={"a": 1.0, "whimsy": 2.0})


def test_a_loss_name_on_a_multi_output_model_keeps_keras_per_output_meaning():
    # Per output and summed (Keras's compile); a loss object would see the whole structures.
    loss, outputs, labels = _loss_after_weights(_two_outputs, "mse", [Y, Y], None)
    expected = sum(np.mean((o - t) ** 2) for o, t in zip(outputs, labels))
    np.testing.assert_allclose(loss, expected, rtol=1e-4)


def test_a_loss_object_on_a_multi_output_model_sees_the_whole_structures():
    class Structured(keras.losses.Loss):
        def __init__(self):
            super().__init__(name="structured")

        def call(self, y_true, y_pred):
            assert len(y_true) == 2 and len(y_pred) == 2
            return keras.ops.mean(keras.ops.square(y_pred[0] - y_true[1]))

    loss, outputs, labels = _loss_after_weights(_two_outputs, Structured(), [Y, Y], 2.0)
    np.testing.assert_allclose(loss, 2.0 * np.mean((outputs[0] - labels[1]) ** 2), rtol=1e-4)


@pytest.mark.parametrize(
    "loss_weights, error, message",
    [
        (float("nan"), ValueError, r"`loss_weights` must be a non-negative finite number"),
        (-1.0, ValueError, r"`loss_weights` must be a non-negative finite number"),
        (np.inf, ValueError, r"`loss_weights` must be a non-negative finite number"),
        ("a", TypeError, r"`loss_weights` must be a non-negative finite number.*received 'a'"),
        ([np.nan], ValueError, r"`loss_weights\[0\]` must be a non-negative finite number"),
    ],
)
def test_bad_loss_weights_raise_named_errors(loss_weights, error, message):
    with pytest.raises(error, match=message):
        federated.from_keras_model(_single(), "mse", (X, Y), loss_weights=loss_weights)


def test_unknown_loss_name_raises_naming_the_argument():
    with pytest.raises(ValueError, match=r"`loss` must be a Keras loss.*received 'nonsense'"):
        federated.from_keras_model(_single(), "nonsense", (X, Y))
    with pytest.raises(ValueError, match=r"`loss\[1\]` must be a Keras loss.*received 'msee'"):
        federated.from_keras_model(_two_outputs(), ["mse", "msee"], (X, [Y, Y]))


def test_input_spec_that_does_not_fit_the_model_raises_naming_it():
    with pytest.raises(ValueError, match=r"`input_spec` does not fit `keras_model`"):
        federated.from_keras_model(_single(), "mse", (np.zeros((2, 3), "float32"), Y))
