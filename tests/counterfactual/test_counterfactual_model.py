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
from recipe_testlib import CountingSequential


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
    # TF Model Remediation's reduction: Σ w·l / batch size.
    expected = 3.0 * np.sum(w * np.mean((p - p_cf) ** 2, axis=-1)) / 16
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), p, rtol=1e-5)
    assert len(model.losses) == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.losses[0]), expected, rtol=1e-4)
    # Plain inputs: the original model's outputs; training=True without data raises.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), p, rtol=1e-5)
    with pytest.raises(ValueError, match="CounterfactualPackedInputs"):
        model(x, training=True)


def test_bad_counterfactual_batches():
    x, _, x_cf = synthetic_data(8)
    model = CounterfactualModel(make_model())
    with pytest.raises(ValueError, match="same number of rows"):
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


class _CountingCounterfactualModel(CounterfactualModel, CountingSequential):
    pass


def test_mixin_recipe_with_sequential_trains_the_original_model():
    x, y, x_cf = synthetic_data(128)
    original = CountingSequential(make_model().layers)
    model = _CountingCounterfactualModel(original, loss_weight=2.0)
    assert len(model.trainable_variables) == len(original.trainable_variables) == 4
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                  run_eagerly=True)
    before = [np.array(keras.ops.convert_to_numpy(v)) for v in original.trainable_variables]
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=32, seed=0)
    history = model.fit(data, epochs=1, verbose=0)
    after = [np.array(keras.ops.convert_to_numpy(v)) for v in original.trainable_variables]
    assert any(not np.allclose(b, a) for b, a in zip(before, after))
    assert model.train_step_count == 4
    assert history.history["counterfactual_loss"][0] > 0


def test_api_names_of_tf_model_remediation():
    assert counterfactual.keras.models.CounterfactualModel is CounterfactualModel
    assert counterfactual.keras.CounterfactualModel is CounterfactualModel
    assert callable(counterfactual.keras.utils.validate_counterfactual_structure)
    assert counterfactual.losses.CounterfactualLoss is counterfactual.CounterfactualLoss
    for name in ("build_counterfactual_data", "CounterfactualPackedInputs",
                 "pack_counterfactual_data"):
        assert hasattr(counterfactual.keras.utils, name)


def _packed(x, y, x_cf, w=None):
    data = (x, x_cf) if w is None else (x, x_cf, w)
    return utils.CounterfactualPackedInputs((x, y), data)


def test_compute_counterfactual_loss_returns_a_list_and_total_loss_adds_it():
    x, y, x_cf = synthetic_data(8)
    original = make_model()
    model = CounterfactualModel(original, loss_weight=2.0)
    model.compile(loss="mae")
    w = np.arange(8, dtype="float32")
    losses = model.compute_counterfactual_loss((x, x_cf, w))
    assert isinstance(losses, list) and len(losses) == 1
    p, p_cf = (keras.ops.convert_to_numpy(original(a)) for a in (x, x_cf))
    expected = 2.0 * np.sum(w * np.mean((p - p_cf) ** 2, axis=-1)) / 8
    np.testing.assert_allclose(keras.ops.convert_to_numpy(losses[0]), expected, rtol=1e-4)
    total, cf_losses, compiled = model.compute_total_loss(y, original(x), None, (x, x_cf, w))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(compiled), np.mean(np.abs(y - p)), rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(total),
        keras.ops.convert_to_numpy(compiled) + keras.ops.convert_to_numpy(cf_losses[0]),
        rtol=1e-5,
    )


def test_multi_objective_losses_weights_and_metrics():
    x, y, x_cf = synthetic_data(64)
    original = make_model()
    model = CounterfactualModel(
        original,
        loss={"b": "pairwise_mse_loss", "a": counterfactual.PairwiseAbsoluteDifferenceLoss()},
        loss_weight={"b": 3.0},
    )
    assert model.counterfactual_loss_weight == {"a": 1.0, "b": 3.0}
    data = {"a": (x[:8], x_cf[:8]), "b": (x[:8], x[:8] + 1.0)}
    losses = model.compute_counterfactual_loss(data)
    assert len(losses) == 2  # sorted keys: "a", "b"
    p, p_cf, p_b = (keras.ops.convert_to_numpy(original(a)) for a in (x[:8], x_cf[:8], x[:8] + 1))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses[0]), np.mean(np.abs(p - p_cf)), rtol=1e-4
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses[1]), 3.0 * np.mean((p - p_b) ** 2), rtol=1e-4
    )
    with pytest.raises(ValueError, match="keys of `loss`"):
        model.compute_counterfactual_loss({"a": (x, x_cf)})

    model.compile(optimizer="adam", loss="binary_crossentropy")
    packed = utils.pack_counterfactual_data(
        (x, y), {"a": (x, x_cf), "b": (x, x_cf)}, batch_size=16, seed=0
    )
    logs = model.fit(packed, epochs=1, verbose=0).history
    assert set(logs) == {
        "loss", "total_loss", "original_loss", "a_counterfactual_loss", "b_counterfactual_loss"
    }
    np.testing.assert_allclose(
        logs["total_loss"][0],
        logs["original_loss"][0] + logs["a_counterfactual_loss"][0]
        + logs["b_counterfactual_loss"][0],
        rtol=1e-4,
    )
    plain = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(plain) == {"loss", "total_loss", "original_loss"}
    restored = CounterfactualModel.from_config(model.get_config())
    assert set(restored.counterfactual_loss) == {"a", "b"}
    assert restored.counterfactual_loss_weight == {"a": 1.0, "b": 3.0}


def test_loss_and_weight_structure_errors():
    with pytest.raises(TypeError, match="not a recognized Counterfactual structure"):
        CounterfactualModel(make_model(), loss=["pairwise_mse", "pairwise_mse"])
    with pytest.raises(ValueError, match="unnested"):
        CounterfactualModel(make_model(), loss={"a": {"b": "pairwise_mse"}})
    with pytest.raises(ValueError, match="do not correspond to losses"):
        CounterfactualModel(make_model(), loss={"a": "pairwise_mse"}, loss_weight={"c": 1.0})
    with pytest.raises(ValueError, match="matching structures"):
        CounterfactualModel(make_model(), loss_weight={"a": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        CounterfactualModel(make_model(), loss={"a": "pairwise_mse"}, loss_weight={"a": -1.0})


def test_logs_name_the_total_original_and_counterfactual_losses():
    x, y, x_cf = synthetic_data(64)
    model = CounterfactualModel(make_model())
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["mae"])
    data = utils.pack_counterfactual_data((x, y), (x, x_cf), batch_size=16, seed=0)
    logs = model.fit(data, epochs=1, verbose=0, validation_data=(x, y)).history
    assert set(logs) == {
        "loss", "total_loss", "original_loss", "counterfactual_loss", "mae",
        "val_loss", "val_total_loss", "val_original_loss", "val_mae",
    }
    np.testing.assert_allclose(logs["loss"], logs["total_loss"], rtol=1e-6)
    with_cf = model.evaluate(data, verbose=0, return_dict=True)
    assert "counterfactual_loss" in with_cf
    np.testing.assert_allclose(
        with_cf["total_loss"], with_cf["original_loss"] + with_cf["counterfactual_loss"],
        rtol=1e-4,
    )
    without = model.evaluate(x, y, verbose=0, return_dict=True)
    assert "counterfactual_loss" not in without
    np.testing.assert_allclose(without["total_loss"], without["original_loss"], rtol=1e-6)


def test_fit_without_counterfactual_data_raises():
    x, y, _ = synthetic_data(32)
    model = CounterfactualModel(make_model())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="must be an instance of CounterfactualPackedInputs"):
        model.fit(x, y, epochs=1, verbose=0)


def test_tf_data_packed_then_batched_as_in_tf_model_remediation():
    tf = pytest.importorskip("tensorflow")
    x, y, x_cf = synthetic_data(32)
    w = np.ones((32, 1), "float32")
    original = tf.data.Dataset.from_tensor_slices((x, y, w))
    pairs = tf.data.Dataset.from_tensor_slices((x, x_cf, np.ones(32, "float32")))
    data = utils.pack_counterfactual_data(original, pairs).batch(8)
    model = CounterfactualModel(make_model())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    logs = model.fit(data, epochs=2, verbose=0).history
    assert len(logs["counterfactual_loss"]) == 2
    assert model.predict(data, verbose=0).shape == (32, 1)
    assert "counterfactual_loss" in model.evaluate(data, verbose=0, return_dict=True)


def test_multi_objective_save_load_round_trip(tmp_path):
    x, y, x_cf = synthetic_data(32)
    model = CounterfactualModel(
        make_model(),
        loss={"a": "pairwise_mse_loss", "b": counterfactual.PairwiseCosineLoss(
            batch_reduction="weighted_mean")},
        loss_weight={"a": 0.5, "b": 2.0},
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    data = utils.pack_counterfactual_data((x, y), {"a": (x, x_cf), "b": (x, x_cf)},
                                          batch_size=16, seed=0)
    with pytest.warns(UserWarning, match="PairwiseCosineLoss"):  # single-value outputs
        model.fit(data, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "multi.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.counterfactual_loss_weight == {"a": 0.5, "b": 2.0}
    assert isinstance(loaded.counterfactual_loss["b"], counterfactual.PairwiseCosineLoss)
    assert loaded.counterfactual_loss["b"].batch_reduction == "weighted_mean"
    history = loaded.fit(data, epochs=1, verbose=0).history
    assert {"a_counterfactual_loss", "b_counterfactual_loss"} <= set(history)
