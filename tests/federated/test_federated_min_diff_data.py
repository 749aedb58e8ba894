"""`pack_client_min_diff_data`: a client lacking a MinDiff group still trains, finite loss."""

import numpy as np
import pytest

import federated_testlib as lib
from keras_remediation import federated


def _client(group_filter):
    x, y, group = lib.X[:112], lib.Y[:112], lib.GROUP[:112]
    negatives = y[:, 0] == 0
    sensitive = lib.whole_batches(x[negatives & (group == 1) & group_filter(1)])
    nonsensitive = lib.whole_batches(x[negatives & (group == 0) & group_filter(0)])
    return federated.pack_client_min_diff_data(
        (x, y), sensitive, nonsensitive, batch_size=16, min_diff_batch_size=8, seed=0
    )


@pytest.mark.parametrize("missing", [1, 0, "both"])
def test_client_without_a_group_trains_with_finite_loss_and_zero_min_diff_loss(missing):
    if missing == "both":
        packed = _client(lambda g: False)
    else:
        packed = _client(lambda g: g != missing)
    model = lib.min_diff_model_fn()
    before = model.get_weights()
    result = model.train(packed)
    assert np.isfinite(result.metrics["loss"])
    assert result.metrics["min_diff_loss"] == 0.0
    assert result.num_examples == 112
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def test_client_with_both_groups_packs_as_usual():
    packed = _client(lambda g: True)
    model = lib.min_diff_model_fn()
    assert model.train(packed).metrics["min_diff_loss"] > 0


def test_raw_one_group_min_diff_batch_is_finite():
    # Without the helper: a MinDiff batch of one group only still gives a finite loss.
    from keras_remediation.min_diff.keras.utils import pack_min_diff_data

    x, y = lib.X[:64], lib.Y[:64]
    packed = pack_min_diff_data(
        (x, y), min_diff_dataset=(x[:32], np.zeros((32, 1), "float32")), batch_size=16
    )
    result = lib.min_diff_model_fn().train(packed)
    assert np.isfinite(result.metrics["loss"])
    assert np.isfinite(result.metrics["min_diff_loss"])


def test_bad_client_min_diff_data_raises_named_errors():
    x, y, group = lib.X[:112], lib.Y[:112], lib.GROUP[:112]
    sensitive, nonsensitive = x[group == 1], x[group == 0]
    with pytest.raises(TypeError, match=r"`sensitive_group_dataset` must hold arrays"):
        federated.pack_client_min_diff_data((x, y), "abc", nonsensitive)
    with pytest.raises(TypeError, match=r"`nonsensitive_group_dataset` must hold arrays"):
        federated.pack_client_min_diff_data((x, y), sensitive, [[1.0, 2.0]])
    for missing in (None, nonsensitive):  # one group missing, or both present
        with pytest.raises(ValueError, match=r"`sensitive_group_dataset x` must be finite"):
            federated.pack_client_min_diff_data((x, y), sensitive * np.nan, missing)
        with pytest.raises(ValueError, match=r"`sensitive_group_dataset x` must have rows of "
                           r"shape \(5,\) like the x of `original_dataset`; received \(3,\)"):
            federated.pack_client_min_diff_data((x, y), sensitive[:, :3], missing)
    with pytest.raises(ValueError, match=r"`original_dataset x` must be finite"):
        federated.pack_client_min_diff_data((x * np.nan, y), None, None)
