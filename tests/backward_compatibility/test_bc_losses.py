"""Backward-compatibility losses against NumPy references of their formulas, on every backend."""

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import losses

from bc_testlib import classifier
from bc_testlib import to_numpy
from bc_testlib import value_and_grad

EPS = keras.config.epsilon()


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# NumPy references of the per-example base losses.


def np_sparse_ce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(p[np.arange(len(y)), y])


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)


def np_nll(y, p, low=1e-10, high=4.0):
    return -np.log(np.clip(p[np.arange(len(y)), y], low, high))


def np_kl(t, p):
    t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return np.sum(t * np.log(t / p), axis=-1)


def np_imitation_kl(p1, p2):
    p1 = np.clip(p1 / p1.sum(-1, keepdims=True), EPS, 1)
    p2 = np.clip(p2 / p2.sum(-1, keepdims=True), EPS, 1)
    return np.sum(p1 * (np.log(p1) - np.log(p2)), axis=-1)


def np_bernoulli_kl(p1, p2):
    p1, p2 = np.clip(p1, EPS, 1 - EPS), np.clip(p2, EPS, 1 - EPS)
    kl = p1 * (np.log(p1) - np.log(p2)) + (1 - p1) * (np.log(1 - p1) - np.log(1 - p2))
    return kl.mean(axis=-1)


def np_masked_mean(values, mask, weight=None):
    weight = np.ones_like(values) if weight is None else weight
    return np.sum(values * weight * mask) / max(mask.sum(), 1)


@pytest.fixture
def batch():
    """Labels [12], h1/h2 probabilities [12, 4]; h1 right on rows 0-6 only, h2 logits too."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 12)
    h1_logits = rng.normal(size=(12, 4))
    h1_logits[np.arange(12), y] += np.where(np.arange(12) < 7, 5.0, -5.0)
    h2_logits = rng.normal(size=(12, 4))
    return {
        "y": y,
        "one_hot": np.eye(4)[y].astype("float32"),
        "h1": _softmax(h1_logits).astype("float32"),
        "h2": _softmax(h2_logits).astype("float32"),
        "h2_logits": h2_logits.astype("float32"),
        "mask": (np.arange(12) < 7).astype("float32"),
        "weight": rng.uniform(0.5, 2.0, 12).astype("float32"),
    }


# Mask ---------------------------------------------------------------------------------------


def test_mask_marks_rows_h1_gets_right_from_sparse_and_one_hot_labels(batch):
    for labels in (batch["y"], batch["y"][:, None], batch["one_hot"]):
        mask = to_numpy(losses.h1_correct_mask(labels, batch["h1"]))
        np.testing.assert_array_equal(mask, batch["mask"])


def test_binary_mask_uses_a_threshold_of_one_half_or_zero_for_logits():
    y = np.array([1, 0, 1, 0], dtype="float32")
    probabilities = np.array([[0.9], [0.2], [0.4], [0.6]], dtype="float32")
    np.testing.assert_array_equal(to_numpy(losses.h1_correct_mask(y, probabilities)), [1, 1, 0, 0])
    logits = np.array([[2.0], [-1.0], [-0.5], [0.3]], dtype="float32")
    mask = losses.h1_correct_mask(y, logits, from_logits=True)
    np.testing.assert_array_equal(to_numpy(mask), [1, 1, 0, 0])
    # Multi-label: right only when every label is right.
    multi = np.array([[0.9, 0.1], [0.9, 0.9]], dtype="float32")
    labels = np.array([[1, 0], [1, 0]], dtype="float32")
    np.testing.assert_array_equal(
        to_numpy(losses.h1_correct_mask(labels, multi, binary=True)), [1, 0]
    )


# Per-example base losses against NumPy ---------------------------------------------------------


def test_per_example_losses_match_numpy(batch):
    y, p = batch["y"], batch["h2"]
    cases = {
        "sparse_categorical_crossentropy": (y, np_sparse_ce(y, p)),
        "categorical_crossentropy": (batch["one_hot"], np_sparse_ce(y, p)),
        "nll": (y, np_nll(y, p)),
        "kl_divergence": (batch["one_hot"], np_kl(batch["one_hot"], p)),
    }
    for kind, (labels, expected) in cases.items():
        values = to_numpy(losses.per_example_loss(kind, labels, p))
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6, err_msg=kind)


def test_per_example_losses_from_logits_match_numpy(batch):
    y, z = batch["y"], batch["h2_logits"]
    expected = -np.log(_softmax(z.astype("float64"))[np.arange(12), y])
    for kind in ("sparse_categorical_crossentropy", "nll"):
        values = to_numpy(losses.per_example_loss(kind, y, z, from_logits=True))
        np.testing.assert_allclose(values, expected, rtol=1e-5, err_msg=kind)
    values = to_numpy(
        losses.per_example_loss("categorical_crossentropy", batch["one_hot"], z, from_logits=True)
    )
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_binary_cross_entropy_matches_numpy_with_1d_labels_and_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 10).astype("float32")
    z = rng.normal(size=(10, 1)).astype("float32")
    p = _sigmoid(z)
    np.testing.assert_allclose(
        to_numpy(losses.per_example_loss("binary_crossentropy", y, p)), np_bce(y[:, None], p),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        to_numpy(losses.per_example_loss("binary_crossentropy", y, z, from_logits=True)),
        np_bce(y[:, None], p), rtol=1e-4,
    )


def test_nll_picks_one_probability_per_example(batch):
    # The anchor's NLL gathered a B×B matrix; the loss of row i depends on row i only.
    y, p = batch["y"], batch["h2"]
    full = to_numpy(losses.per_example_loss("nll", y, p))
    single = to_numpy(losses.per_example_loss("nll", y[:1], p[:1]))
    assert full.shape == (12,)
    np.testing.assert_allclose(full[0], single[0], rtol=1e-6)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="must be one of"):
        losses.per_example_loss("hinge", [0], [[1.0, 0.0]])


# Dissonances -----------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_new_error_dissonance_is_the_base_loss_on_rows_h1_gets_right(batch, weighted):
    weight = batch["weight"] if weighted else None
    value = losses.new_error_dissonance(
        batch["y"], batch["h2"], batch["h1"], sample_weight=weight
    )
    expected = np_masked_mean(np_sparse_ce(batch["y"], batch["h2"]), batch["mask"], weight)
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5)


def test_new_error_dissonance_accepts_a_keras_loss_object(batch):
    value = losses.new_error_dissonance(
        batch["one_hot"], batch["h2"], batch["h1"], loss=keras.losses.CategoricalCrossentropy()
    )
    expected = np_masked_mean(np_sparse_ce(batch["y"], batch["h2"]), batch["mask"])
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5)


def test_strict_imitation_dissonance_is_kl_from_h1_on_rows_h1_gets_right(batch):
    value = losses.strict_imitation_dissonance(batch["y"], batch["h2"], batch["h1"])
    expected = np_masked_mean(np_imitation_kl(batch["h1"], batch["h2"]), batch["mask"])
    np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-5)
    # h2 = h1 imitates perfectly.
    same = losses.strict_imitation_dissonance(batch["y"], batch["h1"], batch["h1"])
    assert abs(float(to_numpy(same))) < 1e-6


def test_strict_imitation_dissonance_binary_is_bernoulli_kl():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (16, 1)).astype("float32")
    p1 = rng.uniform(0.05, 0.95, (16, 1)).astype("float32")
    p2 = rng.uniform(0.05, 0.95, (16, 1)).astype("float32")
    mask = ((p1 > 0.5) == (y > 0.5))[:, 0].astype("float32")
    value = losses.strict_imitation_dissonance(y, p2, p1)
    np.testing.assert_allclose(
        to_numpy(value), np_masked_mean(np_bernoulli_kl(p1, p2), mask), rtol=1e-5
    )


@pytest.mark.parametrize("variant", ["new_error", "strict_imitation"])
def test_all_wrong_batch_gives_zero_dissonance_and_finite_gradients(batch, variant):
    wrong_h1 = np.roll(np.eye(4, dtype="float32")[batch["y"]], 1, axis=1)  # never the label
    dissonance = (
        losses.new_error_dissonance if variant == "new_error" else losses.strict_imitation_dissonance
    )

    def fn(h2_logits):
        probabilities = keras.ops.softmax(h2_logits, axis=-1)
        return dissonance(batch["y"], probabilities, wrong_h1)

    value, grad = value_and_grad(fn, batch["h2_logits"])
    assert float(value) == 0.0
    assert np.all(np.isfinite(grad)) and np.all(grad == 0.0)


def test_dissonance_ignores_non_finite_values_outside_the_rows_h1_gets_right():
    values = np.array([1.0, np.inf, np.nan, 3.0], dtype="float32")
    mask = np.array([1.0, 0.0, 0.0, 1.0], dtype="float32")
    assert float(to_numpy(losses.masked_mean(values, mask))) == pytest.approx(2.0)
    assert float(to_numpy(losses.masked_mean(values, np.zeros(4, "float32")))) == 0.0


def test_mismatched_output_shapes_raise(batch):
    with pytest.raises(ValueError, match="same shape"):
        losses.new_error_dissonance(batch["y"], batch["h2"], batch["h1"][:, :3])
    with pytest.raises(ValueError, match="same shape"):
        losses.strict_imitation_dissonance(batch["y"], batch["h2"][:, :3], batch["h1"])


# λ_c checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, error",
    [(-1, ValueError), (-0.5, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
     ("1", TypeError), (None, TypeError), (True, TypeError)],
)
def test_bad_lambda_c_raises_naming_argument_and_value(bad, error):
    with pytest.raises(error) as info:
        losses.BCCrossEntropyLoss(classifier(), classifier(), bad)
    message = str(info.value)
    assert "`lambda_c`" in message and "non-negative" in message and repr(bad) in message


def test_lambda_c_above_one_is_allowed():
    assert losses.BCCrossEntropyLoss(classifier(), classifier(), 5).lambda_c == 5.0


# Loss objects ------------------------------------------------------------------------------------

LOSS_CLASSES = {
    "BCCrossEntropyLoss": (losses.BCCrossEntropyLoss, np_sparse_ce, False),
    "BCNLLLoss": (losses.BCNLLLoss, np_nll, False),
    "BCKLDivLoss": (losses.BCKLDivLoss, lambda y, p: np_kl(np.eye(3)[y], p), False),
    "BCStrictImitationCrossEntropyLoss": (
        losses.BCStrictImitationCrossEntropyLoss, np_sparse_ce, True
    ),
    "BCStrictImitationNLLLoss": (losses.BCStrictImitationNLLLoss, np_nll, True),
    "BCStrictImitationKLDivLoss": (
        losses.BCStrictImitationKLDivLoss, lambda y, p: np_kl(np.eye(3)[y], p), True
    ),
}


@pytest.mark.parametrize("name", sorted(LOSS_CLASSES))
def test_categorical_loss_objects_match_numpy(name, blobs):
    cls, base, strict = LOSS_CLASSES[name]
    x, y = blobs
    h1, h2 = classifier(), classifier()
    bc_loss = cls(h1, h2, 2.0)
    p1, p2 = to_numpy(h1(x)), to_numpy(h2(x))
    mask = (p1.argmax(-1) == y).astype("float64")
    assert 0 < mask.sum() < len(y)
    penalty = np_imitation_kl(p1, p2) if strict else base(y, p2)
    expected = base(y, p2).mean() + 2.0 * np_masked_mean(penalty, mask)
    np.testing.assert_allclose(to_numpy(bc_loss(x, y)), expected, rtol=1e-4)
    assert bc_loss.__name__ == name


@pytest.mark.parametrize("strict", [False, True])
def test_binary_loss_objects_match_numpy(blobs, strict):
    x, y = blobs
    y = (y == 0).astype("float32")
    h1, h2 = classifier(1, activation="sigmoid"), classifier(1, activation="sigmoid")
    cls = (
        losses.BCStrictImitationBinaryCrossEntropyLoss if strict else losses.BCBinaryCrossEntropyLoss
    )
    p1, p2 = to_numpy(h1(x)), to_numpy(h2(x))
    mask = ((p1[:, 0] > 0.5) == (y > 0.5)).astype("float64")
    penalty = np_bernoulli_kl(p1, p2) if strict else np_bce(y[:, None], p2)
    expected = np_bce(y[:, None], p2).mean() + 0.5 * np_masked_mean(penalty, mask)
    np.testing.assert_allclose(to_numpy(cls(h1, h2, 0.5)(x, y)), expected, rtol=1e-4)


def test_cross_entropy_loss_takes_one_hot_labels_too(blobs):
    x, y = blobs
    h1, h2 = classifier(), classifier()
    bc_loss = losses.BCCrossEntropyLoss(h1, h2, 1.0)
    np.testing.assert_allclose(
        to_numpy(bc_loss(x, np.eye(3, dtype="float32")[y])), to_numpy(bc_loss(x, y)), rtol=1e-5
    )


def test_loss_object_with_h1_wrong_everywhere_trains_on_the_base_loss(blobs):
    x, y = blobs
    h1, h2 = classifier(), classifier()
    h1_output = np.eye(3, dtype="float32")[(y + 1) % 3]
    bc_loss = losses.BCCrossEntropyLoss(h1, h2, 3.0)
    total, dissonance = bc_loss.loss_and_dissonance(y, h2(x), h1_output)
    assert float(to_numpy(dissonance)) == 0.0
    np.testing.assert_allclose(to_numpy(total), np_sparse_ce(y, to_numpy(h2(x))).mean(), rtol=1e-5)


def test_seed_dissonance_without_h1_output_uses_every_row(blobs):
    x, y = blobs
    h2 = classifier()
    bc_loss = losses.BCCrossEntropyLoss(classifier(), h2, 1.0)
    p2 = to_numpy(h2(x))
    np.testing.assert_allclose(
        to_numpy(bc_loss.dissonance(p2, y)), np_sparse_ce(y, p2).mean(), rtol=1e-5
    )
    strict = losses.BCStrictImitationCrossEntropyLoss(classifier(), h2, 1.0)
    with pytest.raises(ValueError, match="h1_output"):
        strict.dissonance(p2, y)


def test_loss_object_rejects_models_with_different_output_shapes():
    with pytest.raises(ValueError, match=r"same shape.*\(None, 3\).*\(None, 4\)"):
        losses.BCCrossEntropyLoss(classifier(3), classifier(4), 1.0)


def test_loss_object_type_errors():
    with pytest.raises(TypeError, match="h2"):
        losses.BCCrossEntropyLoss(classifier(), "model", 1.0)
    with pytest.raises(TypeError, match="h1"):
        losses.BCCrossEntropyLoss(None, classifier(), 1.0)


def test_loss_object_config_round_trip_and_registration():
    bc_loss = losses.BCNLLLoss(classifier(), classifier(), 1.5, clip_value_min=1e-6)
    restored = losses.BCNLLLoss.from_config(bc_loss.get_config())
    assert restored.lambda_c == 1.5 and restored.clip_value_min == 1e-6
    assert isinstance(restored.h1, keras.Model)
    for name in ("BCCrossEntropyLoss", "BCStrictImitationKLDivLoss", "new_error_dissonance"):
        assert keras.saving.get_registered_object(f"keras_remediation>{name}") is not None
