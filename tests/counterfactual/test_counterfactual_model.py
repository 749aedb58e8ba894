"""CounterfactualModel: errors, the loss in training, metric, the CLP effect, save/load."""

import os

import keras
import numpy as np
import pytest

from counterfactual_testlib import make_model
from counterfactual_testlib import synthetic_data
from keras_remediation import counterfactual
from keras_remediation.counterfactual.keras import CounterfactualModel
from keras_remediation.counterfactual.keras import utils


def test_constructor_errors():
    with pytest.raises(TypeError, match="keras.Model"):
        CounterfactualModel("not a model")
    with pytest.raises(ValueError, match="pairwise_mse_loss"):
        CounterfactualModel(make_model(), loss="nope")
    with pytest.raises(ValueError, match="non-negative"):
        CounterfactualModel(make_model(), loss_weight=-0.5)
    with pytest.raises(ValueError, match="non-negative"):
        CounterfactualModel(make_model(), loss_weight=float("nan"))
    with pytest.raises(TypeError, match="number"):
        CounterfactualModel(make_model(), loss_weight="1")


def test_defaults_and_names():
    model = CounterfactualModel(make_model())
    assert isinstance(model.counterfactual_loss, counterfactual.PairwiseMSELoss)
    assert model.counterfactual_loss_weight == 1.0
    model = CounterfactualModel(make_model(), loss="Pairwise_Cosine", loss_weight=2)
    assert isinstance(model.counterfactual_loss, counterfactual.PairwiseCosineLoss)


def test_eager_call_adds_weighted_loss():
    x, _, x_cf = synthetic_data(16)
    original = make_model()
    model = CounterfactualModel(original, loss_weight=3.0)
    w = np.linspace(0.0, 1.0, 16).astype("float32")
    packed = utils.CounterfactualPackedInputs(x, (x, x_cf, w))
    outputs = model(packed, training=True)
    p, p_cf = (keras.ops.convert_to_numpy(original(a)) for a in (x, x_cf))
    expected = 3.0 * np.sum(w * np.mean((p - p_cf) ** 2, axis=-1)) / np.sum(w)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), p, rtol=1e-5)
    assert len(model.losses) == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]), expected, rtol=1e-4)
    # Plain inputs: the original model's outputs; training=True without data raises.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), p, rtol=1e-5)
    with pytest.raises(ValueError, match="counterfactual data"):
        model(x, training=True)


def test_bad_counterfactual_batches():
    x, _, x_cf = synthetic_data(8)
    model = CounterfactualModel(make_model())
    with pytest.raises(ValueError, match="same shapes"):
        model(utils.CounterfactualPackedInputs(x, (x, x_cf[:4])), training=True)
    with pytest.raises(ValueError, match="tuple"):
        model(utils.CounterfactualPackedInputs(x, (x,)), training=True)


def _gap(model, x, x_cf):
    return float(np.mean(np.abs(model.predict(x, verbose=0) - model.predict(x_cf, verbose=0))))


def test_clp_training_shrinks_the_counterfactual_gap():
    x, y, x_cf = synthetic_data(512)
    epochs = 12

    keras.utils.set_random_seed(3)
    plain = make_model(16)
    plain.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    plain.fit(x, y, batch_size=64, epochs=epochs, shuffle=False, verbose=0)

    keras.utils.set_random_seed(3)
    original = make_model(16)
    model = CounterfactualModel(original, loss_weight=5.0)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=64, seed=0)
    history = model.fit(data, epochs=epochs, verbose=0)

    logs = history.history
    assert "counterfactual_loss" in logs and len(logs["counterfactual_loss"]) == epochs
    assert logs["counterfactual_loss"][-1] < logs["counterfactual_loss"][0]
    plain_gap, clp_gap = _gap(plain, x, x_cf), _gap(original, x, x_cf)
    assert plain_gap > 0.2, plain_gap  # the sensitive feature matters without CLP
    assert clp_gap < 0.5 * plain_gap, (plain_gap, clp_gap)

    results = model.evaluate(data, verbose=0, return_dict=True)
    assert "counterfactual_loss" in results and results["counterfactual_loss"] > 0


def test_save_load_round_trip(tmp_path):
    x, y, x_cf = synthetic_data(128)
    model = CounterfactualModel(make_model(), loss="pairwise_absolute_difference", loss_weight=0.5)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=32, seed=0)
    model.fit(data, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "clp.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is CounterfactualModel
    assert isinstance(loaded.counterfactual_loss, counterfactual.PairwiseAbsoluteDifferenceLoss)
    assert loaded.counterfactual_loss_weight == 0.5
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    history = loaded.fit(data, epochs=1, verbose=0)  # the loaded wrapper keeps training
    assert "counterfactual_loss" in history.history


class _CountingSequential(keras.Sequential):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def train_step(self, *args):
        self.steps += 1
        return super().train_step(*args)


class _CountingCounterfactualModel(CounterfactualModel, _CountingSequential):
    pass


def test_mixin_recipe_with_sequential_trains_the_original_model():
    x, y, x_cf = synthetic_data(128)
    original = _CountingSequential(make_model().layers)
    model = _CountingCounterfactualModel(original, loss_weight=2.0)
    assert len(model.trainable_variables) == len(original.trainable_variables) == 4
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                  run_eagerly=True)
    before = [np.array(keras.ops.convert_to_numpy(v)) for v in original.trainable_variables]
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=32, seed=0)
    history = model.fit(data, epochs=1, verbose=0)
    after = [np.array(keras.ops.convert_to_numpy(v)) for v in original.trainable_variables]
    assert any(not np.allclose(b, a) for b, a in zip(before, after))
    assert model.steps == 4
    assert history.history["counterfactual_loss"][0] > 0
