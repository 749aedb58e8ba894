"""MinDiffModel with fit/evaluate/predict on packed data of every kind, and MinDiff's effect.

Runs on the TensorFlow, JAX and PyTorch backends (KERAS_BACKEND). tf.data serves as the input
pipeline on every backend; those tests are skipped only if TensorFlow is not installed.
"""

import warnings

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from array_batches_testlib import ArrayBatches


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _tf():
    return pytest.importorskip("tensorflow")


def packed_data(kind, data, batch_size=32, with_weight=False):
    """Packed (x, y[, w]) training data of the given kind with the MinDiff groups."""
    x, y = data["x"], data["y"]
    original = (x, y, np.linspace(0.5, 1.5, len(x)).astype("float32")) if with_weight else (x, y)
    sensitive, nonsensitive = data["sensitive"], data["nonsensitive"]
    if kind == "arrays":
        return pack_min_diff_data(
            original, sensitive, nonsensitive, batch_size=batch_size, seed=3
        )
    if kind == "tf.data":
        tf = _tf()
        batched = lambda a: tf.data.Dataset.from_tensor_slices(a).batch(batch_size)  # noqa: E731
        return pack_min_diff_data(batched(original), batched(sensitive), batched(nonsensitive))
    if kind == "pydataset":
        return pack_min_diff_data(
            ArrayBatches(original, batch_size),
            ArrayBatches(sensitive, batch_size),
            ArrayBatches(nonsensitive, batch_size),
        )
    raise AssertionError(kind)


KINDS = ["arrays", "tf.data", "pydataset"]


def compiled_model(make_model, loss_weight=1.0, loss="mmd"):
    original = make_model()
    model = MinDiffModel(original, loss, loss_weight=loss_weight)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_fit_evaluate_predict_on_packed_data(make_model, data, kind):
    """fit (with sample weights and packed validation data), evaluate and predict."""
    model = compiled_model(make_model, loss_weight=2.0)
    dataset = packed_data(kind, data, with_weight=True)
    history = model.fit(dataset, validation_data=dataset, epochs=2, verbose=0)
    assert set(history.history) >= {"loss", "min_diff_loss", "val_loss", "val_min_diff_loss"}
    assert len(history.history["min_diff_loss"]) == 2
    assert all(np.isfinite(history.history["min_diff_loss"]))
    assert all(np.isfinite(history.history["loss"]))
    assert history.history["min_diff_loss"][0] > 0
    assert history.history["val_min_diff_loss"][0] > 0

    result = model.evaluate(dataset, return_dict=True, verbose=0)
    assert set(result) >= {"loss", "min_diff_loss"}
    assert result["min_diff_loss"] > 0

    predictions = model.predict(data["x"], verbose=0)
    assert predictions.shape == (len(data["x"]), 1)
    np.testing.assert_allclose(
        predictions, model.original_model.predict(data["x"], verbose=0), rtol=1e-6, atol=1e-6
    )
    packed_predictions = model.predict(dataset, verbose=0)
    assert packed_predictions.shape == predictions.shape
    if kind == "arrays":
        # The array packer shuffles by default (shuffle=True): compare as multisets.
        packed_predictions, predictions = np.sort(packed_predictions, 0), np.sort(predictions, 0)
    np.testing.assert_allclose(packed_predictions, predictions, rtol=1e-5, atol=1e-6)


def test_evaluate_loss_includes_weighted_min_diff_loss(make_model, data):
    """On packed data, evaluate's loss = the original model's loss + the MinDiff loss."""
    model = compiled_model(make_model, loss_weight=3.0)
    # 256 rows in batches of 32: equal batches, so per-batch means agree.
    dataset = pack_min_diff_data(
        (data["x"], data["y"]), data["sensitive"], data["nonsensitive"], batch_size=32,
        shuffle=False,
    )
    packed = model.evaluate(dataset, return_dict=True, verbose=0)
    plain = model.original_model.evaluate(
        data["x"], data["y"], batch_size=32, return_dict=True, verbose=0
    )
    assert packed["min_diff_loss"] > 1e-3
    np.testing.assert_allclose(
        packed["loss"], plain["loss"] + packed["min_diff_loss"], rtol=1e-4, atol=1e-5
    )


def test_evaluate_on_plain_data_has_no_min_diff_contribution(make_model, data):
    model = compiled_model(make_model, loss_weight=3.0)
    result = model.evaluate(data["x"], data["y"], batch_size=32, return_dict=True, verbose=0)
    plain = model.original_model.evaluate(
        data["x"], data["y"], batch_size=32, return_dict=True, verbose=0
    )
    np.testing.assert_allclose(result["loss"], plain["loss"], rtol=1e-5)
    assert result.get("min_diff_loss", 0.0) == 0.0


def test_predict_on_unlabelled_packed_arrays(make_model, data):
    model = compiled_model(make_model)
    dataset = pack_min_diff_data(
        data["x"], data["sensitive"], data["nonsensitive"], batch_size=32, shuffle=False
    )
    np.testing.assert_allclose(
        model.predict(dataset, verbose=0),
        model.original_model.predict(data["x"], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_predict_on_unlabelled_packed_tf_data(make_model, data):
    tf = _tf()
    model = compiled_model(make_model)
    batched = lambda a: tf.data.Dataset.from_tensor_slices(a).batch(32)  # noqa: E731
    dataset = pack_min_diff_data(
        batched(data["x"]), batched(data["sensitive"]), batched(data["nonsensitive"])
    )
    np.testing.assert_allclose(
        model.predict(dataset, verbose=0),
        model.original_model.predict(data["x"], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_fit_on_plain_data_warns_and_trains_original_model(make_model, data):
    model = compiled_model(make_model)
    before = [np_(w).copy() for w in model.original_model.trainable_weights]
    with pytest.warns(UserWarning, match="min_diff_loss"):
        history = model.fit(data["x"], data["y"], batch_size=32, epochs=1, verbose=0)
    after = [np_(w) for w in model.original_model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    assert np.isfinite(history.history["loss"][0])
    assert history.history.get("min_diff_loss", [0.0])[0] == 0.0


def test_fit_trains_the_wrapped_model_and_lowers_min_diff_loss(make_model, data):
    model = compiled_model(make_model, loss_weight=5.0)
    before = [np_(w).copy() for w in model.original_model.trainable_weights]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(packed_data("arrays", data), epochs=3, verbose=0)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, (UserWarning, RuntimeWarning))
    ]
    assert not [m for m in messages if "min_diff" in m or "MinDiff" in m], messages
    after = [np_(w) for w in model.original_model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    # The wrapper shares (and owns no other) weights.
    assert len(model.trainable_weights) == len(model.original_model.trainable_weights)
    values = history.history["min_diff_loss"]
    assert values[-1] < values[0]


# ---------------------------------------------------------------------------------------------
# MinDiff's effect.


EPOCHS = 4


def _biased_data(seed, rows=512):
    """Group 1 has a shifted feature 0 that also drives the label: scores differ by group."""
    rng = np.random.default_rng(seed)
    group = (rng.uniform(size=rows) < 0.5).astype("float32")
    x = rng.normal(size=(rows, 4)).astype("float32")
    x[:, 0] += 1.5 * group
    logits = 2.0 * x[:, 0] + x[:, 1] - 1.5 + 0.5 * rng.normal(size=rows)
    y = (logits > 0).astype("float32").reshape(-1, 1)
    return x, y, group.astype(bool)


def _train_and_gap(make_model, loss_weight, x, y, group):
    keras.utils.set_random_seed(99)
    original = make_model()
    model = MinDiffModel(original, "mmd", loss_weight=loss_weight)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    dataset = pack_min_diff_data(
        (x, y), x[group], x[~group], batch_size=64, min_diff_batch_size=64, seed=5
    )
    history = model.fit(dataset, epochs=EPOCHS, verbose=0)
    predictions = original.predict(x, verbose=0)[:, 0]
    gap = abs(predictions[group].mean() - predictions[~group].mean())
    return gap, history.history


def test_min_diff_shrinks_the_gap_between_groups(make_model):
    x, y, group = _biased_data(seed=11)
    gap_plain, history_plain = _train_and_gap(make_model, 0.0, x, y, group)
    gap_min_diff, history_min_diff = _train_and_gap(make_model, 3.0, x, y, group)
    # Measured gaps (plain, MinDiff): TF (0.38, 0.05), JAX (0.24, 0.04), torch (0.22, 0.004).
    assert gap_plain > 0.15, gap_plain  # The plain model separates the groups.
    assert gap_min_diff < 0.7 * gap_plain, (gap_min_diff, gap_plain)
    assert history_plain["min_diff_loss"][-1] == 0.0
    assert history_min_diff["min_diff_loss"][-1] > 0.0
