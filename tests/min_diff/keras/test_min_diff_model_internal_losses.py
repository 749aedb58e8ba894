"""Models that add losses of their own, wrapped by MinDiffModel, on every backend.

The models of the custom-models chapter of the seed guides, in Keras 3:
  - `ReconstructingRegressor`: a subclassed regressor that adds a reconstruction loss from
    its hidden layers with `self.add_loss` (it creates its reconstruction layer in `build`);
  - `NoisyClassifier`: a subclassed classifier with a `training` argument (GaussianNoise and
    Dropout active in training only), an L2 kernel regulariser and an `add_loss` activity
    penalty;
  - a Functional model with several residual blocks joined by `layers.Add`, with L2 kernel
    regularisers, with or without an activity regulariser (the wrapper asks for fusion: without
    one, MinDiffModel runs the original and the MinDiff rows in one fused pass; with one, it
    detects the regulariser and runs two passes).

For each: its own losses count exactly once in the training and evaluation loss — checked
against the compiled loss + the model's own losses + the weighted MinDiff loss, computed by hand
for one batch (with `evaluate`, and with `fit` at SGD learning rate 0); `fit` trains it; and the
wrapper round-trips through `model.save("x.keras")` / `keras.saving.load_model` with identical
predictions and losses (the subclassed models have `get_config` and are registered with
`keras.saving.register_keras_serializable`).

Keras 3 note (not a keras-remediation issue): a subclassed model whose `build()` creates a
layer and then calls `super().build(...)`, as the book's `ReconstructingRegressor` does, leaves
its sublayers unbuilt after `build_from_config`, and `load_model` then silently restores random
weights — even for the model alone, without any wrapper. Building the sublayers in `build()`,
as `internal_losses_testlib` does, makes the round trip exact.
"""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.keras.utils import unpack_x_y_sample_weight
from keras_remediation.min_diff.losses import MMDLoss

from internal_losses_testlib import N_FEATURES
from internal_losses_testlib import NoisyClassifier
from internal_losses_testlib import ReconstructingRegressor
from internal_losses_testlib import float_
from internal_losses_testlib import np_
from internal_losses_testlib import residual_model
from internal_losses_testlib import residual_own_losses_by_hand

MIN_DIFF_WEIGHT = 1.5


# ---------------------------------------------------------------------------------------------
# Cases: a model factory, its compiled loss, data and the hand computation of its own losses.


def _classification_data(rng):
    x = rng.normal(size=(64, N_FEATURES)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(64, 1)) > 0).astype("float32")
    return x, y


def _regression_data(rng):
    x = rng.normal(size=(64, N_FEATURES)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32") + 0.1).astype("float32")
    return x, y


CASES = {
    "reconstructing_regressor": dict(
        make=lambda deterministic=False: ReconstructingRegressor(1),
        loss="mse",
        data=_regression_data,
        own=lambda model, x: model.own_losses_by_hand(x),
        n_own_losses=1,
        learning_rate=0.005,  # Five SELU layers: larger steps diverge.
    ),
    "noisy_classifier": dict(
        make=lambda deterministic=False: (
            NoisyClassifier(noise_stddev=0.0, dropout_rate=0.0)
            if deterministic
            else NoisyClassifier()
        ),
        loss="binary_crossentropy",
        data=_classification_data,
        own=lambda model, x: model.own_losses_by_hand(x),
        n_own_losses=2,
    ),
    "residual_blocks": dict(
        make=lambda deterministic=False: residual_model(),
        loss="binary_crossentropy",
        data=_classification_data,
        own=residual_own_losses_by_hand,
        n_own_losses=8,  # 8 regularised kernels.
    ),
    "residual_blocks_activity_regularizer": dict(
        make=lambda deterministic=False: residual_model(activity_l2=0.01),
        loss="binary_crossentropy",
        data=_classification_data,
        own=residual_own_losses_by_hand,
        n_own_losses=9,
    ),
}


def _compiled_loss(name, y, y_pred):
    """What `compile(loss=name)` computes, in NumPy: the mean over the batch."""
    y, y_pred = np.asarray(y, np.float64), np_(y_pred).astype(np.float64)
    if name == "mse":
        return float(np.mean((y - y_pred) ** 2))
    y_pred = np.clip(y_pred, 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred))))


def _mmd_by_hand(membership, predictions, weight, kernel_length=0.1):
    """Weighted biased MMD with a Gaussian kernel exp(-|a-b|² / l²), in NumPy."""
    m = np.asarray(membership, np.float64).reshape(-1)
    p = np_(predictions).astype(np.float64).reshape(len(m), -1)
    w = np.ones(len(m)) if weight is None else np.asarray(weight, np.float64).reshape(-1)
    w = w / w.sum()
    kernel = np.exp(-np.sum((p[:, None, :] - p[None, :, :]) ** 2, -1) / kernel_length**2)
    a, b = w * m, w * (1 - m)

    def mean(u, v):
        return u @ kernel @ v / (u.sum() * v.sum())

    return float(mean(a, a) - 2 * mean(a, b) + mean(b, b))


def _groups(rng):
    sensitive = rng.normal(loc=0.5, size=(16, N_FEATURES)).astype("float32")
    nonsensitive = rng.normal(loc=-0.5, size=(24, N_FEATURES)).astype("float32")
    return sensitive, nonsensitive


def _one_batch_dataset(rng, case):
    """A packed dataset of exactly one batch: all 64 rows, MinDiff 16 + 24 rows."""
    x, y = case["data"](rng)
    sensitive, nonsensitive = _groups(rng)
    return pack_min_diff_data((x, y), sensitive, nonsensitive, batch_size=len(x), shuffle=False)


def _wrapped(case, learning_rate, deterministic=False):
    original = case["make"](deterministic=deterministic)
    model = MinDiffModel(
        original, MMDLoss(), loss_weight=MIN_DIFF_WEIGHT, fuse_forward_passes=True
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=case["loss"])
    return model


def _expected_loss(case, model, batch):
    """Compiled loss, own losses and weighted MinDiff loss, by hand (NumPy), in inference mode."""
    packed, y = batch
    x = packed.original_inputs
    min_diff_x, membership, min_diff_weight = unpack_x_y_sample_weight(packed.min_diff_data)
    original = model.original_model
    compiled = _compiled_loss(case["loss"], y, original(x, training=False))
    own = float(case["own"](original, x))
    min_diff = MIN_DIFF_WEIGHT * _mmd_by_hand(
        membership, original(min_diff_x, training=False), min_diff_weight
    )
    return compiled, own, min_diff


# ---------------------------------------------------------------------------------------------
# Tests.


@pytest.mark.parametrize("name", sorted(CASES))
def test_evaluate_counts_own_losses_once(name, rng):
    case = CASES[name]
    dataset = _one_batch_dataset(rng, case)
    model = _wrapped(case, learning_rate=0.0)
    result = model.evaluate(dataset, return_dict=True, verbose=0)
    compiled, own, min_diff = _expected_loss(case, model, dataset[0])
    assert own > 1e-4 and min_diff > 1e-4  # Both terms matter in this check.
    np.testing.assert_allclose(result["min_diff_loss"], min_diff, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["loss"], compiled + own + min_diff, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_counts_own_losses_once(name, rng):
    """`fit`'s logged training loss for one batch, at learning rate 0 (weights unchanged)."""
    case = CASES[name]
    dataset = _one_batch_dataset(rng, case)
    # Noise and dropout off: the training-mode loss is deterministic and computable by hand.
    model = _wrapped(case, learning_rate=0.0, deterministic=True)
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0).history
    compiled, own, min_diff = _expected_loss(case, model, dataset[0])
    np.testing.assert_allclose(history["min_diff_loss"][0], min_diff, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(history["loss"][0], compiled + own + min_diff, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_call_counts_own_losses_once(name, rng):
    """One eager training step's loss, with noise and dropout active.

    `model.losses` after `model(batch, training=True)` is the MinDiff loss followed by the
    original model's own losses of the original batch only (those of the MinDiff pass are
    dropped), and `compute_loss` — what `train_step` calls — adds each once.
    """
    case = CASES[name]
    packed, y = _one_batch_dataset(rng, case)[0]
    model = _wrapped(case, learning_rate=0.0)
    y_pred = model(packed, training=True)
    losses = [float_(loss) for loss in model.losses]
    assert len(losses) == 1 + case["n_own_losses"]
    own = float(case["own"](model.original_model, packed.original_inputs))
    np.testing.assert_allclose(sum(losses[1:]), own, rtol=1e-4, atol=1e-6)
    total = float_(model.compute_loss(packed, y, y_pred))
    compiled = _compiled_loss(case["loss"], y, y_pred)
    np.testing.assert_allclose(total, compiled + own + losses[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_stateless_call_counts_own_losses_once(name, rng):
    """The path of JAX's `fit` and `evaluate`, on every backend.

    `stateless_call(..., return_losses=True)` runs the wrapper's `call` directly, without an
    outer call context, so each call of the original model is an entry call, which first clears
    the model's losses: the MinDiff pass must not wipe out those of the original batch.
    """
    case = CASES[name]
    batch = _one_batch_dataset(rng, case)[0]
    packed, _ = batch
    model = _wrapped(case, learning_rate=0.0, deterministic=True)
    model(packed)  # Builds the original model.
    _, _, losses = model.stateless_call(
        model.trainable_variables, model.non_trainable_variables, packed, training=True,
        return_losses=True,
    )
    _, own, min_diff = _expected_loss(case, model, batch)
    assert len(losses) == 1 + case["n_own_losses"]
    np.testing.assert_allclose(float_(losses[0]), min_diff, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sum(float_(loss) for loss in losses[1:]), own, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_then_save_and_load_round_trip(name, rng, tmp_path):
    case = CASES[name]
    x, y = case["data"](rng)
    sensitive, nonsensitive = _groups(rng)
    dataset = pack_min_diff_data(
        (x, y), sensitive, nonsensitive, batch_size=16, min_diff_batch_size=8, seed=1
    )
    model = _wrapped(case, learning_rate=case.get("learning_rate", 0.05))
    model.original_model(x[:2])  # Builds the subclassed models (other tests wrap them unbuilt).
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(dataset, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["min_diff_loss"][0] > 0
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MinDiffModel)
    assert type(loaded.original_model) is type(model.original_model)
    np.testing.assert_allclose(
        np_(loaded(x, training=False)), np_(model(x, training=False)), rtol=1e-6, atol=1e-6
    )
    # The loaded model's own losses still count, once.
    evaluation = pack_min_diff_data(
        (x, y), sensitive, nonsensitive, batch_size=len(x), shuffle=False
    )
    result = loaded.evaluate(evaluation, return_dict=True, verbose=0)
    compiled, own, min_diff = _expected_loss(case, model, evaluation[0])
    np.testing.assert_allclose(result["min_diff_loss"], min_diff, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["loss"], compiled + own + min_diff, rtol=1e-4, atol=1e-6)
    # It trains on.
    more = loaded.fit(dataset, epochs=1, verbose=0).history
    assert np.isfinite(more["loss"][0]) and more["min_diff_loss"][0] > 0
