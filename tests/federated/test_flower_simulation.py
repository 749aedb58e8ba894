"""`run_simulation`: Flower's Ray Simulation Engine and the in-process engine."""

import pytest

pytest.importorskip("flwr")

import federated_testlib as lib  # noqa: E402
from keras_remediation.federated import flower  # noqa: E402


def test_engine_and_client_count_are_checked():
    server = flower.server_app(lib.model_fn)
    client = flower.client_app(lib.model_fn, lib.data_fn)
    with pytest.raises(ValueError, match="engine"):
        flower.run_simulation(server, client, 3, engine="threads")
    with pytest.raises(ValueError, match="num_clients"):
        flower.run_simulation(server, client, 0, engine="inprocess")
    with pytest.raises(ValueError, match="run config"):
        flower.run_simulation(server, client, 3, run_config={"num-server-rounds": 1})


def test_in_process_grid_nodes_carry_partition_ids():
    grid = flower.InProcessGrid(lambda message, context: None, 4)
    ids = grid.get_node_ids()
    assert len(ids) == 4
    configs = [grid._contexts[node].node_config for node in ids]
    assert [c["partition-id"] for c in configs] == [0, 1, 2, 3]
    assert {c["num-partitions"] for c in configs} == {4}


def test_ray_simulation_three_clients_two_rounds_loss_falls_failure_counted():
    pytest.importorskip("ray")
    runs = []
    server = flower.server_app(
        lib.model_fn, num_rounds=2, min_nodes=3, batch_size=16, fraction_evaluate=0.0,
        central_data_fn=lib.central_data, on_finish=runs.append,
    )
    client = flower.client_app(lib.model_fn, lib.failing_data_fn)
    flower.run_simulation(server, client, 3, engine="ray", num_cpus=2, num_cpus_per_client=1)

    history = runs[0].history
    central = [value for _, value in history.metric("loss", phase="central")]
    assert len(central) == 3
    assert central[-1] < central[0]
    for record in history.rounds[1:]:
        assert record.train_clients == 2
        assert record.train_failures == 1
        assert any("partition 1 is broken" in reason for reason in record.failure_reasons)
