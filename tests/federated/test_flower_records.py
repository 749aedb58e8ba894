"""`federated.flower.records`: weights and results through Flower records."""

import numpy as np
import pytest

pytest.importorskip("flwr")

import federated_testlib as lib  # noqa: E402
from keras_remediation.federated.flower import records  # noqa: E402


def test_weights_round_trip_through_an_array_record():
    model = lib.model_fn()
    record = records.weights_to_array_record(model)
    assert list(record.keys()) == model.weight_names
    for got, want in zip(records.array_record_to_weights(model, record), model.get_weights()):
        np.testing.assert_array_equal(got, want)
    del record[model.weight_names[0]]
    with pytest.raises(KeyError, match="lacks"):
        records.array_record_to_weights(model, record)


def test_result_round_trips_through_a_metric_record():
    model = lib.model_fn()
    result = model.evaluate((lib.X, lib.Y))
    record = records.result_to_metric_record(result)
    assert record["num-examples"] == len(lib.X)
    assert record["accuracy"] == pytest.approx(result.metrics["accuracy"])
    back = records.metric_record_to_result(model, record)
    assert back.num_examples == result.num_examples
    for key, value in result.metric_state.items():
        np.testing.assert_array_equal(back.metric_state[key], value)
    del record["num-examples"]
    with pytest.raises(KeyError):
        records.metric_record_to_result(model, record)
