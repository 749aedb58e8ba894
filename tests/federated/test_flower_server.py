"""`server_app` + `FederatedStrategy` on the in-process engine: FedAvg, metrics, failures."""

import json

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.serverapp.strategy import FedProx  # noqa: E402

import federated_testlib as lib  # noqa: E402
from keras_remediation.federated import flower  # noqa: E402


def _run(data_fn=lib.data_fn, model_fn=lib.model_fn, num_clients=3, run_config=None, **server_kwargs):
    runs = []
    server_kwargs.setdefault("min_nodes", num_clients)
    server_kwargs.setdefault("batch_size", 16)
    server = flower.server_app(model_fn, on_finish=runs.append, **server_kwargs)
    client = flower.client_app(model_fn, data_fn, batch_size=16, shuffle=False)
    flower.run_simulation(server, client, num_clients, engine="inprocess", run_config=run_config)
    return runs[0]


def test_three_clients_two_rounds_the_global_loss_falls():
    run = _run(num_rounds=2, central_data_fn=lib.central_data)
    central = run.history.metric("loss", phase="central")
    assert [r for r, _ in central] == [0, 1, 2]
    assert central[2][1] < central[1][1] < central[0][1]
    train = run.history.metric("loss")
    assert train[1][1] < train[0][1]
    last = run.history.rounds[-1]
    assert last.train_clients == 3 and last.train_failures == 0
    assert last.train["num-examples"] == len(lib.X)
    # Flower's own Result carries the aggregated records too.
    assert run.result.train_metrics_clientapp[2]["num-failures"] == 0


def test_federated_evaluation_equals_central_evaluation_of_the_pooled_data():
    run = _run(num_rounds=1, central_data_fn=lib.central_data)
    record = run.history.rounds[-1]
    for name in ("loss", "accuracy", "auc"):
        np.testing.assert_allclose(record.evaluate[name], record.central[name], rtol=1e-5)


def test_one_client_one_round_equals_local_training():
    run = _run(num_clients=1, num_rounds=1, fraction_evaluate=0.0, local_epochs=2, batch_size=16)
    reference = lib.model_fn()
    reference.train(lib.data_fn(0, 3), epochs=2, batch_size=16, shuffle=False)
    for got, want in zip(run.weights, reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_fedavg_weights_clients_by_example_count():
    sizes = {0: 20, 1: 100}

    def data_fn(partition_id, num_partitions):
        rows = slice(0, sizes[partition_id]) if partition_id == 0 else slice(100, 200)
        return lib.X[rows], lib.Y[rows]

    run = _run(data_fn=data_fn, num_clients=2, num_rounds=1, fraction_evaluate=0.0)
    initial = lib.model_fn().get_weights()
    expected = []
    for partition in (0, 1):
        model = lib.model_fn()
        model.set_weights(initial)
        model.train(data_fn(partition, 2), batch_size=16, shuffle=False)
        expected.append(model.get_weights())
    for i, got in enumerate(run.weights):
        want = (20 * expected[0][i] + 100 * expected[1][i]) / 120
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_failing_client_is_counted_and_the_run_goes_on(tmp_path, caplog):
    path = tmp_path / "history.json"
    run = _run(data_fn=lib.failing_data_fn, num_rounds=2, history_path=str(path))
    for record in run.history.rounds:
        assert record.train_clients == 2
        assert record.train_failures == 1
        assert record.evaluate_failures == 1
        assert any("partition 1 is broken" in reason for reason in record.failure_reasons)
    assert run.history.total_failures == 4
    assert run.result.train_metrics_clientapp[1]["num-failures"] == 1
    saved = json.loads(path.read_text())
    assert saved["total_failures"] == 4
    assert saved["rounds"][0]["train_failures"] == 1
    assert "failed" in caplog.text


def test_accept_failures_false_fails_the_run():
    with pytest.raises(flower.ClientFailureError, match="partition 1 is broken"):
        _run(data_fn=lib.failing_data_fn, num_rounds=2, accept_failures=False)
    # The run config can switch it too.
    with pytest.raises(flower.ClientFailureError):
        _run(data_fn=lib.failing_data_fn, num_rounds=1, run_config={"accept-failures": False})


def test_any_flower_strategy_is_accepted_and_run_config_overrides():
    strategy = FedProx(proximal_mu=0.0, min_train_nodes=3, min_evaluate_nodes=3,
                       min_available_nodes=3)
    run = _run(strategy=strategy, num_rounds=5, run_config={"num-server-rounds": 1})
    assert len(run.history.rounds) == 1
    assert run.history.rounds[0].train_clients == 3
    run = _run(strategy=lambda context: FedAvg(min_available_nodes=3, fraction_evaluate=0.0),
               num_rounds=1)
    assert run.history.rounds[0].evaluate == {}
    with pytest.raises(TypeError):
        flower.FederatedStrategy("FedAvg", lib.model_fn())


def test_federated_min_diff_reports_aggregated_min_diff_loss():
    run = _run(model_fn=lib.min_diff_model_fn, data_fn=lib.min_diff_data_fn, num_rounds=2,
               fraction_evaluate=0.0)
    for record in run.history.rounds:
        assert record.train["min_diff_loss"] > 0
        assert np.isfinite(record.train["loss"])


class _PatientGrid(flower.InProcessGrid):
    """An in-process grid that fails the test instead of letting a strategy wait for ever."""

    def __init__(self, *args, max_polls=20, **kwargs):
        super().__init__(*args, **kwargs)
        self.polls = 0
        self.max_polls = max_polls

    def get_node_ids(self):
        self.polls += 1
        if self.polls > self.max_polls:
            raise AssertionError("The strategy kept waiting for nodes that are gone.")
        return super().get_node_ids()


def _run_on_grid(num_clients=3, run_config=None, disconnect_after_round=1, **server_kwargs):
    runs = []
    grid = None

    def on_round_end(record):
        if record.round == disconnect_after_round:
            grid.disconnect(grid.get_node_ids()[-1])

    server = flower.server_app(lib.model_fn, on_finish=runs.append, on_round_end=on_round_end,
                               batch_size=16, **server_kwargs)
    client = flower.client_app(lib.model_fn, lib.data_fn, batch_size=16, shuffle=False)
    grid = _PatientGrid(client, num_clients, run_config=run_config)
    flower.run_on_grid(server, grid)
    return runs[0]


def test_a_stopped_node_the_next_round_runs_with_the_survivors_after_min_nodes_timeout():
    config = {"num-server-rounds": 2, "min-nodes": 3, "min-nodes-timeout": 0.2,
              "fraction-evaluate": 0.0, "round-timeout": 30.0}
    run = _run_on_grid(run_config=config)
    first, second = run.history.rounds
    assert (first.train_clients, first.train_failures) == (3, 0)
    assert (second.train_clients, second.train_failures) == (2, 0)
    assert any("1 of 3 required node(s) not connected" in r for r in second.failure_reasons)
    assert second.seconds < 10


def test_a_node_that_never_connects_the_round_runs_without_it_or_strict_runs_fail():
    runs = []
    client = flower.client_app(lib.model_fn, lib.data_fn, batch_size=16, shuffle=False)
    grid = _PatientGrid(client, 2)
    grid.disconnect(grid.get_node_ids()[1])
    server = flower.server_app(lib.model_fn, on_finish=runs.append, batch_size=16, min_nodes=2,
                               min_nodes_timeout=0.2, num_rounds=1)
    flower.run_on_grid(server, grid)
    record = runs[0].history.rounds[0]
    assert (record.train_clients, record.evaluate_clients) == (1, 1)
    assert record.train["num-examples"] == len(lib.PARTITIONS[0])
    grid = _PatientGrid(client, 2)
    grid.disconnect(grid.get_node_ids()[1])
    strict = flower.server_app(lib.model_fn, min_nodes=2, min_nodes_timeout=0.2,
                               accept_failures=False)
    expected = r"1 node\(s\) connected after 0.2 s, 2 required"
    with pytest.raises(flower.ClientFailureError, match=expected):
        flower.run_on_grid(strict, grid)


def test_a_node_stopping_mid_round_is_reported_and_the_round_ends_with_the_survivor():
    runs = []
    grid = None

    def data_fn(partition_id, num_partitions):
        if partition_id == 0:  # node 0 trains first; node 1 stops meanwhile
            grid.disconnect(grid.get_node_ids()[1])
        return lib.data_fn(partition_id, num_partitions)

    client = flower.client_app(lib.model_fn, data_fn, batch_size=16, shuffle=False)
    grid = _PatientGrid(client, 2)
    server = flower.server_app(lib.model_fn, on_finish=runs.append, batch_size=16, min_nodes=2,
                               min_nodes_timeout=0.2, num_rounds=1)
    flower.run_on_grid(server, grid)
    record = runs[0].history.rounds[0]
    assert (record.train_clients, record.train_failures) == (1, 1)
    assert record.evaluate_clients == 1
    assert any("unavailable" in reason for reason in record.failure_reasons)
    with pytest.raises(ValueError, match="`node_id` must be a connected node"):
        grid.disconnect(7)


def test_min_nodes_timeout_must_not_be_negative():
    with pytest.raises(ValueError, match="`min_nodes_timeout` must be None or >= 0"):
        flower.FederatedStrategy(FedAvg(), lib.model_fn(), min_nodes_timeout=-1)


def test_one_progress_line_per_round_and_no_skipped_evaluation_warning_when_central(caplog):
    caplog.set_level("INFO", logger="flwr")
    _run(num_rounds=2, fraction_evaluate=0.0, central_data_fn=lib.central_data)
    lines = [r.getMessage() for r in caplog.records]
    progress = [line for line in lines if line.startswith("[round ") and "/2]" in line]
    assert [line.split("]")[0] for line in progress] == ["[round 1/2", "[round 2/2"]
    for line in progress:
        assert "train loss " in line and "| central loss " in line
        assert line.rstrip().endswith("s") and "clients 3 ok, 0 failed" in line
        assert "accuracy " in line and "num_batches" not in line
    assert not any("Federated evaluation will be skipped" in line for line in lines)
    assert any("the server evaluates the global model centrally" in line for line in lines)
    # Without central evaluation Flower's warning stays: evaluation is off entirely.
    caplog.clear()
    _run(num_rounds=1, fraction_evaluate=0.0)
    assert "Federated evaluation will be skipped" in caplog.text


def test_the_example_app_declares_the_failure_settings_server_app_reads():
    import tomllib
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "federated" / "pyproject.toml"
    config = tomllib.loads(example.read_text())["tool"]["flwr"]["app"]["config"]
    for key in ("min-nodes", "min-nodes-timeout", "round-timeout", "fraction-train",
                "fraction-evaluate", "accept-failures"):
        assert key in config, key
    run = _run_on_grid(num_clients=2, run_config=dict(
        config, **{"num-server-rounds": 2, "min-nodes-timeout": 0.2, "local-epochs": 1}))
    assert [r.train_clients for r in run.history.rounds] == [2, 1]
