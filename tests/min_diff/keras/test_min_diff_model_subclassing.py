"""The subclassing recipes of MinDiffModel's API page, on every backend.

1. `class CustomMinDiffModel(MinDiffModel, CustomSequential)` keeps the custom `train_step` of
   the user's model class (here one that records its use and defers to Keras's step).
2. A direct subclass overriding `unpack_min_diff_data` (and `unpack_original_inputs`) reads a
   custom input structure, in `call` and in `fit`.
3. A custom `train_step` that bypasses `compute_loss` and `self.losses` would drop the MinDiff
   loss silently: `fit` warns with a RuntimeWarning. Written per backend (TF GradientTape, JAX
   stateless step, torch autograd).
"""

import warnings

import numpy as np
import pytest
import keras
from keras import ops

from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.losses import MMDLoss


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _layers():
    return [
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]


def _packed_dataset(data):
    return pack_min_diff_data(
        (data["x"], data["y"]), data["sensitive"], data["nonsensitive"], batch_size=32, seed=0
    )


# ---------------------------------------------------------------------------------------------
# Recipe 1: MRO with a custom model class.


class CustomSequential(keras.Sequential):
    """A Sequential whose `train_step` records that it ran (at trace time under jit)."""

    train_step_calls = 0

    # `*args`: the JAX trainer's step is `train_step(state, data)`, the others' `train_step(data)`.
    def train_step(self, *args):
        CustomSequential.train_step_calls += 1
        return super().train_step(*args)


class CustomMinDiffModel(MinDiffModel, CustomSequential):
    pass  # No additional implementation is required.


def test_mro_recipe_uses_custom_train_step_and_reports_min_diff_loss(data):
    CustomSequential.train_step_calls = 0
    original = CustomSequential(_layers())
    model = CustomMinDiffModel(original, "mmd", loss_weight=2.0)
    assert isinstance(model, MinDiffModel)
    assert isinstance(model, CustomSequential)
    assert model.original_model is original
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(_packed_dataset(data), epochs=2, verbose=0)
    assert CustomSequential.train_step_calls >= 1
    assert "min_diff_loss" in history.history
    assert history.history["min_diff_loss"][0] > 0
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    predictions = model.predict(data["x"], verbose=0)
    np.testing.assert_allclose(
        predictions, original.predict(data["x"], verbose=0), rtol=1e-6, atol=1e-6
    )


def test_mro_recipe_call_adds_min_diff_loss(data, min_diff_batch):
    original = CustomSequential(_layers())
    model = CustomMinDiffModel(original, "mmd")
    model(MinDiffPackedInputs(data["x"][:32], min_diff_batch), training=True)
    md_x, membership, weight = min_diff_batch
    np.testing.assert_allclose(
        np_(model.losses[0]), np_(MMDLoss()(membership, original(md_x), weight)), rtol=1e-5
    )
    # The MinDiff model's own layers list stays empty: the layers belong to the original.
    assert tuple(model(data["x"][:3]).shape) == (3, 1)


# ---------------------------------------------------------------------------------------------
# Recipe 2: a direct subclass overriding the unpacking methods.


class DictInputMinDiffModel(MinDiffModel):
    """Reads batches `{'x': original inputs, 'md': (min_diff_x, membership)}`."""

    unpack_calls = 0

    def unpack_original_inputs(self, inputs):
        return inputs["x"] if isinstance(inputs, dict) else inputs

    def unpack_min_diff_data(self, inputs):
        DictInputMinDiffModel.unpack_calls += 1
        return inputs.get("md") if isinstance(inputs, dict) else None


def test_direct_subclass_custom_unpacking_in_call(make_model, data, min_diff_batch):
    DictInputMinDiffModel.unpack_calls = 0
    original = make_model()
    model = DictInputMinDiffModel(original, "mmd", loss_weight=1.5)
    md_x, membership, _ = min_diff_batch
    outputs = model({"x": data["x"][:32], "md": (md_x, membership)}, training=True)
    assert DictInputMinDiffModel.unpack_calls >= 1
    assert len(model.losses) == 1
    np.testing.assert_allclose(
        np_(model.losses[0]), np_(1.5 * MMDLoss()(membership, original(md_x))), rtol=1e-5
    )
    np.testing.assert_allclose(np_(outputs), np_(original(data["x"][:32])), rtol=1e-6)
    # Default packing is not understood by this subclass: no MinDiff data → error in training.
    with pytest.raises(ValueError):
        model(MinDiffPackedInputs(data["x"][:32], (md_x, membership)), training=True)


def test_direct_subclass_custom_unpacking_in_fit(make_model, data, rng):
    DictInputMinDiffModel.unpack_calls = 0
    model = DictInputMinDiffModel(make_model(), "mmd")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rows = len(data["x"])
    md_x = rng.normal(size=(rows, 4)).astype("float32")
    membership = (np.arange(rows) % 2).reshape(-1, 1).astype("float32")
    md_x[membership[:, 0] == 1] += 1.0
    x = {"x": data["x"], "md": (md_x, membership)}
    history = model.fit(x, data["y"], batch_size=32, epochs=1, verbose=0)
    assert DictInputMinDiffModel.unpack_calls >= 1
    assert history.history["min_diff_loss"][0] > 0
    result = model.evaluate(x, data["y"], batch_size=32, return_dict=True, verbose=0)
    assert result["min_diff_loss"] > 0


# ---------------------------------------------------------------------------------------------
# Recipe 3: a custom train_step that drops the MinDiff loss is detected.


def _bypassing_sequential_class():
    """A Sequential whose train_step computes its own MSE loss, ignoring `self.losses`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        class BypassSequential(keras.Sequential):
            def train_step(self, data):
                x, y = data[0], data[1]
                with tf.GradientTape() as tape:
                    y_pred = self(x, training=True)
                    loss = ops.mean(ops.square(y - y_pred))
                grads = tape.gradient(loss, self.trainable_variables)
                self.optimizer.apply(grads, self.trainable_variables)
                return {"loss": loss}

    elif backend == "jax":
        import jax

        class BypassSequential(keras.Sequential):
            def train_step(self, state, data):
                trainable, non_trainable, optimizer_vars, metrics_vars = state
                x, y = data[0], data[1]

                def loss_fn(trainable):
                    y_pred, new_non_trainable = self.stateless_call(
                        trainable, non_trainable, x, training=True
                    )
                    return ops.mean(ops.square(y - y_pred)), new_non_trainable

                (loss, non_trainable), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                    trainable
                )
                trainable, optimizer_vars = self.optimizer.stateless_apply(
                    optimizer_vars, grads, trainable
                )
                return {"loss": loss}, (trainable, non_trainable, optimizer_vars, metrics_vars)

    elif backend == "torch":
        import torch

        class BypassSequential(keras.Sequential):
            def train_step(self, data):
                x, y = data[0], data[1]
                self.zero_grad()
                y_pred = self(x, training=True)
                loss = ops.mean(ops.square(y - y_pred))
                loss.backward()
                variables = self.trainable_weights
                grads = [v.value.grad for v in variables]
                with torch.no_grad():
                    self.optimizer.apply(grads, variables)
                return {"loss": loss}

    else:  # pragma: no cover
        pytest.skip(f"no custom train_step written for backend {backend}")
    return BypassSequential


def test_custom_train_step_bypassing_compute_loss_warns(data):
    bypass_sequential = _bypassing_sequential_class()

    class BypassMinDiffModel(MinDiffModel, bypass_sequential):
        pass

    model = BypassMinDiffModel(bypass_sequential(_layers()), "mmd")
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(RuntimeWarning, match="min_diff_loss"):
        model.fit(_packed_dataset(data), epochs=1, verbose=0)
