"""MinDiffModel: construction, unpacking, call, compute_min_diff_loss and compile.

Runs on the TensorFlow, JAX and PyTorch backends (KERAS_BACKEND).
"""

import numpy as np
import pytest
import keras
from keras import ops

from keras_remediation import min_diff
from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras import utils
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import MMDLoss


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np_(actual), np_(expected), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# Construction.


def test_seed_api_path():
    assert min_diff.keras.MinDiffModel is MinDiffModel
    assert issubclass(MinDiffModel, keras.Model)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mmd", MMDLoss),
        ("MMD_loss", MMDLoss),
        ("maximum_mean_discrepancy", MMDLoss),
        ("abs_corr", AbsoluteCorrelationLoss),
        ("absolute_correlation_loss", AbsoluteCorrelationLoss),
        ("adjusted_mmd", AdjustedMMDLoss),
    ],
)
def test_single_loss_by_name(make_model, name, cls):
    model = MinDiffModel(make_model(), name)
    assert isinstance(model.min_diff_losses, cls)
    assert model.min_diff_loss_weights == 1.0


def test_single_loss_instance_is_used_as_is(make_model):
    loss = MMDLoss(kernel="laplacian")
    model = MinDiffModel(make_model(), loss, loss_weight=3)
    assert model.min_diff_losses is loss
    assert model.min_diff_loss_weights == 3.0


def test_original_model_is_kept(make_model):
    original = make_model()
    model = MinDiffModel(original, "mmd")
    assert model.original_model is original


def test_kwargs_go_to_keras_model(make_model):
    model = MinDiffModel(make_model(), "mmd", name="my_min_diff_model")
    assert model.name == "my_min_diff_model"


def test_dict_loss_with_scalar_weight(make_model):
    model = MinDiffModel(
        make_model(), {"a": MMDLoss(), "b": "abs_corr"}, loss_weight=2.0
    )
    losses = model.min_diff_losses
    assert set(losses) == {"a", "b"}
    assert isinstance(losses["a"], MMDLoss)
    assert isinstance(losses["b"], AbsoluteCorrelationLoss)
    assert model.min_diff_loss_weights == {"a": 2.0, "b": 2.0}


def test_dict_loss_with_dict_weight_missing_keys_default_to_one(make_model):
    model = MinDiffModel(make_model(), {"a": "mmd", "b": "abs_corr"}, loss_weight={"a": 3.0})
    assert model.min_diff_loss_weights == {"a": 3.0, "b": 1.0}


def test_dict_weight_with_unknown_key_raises(make_model):
    with pytest.raises(ValueError, match="c"):
        MinDiffModel(make_model(), {"a": "mmd", "b": "abs_corr"}, loss_weight={"a": 1.0, "c": 2.0})


def test_dict_weight_with_single_loss_raises(make_model):
    with pytest.raises(ValueError):
        MinDiffModel(make_model(), "mmd", loss_weight={"a": 1.0})


@pytest.mark.parametrize("transform", [5, "output2", [lambda p: p]])
def test_non_callable_predictions_transform_raises(make_model, transform):
    with pytest.raises(ValueError):
        MinDiffModel(make_model(), "mmd", predictions_transform=transform)


@pytest.mark.parametrize(
    "original",
    [None, "model", lambda x: x, keras.layers.Dense(1)],
    ids=["none", "str", "function", "layer"],
)
def test_non_model_original_raises_type_error(original):
    with pytest.raises(TypeError):
        MinDiffModel(original, "mmd")


@pytest.mark.parametrize("loss", ["not_a_loss", "mse", {"a": "mmd", "b": "unknown"}])
def test_unknown_loss_raises(make_model, loss):
    with pytest.raises(ValueError):
        MinDiffModel(make_model(), loss)


@pytest.mark.parametrize("loss", [3, None, ["mmd"], {"a": 3}])
def test_wrong_typed_loss_raises_type_error(make_model, loss):
    with pytest.raises(TypeError, match="loss"):
        MinDiffModel(make_model(), loss)


def test_predictions_transform_defaults_to_identity(make_model):
    model = MinDiffModel(make_model(), "mmd")
    assert model.predictions_transform([1, 2, 3]) == [1, 2, 3]
    model = MinDiffModel(make_model(), "mmd", predictions_transform=None)
    assert model.predictions_transform([1, 2, 3]) == [1, 2, 3]


def test_predictions_transform_selects_output(make_model):
    model = MinDiffModel(make_model(), "mmd", predictions_transform=lambda p: p["output2"])
    predictions = {"output1": [1, 2, 3], "output2": [4, 5, 6]}
    assert model.predictions_transform(predictions) == [4, 5, 6]


# ---------------------------------------------------------------------------------------------
# Unpacking.


def test_unpack_methods_on_unpacked_inputs(make_model):
    model = MinDiffModel(make_model(), "mmd")
    assert model.unpack_min_diff_data([1, 2, 3]) is None
    assert model.unpack_original_inputs([1, 2, 3]) == [1, 2, 3]


def test_unpack_functions_on_unpacked_inputs():
    assert utils.unpack_min_diff_data([1, 2, 3]) is None
    assert utils.unpack_original_inputs([1, 2, 3]) == [1, 2, 3]


def test_unpack_methods_on_packed_inputs(make_model, min_diff_batch):
    model = MinDiffModel(make_model(), "mmd")
    x = np.zeros((3, 4), "float32")
    packed = MinDiffPackedInputs(x, min_diff_batch)
    assert model.unpack_original_inputs(packed) is x
    assert model.unpack_min_diff_data(packed) is min_diff_batch
    as_dict = {"original_inputs": x, "min_diff_data": min_diff_batch}
    assert model.unpack_original_inputs(as_dict) is x
    assert model.unpack_min_diff_data(as_dict) is min_diff_batch


# ---------------------------------------------------------------------------------------------
# call.


def _packed(data, min_diff_batch, n=32, with_weight=True):
    md = min_diff_batch if with_weight else min_diff_batch[:2]
    return MinDiffPackedInputs(data["x"][:n], md)


@pytest.mark.parametrize("with_weight", [True, False], ids=["weighted", "unweighted"])
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "two_passes"])
def test_call_training_adds_weighted_min_diff_loss(
    make_model, data, min_diff_batch, with_weight, fuse
):
    original = make_model()
    loss = MMDLoss()
    model = MinDiffModel(original, loss, loss_weight=2.5, fuse_forward_passes=fuse)
    packed = _packed(data, min_diff_batch, with_weight=with_weight)

    outputs = model(packed, training=True)

    assert len(model.losses) == 1
    md_x, membership, weight = min_diff_batch
    predictions = original(md_x, training=False)
    expected = 2.5 * loss(membership, predictions, weight if with_weight else None)
    assert_close(model.losses[0], expected)
    assert float(np_(model.losses[0])) > 0
    assert_close(outputs, original(data["x"][:32], training=False))


def test_call_accepts_backend_tensors(make_model, data, min_diff_batch):
    original = make_model()
    model = MinDiffModel(original, "abs_corr", loss_weight=0.5)
    md_x, membership, weight = (ops.convert_to_tensor(t) for t in min_diff_batch)
    packed = MinDiffPackedInputs(ops.convert_to_tensor(data["x"][:32]), (md_x, membership, weight))
    model(packed, training=True)
    expected = 0.5 * AbsoluteCorrelationLoss()(membership, original(md_x), weight)
    assert_close(model.losses[0], expected)


def test_call_with_dict_packed_inputs(make_model, data, min_diff_batch):
    original = make_model()
    model = MinDiffModel(original, "mmd")
    packed = {"original_inputs": data["x"][:32], "min_diff_data": min_diff_batch}
    outputs = model(packed, training=True)
    md_x, membership, weight = min_diff_batch
    assert_close(model.losses[0], MMDLoss()(membership, original(md_x), weight))
    assert_close(outputs, original(data["x"][:32]))


def test_min_diff_loss_comes_first_and_model_losses_count_once(data, min_diff_batch):
    """The original model's own losses stay in `losses`, after the MinDiff loss, once."""
    original = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", activity_regularizer=keras.regularizers.L2(0.01)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    original(data["x"][:32])
    own_losses = [np_(loss) for loss in original.losses]
    assert len(own_losses) == 1
    model = MinDiffModel(original, "mmd", loss_weight=2.0)
    model(_packed(data, min_diff_batch), training=True)
    # Read now: `losses` reflects the latest call of each layer.
    losses = [np_(loss) for loss in model.losses]
    assert len(losses) == 2
    assert_close(losses[1], own_losses[0])
    md_x, membership, weight = min_diff_batch
    assert_close(losses[0], 2.0 * MMDLoss()(membership, original(md_x), weight))


def test_call_training_without_min_diff_data_raises(make_model, data):
    model = MinDiffModel(make_model(), "mmd")
    with pytest.raises(ValueError, match="min_diff"):
        model(data["x"][:32], training=True)


def test_call_without_min_diff_data_is_original_model(make_model, data):
    original = make_model()
    model = MinDiffModel(original, "mmd")
    x = data["x"][:32]
    expected = np_(original(x, training=False))
    np.testing.assert_array_equal(np_(model(x)), expected)
    np.testing.assert_array_equal(np_(model(x, training=False)), expected)
    assert len(model.losses) == 0


def test_call_inference_with_min_diff_data_returns_original_outputs(make_model, data, min_diff_batch):
    original = make_model()
    model = MinDiffModel(original, "mmd")
    outputs = model(_packed(data, min_diff_batch), training=False)
    assert_close(outputs, original(data["x"][:32], training=False))


def test_call_with_training_none_does_not_raise(make_model, data):
    model = MinDiffModel(make_model(), "mmd")
    assert tuple(model(data["x"][:5]).shape) == (5, 1)


# ---------------------------------------------------------------------------------------------
# compute_min_diff_loss.


def test_compute_min_diff_loss_single_returns_scalar(make_model, min_diff_batch):
    original = make_model()
    model = MinDiffModel(original, "mmd", loss_weight=4.0)
    md_x, membership, weight = min_diff_batch
    value = model.compute_min_diff_loss(min_diff_batch, training=False)
    assert tuple(np_(value).shape) == ()
    assert_close(value, 4.0 * MMDLoss()(membership, original(md_x), weight))
    value = model.compute_min_diff_loss((md_x, membership))
    assert_close(value, 4.0 * MMDLoss()(membership, original(md_x)))


def test_compute_min_diff_loss_dict_returns_list(make_model, min_diff_batch, rng):
    original = make_model()
    model = MinDiffModel(
        original, {"a": MMDLoss(), "b": "abs_corr"}, loss_weight={"a": 3.0}
    )
    md_x, membership, weight = min_diff_batch
    other_x = rng.normal(size=(20, 4)).astype("float32")
    other_membership = np.repeat([[1.0], [0.0]], 10, axis=0).astype("float32")
    values = model.compute_min_diff_loss(
        {"b": (other_x, other_membership), "a": (md_x, membership, weight)}
    )
    assert isinstance(values, list)
    assert len(values) == 2
    # In the order of `loss`'s keys.
    assert_close(values[0], 3.0 * MMDLoss()(membership, original(md_x), weight))
    assert_close(values[1], 1.0 * AbsoluteCorrelationLoss()(other_membership, original(other_x)))


def test_compute_min_diff_loss_dict_data_for_single_loss_raises(make_model, min_diff_batch):
    model = MinDiffModel(make_model(), "mmd")
    with pytest.raises(ValueError):
        model.compute_min_diff_loss({"a": min_diff_batch})


@pytest.mark.parametrize(
    "keys", [("a",), ("a", "c"), ("a", "b", "c")], ids=["missing", "wrong", "extra"]
)
def test_compute_min_diff_loss_wrong_keys_raises(make_model, min_diff_batch, keys):
    model = MinDiffModel(make_model(), {"a": "mmd", "b": "mmd"})
    with pytest.raises(ValueError):
        model.compute_min_diff_loss({key: min_diff_batch for key in keys})


def test_compute_min_diff_loss_single_data_for_dict_loss_raises(make_model, min_diff_batch):
    model = MinDiffModel(make_model(), {"a": "mmd", "b": "mmd"})
    with pytest.raises(ValueError):
        model.compute_min_diff_loss(min_diff_batch)


def test_compute_min_diff_loss_non_tuple_raises(make_model, min_diff_batch):
    model = MinDiffModel(make_model(), "mmd")
    md_x, membership, weight = min_diff_batch
    with pytest.raises(ValueError):
        model.compute_min_diff_loss(md_x)
    with pytest.raises(ValueError):
        model.compute_min_diff_loss((md_x,))
    with pytest.raises(ValueError):
        model.compute_min_diff_loss((md_x, membership, weight, weight))


def test_compute_min_diff_loss_multi_output_without_transform_raises(
    make_multi_output_model, min_diff_batch
):
    model = MinDiffModel(make_multi_output_model(), "mmd")
    with pytest.raises(ValueError, match="predictions_transform"):
        model.compute_min_diff_loss(min_diff_batch)


def test_call_multi_output_without_transform_raises(make_multi_output_model, data, min_diff_batch):
    model = MinDiffModel(make_multi_output_model(), "mmd")
    with pytest.raises(ValueError, match="predictions_transform"):
        model(_packed(data, min_diff_batch), training=True)


def test_compute_min_diff_loss_multi_output_with_transform(make_multi_output_model, min_diff_batch):
    original = make_multi_output_model()
    model = MinDiffModel(original, "mmd", predictions_transform=lambda p: p["output2"])
    md_x, membership, weight = min_diff_batch
    expected = MMDLoss()(membership, original(md_x)["output2"], weight)
    assert_close(model.compute_min_diff_loss(min_diff_batch), expected)


# ---------------------------------------------------------------------------------------------
# compile.


def test_compile_compiles_both_models(make_model):
    original = make_model()
    model = MinDiffModel(original, "mmd")
    assert not original.compiled
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    assert model.compiled
    assert original.compiled
    # The original model can be evaluated on its own with the same loss.
    x = np.zeros((8, 4), "float32")
    y = np.ones((8, 1), "float32")
    result = original.evaluate(x, y, verbose=0, return_dict=True)
    assert {"loss", "accuracy"} <= set(result)


# ---------------------------------------------------------------------------------------------
# Multi-output model and multiple applications (trained with fit).


def test_multi_output_functional_model_fit(make_multi_output_model, data):
    original = make_multi_output_model()
    model = MinDiffModel(
        original, "mmd", loss_weight=1.5, predictions_transform=lambda p: p["output1"]
    )
    model.compile(
        optimizer="adam",
        loss={"output1": "binary_crossentropy", "output2": "mse"},
    )
    y = {"output1": data["y"], "output2": data["x"][:, :1]}
    dataset = utils.pack_min_diff_data(
        (data["x"], y), data["sensitive"], data["nonsensitive"], batch_size=64, seed=0
    )
    history = model.fit(dataset, epochs=2, verbose=0)
    assert "min_diff_loss" in history.history
    assert all(np.isfinite(history.history["min_diff_loss"]))
    assert history.history["min_diff_loss"][0] > 0
    predictions = model.predict(data["x"], verbose=0)
    assert set(predictions) == {"output1", "output2"}
    expected = original.predict(data["x"], verbose=0)
    for key in ("output1", "output2"):
        assert_close(predictions[key], expected[key])


def test_multiple_applications(make_model, data, rng):
    original = make_model()
    model = MinDiffModel(
        original, {"a": MMDLoss(), "b": "abs_corr"}, loss_weight={"b": 2.0}
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    a_x = rng.normal(size=(64, 4)).astype("float32")
    a_m = (np.arange(64) % 2).reshape(-1, 1).astype("float32")
    b_x = rng.normal(size=(96, 4)).astype("float32")
    b_m = (np.arange(96) < 30).reshape(-1, 1).astype("float32")
    dataset = utils.pack_min_diff_data(
        (data["x"], data["y"]),
        min_diff_dataset={"a": (a_x, a_m), "b": (b_x, b_m)},
        batch_size=32,
        shuffle=False,
    )
    x, _ = dataset[0]
    assert set(x.min_diff_data) == {"a", "b"}
    model(x, training=True)
    assert len(model.losses) == 2
    (ax, am), (bx, bm) = x.min_diff_data["a"][:2], x.min_diff_data["b"][:2]
    assert_close(model.losses[0], MMDLoss()(am, original(ax)))
    assert_close(model.losses[1], 2.0 * AbsoluteCorrelationLoss()(bm, original(bx)))

    history = model.fit(dataset, epochs=1, verbose=0)
    assert history.history["a_min_diff_loss"][0] > 0
    assert history.history["b_min_diff_loss"][0] > 0
    assert "min_diff_loss" not in history.history
