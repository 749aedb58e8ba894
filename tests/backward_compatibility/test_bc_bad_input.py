"""Bad input to the backward-compatibility losses and scores: named errors, never silent NaN.

The cases are the findings of `benchmarks/fuzz_backward_compatibility_losses.py` (issue 14):
empty batches, non-numeric or non-finite outputs and labels, lengths that differ, labels out of
range and negative probabilities, all given to `BCLoss.loss_and_dissonance` eagerly.
"""

import numpy as np
import pytest
import keras

from bc_testlib import to_numpy
from keras_remediation.backward_compatibility import losses as L
from keras_remediation.backward_compatibility import scores

ALL_LOSSES = [
    L.BCCrossEntropyLoss, L.BCBinaryCrossEntropyLoss, L.BCNLLLoss, L.BCKLDivLoss,
    L.BCStrictImitationCrossEntropyLoss, L.BCStrictImitationBinaryCrossEntropyLoss,
    L.BCStrictImitationNLLLoss, L.BCStrictImitationKLDivLoss,
]
CATEGORICAL = [c for c in ALL_LOSSES if c.kind != "binary_crossentropy"]
P = np.array([[0.7, 0.3], [0.2, 0.8]], "float32")
Y = np.array([0, 1])


def _h1(x, training=False):
    return x


def _loss(cls, y, h2_output, h1_output, sample_weight=None):
    bc_loss = cls(_h1, keras.Sequential([keras.layers.Identity()]), 1.0)
    return bc_loss.loss_and_dissonance(y, h2_output, h1_output, sample_weight)[0]


@pytest.mark.parametrize("cls", ALL_LOSSES)
@pytest.mark.parametrize("classes", [1, 2])
def test_empty_batch_gives_zero(cls, classes):
    if cls.kind != "binary_crossentropy" and classes == 1:
        pytest.skip("categorical losses need two classes")
    empty = np.zeros((0, classes), "float32")
    labels = empty if cls.kind == "binary_crossentropy" else np.zeros((0,), "int32")
    assert float(to_numpy(_loss(cls, labels, empty, empty))) == 0.0


@pytest.mark.parametrize(
    "bad", ["ab", {"p": P}, None, object(), np.array(["a", "b"])], ids=repr
)
@pytest.mark.parametrize("arg", ["y_true", "h2_output", "h1_output", "sample_weight"])
def test_non_numeric_input_raises_type_error(arg, bad):
    if arg == "sample_weight" and bad is None:
        pytest.skip("None is the default weight")
    kwargs = {"y_true": Y, "h2_output": P, "h1_output": P, "sample_weight": None, arg: bad}
    with pytest.raises(TypeError, match=f"`{arg}` must"):
        _loss(L.BCCrossEntropyLoss, kwargs["y_true"], kwargs["h2_output"],
              kwargs["h1_output"], kwargs["sample_weight"])


def test_ragged_labels_raise_value_error():
    with pytest.raises(ValueError, match="`y_true` must"):
        _loss(L.BCCrossEntropyLoss, [[1.0, 2.0], [3.0]], P, P)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("arg", ["h2_output", "h1_output"])
@pytest.mark.parametrize("cls", CATEGORICAL)
def test_non_finite_outputs_raise(cls, arg, value):
    bad = P.copy()
    bad[0, 0] = value
    h2, h1 = (bad, P) if arg == "h2_output" else (P, bad)
    with pytest.raises(ValueError, match=f"`{arg}` must be finite"):
        _loss(cls, Y, h2, h1)


@pytest.mark.parametrize("label", [np.nan, np.inf, 7, -1, 0.5])
def test_bad_class_labels_raise(label):
    with pytest.raises(ValueError, match="`y_true` must"):
        _loss(L.BCCrossEntropyLoss, np.array([0.0, label]), P, P)


def test_binary_labels_outside_unit_interval_raise():
    with pytest.raises(ValueError, match="`y_true` must"):
        _loss(L.BCBinaryCrossEntropyLoss, np.array([[0.0], [7.0]], "float32"), P[:, :1], P[:, :1])


@pytest.mark.parametrize("cls", [L.BCKLDivLoss, L.BCNLLLoss])
def test_negative_probabilities_raise(cls):
    bad = np.array([[-0.3, 0.5], [0.2, 0.8]], "float32")
    with pytest.raises(ValueError, match="`h2_output` must"):
        _loss(cls, Y, bad, P)


def test_zero_probability_rows_raise_rather_than_nan():
    h2 = np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]], "int32")
    h1 = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "int32")
    with pytest.raises(ValueError, match="`h2_output` must"):
        _loss(L.BCStrictImitationCrossEntropyLoss, np.array([1, 1, 0]), h2, h1)


def test_lengths_that_differ_name_both_arguments():
    with pytest.raises(ValueError, match=r"`y_true`.*`h2_output`.*\(3,\).*\(2, 2\)"):
        _loss(L.BCCrossEntropyLoss, np.array([0, 1, 1]), P, P)
    with pytest.raises(ValueError, match=r"`h1_output`.*`h2_output`.*\(3, 2\).*\(2, 2\)"):
        _loss(L.BCCrossEntropyLoss, Y, P, np.ones((3, 2), "float32") / 2)
    with pytest.raises(ValueError, match=r"`sample_weight`.*`h2_output`.*\(2, 2\)"):
        _loss(L.BCCrossEntropyLoss, Y, P, P, np.ones((2, 2), "float32"))


def test_class_mismatch_names_outputs():
    with pytest.raises(ValueError, match=r"`h1_output` and `h2_output` must .*same shape"):
        _loss(L.BCCrossEntropyLoss, Y, P, np.ones((2, 3), "float32") / 3)


def test_strict_imitation_dissonance_without_h1_output_names_it():
    bc_loss = L.BCStrictImitationKLDivLoss(_h1, keras.Sequential([keras.layers.Identity()]), 1.0)
    with pytest.raises(ValueError, match="`h1_output` must"):
        bc_loss.dissonance(P, Y)


def test_valid_input_still_gives_the_same_value():
    value = float(to_numpy(_loss(L.BCCrossEntropyLoss, Y, P, P, np.array([1.0, 2.0]))))
    ce = -np.log([0.7, 0.8])
    # base (0.7·1 + 0.8·2… as weighted CE) + λ_c · dissonance (h1 right on both rows).
    expected = 2 * (ce[0] * 1.0 + ce[1] * 2.0) / 2
    assert value == pytest.approx(expected, rel=1e-5)


def test_scores_ragged_list_raises_named_value_error():
    with pytest.raises(ValueError, match="`h1_output` must"):
        scores.trust_compatibility_score([[1.0, 2.0], [3.0]], P, Y)
