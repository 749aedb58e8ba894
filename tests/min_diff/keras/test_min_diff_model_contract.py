"""TF Model Remediation's MinDiffModel contract, asserted by its effect on training.

Each test names the point of the contract it pins: the mixin recipes train the wrapped model
(weights move, the custom base's `train_step` and regularisers count), overridden public
methods are what `fit` calls, the config round-trips a custom base class, nothing carries over
from one call to the next, fusion is opt-in, per-application metrics, weight checks.
"""

import numpy as np
import pytest
import keras
from keras import ops

from keras_remediation.common import keras_internals
from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.losses import MMDLoss
from recipe_testlib import CountingSequential

N_FEATURES = 4


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _layers(**dense_kwargs):
    return [
        keras.Input((N_FEATURES,)),
        keras.layers.Dense(8, activation="relu", **dense_kwargs),
        keras.layers.Dense(1, activation="sigmoid"),
    ]


def _packed(data):
    return pack_min_diff_data(
        (data["x"], data["y"]), data["sensitive"], data["nonsensitive"], batch_size=32, seed=0
    )


def _weights(model):
    return [np_(v).copy() for v in model.trainable_variables]


def _moved(before, model):
    return any(not np.allclose(b, np_(v)) for b, v in zip(before, model.trainable_variables))


# --- 1. The mixin recipes train the wrapped model. ----------------------------------------------


class SequentialMinDiffModel(MinDiffModel, CountingSequential):
    pass


class PlainModelMinDiffModel(MinDiffModel, keras.Model):
    pass


def _check_recipe_trains(model, original, data):
    assert len(model.trainable_variables) == len(original.trainable_variables) > 0
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                  run_eagerly=True)
    before = _weights(original)
    history = model.fit(_packed(data), epochs=1, verbose=0)
    assert _moved(before, original), "fit did not move any weight of the original model"
    assert history.history["min_diff_loss"][0] > 0


def test_sequential_mixin_recipe_trains_and_uses_custom_train_step(data):
    original = CountingSequential(_layers())
    model = SequentialMinDiffModel(original, "mmd")
    _check_recipe_trains(model, original, data)
    assert model.train_step_count == 256 // 32  # run_eagerly: once per batch


def test_keras_model_mixin_recipe_trains(data):
    original = keras.Sequential(_layers())
    _check_recipe_trains(PlainModelMinDiffModel(original, "mmd"), original, data)


def test_mixin_recipe_counts_the_original_models_regularisation(data):
    original = CountingSequential(_layers(kernel_regularizer=keras.regularizers.L2(0.5)))
    model = SequentialMinDiffModel(original, "mmd")
    batch = _packed(data)[0][0]
    model(batch, training=True)
    # The MinDiff loss first, then the original model's regulariser (TF-MR's order).
    assert len(model.losses) == 2
    np.testing.assert_allclose(np_(model.losses[1]), np_(original.losses[0]), rtol=1e-6)


class CountingModel(keras.Model):
    """A user model class, used functionally: Keras turns it into a Functional subclass."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_step_count = 0

    def train_step(self, *args):
        self.train_step_count += 1
        return super().train_step(*args)


class FunctionalMinDiffModel(MinDiffModel, CountingModel):
    pass


def _functional_original(cls):
    inputs = keras.Input((N_FEATURES,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return cls(inputs=inputs, outputs=keras.layers.Dense(1, activation="sigmoid")(hidden))


def test_functional_mixin_recipe_trains_and_uses_custom_train_step(data):
    original = _functional_original(CountingModel)
    model = FunctionalMinDiffModel(original, "mmd")
    _check_recipe_trains(model, original, data)
    assert model.train_step_count == 256 // 32
    evaluated = model.evaluate(data["x"], data["y"], verbose=0, return_dict=True)
    assert "min_diff_loss" not in evaluated
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), original.predict(data["x"], verbose=0), atol=1e-6
    )


class StrictModel(keras.Model):
    def __init__(self, *args, **kwargs):
        # Drops every keyword argument but the graph: cannot be mixed into a wrapper.
        super().__init__(kwargs["inputs"], kwargs["outputs"])


class StrictMinDiffModel(MinDiffModel, StrictModel):
    pass


def test_functional_mixin_that_drops_kwargs_raises_a_clear_error():
    original = _functional_original(StrictModel)
    with pytest.raises(
        ValueError, match="problem initializing the MinDiffModel subclass instance StrictMinDiffModel"
    ):
        StrictMinDiffModel(original, "mmd")


# --- 2. Overridden public methods are what training calls. -------------------------------------


class ConstantLossMinDiffModel(MinDiffModel):
    """Replaces the MinDiff loss by sum(predictions) · 0 + 0.25 (so it still has a gradient)."""

    def compute_min_diff_loss(self, min_diff_data, training=None, mask=None):
        x = keras.utils.unpack_x_y_sample_weight(min_diff_data)[0]
        predictions = self._call_original_model(x, training=training)
        return 0.0 * ops.sum(predictions) + 0.25


@pytest.mark.parametrize("fuse", [False, True], ids=["two_passes", "fused"])
def test_overridden_compute_min_diff_loss_is_what_fit_logs(data, fuse):
    model = ConstantLossMinDiffModel(
        keras.Sequential(_layers()), "mmd", fuse_forward_passes=fuse
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(_packed(data), epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["min_diff_loss"][0], 0.25, rtol=1e-6)


class ReshapedInputsMinDiffModel(MinDiffModel):
    """Reads batches `{"x": original inputs, "md": MinDiff data}`."""

    def unpack_original_inputs(self, inputs):
        return inputs["x"] if isinstance(inputs, dict) else inputs

    def unpack_min_diff_data(self, inputs):
        return inputs["md"] if isinstance(inputs, dict) else None


def test_overridden_unpacking_methods_are_what_call_uses(data):
    original = keras.Sequential(_layers())
    model = ReshapedInputsMinDiffModel(original, "mmd", loss_weight=3.0)
    md_x = np.concatenate([data["sensitive"][:16], data["nonsensitive"][:16]])
    membership = np.concatenate([np.ones((16, 1)), np.zeros((16, 1))]).astype("float32")
    outputs = model({"x": data["x"][:8], "md": (md_x, membership)}, training=True)
    np.testing.assert_allclose(np_(outputs), np_(original(data["x"][:8])), atol=1e-6)
    expected = 3.0 * MMDLoss()(membership, original(md_x))
    np.testing.assert_allclose(np_(model.losses[0]), np_(expected), rtol=1e-5)


# --- 4. The config keeps a custom base class's state. ------------------------------------------


@keras.saving.register_keras_serializable(package="test_contract")
class ValueModel(keras.Model):
    def __init__(self, val, **kwargs):
        super().__init__(**kwargs)
        self.val = val
        self.dense = keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        return {"val": self.val}


@keras.saving.register_keras_serializable(package="test_contract")
class ValueMinDiffModel(MinDiffModel, ValueModel):
    pass


def test_config_merges_the_custom_base_class_config(tmp_path, data):
    original = ValueModel(4)
    model = ValueMinDiffModel(original_model=original, loss=MMDLoss(), val=5)
    assert model.val == 5
    config = model.get_config()
    assert set(config) == {"original_model", "loss", "loss_weight", "name", "val"}
    assert config["val"] == 5 and config["original_model"].val == 4
    clone = ValueMinDiffModel.from_config(config)
    assert isinstance(clone, ValueMinDiffModel) and clone.val == 5
    assert clone.original_model.val == 4

    model(data["x"][:4])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, ValueMinDiffModel)
    assert loaded.val == 5 and loaded.original_model.val == 4
    np.testing.assert_allclose(
        np_(loaded(data["x"][:4])), np_(model(data["x"][:4])), atol=1e-6
    )


def test_config_keys_match_tf_model_remediation():
    model = MinDiffModel(keras.Sequential(_layers()), MMDLoss())
    assert set(model.get_config()) == {"original_model", "loss", "loss_weight", "name"}
    loss = {"k1": MMDLoss(), "k2": "abs_corr"}
    model = MinDiffModel(keras.Sequential(_layers()), loss, {"k1": 3.4})
    config = model.get_config()
    assert config["loss"]["k1"] is model.min_diff_losses["k1"]
    assert config["loss_weight"] == {"k1": 3.4, "k2": 1.0}


# --- 5. Nothing carries over from one call to the next. ----------------------------------------


@pytest.mark.parametrize("evaluated_before", [False, True], ids=["fresh", "evaluated_before"])
def test_predict_on_packed_data_then_evaluate_on_plain_data(data, evaluated_before):
    model = MinDiffModel(keras.Sequential(_layers()), "mmd")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    packed = _packed(data)
    if evaluated_before:
        model.evaluate(data["x"], data["y"], verbose=0)
    model.predict(packed, verbose=0)
    plain = model.evaluate(data["x"], data["y"], verbose=0, return_dict=True)
    assert "min_diff_loss" not in plain
    with_md = model.evaluate(packed, verbose=0, return_dict=True)
    assert with_md["min_diff_loss"] > 0


# --- 6. Fusion is automatic only where it is exact. --------------------------------------------


@keras.saving.register_keras_serializable(package="test_contract")
class CentreOnBatchMean(keras.layers.Layer):
    def call(self, inputs):
        return inputs - ops.mean(inputs, axis=0, keepdims=True)


def test_default_is_exact_for_a_layer_that_mixes_rows(data):
    original = keras.Sequential(
        [keras.Input((N_FEATURES,)), CentreOnBatchMean(), keras.layers.Dense(1, "sigmoid")]
    )
    model = MinDiffModel(original, "mmd")
    assert model.fuse_forward_passes == "auto"
    md_x = np.concatenate([data["sensitive"][:16], data["nonsensitive"][:16]])
    membership = np.concatenate([np.ones((16, 1)), np.zeros((16, 1))]).astype("float32")
    model(MinDiffPackedInputs(data["x"][:32], (md_x, membership)), training=True)
    expected = MMDLoss()(membership, original(md_x))
    np.testing.assert_allclose(np_(model.losses[0]), np_(expected), rtol=1e-6)


class _Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(3, activation="relu")
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def _functional_with_nested_sequential():
    inputs = keras.Input((N_FEATURES,))
    hidden = keras.Sequential([keras.layers.Dense(3, activation="relu")])(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))


def _functional_with_an_op_across_rows():
    inputs = keras.Input((N_FEATURES,))
    hidden = ops.softmax(keras.layers.Dense(3)(inputs), axis=0)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))


def _recurrent(**lstm_kwargs):
    return keras.Sequential([
        keras.Input((N_FEATURES,)),
        keras.layers.Reshape((N_FEATURES, 1)),
        keras.layers.LSTM(3, **lstm_kwargs),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


@pytest.mark.parametrize(
    "build, setting, passes",
    [
        (lambda: keras.Sequential(_layers()), "auto", 1),
        (_functional_with_nested_sequential, "auto", 1),
        (lambda: keras.Sequential(_layers()), False, 2),
        (lambda: keras.Sequential(_layers()[:2] + [keras.layers.Dropout(0.1)] + _layers()[2:]),
         "auto", 2),
        (lambda: keras.Sequential(_layers()[:2] + [keras.layers.Lambda(lambda t: t)]
                                  + _layers()[2:]), "auto", 2),
        (lambda: keras.Sequential(_layers()[:2] + [keras.layers.Softmax(axis=0)]
                                  + _layers()[2:]), "auto", 2),
        (_functional_with_an_op_across_rows, "auto", 2),
        (_Subclassed, "auto", 2),
        (_Subclassed, True, 1),
        (_recurrent, "auto", 1),
        (lambda: _recurrent(dropout=0.2), "auto", 2),
        (lambda: _recurrent(recurrent_dropout=0.2), "auto", 2),
    ],
    ids=["sequential", "functional_nested", "off", "dropout", "lambda", "softmax_over_rows",
         "functional_op_over_rows", "subclassed", "subclassed_forced", "recurrent",
         "recurrent_dropout", "recurrent_recurrent_dropout"],
)
def test_forward_passes_per_training_call(data, monkeypatch, build, setting, passes):
    """'auto' fuses only models known to treat rows independently; each pass calls every
    Dense layer once. The loss is the two-pass loss either way."""
    calls = []
    dense_call = keras.layers.Dense.call

    def counting_call(self, *args, **kwargs):
        calls.append(self.name)
        return dense_call(self, *args, **kwargs)

    original = build()
    original(data["x"][:2])  # built before counting
    model = MinDiffModel(original, "mmd", loss_weight=2.0, fuse_forward_passes=setting)
    md_x = np.concatenate([data["sensitive"][:16], data["nonsensitive"][:16]])
    membership = np.concatenate([np.ones((16, 1)), np.zeros((16, 1))]).astype("float32")
    monkeypatch.setattr(keras.layers.Dense, "call", counting_call)
    model(MinDiffPackedInputs(data["x"][:32], (md_x, membership)), training=False)
    monkeypatch.setattr(keras.layers.Dense, "call", dense_call)
    dense_layers = sum(
        isinstance(layer, keras.layers.Dense) for layer in keras_internals.flatten_layers(original)
    )
    assert len(calls) == passes * dense_layers
    expected = 2.0 * MMDLoss()(membership, original(md_x, training=False))
    np.testing.assert_allclose(np_(model.losses[0]), np_(expected), rtol=1e-5)


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "two_passes"])
def test_fused_outputs_keep_their_keras_mask(fuse):
    """The compiled loss skips masked steps: a fused pass must hand each slice its mask."""
    from keras.src.backend.common.masking import get_keras_mask

    original = keras.Sequential([
        keras.Input((6,), dtype="int32"),
        keras.layers.Embedding(5, 3, mask_zero=True),
        keras.layers.Dense(1),
    ])
    tokens = np.random.default_rng(0).integers(0, 5, size=(10, 6)).astype("int32")
    tokens[:, -2:] = 0
    membership = np.array([[1.0], [0.0]] * 3, "float32")
    model = MinDiffModel(original, "mmd", predictions_transform=lambda p: p[:, 0],
                         fuse_forward_passes=fuse)
    outputs = model(MinDiffPackedInputs(tokens[:4], (tokens[4:], membership)), training=True)
    mask = get_keras_mask(outputs)
    assert mask is not None
    np.testing.assert_array_equal(np_(mask), tokens[:4] != 0)


def test_fusion_setting_is_checked_and_saved_in_the_config():
    model = MinDiffModel(keras.Sequential(_layers()), "mmd")
    assert model.fuse_forward_passes == "auto"
    assert "fuse_forward_passes" not in model.get_config()
    for setting in (True, False):
        model = MinDiffModel(keras.Sequential(_layers()), "mmd", fuse_forward_passes=setting)
        assert model.fuse_forward_passes is setting
        assert model.get_config()["fuse_forward_passes"] is setting
        assert MinDiffModel.from_config(model.get_config()).fuse_forward_passes is setting
    with pytest.raises(ValueError, match="fuse_forward_passes.*'auto', True or False.*'yes'"):
        MinDiffModel(keras.Sequential(_layers()), "mmd", fuse_forward_passes="yes")
    with pytest.raises(TypeError, match="fuse_forward_passes.*received 1 of type int"):
        MinDiffModel(keras.Sequential(_layers()), "mmd", fuse_forward_passes=1)


# --- 7. One metric per MinDiff application. ----------------------------------------------------


def test_one_metric_per_application_in_evaluate(data):
    model = MinDiffModel(keras.Sequential(_layers()), {"a": "mmd", "b": "abs_corr"})
    model.compile(optimizer="adam", loss="binary_crossentropy")
    # Rows alternate between the groups, so that every batch holds both.
    md_x = np.stack([data["sensitive"][:32], data["nonsensitive"][:32]], axis=1).reshape(64, -1)
    membership = (np.arange(64) % 2 == 0).astype("float32").reshape(-1, 1)
    dataset = pack_min_diff_data(
        (data["x"], data["y"]),
        min_diff_dataset={"a": (md_x, membership), "b": (md_x[::-1], membership[::-1])},
        batch_size=32,
        shuffle=False,
    )
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    assert results["a_min_diff_loss"] > 0 and results["b_min_diff_loss"] > 0
    assert "min_diff_loss" not in results


# --- 10. Loss weights are checked once, in the base. -------------------------------------------


@pytest.mark.parametrize(
    "weight, error",
    [(-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
     ("1", TypeError), (True, TypeError), ({"a": -2.0}, ValueError)],
)
def test_bad_loss_weights_raise_before_anything_is_built(weight, error):
    loss = {"a": "mmd", "b": "mmd"} if isinstance(weight, dict) else "mmd"
    with pytest.raises(error, match="loss_weight"):
        MinDiffModel(keras.Sequential(_layers()), loss, loss_weight=weight)


def test_numpy_scalar_loss_weight_is_accepted():
    model = MinDiffModel(keras.Sequential(_layers()), "mmd", loss_weight=np.float32(0.5))
    assert model.min_diff_loss_weights == 0.5


# --- Smaller points of TF-MR's contract. -------------------------------------------------------


def test_unknown_keyword_argument_raises_type_error():
    with pytest.raises(TypeError, match="problem initializing the MinDiffModel instance"):
        MinDiffModel(keras.Sequential(_layers()), "mmd", not_an_argument=1)


def test_nested_dict_loss_raises_value_error():
    with pytest.raises(
        ValueError,
        match=r"`loss` is not a recognized MinDiff structure.*unnested.*`loss\[.a.\]` is a nested",
    ):
        MinDiffModel(keras.Sequential(_layers()), {"a": {"b": "mmd"}})


class KeywordRecordingLoss(MMDLoss):
    calls = []

    def __call__(self, *args, **kwargs):
        KeywordRecordingLoss.calls.append((len(args), sorted(kwargs)))
        return super().__call__(*args, **kwargs)


def test_losses_are_called_with_keywords(data):
    KeywordRecordingLoss.calls = []
    model = MinDiffModel(keras.Sequential(_layers()), KeywordRecordingLoss())
    model(_packed(data)[0][0], training=True)
    assert KeywordRecordingLoss.calls == [(0, ["membership", "predictions", "sample_weight"])]


class FloatLossMinDiffModel(MinDiffModel):
    def compute_min_diff_loss(self, min_diff_data, training=None, mask=None):
        return 0.5  # a Python number: added as a tensor


def test_overridden_loss_may_return_a_python_number(data):
    model = FloatLossMinDiffModel(keras.Sequential(_layers()), "mmd")
    model(_packed(data)[0][0], training=True)
    np.testing.assert_allclose(np_(model.losses[0]), 0.5)


def test_predictions_transform_may_return_a_numpy_array(data):
    model = MinDiffModel(
        keras.Sequential(_layers()), "mmd", predictions_transform=lambda p: np_(p)
    )
    model(_packed(data)[0][0], training=False)
    assert float(np_(model.losses[0])) > 0


def test_a_wrapper_of_a_wrapper_gets_unique_metric_names():
    inner = MinDiffModel(keras.Sequential(_layers()), "mmd")
    outer = MinDiffModel(inner, "mmd")
    assert [m.name for m in outer._extra_loss_metrics] == ["min_diff_loss_1"]


def test_extensionless_paths_save_directories(tmp_path, data):
    model = MinDiffModel(keras.Sequential(_layers()), "mmd", loss_weight=2.0)
    x = data["x"][:4]
    model(x)
    model.save(tmp_path / "saved_model")
    model.save_original_model(tmp_path / "original")
    assert (tmp_path / "saved_model").is_dir() and (tmp_path / "original").is_dir()
    loaded = keras.saving.load_model(tmp_path / "saved_model")
    assert isinstance(loaded, MinDiffModel) and loaded.min_diff_loss_weights == 2.0
    np.testing.assert_allclose(np_(loaded(x)), np_(model(x)), atol=1e-6)
    original = keras.saving.load_model(tmp_path / "original")
    np.testing.assert_allclose(np_(original(x)), np_(model(x)), atol=1e-6)


def test_init_error_lists_only_the_users_custom_base_classes():
    with pytest.raises(TypeError, match=r"custom base class \(none\)"):
        MinDiffModel(keras.Sequential(_layers()), "mmd", not_an_argument=1)


def test_nested_loss_weight_is_named_before_its_keys_are_compared():
    # TF Model Remediation's order: a nested `loss_weight` dict is a structure error, even
    # when its keys do not match `loss` either.
    with pytest.raises(ValueError, match="`loss_weight` is not a recognized MinDiff structure"):
        MinDiffModel(
            keras.Sequential(_layers()), {"k1": "mmd", "k2": "mmd"}, loss_weight={"k3": {"k": 2.0}}
        )
