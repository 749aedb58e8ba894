"""`run_simulation`: run a `ServerApp` and a `ClientApp` with N clients on this machine.

Two engines run the same Flower apps:

- `"ray"`: Flower's Simulation Engine (`flwr.simulation.run_simulation`, on Ray): clients run
  in Ray actor processes, `num_cpus_per_client` CPUs each (default 1, so two clients run at a
  time on two cores; Flower's own default is 2 CPUs per client). `flwr run` on a Flower project
  uses the same engine (see `examples/federated/`).
- `"inprocess"`: an in-process `Grid` that hands each message to the `ClientApp` in this
  process, one client after another. No Ray, no extra processes: the quickest way to run small
  federations, tests and the demo; the apps, messages and strategies are Flower's own.

In both, a client whose `ClientApp` raises gets an error reply (as Flower's engines do), which
`FederatedStrategy` counts and reports.
"""

import os
import traceback
import uuid
from logging import WARNING

from flwr.app import Context
from flwr.app import Error
from flwr.app import Message
from flwr.app import RecordDict
from flwr.common import log
from flwr.common.constant import ErrorCode
from flwr.common.constant import NUM_PARTITIONS_KEY
from flwr.common.constant import PARTITION_ID_KEY
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

ENGINES = ("ray", "inprocess")


class InProcessGrid(Grid):
    """A Flower `Grid` whose nodes are `client_app` calls in this process.

    Node `i` (of `num_clients`) has node config `partition-id=i`, `num-partitions=num_clients`
    and its own `Context`, kept across rounds as a SuperNode keeps it. Messages are processed
    one by one when the server asks for the replies. `disconnect(node_id)` stops a node, as a
    SuperNode that stops: it is no longer listed, and messages to it get an error reply.
    Run a `ServerApp` on it with `run_on_grid`.
    """

    def __init__(self, client_app, num_clients, run_config=None, run_id=None):
        if num_clients < 1:
            raise ValueError(f"`num_clients` must be at least 1; received {num_clients}.")
        self._client_app = client_app
        self.run_config = dict(run_config or {})
        self._run = Run.create_empty(run_id if run_id is not None else uuid.uuid4().int % (2**63))
        self._node_ids = [1000 + i for i in range(num_clients)]
        self._contexts = {
            node_id: Context(
                run_id=self._run.run_id,
                node_id=node_id,
                node_config={PARTITION_ID_KEY: i, NUM_PARTITIONS_KEY: num_clients},
                state=RecordDict(),
                run_config=dict(run_config or {}),
            )
            for i, node_id in enumerate(self._node_ids)
        }
        self._pending = {}

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self):
        return list(self._node_ids)

    def disconnect(self, node_id):
        """Takes `node_id` off the grid: unlisted from now on, its messages answered with a
        `NODE_UNAVAILABLE` error.

        Raises:
            ValueError: if `node_id` is not a connected node.
        """
        if node_id not in self._node_ids:
            raise ValueError(
                f"`node_id` must be a connected node, one of {self._node_ids}; "
                f"received {node_id!r}."
            )
        self._node_ids.remove(node_id)

    def push_messages(self, messages):
        ids = []
        for message in messages:
            if message.metadata.dst_node_id not in self._contexts:
                raise ValueError(f"Unknown node {message.metadata.dst_node_id}.")
            message_id = uuid.uuid4().hex
            message.metadata.__dict__["_message_id"] = message_id
            self._pending[message_id] = message
            ids.append(message_id)
        return ids

    def _process(self, message):
        if message.metadata.dst_node_id not in self._node_ids:
            return self._error(message, ErrorCode.NODE_UNAVAILABLE, "The node is unavailable.")
        context = self._contexts[message.metadata.dst_node_id]
        try:
            reply = self._client_app(message, context)
        except Exception as error:  # noqa: BLE001 - a failing client is a reply, as in Flower
            reason = "".join(traceback.format_exception_only(type(error), error)).strip()
            log(WARNING, "ClientApp on node %s raised %s", message.metadata.dst_node_id, reason)
            return self._error(message, ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason)
        reply.metadata.__dict__["_message_id"] = uuid.uuid4().hex
        return reply

    @staticmethod
    def _error(message, code, reason):
        reply = Message(Error(code=code, reason=reason), reply_to=message)
        reply.metadata.__dict__["_message_id"] = uuid.uuid4().hex
        return reply

    def pull_messages(self, message_ids):
        replies = []
        for message_id in list(message_ids):
            message = self._pending.pop(message_id, None)
            if message is not None:
                replies.append(self._process(message))
        return replies

    def send_and_receive(self, messages, *, timeout=None):
        return self.pull_messages(self.push_messages(messages))


def run_on_grid(server_app, grid):
    """Runs `server_app` on an `InProcessGrid` in this process, with the grid's run config."""
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id = grid.run.run_id
    TaskIdentity.node_id = SUPERLINK_NODE_ID
    TaskIdentity.task_id = saved[2] if saved[2] is not None else 1
    context = Context(
        run_id=grid.run.run_id,
        node_id=SUPERLINK_NODE_ID,
        node_config={},
        state=RecordDict(),
        run_config=dict(grid.run_config),
    )
    try:
        server_app(grid, context)
    finally:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _run_on_ray(server_app, client_app, num_clients, num_cpus, num_cpus_per_client,
                num_gpus_per_client, verbose):
    from flwr.simulation import run_simulation as flower_run_simulation

    backend_config = {
        "client_resources": {"num_cpus": num_cpus_per_client, "num_gpus": num_gpus_per_client},
        "init_args": {"num_cpus": int(num_cpus or os.cpu_count() or 1), "num_gpus": 0},
    }
    flower_run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=num_clients,
        backend_config=backend_config,
        verbose_logging=verbose,
    )


def run_simulation(server_app, client_app, num_clients, *, engine="ray", run_config=None,
                   num_cpus=None, num_cpus_per_client=1, num_gpus_per_client=0.0,
                   verbose=False):
    """Runs `server_app` with `num_clients` simulated clients running `client_app`.

    Args:
        server_app: a `flwr.serverapp.ServerApp` (e.g. from `server_app(...)`).
        client_app: a `flwr.clientapp.ClientApp` (e.g. from `client_app(...)`).
        num_clients: number of simulated SuperNodes; node `i` gets `partition-id=i`.
        engine: keyword-only; `"ray"` (Flower's Simulation Engine, default) or `"inprocess"`.
        run_config: keyword-only; run-config dict for the `"inprocess"` engine (the apps'
            `context.run_config`); Flower's Python simulation API takes none.
        num_cpus: keyword-only; CPUs Ray may use (default: all).
        num_cpus_per_client, num_gpus_per_client: keyword-only; Ray resources of one client.
            Default 1 CPU and no GPU.
        verbose: keyword-only; Flower's debug logging for the Ray engine.

    Raises:
        ValueError: for an unknown engine or a non-positive `num_clients`.
        Whatever the server app raises (e.g. `ClientFailureError` with
        `accept_failures=False`).
    """
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be one of {ENGINES}; received {engine!r}.")
    if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
        raise ValueError(f"`num_clients` must be a positive int; received {num_clients!r}.")
    if engine == "inprocess":
        run_on_grid(server_app, InProcessGrid(client_app, num_clients, run_config=run_config))
    else:
        if run_config:
            raise ValueError(
                "Flower's Python simulation API takes no run config; pass the settings to "
                "`server_app(...)`/`client_app(...)`, or use `flwr run` with a Flower project."
            )
        _run_on_ray(server_app, client_app, num_clients, num_cpus, num_cpus_per_client,
                    num_gpus_per_client, verbose)
