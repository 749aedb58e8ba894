"""`server_app`: a Flower `ServerApp` that runs FedAvg (or any strategy) on a `FederatedModel`.

The app's main function builds the server's `FederatedModel` with `model_fn` (the initial
global weights, and the metric objects that finalise aggregated state), wraps the strategy in
`FederatedStrategy` (pooled metrics from raw state, failures counted per round, a history) and
starts it (`Strategy.start`, the Message API). When the run ends it writes the history as JSON
(`history_path`) and hands a `FederatedRun` to `on_finish`.

Run-config keys (`[tool.flwr.app.config]` in a Flower project's `pyproject.toml`, or `flwr run
--run-config`) override the builder's arguments: `num-server-rounds`, `local-epochs`,
`batch-size`, `fraction-train`, `fraction-evaluate`, `min-nodes`, `min-nodes-timeout`,
`round-timeout`, `accept-failures`, `history-path`.

With `accept_failures=False`, a failure raises `ClientFailureError` out of the app's main
function: Flower marks the run `finished:failed` (`flwr ls`), and the simulation raises it.
"""

import dataclasses
import json
import logging
import os

from logging import INFO

from flwr.app import ConfigRecord
from flwr.common import log
from flwr.serverapp import ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.serverapp.strategy import Strategy

from keras_remediation.federated.flower import records
from keras_remediation.federated.flower.client import DEFAULT_BATCH_SIZE
from keras_remediation.federated.flower.client import DEFAULT_LOCAL_EPOCHS
from keras_remediation.federated.flower.client import as_client_data
from keras_remediation.federated.flower.client import call_model_fn
from keras_remediation.federated.flower.strategy import FederatedStrategy


@dataclasses.dataclass
class FederatedRun:
    """The outcome of a run, handed to `server_app(on_finish=...)`.

    Attributes:
        history: the `FederatedHistory` (per-round metrics and failure counts).
        federated_model: the server's `FederatedModel`, holding the final global weights.
        weights: the final global weights (list of NumPy arrays).
        result: Flower's `Result` of `Strategy.start`.
    """

    history: object
    federated_model: object
    weights: list
    result: object


class _DropMessage(logging.Filter):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def filter(self, record):
        return self.text not in record.getMessage()


def _default_strategy(fraction_train, fraction_evaluate, min_nodes, central):
    # FedAvg warns that "Federated evaluation will be skipped" when `fraction_evaluate` is 0,
    # which misleads when the server evaluates centrally; say what happens instead.
    quiet = _DropMessage("Federated evaluation will be skipped") if central else None
    flwr_logger = logging.getLogger("flwr")
    if quiet is not None:
        flwr_logger.addFilter(quiet)
    try:
        strategy = FedAvg(
            fraction_train=fraction_train,
            fraction_evaluate=fraction_evaluate,
            min_train_nodes=min_nodes if fraction_train else 0,
            min_evaluate_nodes=min_nodes if fraction_evaluate else 0,
            min_available_nodes=min_nodes,
        )
    finally:
        if quiet is not None:
            flwr_logger.removeFilter(quiet)
    if quiet is not None and not fraction_evaluate:
        log(INFO, "Federated evaluation off (fraction-evaluate 0): the server evaluates the "
                  "global model centrally after each round.")
    return strategy


def _resolve_strategy(strategy, context, fraction_train, fraction_evaluate, min_nodes, central):
    if strategy is None:
        return _default_strategy(fraction_train, fraction_evaluate, min_nodes, central)
    if isinstance(strategy, Strategy):
        return strategy
    if callable(strategy):
        built = strategy(context)
        if not isinstance(built, Strategy):
            raise TypeError(f"The strategy factory returned {built!r}, not a Flower Strategy.")
        return built
    raise TypeError(
        "`strategy` must be a flwr.serverapp.strategy.Strategy, or a function of the Context "
        f"returning one; received {strategy!r}."
    )


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def server_app(model_fn, *, num_rounds=3, strategy=None, local_epochs=DEFAULT_LOCAL_EPOCHS,
               batch_size=DEFAULT_BATCH_SIZE, fraction_train=1.0, fraction_evaluate=1.0,
               min_nodes=2, accept_failures=True, central_data_fn=None, on_round_end=None,
               on_finish=None, history_path=None, timeout=3600.0, min_nodes_timeout=120.0):
    """Builds a Flower `ServerApp` that trains `model_fn()`'s model federated.

    Args:
        model_fn: function returning a new `FederatedModel`; the function the client app
            gets (called with the `Context` if it takes one positional argument). Its weights
            are the initial global model.
        num_rounds: keyword-only; rounds of training. Default 3.
        strategy: keyword-only; None (default): `FedAvg` weighted by `num-examples`, sampling
            `fraction_train` / `fraction_evaluate` of the nodes, at least `min_nodes`. Or any
            Flower `Strategy` (e.g. `FedAdam`, `FedProx`, a differential-privacy wrapper), or a
            function of the `Context` returning one. It is wrapped in `FederatedStrategy`.
        local_epochs, batch_size: keyword-only; sent to the clients in the train config.
        fraction_train, fraction_evaluate: keyword-only; for the default FedAvg. 0 turns the
            phase off (e.g. `fraction_evaluate=0.0` with central evaluation only).
        min_nodes: keyword-only; for the default FedAvg, nodes to wait for and sample at least.
            Default 2 (as Flower's); set 1 for a single client.
        accept_failures: keyword-only; True (default): failed clients are skipped, counted and
            logged; False: the first failure (an error reply, a missing reply, fewer than
            `min_nodes` nodes after `min_nodes_timeout`) raises `ClientFailureError` and fails
            the run.
        central_data_fn: keyword-only; optional function (of no argument, or of the
            `Context`) returning data for server-side evaluation of the global model (at round
            0 and after each round).
        on_round_end: keyword-only; optional `callable(RoundRecord)` after each round.
        on_finish: keyword-only; optional `callable(FederatedRun)` when the run ends.
        history_path: keyword-only; optional path of a JSON file receiving the history.
        timeout: keyword-only; seconds to wait for the replies of each phase (train,
            evaluate) of a round; a node that has not replied by then counts as failed and the
            round goes on with the replies received. Run config: `round-timeout`. Default 3600.
        min_nodes_timeout: keyword-only; seconds to wait, before each phase, for the strategy's
            minimum of connected nodes (`min_nodes` for the default FedAvg); after that the
            round runs with the nodes still connected, e.g. the survivors of a SuperNode that
            stopped. None: wait for ever (Flower's behaviour). Run config:
            `min-nodes-timeout` (a negative value: None). Default 120.

    Returns:
        A `flwr.serverapp.ServerApp`.

    Raises:
        TypeError: if `model_fn` is not callable.
    """
    if not callable(model_fn):
        raise TypeError(f"`model_fn` must be callable; received {model_fn!r}.")
    app = ServerApp()

    @app.main()
    def main(grid, context):
        config = dict(context.run_config or {})
        rounds = int(config.get("num-server-rounds", num_rounds))
        epochs = int(config.get("local-epochs", local_epochs))
        batch = int(config.get("batch-size", batch_size))
        accept = _bool(config.get("accept-failures", accept_failures))
        path = config.get("history-path", history_path)
        round_timeout = float(config.get("round-timeout", timeout))
        wait = config.get("min-nodes-timeout", min_nodes_timeout)
        wait = None if wait is None or float(wait) < 0 else float(wait)
        chosen = _resolve_strategy(
            strategy, context,
            float(config.get("fraction-train", fraction_train)),
            float(config.get("fraction-evaluate", fraction_evaluate)),
            int(config.get("min-nodes", min_nodes)),
            central_data_fn is not None,
        )
        model = call_model_fn(model_fn, context)
        central = _central_evaluator(model, central_data_fn, batch, context)
        wrapped = FederatedStrategy(
            chosen, model, accept_failures=accept, on_round_end=on_round_end,
            central_evaluate_fn=central, min_nodes_timeout=wait,
        )
        result = wrapped.start(
            grid=grid,
            initial_arrays=records.weights_to_array_record(model),
            num_rounds=rounds,
            timeout=round_timeout,
            train_config=ConfigRecord({"local-epochs": epochs, "batch-size": batch}),
            evaluate_config=ConfigRecord({"batch-size": batch}),
        )
        if result.arrays is not None and len(result.arrays):
            model.set_weights(records.array_record_to_weights(model, result.arrays))
        if path:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            with open(path, "w") as f:
                json.dump(wrapped.history.to_dict(), f, indent=2)
        if on_finish is not None:
            on_finish(FederatedRun(wrapped.history, model, model.get_weights(), result))

    return app


def _central_evaluator(model, central_data_fn, batch_size, context):
    if central_data_fn is None:
        return None
    cache = {}

    def evaluate(server_round, arrays):
        if "data" not in cache:
            cache["data"] = as_client_data(call_model_fn(central_data_fn, context))
        data = cache["data"]
        model.set_weights(records.array_record_to_weights(model, arrays))
        result = model.evaluate(
            data.evaluate if data.evaluate is not None else data.train, batch_size=batch_size
        )
        return dict(result.metrics, **{records.NUM_EXAMPLES_KEY: result.num_examples})

    return evaluate
