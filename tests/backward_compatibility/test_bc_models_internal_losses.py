"""Models that add losses of their own, wrapped by the BC wrapper, on every backend.

The models of `tests/internal_losses_testlib.py` (also wrapped by MinDiffModel in
`tests/min_diff/keras/test_min_diff_model_internal_losses.py`), as classifiers:
  - `ReconstructingRegressor(3, activation="softmax")`: subclassed, an `add_loss`
    reconstruction loss from its hidden layers, 3 classes, sparse categorical cross-entropy;
  - `NoisyClassifier`: subclassed with a `training` argument (noise, dropout), an L2 kernel
    regulariser and an `add_loss` activity penalty; sigmoid, binary cross-entropy;
  - `residual_model`: Functional, residual blocks joined by `layers.Add`, L2 kernel regularisers,
    with or without an activity regulariser; sigmoid, binary cross-entropy.

Each is h2 in `BCNewErrorCompatibilityModel(h2, h1=h1, lambda_c=LAMBDA_C)`, h1 a separately
initialised model of the same architecture (with its own losses, which must not count: h1 is
frozen and runs in inference mode). For each: h2's own losses count exactly once in the total
loss of `evaluate`, of `fit` (SGD learning rate 0) and of an eager `compute_loss`, and `stateless_call`
returns them once —
checked against compiled loss + h2's own losses + λ_c · new-error dissonance, computed by hand in
NumPy for one batch; `fit` trains h2 and leaves h1 alone; the wrapper round-trips through
`model.save("x.keras")` / `keras.saving.load_model` with identical predictions and losses.
"""

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel

from internal_losses_testlib import N_FEATURES
from internal_losses_testlib import NoisyClassifier
from internal_losses_testlib import ReconstructingRegressor
from internal_losses_testlib import float_
from internal_losses_testlib import np_
from internal_losses_testlib import residual_model
from internal_losses_testlib import residual_own_losses_by_hand

LAMBDA_C = 2.0
N_ROWS = 64
N_CLASSES = 3
EPSILON = 1e-7  # keras.backend.epsilon(): the clipping of probabilities in the cross-entropies.


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _binary_data(rng):
    x = rng.normal(size=(N_ROWS, N_FEATURES)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(N_ROWS, 1)) > 0).astype("float32")
    return x, y


def _multiclass_data(rng):
    x = rng.normal(size=(N_ROWS, N_FEATURES)).astype("float32")
    scores = x @ rng.normal(size=(N_FEATURES, N_CLASSES)) + 0.3 * rng.normal(
        size=(N_ROWS, N_CLASSES)
    )
    return x, np.argmax(scores, axis=1).astype("int32")


CASES = {
    "reconstructing_classifier": dict(
        make=lambda deterministic=False: ReconstructingRegressor(N_CLASSES, activation="softmax"),
        loss="sparse_categorical_crossentropy",
        data=_multiclass_data,
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
        data=_binary_data,
        own=lambda model, x: model.own_losses_by_hand(x),
        n_own_losses=2,
    ),
    "residual_blocks": dict(
        make=lambda deterministic=False: residual_model(),
        loss="binary_crossentropy",
        data=_binary_data,
        own=residual_own_losses_by_hand,
        n_own_losses=8,  # 8 regularised kernels.
    ),
    "residual_blocks_activity_regularizer": dict(
        make=lambda deterministic=False: residual_model(activity_l2=0.01),
        loss="binary_crossentropy",
        data=_binary_data,
        own=residual_own_losses_by_hand,
        n_own_losses=9,
    ),
}


# ---------------------------------------------------------------------------------------------
# The loss by hand (NumPy, float64).


def _per_example_loss(name, y, y_pred):
    y_pred = np.clip(np_(y_pred).astype(np.float64), EPSILON, 1 - EPSILON)
    if name == "binary_crossentropy":
        y = np.asarray(y, np.float64).reshape(y_pred.shape)
        return np.mean(-(y * np.log(y_pred) + (1 - y) * np.log(1 - y_pred)), axis=-1)
    labels = np.asarray(y).reshape(-1).astype(int)
    return -np.log(y_pred[np.arange(len(labels)), labels])


def _h1_correct(name, y, h1_output):
    h1_output = np_(h1_output)
    if name == "binary_crossentropy":
        return ((h1_output > 0.5) == (np.asarray(y).reshape(h1_output.shape) > 0.5)).all(-1)
    return np.argmax(h1_output, -1) == np.asarray(y).reshape(-1)


def _expected(case, h2, h1, x, y, y_pred=None):
    """(compiled loss, h2's own losses, new-error dissonance), h2's outputs `y_pred` (default:
    inference mode), h1 in inference mode."""
    if y_pred is None:
        y_pred = h2(x, training=False)
    values = _per_example_loss(case["loss"], y, y_pred)
    correct = _h1_correct(case["loss"], y, h1(x, training=False))
    dissonance = float(values[correct].sum() / max(correct.sum(), 1))
    return float(values.mean()), float(case["own"](h2, x)), dissonance


def _models(case, deterministic=False):
    """(h2, h1): same architecture, different initial weights; both built."""
    h2 = case["make"](deterministic=deterministic)
    h1 = case["make"]()  # Noise and dropout kept: h1 must run in inference mode.
    x = np.zeros((2, N_FEATURES), "float32")
    h2(x), h1(x)
    return h2, h1


def _wrapped(case, learning_rate, deterministic=False):
    h2, h1 = _models(case, deterministic)
    model = BCNewErrorCompatibilityModel(h2, h1=h1, lambda_c=LAMBDA_C)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=case["loss"])
    return model


def _assert_total(result, case, model, x, y, y_pred=None, dissonance_key="dissonance"):
    compiled, own, dissonance = _expected(case, model.original_model, model.h1, x, y, y_pred)
    assert own > 1e-4 and dissonance > 1e-4  # Both terms matter in this check.
    if dissonance_key is not None:
        np.testing.assert_allclose(result[dissonance_key], dissonance, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        result["loss"], compiled + own + LAMBDA_C * dissonance, rtol=1e-4, atol=1e-6
    )


# ---------------------------------------------------------------------------------------------
# Tests.


@pytest.mark.parametrize("name", sorted(CASES))
def test_h1_is_right_on_some_rows_only(name, rng):
    """Sanity of the setup: the dissonance covers a strict, non-empty subset of the batch."""
    case = CASES[name]
    x, y = case["data"](rng)
    h2, h1 = _models(case)
    correct = _h1_correct(case["loss"], y, h1(x, training=False))
    assert 0 < correct.sum() < len(x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_evaluate_counts_own_losses_once(name, rng):
    case = CASES[name]
    x, y = case["data"](rng)
    model = _wrapped(case, learning_rate=0.0)
    result = model.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    _assert_total(result, case, model, x, y)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_counts_own_losses_once(name, rng):
    """`fit`'s logged training loss for one batch, at learning rate 0 (weights unchanged)."""
    case = CASES[name]
    x, y = case["data"](rng)
    # h2's noise and dropout off: its training-mode loss is computable by hand.
    model = _wrapped(case, learning_rate=0.0, deterministic=True)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history
    _assert_total({key: values[0] for key, values in history.items()}, case, model, x, y)


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_compute_loss_counts_own_losses_once(name, rng):
    """One eager training step's loss, with h2's noise and dropout active.

    After `model(x, training=True)`, `model.losses` holds h2's own losses of the batch only, and
    `compute_loss` — what `train_step` calls — adds them once, plus λ_c times the dissonance of
    these outputs against h1's inference-mode outputs (h1's own losses are not added).
    """
    case = CASES[name]
    x, y = case["data"](rng)
    model = _wrapped(case, learning_rate=0.0)
    y_pred = model(x, training=True)
    assert len(model.losses) == case["n_own_losses"]
    np.testing.assert_allclose(
        sum(float_(loss) for loss in model.losses),
        case["own"](model.original_model, x),
        rtol=1e-4,
        atol=1e-6,
    )
    total = float_(model.compute_loss(x, y, y_pred))
    assert len(model.losses) == case["n_own_losses"]  # h1's inference added none.
    _assert_total({"loss": total}, case, model, x, y, y_pred=y_pred, dissonance_key=None)


@pytest.mark.parametrize("name", sorted(CASES))
def test_stateless_call_returns_own_losses_once(name, rng):
    """The forward pass of JAX's `fit` and `evaluate`, on every backend.

    `stateless_call(..., return_losses=True)` returns the losses that JAX's step adds to the
    compiled loss and the dissonance: h2's own losses of the batch, each once.
    """
    case = CASES[name]
    x, _ = case["data"](rng)
    model = _wrapped(case, learning_rate=0.0, deterministic=True)
    _, _, losses = model.stateless_call(
        model.trainable_variables, model.non_trainable_variables, x, training=True,
        return_losses=True,
    )
    assert len(losses) == case["n_own_losses"]
    np.testing.assert_allclose(
        sum(float_(loss) for loss in losses),
        case["own"](model.original_model, x),
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_then_save_and_load_round_trip(name, rng, tmp_path):
    case = CASES[name]
    x, y = case["data"](rng)
    model = _wrapped(case, learning_rate=case.get("learning_rate", 0.05))
    before = [np.array(w) for w in model.original_model.get_weights()]
    h1_before = [np.array(w) for w in model.h1.get_weights()]
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["dissonance"][0] > 0
    assert all(not np.allclose(a, b) for a, b in zip(before, model.original_model.get_weights()))
    for a, b in zip(h1_before, model.h1.get_weights()):
        np.testing.assert_array_equal(a, b)  # h1 is frozen.

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BCNewErrorCompatibilityModel)
    assert type(loaded.original_model) is type(model.original_model)
    assert type(loaded.h1) is type(model.h1) and loaded.lambda_c == LAMBDA_C
    for new, old in ((loaded, model), (loaded.h1, model.h1)):
        np.testing.assert_allclose(
            np_(new(x, training=False)), np_(old(x, training=False)), rtol=1e-6, atol=1e-6
        )
    # h1 is still frozen, every layer of it (a subclassed h1 is rebuilt from its config).
    assert len(loaded.trainable_variables) == len(model.original_model.trainable_variables)
    loaded_h1_before = [np.array(w) for w in loaded.h1.get_weights()]
    # The loaded model's own losses still count, once.
    result = loaded.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    _assert_total(result, case, model, x, y)
    # It trains on.
    more = loaded.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(more["loss"][0]) and more["dissonance"][0] > 0
    for a, b in zip(loaded_h1_before, loaded.h1.get_weights()):
        np.testing.assert_array_equal(a, b)
