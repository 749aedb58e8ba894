"""MinDiffModel saving in the Keras 3 `.keras` format, on every backend (save and load on one)."""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import MMDLoss


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


@keras.saving.register_keras_serializable(package="keras_remediation_tests")
def select_output2(predictions):
    return predictions["output2"]


def _packed(data, y=None):
    y = data["y"] if y is None else y
    return pack_min_diff_data(
        (data["x"], y), data["sensitive"], data["nonsensitive"], batch_size=64, seed=0
    )


def _trained(make_model, data, **kwargs):
    model = MinDiffModel(make_model(), kwargs.pop("loss", "mmd"), **kwargs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(_packed(data), epochs=1, verbose=0)
    return model


def test_save_load_round_trip_and_continue_training(make_model, data, tmp_path):
    model = _trained(make_model, data, loss=MMDLoss(kernel="laplacian"), loss_weight=2.5)
    path = str(tmp_path / "min_diff_model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert isinstance(loaded, MinDiffModel)
    assert isinstance(loaded.min_diff_losses, MMDLoss)
    assert loaded.min_diff_loss_weights == 2.5
    np.testing.assert_allclose(
        loaded.predict(data["x"], verbose=0), model.predict(data["x"], verbose=0), rtol=1e-6,
        atol=1e-6,
    )
    # Same MinDiff loss on the same batch (the kernel survived).
    md_x = np.concatenate([data["sensitive"][:16], data["nonsensitive"][:16]])
    membership = np.repeat([[1.0], [0.0]], 16, axis=0).astype("float32")
    np.testing.assert_allclose(
        np_(loaded.compute_min_diff_loss((md_x, membership))),
        np_(model.compute_min_diff_loss((md_x, membership))),
        rtol=1e-5,
        atol=1e-7,
    )
    # The optimizer state came along.
    assert int(np_(loaded.optimizer.iterations)) == int(np_(model.optimizer.iterations)) > 0

    # Training goes on with MinDiff.
    before = [np_(w).copy() for w in loaded.original_model.trainable_weights]
    history = loaded.fit(_packed(data), epochs=1, verbose=0)
    assert history.history["min_diff_loss"][0] > 0
    assert "accuracy" in history.history
    after = [np_(w) for w in loaded.original_model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_save_unbuilt_and_uncompiled(make_model, data, tmp_path):
    model = MinDiffModel(make_model(), "abs_corr", loss_weight=0.5)
    path = str(tmp_path / "min_diff_model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.min_diff_losses, AbsoluteCorrelationLoss)
    np.testing.assert_allclose(
        np_(loaded(data["x"][:8])), np_(model(data["x"][:8])), rtol=1e-6, atol=1e-6
    )


def test_registered_predictions_transform_survives(make_multi_output_model, data, tmp_path):
    original = make_multi_output_model()
    model = MinDiffModel(original, "mmd", predictions_transform=select_output2)
    model.compile(optimizer="adam", loss={"output1": "binary_crossentropy", "output2": "mse"})
    y = {"output1": data["y"], "output2": data["x"][:, :1]}
    path = str(tmp_path / "multi_output.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode: a registered function loads.

    assert isinstance(loaded, MinDiffModel)
    assert loaded.predictions_transform({"output1": 1, "output2": 2}) == 2
    expected, actual = model.predict(data["x"], verbose=0), loaded.predict(data["x"], verbose=0)
    for key in ("output1", "output2"):
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-6, atol=1e-6)
    batch = MinDiffPackedInputs(data["x"][:32], (data["x"][32:72], np.repeat([[1.0], [0.0]], 20, 0)))
    loaded(batch, training=True)
    model(batch, training=True)
    np.testing.assert_allclose(np_(loaded.losses[0]), np_(model.losses[0]), rtol=1e-5, atol=1e-7)
    history = loaded.fit(_packed(data, y=y), epochs=1, verbose=0)
    assert history.history["min_diff_loss"][0] > 0


@pytest.mark.filterwarnings("ignore:The object being serialized includes a `lambda`")
def test_lambda_predictions_transform_needs_unsafe_mode(make_multi_output_model, tmp_path):
    model = MinDiffModel(
        make_multi_output_model(), "mmd", predictions_transform=lambda p: p["output1"]
    )
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    with pytest.raises(ValueError):
        keras.saving.load_model(path)
    loaded = keras.saving.load_model(path, safe_mode=False)
    assert loaded.predictions_transform({"output1": 1, "output2": 2}) == 1


def test_save_original_model_sequential(make_model, data, tmp_path):
    model = MinDiffModel(make_model(), "mmd")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    path = str(tmp_path / "original.keras")
    model.save_original_model(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is keras.Sequential
    assert not isinstance(loaded, MinDiffModel)
    np.testing.assert_array_equal(
        loaded.predict(data["x"], verbose=0), model.original_model.predict(data["x"], verbose=0)
    )
    assert loaded.compiled  # compiled together with the MinDiffModel


def test_save_original_model_functional(make_multi_output_model, data, tmp_path):
    original = make_multi_output_model()
    model = MinDiffModel(original, "mmd", predictions_transform=select_output2)
    path = str(tmp_path / "original_functional.keras")
    model.save_original_model(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras.Model)
    assert not isinstance(loaded, (MinDiffModel, keras.Sequential))
    expected, actual = original.predict(data["x"], verbose=0), loaded.predict(data["x"], verbose=0)
    for key in ("output1", "output2"):
        np.testing.assert_array_equal(actual[key], expected[key])


def test_dict_loss_model_round_trip(make_model, data, tmp_path):
    model = MinDiffModel(
        make_model(), {"a": MMDLoss(kernel="laplacian"), "b": "abs_corr"}, loss_weight={"b": 2.0}
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(64, 4)).astype("float32"), (np.arange(64) % 2).reshape(-1, 1).astype("float32"))
    b = (rng.normal(size=(64, 4)).astype("float32"), (np.arange(64) < 20).reshape(-1, 1).astype("float32"))
    dataset = pack_min_diff_data(
        (data["x"], data["y"]), min_diff_dataset={"a": a, "b": b}, batch_size=32, seed=0
    )
    path = str(tmp_path / "dict_loss.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert isinstance(loaded, MinDiffModel)
    assert set(loaded.min_diff_losses) == {"a", "b"}
    assert isinstance(loaded.min_diff_losses["a"], MMDLoss)
    assert isinstance(loaded.min_diff_losses["b"], AbsoluteCorrelationLoss)
    assert loaded.min_diff_loss_weights == {"a": 1.0, "b": 2.0}
    min_diff_data = {"a": (a[0][:32], a[1][:32]), "b": (b[0][:32], b[1][:32])}
    expected = model.compute_min_diff_loss(min_diff_data)
    actual = loaded.compute_min_diff_loss(min_diff_data)
    for e, v in zip(expected, actual):
        np.testing.assert_allclose(np_(v), np_(e), rtol=1e-5, atol=1e-7)
    x, _ = dataset[0]
    loaded(x, training=True)
    assert len(loaded.losses) == 2


def test_get_config_from_config(make_model):
    model = MinDiffModel(make_model(), {"a": "mmd", "b": "adjusted_mmd"}, loss_weight=3.0, name="md")
    config = model.get_config()
    assert config["original_model"] is model.original_model  # objects, as in TF-MR
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(clone, MinDiffModel)
    assert clone.name == "md"
    assert clone.min_diff_loss_weights == {"a": 3.0, "b": 3.0}
    assert [type(v) for v in clone.min_diff_losses.values()] == [
        type(v) for v in model.min_diff_losses.values()
    ]
    assert clone.original_model is not model.original_model
