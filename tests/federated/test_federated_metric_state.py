"""Raw metric state: summed over clients, finalised once (pooled, not mean of ratios)."""

import numpy as np
import pytest
import keras

from federated_testlib import X
from federated_testlib import Y
from federated_testlib import dense_model
from federated_testlib import model_fn
from keras_remediation import federated
from keras_remediation.federated import metric_state


def _pooled_accuracy(model, x, y):
    scores = model.predict(x, batch_size=len(x))
    return float(np.mean((scores > 0.5) == (y > 0.5)))


def test_two_clients_of_different_sizes_aggregate_to_the_pooled_metrics():
    model = model_fn()
    small = (X[:30], Y[:30])
    large = (X[30:], Y[30:])
    results = [model.evaluate(small, batch_size=30), model.evaluate(large, batch_size=30)]
    assert [r.num_examples for r in results] == [30, len(X) - 30]
    aggregated = model.aggregate(results)
    pooled = model.evaluate((X, Y), batch_size=30)

    assert aggregated.num_examples == len(X)
    np.testing.assert_allclose(aggregated.metrics["accuracy"], _pooled_accuracy(model, X, Y), atol=1e-6)
    for name in ("accuracy", "auc", "loss"):
        np.testing.assert_allclose(aggregated.metrics[name], pooled.metrics[name], rtol=1e-5)
    # ... which is not the mean of the clients' ratios.
    mean_of_ratios = np.mean([r.metrics["accuracy"] for r in results])
    assert abs(mean_of_ratios - aggregated.metrics["accuracy"]) > 1e-3


def test_state_sums_and_finalize_leaves_the_model_state_alone():
    model = model_fn()
    a = model.evaluate((X[:50], Y[:50]))
    before = model.metric_state()
    summed = metric_state.sum_states([a.metric_state, a.metric_state])
    for key, value in a.metric_state.items():
        np.testing.assert_array_equal(summed[key], 2 * value)
    finalized = model.finalize_metrics(summed)
    np.testing.assert_allclose(finalized["accuracy"], a.metrics["accuracy"], rtol=1e-6)
    after = model.metric_state()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_state_keys_agree_between_copies_and_mismatches_raise():
    first, second = model_fn(), model_fn()
    assert metric_state.state_keys(first.keras_model) == metric_state.state_keys(second.keras_model)
    state = first.zero_metric_state()
    with pytest.raises(KeyError):
        metric_state.add_states(state, {k: v for k, v in list(state.items())[1:]})
    key = next(iter(state))
    with pytest.raises(KeyError):
        metric_state.write_state(first.keras_model, {k: v for k, v in state.items() if k != key})
    assert metric_state.sum_states([]) is None
    assert model_fn().aggregate([]) is None


def test_explicit_counters_replace_the_defaults_and_sum():
    fm = federated.from_keras_model(
        dense_model(), "binary_crossentropy", (X[:2], Y[:2]),
        metrics=[metric_state.NumBatchesCounter(), metric_state.NumExamplesCounter(),
                 keras.metrics.MeanAbsoluteError()],
    )
    first = fm.evaluate((X[:40], Y[:40]), batch_size=16)
    assert first.metrics["num_examples"] == 40
    assert first.metrics["num_batches"] == 3
    assert "num_examples" not in first.metric_state  # the metrics' variables hold them
    second = fm.evaluate((X[:8], Y[:8]))
    total = fm.aggregate([first, second])
    assert total.metrics["num_examples"] == 48
    assert total.metrics["num_batches"] == 4
    fm.reset_metrics()
    assert fm.finalize_metrics(fm.metric_state())["num_examples"] == 0
