"""`common.validation`: the argument checks every technique shares (issue 14), on every backend.

Each helper raises TypeError for a value of the wrong type and ValueError for a value out of
range, with the message "`arg` must be …; received …"; the techniques call the same helpers,
so the same bad argument gets the same message from MinDiff, CLP, BC and the federated model.
"""

import keras
import numpy as np
import pytest

from keras_remediation import counterfactual
from keras_remediation import federated
from keras_remediation import min_diff
from keras_remediation.common import validation


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0, ValueError, r"`n` must be a positive int; received 0\.$"),
        (-3, ValueError, r"`n` must be a positive int; received -3\.$"),
        (2.0, TypeError, r"`n` must be a positive int; received 2\.0 of type float\.$"),
        (True, TypeError, r"`n` must be a positive int; received True of type bool\.$"),
        ("4", TypeError, r"`n` must be a positive int; received '4' of type str\.$"),
    ],
)
def test_check_positive_int(value, error, message):
    with pytest.raises(error, match=message):
        validation.check_positive_int(value, "n")


def test_check_positive_int_accepts_ints_and_optional_none():
    assert validation.check_positive_int(np.int64(3), "n") == 3
    assert validation.check_positive_int(None, "n", allow_none=True) is None
    with pytest.raises(TypeError, match=r"`n` must be a positive int; received None of type"):
        validation.check_positive_int(None, "n")


def test_check_finite_leaves_checks_float_leaves_only():
    good = {"a": np.ones((2, 2), "float32"), "b": np.array(["x", "y"]), "c": np.arange(2)}
    validation.check_finite_leaves(good, "data")
    validation.check_finite_leaves(None, "data")
    bad = dict(good, d=(np.array([1.0, np.inf]),))
    with pytest.raises(ValueError, match=r"`data` must be finite; received 1 NaN or infinite "
                       r"value\(s\) of 2, e.g. \[inf\]"):
        validation.check_finite_leaves(bad, "data")
    with pytest.raises(ValueError, match=r"`data` must be finite"):
        validation.check_finite_leaves(keras.ops.convert_to_tensor([np.nan, 1.0]), "data")


@pytest.mark.parametrize("value", [np.nan, -1.0])
def test_assert_in_graph_raises_when_the_graph_runs(value):
    if keras.backend.backend() != "tensorflow":
        validation.assert_in_graph(np.array([value]), "w", non_negative=True)  # a no-op
        return
    import tensorflow as tf

    @tf.function
    def checked(x):
        validation.assert_in_graph(x, "w", non_negative=True)
        return tf.reduce_sum(x)

    assert float(checked(tf.constant([1.0, 2.0]))) == 3.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`w` must be (finite|non-neg)"):
        checked(tf.constant([1.0, value]))


def _model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))


def test_the_same_bad_loss_weight_gets_the_same_message_in_every_technique():
    message = r"`loss_weight` must be a non-negative finite number \(.*\); received nan\."
    with pytest.raises(ValueError, match=message):
        min_diff.keras.MinDiffModel(_model(), min_diff.losses.MMDLoss(), loss_weight=np.nan)
    with pytest.raises(ValueError, match=message):
        counterfactual.keras.CounterfactualModel(_model(), loss_weight=np.nan)
    with pytest.raises(ValueError, match=message.replace("loss_weight", "loss_weights")):
        federated.from_keras_model(
            _model(), "mse", (np.zeros((2, 3), "float32"), np.zeros((2, 1), "float32")),
            loss_weights=np.nan,
        )


def test_the_same_bad_batch_size_gets_the_same_message_in_every_packer():
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32")
    message = r"`batch_size` must be a positive int; received 4\.0 of type float\."
    with pytest.raises(TypeError, match=message):
        min_diff.keras.utils.pack_min_diff_data((x, y), x[:4], x[4:], batch_size=4.0)
    with pytest.raises(TypeError, match=message):
        counterfactual.keras.utils.pack_counterfactual_data((x, y), (x, x), batch_size=4.0)
