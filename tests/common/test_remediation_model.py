"""The base-class contract of `RemediationModel`, pinned with two minimal dummy techniques.

`SidePenaltyModel` adds `weight · mean(original_model(side)²)` from side data packed as
`{"x": ..., "side": ...}` (the path MinDiff and CLP take: `call` adds the loss). `TargetPenaltyModel`
adds `weight · mean(y_pred)` from the labelled batch (the path backward compatibility takes:
`compute_loss` adds it). Every test asserts an effect: a logged value, a moved weight, a config.
"""

import warnings

import numpy as np
import pytest
import keras
from keras import ops

from keras_remediation.common.remediation_model import RemediationModel
from recipe_testlib import CountingSequential
from keras_remediation.common.validation import check_loss_weight

N_FEATURES = 3


@keras.saving.register_keras_serializable(package="test_common")
class SidePenaltyModel(RemediationModel):
    _extra_loss_name = "side_penalty"

    def __init__(self, original_model, weight=1.0, **kwargs):
        weight = check_loss_weight(weight, "weight")
        super().__init__(original_model, **kwargs)
        self.weight = weight
        self._create_extra_loss_metrics()

    def _unpack_original_inputs(self, inputs):
        return inputs["x"] if isinstance(inputs, dict) else inputs

    def _unpack_extra_data(self, inputs):
        return inputs.get("side") if isinstance(inputs, dict) else None

    def _compute_extra_losses(self, extra_data, training=None, mask=None):
        predictions = self._call_original_model(extra_data, training=training)
        return [self.weight * ops.mean(ops.square(predictions))]

    def _remediation_config(self):
        return {"weight": self.weight}


class TargetPenaltyModel(RemediationModel):
    _extra_loss_name = "target_penalty"
    _side_data_required = False  # the penalty comes from the labelled batch alone

    def __init__(self, original_model, weight=1.0, **kwargs):
        super().__init__(original_model, **kwargs)
        self.weight = weight
        self._create_extra_loss_metrics()

    def _compute_target_losses(self, x, y, y_pred, sample_weight, training):
        value = ops.mean(y_pred)
        return [(self.weight * value, value)]

    def _remediation_config(self):
        return {"weight": self.weight}


def _model(**dense_kwargs):
    return keras.Sequential(
        [keras.Input((N_FEATURES,)), keras.layers.Dense(1, **dense_kwargs)]
    )


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


@pytest.fixture
def arrays():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, N_FEATURES)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    side = rng.normal(loc=2.0, size=(64, N_FEATURES)).astype("float32")
    return x, y, side


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, y, side, batch_size=16):
        super().__init__()
        self.x, self.y, self.side, self.batch_size = x, y, side, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        inputs = {"x": self.x[s]} if self.side is None else {"x": self.x[s], "side": self.side[s]}
        return inputs, self.y[s]


def test_call_adds_the_extra_loss_and_fit_logs_it(arrays):
    x, y, side = arrays
    original = _model()
    model = SidePenaltyModel(original, weight=2.0)
    model({"x": x[:8], "side": side[:8]}, training=True)
    expected = 2.0 * np.mean(np_(original(side[:8])) ** 2)
    np.testing.assert_allclose(np_(model.losses[0]), expected, rtol=1e-5)

    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # lr 0: weights stay
    history = model.fit(_Batches(x, y, side), epochs=1, verbose=0, shuffle=False)
    per_batch = [2.0 * np.mean(np_(original(side[i:i + 16])) ** 2) for i in range(0, 64, 16)]
    np.testing.assert_allclose(history.history["side_penalty"][0], np.mean(per_batch), rtol=1e-5)


def test_the_extra_loss_changes_training(arrays):
    x, y, side = arrays
    results = {}
    for weight in (0.0, 2.0):
        keras.utils.set_random_seed(0)
        original = _model()
        model = SidePenaltyModel(original, weight=weight)
        model.compile(optimizer=keras.optimizers.SGD(0.02), loss="mse")
        model.fit(_Batches(x, y, side), epochs=2, verbose=0, shuffle=False)
        results[weight] = np_(original(side)).copy()
    # The penalty pulls the predictions on the side data towards 0.
    assert np.mean(results[2.0] ** 2) < 0.5 * np.mean(results[0.0] ** 2)


def test_target_losses_are_added_by_compute_loss_and_logged(arrays):
    x, y, _ = arrays
    original = _model(use_bias=False)
    model = TargetPenaltyModel(original, weight=3.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    logs = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    predictions = np_(original(x))
    np.testing.assert_allclose(logs["target_penalty"], predictions.mean(), rtol=1e-5, atol=1e-6)
    mse = np.mean((predictions - y) ** 2)
    np.testing.assert_allclose(logs["loss"], mse + 3.0 * predictions.mean(), rtol=1e-5)


def test_direct_training_call_without_side_data_raises_and_fit_warns(arrays):
    x, y, _ = arrays
    model = SidePenaltyModel(_model())
    with pytest.raises(ValueError, match="without its side data"):
        model({"x": x[:4]}, training=True)
    model.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(_Batches(x, y, None), epochs=1, verbose=0)
    assert any("carry no side data" in str(w.message) for w in caught)
    assert "side_penalty" not in history.history  # no side data, no metric (TF-MR)


def test_nothing_carries_over_between_calls(arrays):
    x, y, side = arrays
    model = SidePenaltyModel(_model())
    model.compile(optimizer="sgd", loss="mse")
    model.predict(_Batches(x, y, side), verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert "side_penalty" not in logs
    packed_logs = model.evaluate(_Batches(x, y, side), verbose=0, return_dict=True)
    assert packed_logs["side_penalty"] > 0


class SidePenaltySequential(SidePenaltyModel, CountingSequential):
    pass


def test_mixin_with_sequential_tracks_and_trains_the_original_model(arrays):
    x, y, side = arrays
    original = CountingSequential([keras.Input((N_FEATURES,)), keras.layers.Dense(1)])
    model = SidePenaltySequential(original, weight=1.0)
    assert len(model.trainable_variables) == 2
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    before = np_(original.trainable_variables[0]).copy()
    model.fit(_Batches(x, y, side), epochs=1, verbose=0)
    assert not np.allclose(before, np_(original.trainable_variables[0]))
    assert model.train_step_count == 4


def test_config_round_trips_through_keras_format(tmp_path, arrays):
    x, _, side = arrays
    model = SidePenaltyModel(_model(), weight=0.75, name="dummy")
    config = model.get_config()
    assert set(config) == {"name", "original_model", "weight"}
    model.save(tmp_path / "dummy.keras")
    loaded = keras.saving.load_model(tmp_path / "dummy.keras")
    assert isinstance(loaded, SidePenaltyModel) and loaded.weight == 0.75
    assert loaded.name == "dummy"
    np.testing.assert_allclose(np_(loaded(x[:4])), np_(model(x[:4])), atol=1e-6)


def test_constructor_checks_before_any_state(arrays):
    with pytest.raises(TypeError, match="original_model"):
        SidePenaltyModel("not a model")
    with pytest.raises(ValueError, match="`weight`"):
        SidePenaltyModel(_model(), weight=-1.0)
    with pytest.raises(TypeError, match="`weight`"):
        SidePenaltyModel(_model(), weight="1")


def test_fit_keeps_asynchronous_dispatch(arrays, monkeypatch):
    """The callback the base adds to `fit` must not make Keras wait for every step."""
    if not keras.src.backend.IS_THREAD_SAFE:
        pytest.skip("this Keras backend never dispatches callbacks asynchronously")
    x, y, side = arrays
    seen = []
    original = keras.callbacks.CallbackList._configure_async_dispatch

    def record(self, callbacks):
        original(self, callbacks)
        seen.append(self._async_train)

    monkeypatch.setattr(keras.callbacks.CallbackList, "_configure_async_dispatch", record)
    model = SidePenaltyModel(_model())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_Batches(x, y, side), epochs=1, verbose=0)
    assert seen and all(seen)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's fit keeps `_jax_state`")
def test_jax_fit_stores_its_per_step_state_untracked_and_callbacks_still_see_it(arrays):
    """JAX's `fit` assigns its whole state after every step: the wrapper keeps it out of the
    layer tracker (which walked it each step), and a callback reading the weights still sees
    every step's values."""
    x, y, side = arrays
    original = _model()
    model = SidePenaltyModel(original, weight=1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    states, kernels = [], []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            states.append(type(vars(model).get("_jax_state")))
            kernels.append(np_(self.model.original_model.layers[0].kernel).copy())

    model.fit(_Batches(x, y, side), epochs=1, verbose=0, shuffle=False, callbacks=[Record()])
    assert states and all(state is dict for state in states)
    assert len(kernels) == 4
    for before, after in zip(kernels, kernels[1:]):
        assert not np.allclose(before, after)
    np.testing.assert_allclose(np_(original.layers[0].kernel), kernels[-1])


def test_from_config_reads_the_legacy_form_of_built_in_models():
    """Keras 2 / TF-MR configs name built-in classes without a module."""
    original = _model()
    legacy = {"class_name": "Sequential", "config": original.get_config()}
    model = SidePenaltyModel.from_config({"name": "legacy", "original_model": legacy, "weight": 2.0})
    assert isinstance(model.original_model, keras.Sequential)
    assert model.weight == 2.0
