"""`FederatedStrategy`: wraps any Flower strategy to aggregate metrics right and count failures.

Flower's strategies average the clients' metrics (weighted by `num-examples`), which is wrong
for ratios such as accuracy or AUC, and they skip a client that failed (raised, or did not
reply in time) with one log line, so a run in which every client failed still ends with exit
code 0. `FederatedStrategy` delegates sampling, configuration and weight aggregation to the
wrapped strategy (FedAvg by default in `server_app`), and itself:

- sums the clients' raw metric state and finalises it with the server's `FederatedModel`
  (pooled loss, accuracy, AUC, `min_diff_loss`), for training and for federated evaluation;
- counts the clients that failed in each phase of each round (error replies and missing
  replies), logs them with their reasons, puts the counts in the round's aggregated
  `MetricRecord` (`num-failures`) and in its `FederatedHistory`, and with
  `accept_failures=False` raises `ClientFailureError`, which fails the run;
- waits at most `min_nodes_timeout` seconds for the wrapped strategy's minimum of connected
  nodes (Flower's strategies wait for ever), then runs the round with the nodes still connected
  (the survivors of a failure), or, with `accept_failures=False`, raises `ClientFailureError`;
- records a `FederatedHistory` (one `RoundRecord` per round) and logs one progress line per
  round.
"""

import contextlib
import dataclasses
import time
from logging import INFO
from logging import WARNING

from flwr.app import MetricRecord
from flwr.common import log
from flwr.serverapp.strategy import Strategy

from keras_remediation.federated.flower import records


class ClientFailureError(RuntimeError):
    """Raised by `FederatedStrategy(accept_failures=False)` when a client fails in a round."""


@dataclasses.dataclass
class RoundRecord:
    """What happened in one round.

    Attributes:
        round: the round number (1-based; 0 holds the central evaluation of the initial model).
        train: aggregated training metrics (`loss`, `min_diff_loss`, compiled metrics, and
            `num-examples`), finalised from the summed state; empty if no client succeeded.
        evaluate: aggregated federated-evaluation metrics, likewise.
        central: the server's evaluation of the new global model, if configured.
        train_clients / evaluate_clients: clients that replied with results.
        train_failures / evaluate_failures: clients that failed (error or no reply).
        failure_reasons: one line per failure.
        seconds: wall time from the start of the round to its end.
    """

    round: int
    train: dict = dataclasses.field(default_factory=dict)
    evaluate: dict = dataclasses.field(default_factory=dict)
    central: dict = dataclasses.field(default_factory=dict)
    train_clients: int = 0
    train_failures: int = 0
    evaluate_clients: int = 0
    evaluate_failures: int = 0
    failure_reasons: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self):
        """A JSON-serialisable dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FederatedHistory:
    """The rounds of a run (`rounds[i]` is a `RoundRecord`)."""

    rounds: list = dataclasses.field(default_factory=list)

    def metric(self, name, phase="train"):
        """`[(round, value)]` of one metric in one phase (`train`, `evaluate`, `central`)."""
        return [
            (r.round, getattr(r, phase)[name]) for r in self.rounds if name in getattr(r, phase)
        ]

    @property
    def total_failures(self):
        """Failed client replies over all rounds and phases."""
        return sum(r.train_failures + r.evaluate_failures for r in self.rounds)

    def to_dict(self):
        """A JSON-serialisable dict: `{"rounds": [...], "total_failures": int}`."""
        return {"rounds": [r.to_dict() for r in self.rounds], "total_failures": self.total_failures}


# Attributes of Flower's strategies (FedAvg and its subclasses) that make `sample_nodes` wait.
_MIN_NODE_ATTRIBUTES = {
    "train": ("min_available_nodes", "min_train_nodes"),
    "evaluate": ("min_available_nodes", "min_evaluate_nodes"),
}


# Counters, not quality: left out of the progress line.
_COUNTERS = (records.NUM_EXAMPLES_KEY, "num_examples", "num_batches")


def _format_metrics(metrics, names=("loss", "min_diff_loss", "dissonance")):
    shown = [name for name in names if name in metrics]
    shown += [n for n in sorted(metrics) if n not in shown and n not in _COUNTERS
              and not isinstance(metrics[n], list)][:4]
    return " ".join(f"{name} {metrics[name]:.4f}" for name in shown)


class FederatedStrategy(Strategy):
    """Wraps a Flower `Strategy`: raw-state metric aggregation, failure accounting, history.

    Args:
        strategy: the Flower strategy that samples clients and aggregates weights (e.g.
            `flwr.serverapp.strategy.FedAvg()`, weighted by `num-examples`).
        federated_model: the server's `FederatedModel`, used to finalise metric state.
        accept_failures: keyword-only; True (default) carries on when clients fail (the
            failures are counted and logged); False raises `ClientFailureError` at the first
            round with a failure, which ends the run with an error.
        on_round_end: keyword-only; optional `callable(RoundRecord)` called after each round
            (after the central evaluation, if any).
        central_evaluate_fn: keyword-only; optional `callable(round, ArrayRecord) ->
            dict or None`: the server-side evaluation of the global model.
        min_nodes_timeout: keyword-only; seconds to wait, before each phase of a round, for
            the wrapped strategy's minimum of connected nodes (`min_available_nodes`,
            `min_train_nodes`, `min_evaluate_nodes`). When they have not connected by then,
            the phase runs with the nodes that are connected (none: the phase is skipped),
            and with `accept_failures=False` `ClientFailureError` is raised. None: wait for
            ever, as Flower's strategies do. Default None.

    Raises:
        TypeError: if `strategy` is not a Flower `Strategy`.
        ValueError: if `min_nodes_timeout` is negative.

    Use it like any strategy: `FederatedStrategy(FedAvg(), model).start(grid, arrays, ...)`.
    `history` holds the `FederatedHistory` so far.
    """

    def __init__(self, strategy, federated_model, *, accept_failures=True, on_round_end=None,
                 central_evaluate_fn=None, min_nodes_timeout=None):
        if not isinstance(strategy, Strategy):
            raise TypeError(
                "`strategy` must be a flwr.serverapp.strategy.Strategy (e.g. FedAvg()); "
                f"received {strategy!r}."
            )
        if min_nodes_timeout is not None and not min_nodes_timeout >= 0:
            raise ValueError(
                f"`min_nodes_timeout` must be None or >= 0 seconds; received {min_nodes_timeout!r}."
            )
        self.strategy = strategy
        self.min_nodes_timeout = min_nodes_timeout
        self.federated_model = federated_model
        self.accept_failures = accept_failures
        self.on_round_end = on_round_end
        self.central_evaluate_fn = central_evaluate_fn
        self.history = FederatedHistory()
        self.num_rounds = None
        self._sent = {}
        self._current = None
        self._round_start = None

    def __getattr__(self, name):
        # Attributes of the wrapped strategy (e.g. FedAvg's `weighted_by_key`).
        if name == "strategy":
            raise AttributeError(name)
        return getattr(self.strategy, name)

    # Flower Strategy API ------------------------------------------------------------------------

    def summary(self):
        log(INFO, "\t├──> Wrapped by keras_remediation FederatedStrategy "
                  "(raw-state metrics, accept_failures=%s)", self.accept_failures)
        self.strategy.summary()

    def _record(self, server_round):
        if self._current is None or self._current.round != server_round:
            self._current = RoundRecord(round=server_round)
            self._round_start = time.perf_counter()
        return self._current

    def configure_train(self, server_round, arrays, config, grid):
        self._record(server_round)
        return self._configure("train", server_round, arrays, config, grid)

    def configure_evaluate(self, server_round, arrays, config, grid):
        return self._configure("evaluate", server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        record = self._record(server_round)
        valid = self._account("train", server_round, replies, record)
        arrays, _ = self.strategy.aggregate_train(server_round, replies) if valid else (None, None)
        aggregated = self._aggregate(valid)
        record.train_clients = len(valid)
        if aggregated is not None:
            record.train = dict(aggregated.metrics, **{records.NUM_EXAMPLES_KEY: aggregated.num_examples})
        if not valid:
            log(WARNING, "Round %s: no client returned a model; the global model is unchanged.",
                server_round)
        return arrays, self._metric_record(aggregated, record.train_failures, len(valid))

    def aggregate_evaluate(self, server_round, replies):
        replies = list(replies)
        record = self._record(server_round)
        valid = self._account("evaluate", server_round, replies, record)
        aggregated = self._aggregate(valid)
        record.evaluate_clients = len(valid)
        if aggregated is not None:
            record.evaluate = dict(aggregated.metrics, **{records.NUM_EXAMPLES_KEY: aggregated.num_examples})
        return self._metric_record(aggregated, record.evaluate_failures, len(valid))

    def start(self, grid, initial_arrays, num_rounds=3, timeout=3600, train_config=None,
              evaluate_config=None, evaluate_fn=None):
        """Runs the wrapped strategy's rounds (Flower's `Strategy.start`), with this accounting.

        `evaluate_fn` (Flower's central evaluation, `(round, ArrayRecord) -> MetricRecord`) is
        accepted too; `central_evaluate_fn` given at construction takes precedence.
        """
        self.num_rounds = num_rounds
        if evaluate_fn is not None and self.central_evaluate_fn is None:
            self.central_evaluate_fn = lambda rnd, arrays: dict(evaluate_fn(rnd, arrays) or {})
        return super().start(
            grid, initial_arrays, num_rounds=num_rounds, timeout=timeout,
            train_config=train_config, evaluate_config=evaluate_config,
            evaluate_fn=self._end_of_round,
        )

    # Internals ----------------------------------------------------------------------------------

    def _configure(self, phase, server_round, arrays, config, grid):
        configure = getattr(self.strategy, f"configure_{phase}")
        with self._minimums_at_most(self._connected_if_short(phase, server_round, grid), phase):
            messages = list(configure(server_round, arrays, config, grid))
        self._sent[(phase, server_round)] = len(messages)
        return messages

    def _minimums(self, phase):
        return {
            name: int(getattr(self.strategy, name))
            for name in _MIN_NODE_ATTRIBUTES[phase] if hasattr(self.strategy, name)
        }

    def _connected_if_short(self, phase, server_round, grid):
        """None if the strategy's minimum of nodes connects within `min_nodes_timeout`, else
        the number of nodes connected then (or raises, with `accept_failures=False`)."""
        required = max(self._minimums(phase).values(), default=0)
        phase_off = getattr(self.strategy, f"fraction_{phase}", None) == 0  # FedAvg's "skip"
        if self.min_nodes_timeout is None or required == 0 or phase_off:
            return None
        deadline = time.monotonic() + self.min_nodes_timeout
        while (connected := len(list(grid.get_node_ids()))) < required:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(1.0, remaining))
        else:
            return None
        message = (
            f"Round {server_round} ({phase}): {connected} node(s) connected after "
            f"{self.min_nodes_timeout:g} s, {required} required (min-nodes)"
        )
        if not self.accept_failures:
            raise ClientFailureError(f"{message}, and accept_failures is False.")
        log(WARNING, "%s: the round goes on with the connected node(s).", message)
        self._record(server_round).failure_reasons.append(
            f"{phase}: {required - connected} of {required} required node(s) not connected"
        )
        return connected

    @contextlib.contextmanager
    def _minimums_at_most(self, connected, phase):
        """Lowers the wrapped strategy's node minimums to `connected` while it configures."""
        saved = self._minimums(phase) if connected is not None else {}
        try:
            for name, value in saved.items():
                setattr(self.strategy, name, min(value, connected))
            yield
        finally:
            for name, value in saved.items():
                setattr(self.strategy, name, value)

    def _account(self, phase, server_round, replies, record):
        valid = [m for m in replies if not m.has_error()]
        errors = [m for m in replies if m.has_error()]
        expected = self._sent.get((phase, server_round), len(replies))
        missing = max(expected - len(replies), 0)
        failures = len(errors) + missing
        setattr(record, f"{phase}_failures", failures)
        for message in errors:
            reason = (message.error.reason or "").strip().splitlines()
            reason = reason[-1] if reason else f"error code {message.error.code}"
            record.failure_reasons.append(
                f"{phase}: node {message.metadata.src_node_id}: {reason}"
            )
        if missing:
            record.failure_reasons.append(f"{phase}: {missing} node(s) did not reply in time")
        if failures:
            log(WARNING, "Round %s %s: %s of %s client(s) failed: %s", server_round, phase,
                failures, expected, "; ".join(record.failure_reasons[-failures:]))
            if not self.accept_failures:
                raise ClientFailureError(
                    f"Round {server_round} ({phase}): {failures} of {expected} client(s) failed "
                    f"and accept_failures is False: {'; '.join(record.failure_reasons)}"
                )
        return valid

    def _aggregate(self, replies):
        results = []
        for message in replies:
            metric_records = message.content.metric_records
            if not metric_records:
                continue
            results.append(records.metric_record_to_result(
                self.federated_model, next(iter(metric_records.values()))
            ))
        return self.federated_model.aggregate(results)

    @staticmethod
    def _metric_record(aggregated, failures, clients):
        values = {"num-clients": int(clients), "num-failures": int(failures)}
        if aggregated is not None:
            values[records.NUM_EXAMPLES_KEY] = int(aggregated.num_examples)
            for name, value in aggregated.metrics.items():
                values[name] = value
        return MetricRecord(values)

    def _end_of_round(self, server_round, arrays):
        central = self.central_evaluate_fn(server_round, arrays) if self.central_evaluate_fn else None
        if server_round == 0:
            if central:
                self.history.rounds.append(RoundRecord(round=0, central=dict(central)))
                log(INFO, "[round 0] central %s", _format_metrics(central))
            return MetricRecord(dict(central)) if central else None
        record = self._record(server_round)
        if central:
            record.central = dict(central)
        record.seconds = time.perf_counter() - self._round_start
        self.history.rounds.append(record)
        self._current = None
        parts = [f"[round {server_round}/{self.num_rounds}]"]
        if record.train:
            parts.append("train " + _format_metrics(record.train))
        if record.evaluate:
            parts.append("| evaluate " + _format_metrics(record.evaluate))
        if record.central:
            parts.append("| central " + _format_metrics(record.central))
        parts.append(f"| clients {record.train_clients} ok, {record.train_failures} failed")
        if record.evaluate_failures:
            parts.append(f"(evaluate: {record.evaluate_failures} failed)")
        parts.append(f"| {record.seconds:.1f}s")
        log(INFO, "%s", " ".join(parts))
        if self.on_round_end is not None:
            self.on_round_end(record)
        return MetricRecord(dict(central)) if central else None
