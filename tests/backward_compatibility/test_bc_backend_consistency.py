"""Issue #13/#14 regressions: one BCE value on every backend, symbolic calls, bad inputs.

BackwardCompatibilityML's binary cross-entropy notebooks train `Dense(2, softmax)` models with
one-hot labels and `BinaryCrossentropy()` (probabilities, not logits). The value is the mean
binary cross-entropy of the clipped probabilities; Keras on TensorFlow used to read the softmax's
cached logits as sigmoid logits and give another number.
"""

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from keras_remediation.backward_compatibility import BCStrictImitationCompatibilityModel
from keras_remediation.backward_compatibility import bc_fit
from keras_remediation.backward_compatibility import losses

from bc_testlib import N_FEATURES
from bc_testlib import classifier
from bc_testlib import to_numpy

EPS = keras.config.epsilon()
LAMBDA_C = 1.5


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)


def np_bernoulli_kl(p1, p2):
    p1, p2 = np.clip(p1, EPS, 1 - EPS), np.clip(p2, EPS, 1 - EPS)
    return np.mean(
        p1 * (np.log(p1) - np.log(p2)) + (1 - p1) * (np.log(1 - p1) - np.log(1 - p2)), axis=-1
    )


@pytest.fixture
def softmax_pair(blobs):
    """(h1, h2, x, one-hot y [N, 2]) with Dense(2, softmax) outputs, BCML's BCE setup."""
    x, y = blobs
    labels = np.eye(2, dtype="float32")[(y == 0).astype(int)]
    h1 = classifier(2, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0, seed=1))
    h2 = classifier(2, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0, seed=2))
    return h1, h2, x, labels


def reference(h1, h2, x, labels, strict=False):
    p1, p2 = to_numpy(h1(x)), to_numpy(h2(x))
    right = np.all((p1 > 0.5) == (labels > 0.5), axis=1)
    values = np_bernoulli_kl(p1, p2) if strict else np_bce(labels, p2)
    dissonance = np.sum(np.where(right, values, 0.0)) / max(right.sum(), 1)
    return np.mean(np_bce(labels, p2)) + LAMBDA_C * dissonance, dissonance


@pytest.mark.parametrize("strict", [False, True])
def test_binary_cross_entropy_loss_objects_on_softmax_outputs_match_numpy(softmax_pair, strict):
    h1, h2, x, labels = softmax_pair
    cls = (losses.BCStrictImitationBinaryCrossEntropyLoss if strict
           else losses.BCBinaryCrossEntropyLoss)
    bc_loss = cls(h1, h2, LAMBDA_C)
    expected, expected_dissonance = reference(h1, h2, x, labels, strict)
    np.testing.assert_allclose(to_numpy(bc_loss(x, labels)), expected, rtol=1e-5)
    # The same from outputs computed elsewhere, and inside a compiled step (bc_fit, lr 0).
    total, dissonance = bc_loss.loss_and_dissonance(labels, h2(x), h1(x))
    np.testing.assert_allclose(to_numpy(total), expected, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(dissonance), expected_dissonance, rtol=1e-5)
    history = bc_fit(h2, (x, labels), (x, labels), epochs=1, bc_loss=bc_loss,
                     optimizer=keras.optimizers.SGD(0.0), batch_size=len(x), verbose=0)
    np.testing.assert_allclose(history["val_loss"][0], expected, rtol=1e-5)
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-5)


@pytest.mark.parametrize("cls", [BCNewErrorCompatibilityModel, BCStrictImitationCompatibilityModel])
def test_model_compiled_with_binary_cross_entropy_on_softmax_outputs_matches_numpy(
    softmax_pair, cls
):
    h1, h2, x, labels = softmax_pair
    expected, expected_dissonance = reference(h1, h2, x, labels, cls is not BCNewErrorCompatibilityModel)
    model = cls(h2, h1=h1, lambda_c=LAMBDA_C)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
    results = model.evaluate(x, labels, batch_size=len(x), verbose=0, return_dict=True)
    np.testing.assert_allclose(results["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(results["dissonance"], expected_dissonance, rtol=1e-5)
    history = model.fit(x, labels, batch_size=len(x), epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


def test_sigmoid_outputs_keep_their_value(blobs):
    """[N, 1] sigmoid outputs: the same NumPy reference (no change for the usual binary setup)."""
    x, y = blobs
    labels = (y == 0).astype("float32")[:, None]
    h1, h2 = classifier(1, activation="sigmoid"), classifier(1, activation="sigmoid")
    bc_loss = losses.BCBinaryCrossEntropyLoss(h1, h2, LAMBDA_C)
    expected, _ = reference(h1, h2, x, labels)
    np.testing.assert_allclose(to_numpy(bc_loss(x, labels)), expected, rtol=1e-5)


# Issue #13 (9): the model on a symbolic input.


@pytest.mark.parametrize("cls", [BCNewErrorCompatibilityModel, BCStrictImitationCompatibilityModel])
def test_model_called_on_a_symbolic_input_builds_a_functional_model(cls, trained_h1, blobs):
    x, _ = blobs
    model = cls(classifier(), h1=trained_h1, lambda_c=1.0)
    inputs = keras.Input((N_FEATURES,))
    outputs = model(inputs)
    assert tuple(outputs.shape) == (None, 3)
    functional = keras.Model(inputs, outputs)
    np.testing.assert_allclose(
        functional.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


# Issue #14: bad input.


@pytest.mark.parametrize("cls", [losses.BCCrossEntropyLoss, losses.BCStrictImitationNLLLoss])
def test_negative_sample_weights_raise_naming_sample_weight(cls, trained_h1, blobs):
    x, y = blobs
    bc_loss = cls(trained_h1, classifier(), 1.0)
    weights = -np.ones(len(x), dtype="float32")
    with pytest.raises(ValueError, match="`sample_weight`"):
        bc_loss(x, y, sample_weight=weights)
    with pytest.raises(ValueError, match="`sample_weight`"):
        bc_loss.loss_and_dissonance(y, to_numpy(bc_loss.h2(x)), to_numpy(trained_h1(x)), weights)
    with pytest.raises(ValueError, match="`sample_weight`"):
        losses.new_error_dissonance(y, bc_loss.h2(x), trained_h1(x), sample_weight=weights)


def test_negative_sample_weights_raise_in_bc_fit_and_model_fit(trained_h1, blobs):
    x, y = blobs
    weights = np.full(len(x), -1.0, dtype="float32")
    h2 = classifier()
    with pytest.raises(ValueError, match="`sample_weight`"):
        bc_fit(h2, (x, y, weights), epochs=1,
               bc_loss=losses.BCCrossEntropyLoss(trained_h1, h2, 1.0), verbose=0)
    model = BCNewErrorCompatibilityModel(classifier(), h1=trained_h1, lambda_c=1.0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="`sample_weight`"):
        model.fit(x, y, sample_weight=weights, epochs=1, verbose=0)


@pytest.mark.parametrize("bad", [3, -1])
def test_out_of_range_labels_raise_in_bc_fit_and_model_fit(trained_h1, blobs, bad):
    x, y = blobs
    y = y.copy()
    y[5] = bad
    h2 = classifier()
    with pytest.raises(ValueError, match=r"`y`.*\[0, 3\)"):
        bc_fit(h2, (x, y), epochs=1, bc_loss=losses.BCCrossEntropyLoss(trained_h1, h2, 1.0),
               verbose=0)
    with pytest.raises(ValueError, match=r"`y`.*\[0, 3\)"):
        bc_fit(h2, [(x[:48], y[:48]), (x[48:], y[48:])], epochs=1,
               bc_loss=losses.BCNLLLoss(trained_h1, h2, 1.0), verbose=0)
    model = BCNewErrorCompatibilityModel(classifier(), h1=trained_h1, lambda_c=1.0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"`y`.*\[0, 3\)"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"`y`.*\[0, 3\)"):
        model.evaluate(x, y, verbose=0)


def test_binary_labels_outside_zero_one_raise(blobs):
    x, y = blobs
    labels = (y == 0).astype("float32")[:, None]
    labels[0] = 2.0
    h1, h2 = classifier(1, activation="sigmoid"), classifier(1, activation="sigmoid")
    with pytest.raises(ValueError, match=r"`y`.*\[0, 1\]"):
        bc_fit(h2, (x, labels), epochs=1, bc_loss=losses.BCBinaryCrossEntropyLoss(h1, h2, 1.0),
               verbose=0)


def test_x_and_y_of_different_lengths_raise(trained_h1, blobs):
    x, y = blobs
    h2 = classifier()
    bc_loss = losses.BCCrossEntropyLoss(trained_h1, h2, 1.0)
    with pytest.raises(ValueError, match="rows"):
        bc_fit(h2, (x, y[:10]), epochs=1, bc_loss=bc_loss, verbose=0)
    with pytest.raises(ValueError, match="rows"):
        bc_fit(h2, [(x[:32], y[:31])], epochs=1, bc_loss=bc_loss, verbose=0)
    model = BCNewErrorCompatibilityModel(classifier(), h1=trained_h1, lambda_c=1.0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError):
        model.fit(x, y[:10], epochs=1, verbose=0)
