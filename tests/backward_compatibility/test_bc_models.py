"""BCNewErrorCompatibilityModel and its strict-imitation counterpart: fit, loss, saving, errors."""

import warnings

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from keras_remediation.backward_compatibility import BCStrictImitationCompatibilityModel
from keras_remediation.backward_compatibility import scores

from bc_testlib import N_FEATURES
from bc_testlib import classifier
from bc_testlib import to_numpy

EPS = keras.config.epsilon()


def np_ce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(p[np.arange(len(y)), y])


def np_kl(p1, p2):
    p1 = np.clip(p1 / p1.sum(-1, keepdims=True), EPS, 1)
    p2 = np.clip(p2 / p2.sum(-1, keepdims=True), EPS, 1)
    return np.sum(p1 * (np.log(p1) - np.log(p2)), axis=-1)


def seed_layers(**dense_kwargs):
    return [
        keras.Input((N_FEATURES,)),
        keras.layers.Dense(8, activation="relu", **dense_kwargs),
        keras.layers.Dense(3, activation="softmax"),
    ]


def functional_h2():
    inputs = keras.Input((N_FEATURES,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))


class SubclassedH2(keras.Model):
    def __init__(self, n_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = n_classes
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(n_classes, activation="softmax")

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


def compile_sgd(model, learning_rate=0.1, **kwargs):
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
        **kwargs,
    )
    return model


# Construction ------------------------------------------------------------------------------------


def test_seed_form_builds_h2_from_layers_and_freezes_h1(trained_h1):
    model = BCNewErrorCompatibilityModel(seed_layers(), h1=trained_h1, lambda_c=0.7)
    assert isinstance(model.original_model, keras.Sequential)
    assert model.lambda_c == 0.7 and model.h1 is trained_h1
    assert trained_h1.trainable is False
    assert {id(v) for v in model.trainable_variables} == {
        id(v) for v in model.original_model.trainable_variables
    }


def test_h1_is_required_and_lambda_c_is_checked(trained_h1):
    with pytest.raises(ValueError, match="`h1`.*required"):
        BCNewErrorCompatibilityModel(seed_layers())
    with pytest.raises(ValueError, match=r"`lambda_c`.*non-negative.*-0\.1"):
        BCNewErrorCompatibilityModel(seed_layers(), h1=trained_h1, lambda_c=-0.1)
    model = BCNewErrorCompatibilityModel(seed_layers(), h1=trained_h1)
    with pytest.raises(ValueError, match="`lambda_c`"):
        model.lambda_c = -2
    with pytest.raises(TypeError, match="h2"):
        BCNewErrorCompatibilityModel("not a model", h1=trained_h1)
    with pytest.raises(TypeError, match="h1"):
        BCNewErrorCompatibilityModel(seed_layers(), h1=lambda x: x)


def test_output_shape_mismatch_raises_at_construction(trained_h1):
    with pytest.raises(ValueError, match=r"same shape.*\(None, 3\).*\(None, 4\)"):
        BCNewErrorCompatibilityModel(classifier(4), h1=trained_h1)


def test_output_shape_mismatch_of_an_unbuilt_subclassed_h2_raises_at_fit(trained_h1, blobs):
    x, y = blobs
    model = compile_sgd(BCNewErrorCompatibilityModel(SubclassedH2(4), h1=trained_h1))
    with pytest.raises(ValueError, match="same shape"):
        model.fit(x, y, epochs=1, verbose=0)


# Training and the logged loss --------------------------------------------------------------------


@pytest.mark.parametrize("make_h2", [seed_layers, functional_h2, SubclassedH2],
                         ids=["seed_layers", "functional", "subclassed"])
def test_fit_logs_loss_and_dissonance_for_every_form_of_h2(make_h2, trained_h1, blobs):
    x, y = blobs
    model = compile_sgd(
        BCNewErrorCompatibilityModel(make_h2(), h1=trained_h1, lambda_c=1.0), metrics=["accuracy"]
    )
    h1_before = [to_numpy(v).copy() for v in trained_h1.weights]
    history = model.fit(x, y, epochs=3, batch_size=32, validation_data=(x, y), verbose=0).history
    assert {"loss", "dissonance", "accuracy", "val_loss", "val_dissonance"} <= set(history)
    assert all(np.isfinite(history["dissonance"])) and history["dissonance"][0] > 0
    assert history["loss"][-1] < history["loss"][0]
    for before, after in zip(h1_before, trained_h1.weights):
        np.testing.assert_array_equal(before, to_numpy(after))
    assert model.predict(x, verbose=0).shape == (len(x), 3)


def test_logged_loss_is_the_true_total_with_regularisation_counted_once(trained_h1, blobs):
    x, y = blobs
    model = BCNewErrorCompatibilityModel(
        seed_layers(kernel_regularizer=keras.regularizers.L2(0.01)), h1=trained_h1, lambda_c=2.5
    )
    compile_sgd(model, learning_rate=0.0)  # weights stay put: the logged loss is checkable
    logs = model.fit(x, y, epochs=1, batch_size=len(x), verbose=0).history

    h2 = model.original_model
    p1, p2 = to_numpy(trained_h1(x)), to_numpy(h2(x))
    mask = p1.argmax(-1) == y
    ce = np_ce(y, p2)
    dissonance = ce[mask].mean()
    regularisation = 0.01 * np.sum(to_numpy(h2.layers[0].kernel) ** 2)
    expected = ce.mean() + regularisation + 2.5 * dissonance
    np.testing.assert_allclose(logs["dissonance"][0], dissonance, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"][0], expected, rtol=1e-5)
    evaluated = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(float(to_numpy(model.loss_func(x, y))), expected, rtol=1e-5)


def test_strict_imitation_model_uses_kl_from_h1(trained_h1, blobs):
    x, y = blobs
    model = compile_sgd(
        BCStrictImitationCompatibilityModel(classifier(), h1=trained_h1, lambda_c=3.0)
    )
    result = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    p1, p2 = to_numpy(trained_h1(x)), to_numpy(model(x))
    mask = p1.argmax(-1) == y
    expected_dissonance = np_kl(p1, p2)[mask].mean()
    np.testing.assert_allclose(result["dissonance"], expected_dissonance, rtol=1e-4)
    np.testing.assert_allclose(
        result["loss"], np_ce(y, p2).mean() + 3.0 * expected_dissonance, rtol=1e-4
    )
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0).history
    assert history["dissonance"][-1] < history["dissonance"][0]


def test_batch_where_h1_is_wrong_everywhere_trains_on_the_base_loss(blobs):
    x, y = blobs
    keep = y != 0
    x, y = x[keep], y[keep]
    # h1 always predicts class 0, which no example has.
    h1 = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(
        3, activation="softmax", kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant([5.0, 0.0, 0.0]))])
    keras.utils.set_random_seed(3)
    model = compile_sgd(BCNewErrorCompatibilityModel(classifier(), h1=h1, lambda_c=4.0))
    keras.utils.set_random_seed(3)
    plain = compile_sgd(classifier())
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["dissonance"] == 0.0
    np.testing.assert_allclose(result["loss"], plain.evaluate(x, y, verbose=0), rtol=1e-5)
    history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert np.all(np.isfinite(history["loss"])) and history["dissonance"] == [0.0, 0.0]
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_lambda_zero_equals_plain_training(trained_h1, blobs):
    x, y = blobs
    keras.utils.set_random_seed(11)
    model = BCNewErrorCompatibilityModel(seed_layers(), h1=trained_h1, lambda_c=0.0)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    keras.utils.set_random_seed(11)
    plain = keras.Sequential(seed_layers())
    plain.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    for weights_a, weights_b in zip(model.original_model.weights, plain.weights):
        np.testing.assert_array_equal(to_numpy(weights_a), to_numpy(weights_b))
    bc_history = model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0).history
    plain_history = plain.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(bc_history["loss"], plain_history["loss"], rtol=1e-5)
    for weights_a, weights_b in zip(model.original_model.weights, plain.weights):
        np.testing.assert_allclose(to_numpy(weights_a), to_numpy(weights_b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_changing_lambda_c_takes_effect_on_the_next_evaluate(trained_h1, blobs):
    x, y = blobs
    model = compile_sgd(BCNewErrorCompatibilityModel(classifier(), h1=trained_h1, lambda_c=0.0))
    base = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    model.lambda_c = 2.0
    weighted = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    np.testing.assert_allclose(weighted["loss"], base["loss"] + 2.0 * base["dissonance"], rtol=1e-5)


def test_binary_outputs_use_the_one_half_threshold(blobs):
    x, y = blobs
    y = (y == 0).astype("float32")[:, None]
    h1 = classifier(1, activation="sigmoid")
    model = BCNewErrorCompatibilityModel(classifier(1, activation="sigmoid"), h1=h1, lambda_c=1.0)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    result = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    p1, p2 = to_numpy(h1(x))[:, 0], np.clip(to_numpy(model(x))[:, 0], EPS, 1 - EPS)
    mask = (p1 > 0.5) == (y[:, 0] > 0.5)
    bce = -(y[:, 0] * np.log(p2) + (1 - y[:, 0]) * np.log(1 - p2))
    np.testing.assert_allclose(result["dissonance"], bce[mask].mean(), rtol=1e-4)


def test_compile_errors(trained_h1, blobs):
    x, y = blobs
    model = BCNewErrorCompatibilityModel(classifier(), h1=trained_h1)
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy"] * 2)
    with pytest.raises(ValueError, match="single loss"):
        model.fit(x, y, epochs=1, verbose=0)


def test_custom_train_step_that_skips_compute_loss_is_reported(trained_h1, blobs):
    x, y = blobs

    class Bypassing(BCNewErrorCompatibilityModel):
        def train_step(self, *args):  # a forward pass only: the loss is never computed.
            if len(args) == 2:  # JAX: (state, data), stateless.
                state, data = args
                self.stateless_call(state[0], state[1], data[0], training=True)
                return {"loss": keras.ops.zeros(())}, state
            self(args[0][0], training=True)
            return {"loss": keras.ops.zeros(())}

    model = compile_sgd(Bypassing(classifier(), h1=trained_h1, lambda_c=1.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert any("dissonance" in str(w.message) for w in caught)


# λ_c trend on a noisy-label update of digits ------------------------------------------------------


def test_larger_lambda_keeps_trust_and_removes_new_errors():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16).astype("float32")
    y = digits.target.astype("int64")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))[:900]
    x, y = x[order], y[order]
    x_test, y_test, x_train, y_train = x[:300], y[:300], x[300:], y[300:]
    noisy = y_train.copy()
    unseen = np.arange(120, len(x_train))
    flipped = unseen[rng.random(len(unseen)) < 0.3]
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, len(flipped))) % 10

    def mlp():
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])

    keras.utils.set_random_seed(0)
    h1 = mlp()
    h1.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy")
    h1.fit(x_train[:120], y_train[:120], epochs=30, batch_size=64, verbose=0)
    h1_predictions = h1.predict(x_test, verbose=0)
    results = {}
    for lambda_c in (0.0, 10.0):
        keras.utils.set_random_seed(0)
        model = BCNewErrorCompatibilityModel(mlp(), h1=h1, lambda_c=lambda_c)
        model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy")
        model.fit(x_train, noisy, epochs=15, batch_size=64, verbose=0)
        results[lambda_c] = scores.compatibility_summary(
            h1_predictions, model.predict(x_test, verbose=0), y_test
        )
    low, high = results[0.0], results[10.0]
    assert high["btc"] >= low["btc"]
    assert high["new_errors"] < low["new_errors"]
    assert low["new_errors"] - high["new_errors"] >= 3
    assert high["h2_accuracy"] > 0.8  # still a useful model


# Saving ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BCNewErrorCompatibilityModel, BCStrictImitationCompatibilityModel])
def test_keras_format_round_trip(cls, trained_h1, blobs, tmp_path):
    x, y = blobs
    model = compile_sgd(cls(functional_h2(), h1=trained_h1, lambda_c=1.5, name="bc"))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / "bc.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. optimizer state that cannot load
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert type(loaded) is cls and loaded.name == "bc" and loaded.lambda_c == 1.5
    assert loaded.h1.trainable is False
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(to_numpy(loaded.h1(x)), to_numpy(trained_h1(x)), rtol=1e-6)
    assert int(to_numpy(loaded.optimizer.iterations)) == int(to_numpy(model.optimizer.iterations))
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(after["loss"], before["loss"], rtol=1e-5)
    history = loaded.fit(x, y, epochs=1, batch_size=32, verbose=0).history
    assert "dissonance" in history and np.isfinite(history["loss"][0])
