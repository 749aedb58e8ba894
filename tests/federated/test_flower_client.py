"""`client_app`: Flower messages in, trained weights and raw metric state out."""

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord  # noqa: E402
from flwr.app import Context  # noqa: E402
from flwr.app import Message  # noqa: E402
from flwr.app import MessageType  # noqa: E402
from flwr.app import RecordDict  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

import federated_testlib as lib  # noqa: E402
from keras_remediation.federated.flower import ClientData  # noqa: E402
from keras_remediation.federated.flower import client  # noqa: E402
from keras_remediation.federated.flower import records  # noqa: E402


@pytest.fixture(autouse=True)
def _task_identity():
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _message(model, message_type, config):
    content = RecordDict({
        "arrays": records.weights_to_array_record(model),
        "config": ConfigRecord(config),
    })
    message = Message(content, 7, message_type)
    message.metadata.__dict__["_message_id"] = "m1"
    return message


def _context(partition_id=0, node_config=None):
    return Context(run_id=1, node_id=7, state=RecordDict(), run_config={},
                   node_config={"partition-id": partition_id, "num-partitions": 3}
                   if node_config is None else node_config)


def test_train_message_trains_like_the_federated_model():
    app = client.client_app(lib.model_fn, lib.data_fn, shuffle=False)
    server = lib.model_fn()
    reply = app(_message(server, MessageType.TRAIN, {"local-epochs": 2, "batch-size": 16}), _context(1))
    assert not reply.has_error()
    metrics = reply.content["metrics"]
    assert metrics["num-examples"] == len(lib.PARTITIONS[1])
    assert any(key.startswith(records.STATE_PREFIX) for key in metrics)

    reference = lib.model_fn()
    reference.train(lib.data_fn(1, 3), epochs=2, batch_size=16, shuffle=False)
    got = records.array_record_to_weights(server, reply.content["arrays"])
    for a, b in zip(got, reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_message_uses_the_evaluation_split():
    def data_fn(partition_id, num_partitions):
        return ClientData(train=(lib.X[:50], lib.Y[:50]), evaluate=(lib.X[:20], lib.Y[:20]))

    app = client.client_app(lib.model_fn, data_fn)
    reply = app(_message(lib.model_fn(), MessageType.EVALUATE, {}), _context())
    assert reply.content["metrics"]["num-examples"] == 20
    assert "arrays" not in reply.content


def test_one_model_per_worker_and_cached_partitions():
    calls = []

    def data_fn(partition_id, num_partitions):
        calls.append(partition_id)
        return lib.data_fn(partition_id, num_partitions)

    built = []

    def model_fn():
        built.append(1)
        return lib.model_fn()

    app = client.client_app(model_fn, data_fn)
    server = lib.model_fn()
    for partition in (0, 1, 0, 1):
        app(_message(server, MessageType.TRAIN, {}), _context(partition))
    assert len(built) == 1
    assert calls == [0, 1]


def test_missing_partition_ids_and_bad_partitions_raise():
    app = client.client_app(lib.model_fn, lib.data_fn)
    with pytest.raises(KeyError, match="partition-id"):
        app(_message(lib.model_fn(), MessageType.TRAIN, {}), _context(node_config={}))
    assert client.as_client_data({"train": 1}).train == 1
    with pytest.raises(ValueError):
        client.as_client_data({"train": 1, "test": 2})
    with pytest.raises(TypeError):
        client.client_app(lib.model_fn, "not callable")
