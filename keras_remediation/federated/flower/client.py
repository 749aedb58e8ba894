"""`client_app`: a Flower `ClientApp` that trains and evaluates a `FederatedModel` locally.

The app answers Flower's `train` and `evaluate` messages (Message API): it sets the global
weights from the message's `ArrayRecord`, trains (or evaluates) on the client's partition and
replies with the new weights (`ArrayRecord`) and one `MetricRecord` holding `num-examples`, the
client's finalised metrics and its raw metric state (see `records`).

Each worker process keeps one `FederatedModel` per app (built by `model_fn` on first use, then
reused for every client and round it serves: weights and optimizer state are reset from the
message, so reuse is exact) and, by default, a small cache of the partitions it has loaded. The
partition comes from `data_fn(partition_id, num_partitions)`, the ids taken from the node's
config (`partition-id`, `num-partitions`), which Flower's simulation engine sets and a
deployment SuperNode receives with `--node-config "partition-id=0 num-partitions=2"`.
"""

import collections
import inspect
import typing
import uuid

from flwr.app import Message
from flwr.app import RecordDict
from flwr.clientapp import ClientApp

from keras_remediation.federated.flower import records

DEFAULT_LOCAL_EPOCHS = 1
DEFAULT_BATCH_SIZE = 32

# Per worker process (a Ray actor, a SuperNode's app process or this process): models and
# partitions by app token. Reached only through the functions below, so that a pickled app
# finds the worker's caches rather than copies of them.
_MODELS = {}
_PARTITIONS = collections.OrderedDict()


class ClientData(typing.NamedTuple):
    """A client's partition: `train` data and optional separate `evaluate` data.

    Each is anything `FederatedModel.train` takes: `(x, y)` or `(x, y, sample_weight)` arrays,
    a `keras.utils.PyDataset` (e.g. packed MinDiff data), a `tf.data.Dataset`. Without
    `evaluate`, evaluation uses `train`.
    """

    train: typing.Any
    evaluate: typing.Any = None


def as_client_data(partition):
    """`partition` as `ClientData`: a `ClientData`, a dict with `train` (and `evaluate`) keys,
    or the training data itself."""
    if isinstance(partition, ClientData):
        return partition
    if isinstance(partition, dict) and "train" in partition:
        unknown = set(partition) - {"train", "evaluate"}
        if unknown:
            raise ValueError(
                f"A partition dict takes the keys 'train' and 'evaluate'; received {sorted(unknown)}."
            )
        return ClientData(partition["train"], partition.get("evaluate"))
    return ClientData(partition)


def _positional_arity(fn):
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(
        1 for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )


def call_model_fn(model_fn, context):
    """`model_fn(context)` if it takes one positional argument, else `model_fn()`."""
    if context is not None and _positional_arity(model_fn) == 1:
        return model_fn(context)
    return model_fn()


def worker_model(token, model_fn, context=None):
    """The worker's `FederatedModel` for the app `token` (and run), built on first use."""
    key = (token, getattr(context, "run_id", None))
    model = _MODELS.get(key)
    if model is None:
        model = call_model_fn(model_fn, context)
        _MODELS[key] = model
    return model


def worker_partition(token, partition_id, num_partitions, data_fn, cache_size, context=None):
    """The worker's `ClientData` for a partition, loaded with `data_fn` (LRU cache)."""
    key = (token, getattr(context, "run_id", None), partition_id, num_partitions)
    if key in _PARTITIONS:
        _PARTITIONS.move_to_end(key)
        return _PARTITIONS[key]
    if context is not None and _positional_arity(data_fn) == 3:
        partition = data_fn(partition_id, num_partitions, context)
    else:
        partition = data_fn(partition_id, num_partitions)
    data = as_client_data(partition)
    if cache_size:
        _PARTITIONS[key] = data
        while len(_PARTITIONS) > cache_size:
            _PARTITIONS.popitem(last=False)
    return data


def clear_worker_caches():
    """Forgets this process's cached models and partitions."""
    _MODELS.clear()
    _PARTITIONS.clear()


def _partition_ids(context):
    config = context.node_config
    if "partition-id" not in config or "num-partitions" not in config:
        raise KeyError(
            "The node config lacks 'partition-id' and 'num-partitions'. The simulation engine "
            "sets them; start a deployment SuperNode with "
            "`--node-config \"partition-id=0 num-partitions=2\"`."
        )
    return int(config["partition-id"]), int(config["num-partitions"])


def _first(records_by_name, kind):
    if not records_by_name:
        raise ValueError(f"The message carries no {kind}.")
    return next(iter(records_by_name.values()))


class _Handlers:
    """The `ClientApp`'s train and evaluate functions (a picklable object, for Ray)."""

    def __init__(self, model_fn, data_fn, local_epochs, batch_size, shuffle, cache_size):
        self.model_fn = model_fn
        self.data_fn = data_fn
        self.local_epochs = local_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.cache_size = cache_size
        self.token = uuid.uuid4().hex

    def _prepare(self, message, context):
        model = worker_model(self.token, self.model_fn, context)
        partition_id, num_partitions = _partition_ids(context)
        data = worker_partition(
            self.token, partition_id, num_partitions, self.data_fn, self.cache_size, context
        )
        arrays = _first(message.content.array_records, "ArrayRecord of weights")
        model.set_weights(records.array_record_to_weights(model, arrays))
        config = message.content.config_records
        config = next(iter(config.values())) if config else {}
        return model, data, config

    def train(self, message, context):
        model, data, config = self._prepare(message, context)
        result = model.train(
            data.train,
            epochs=int(config.get("local-epochs", self.local_epochs)),
            batch_size=int(config.get("batch-size", self.batch_size)),
            shuffle=bool(config.get("shuffle", self.shuffle)),
        )
        content = RecordDict({
            "arrays": records.weights_to_array_record(model),
            "metrics": records.result_to_metric_record(result),
        })
        return Message(content, reply_to=message)

    def evaluate(self, message, context):
        model, data, config = self._prepare(message, context)
        evaluation_data = data.evaluate if data.evaluate is not None else data.train
        result = model.evaluate(
            evaluation_data, batch_size=int(config.get("batch-size", self.batch_size))
        )
        content = RecordDict({"metrics": records.result_to_metric_record(result)})
        return Message(content, reply_to=message)


def client_app(model_fn, data_fn, *, local_epochs=DEFAULT_LOCAL_EPOCHS,
               batch_size=DEFAULT_BATCH_SIZE, shuffle=True, cache_partitions=64):
    """Builds a Flower `ClientApp` that trains `model_fn()`'s model on `data_fn`'s partitions.

    Args:
        model_fn: function returning a new `FederatedModel` (built with `from_keras_model`);
            the same function the server app gets. Called once per worker process and run,
            with no argument, or with Flower's `Context` if it takes one positional argument
            (to read `context.run_config`).
        data_fn: `data_fn(partition_id, num_partitions)` (or `data_fn(partition_id,
            num_partitions, context)` if it takes three positional arguments) returning the
            client's partition: its training data, or `ClientData(train, evaluate)`, or a
            dict with those keys. For MinDiff the client packs its own data here
            (`pack_min_diff_data` or `federated.pack_client_min_diff_data`).
        local_epochs: keyword-only; local epochs per round unless the server's train config
            sets `local-epochs`. Default 1.
        batch_size: keyword-only; batch size for array data unless the server's config sets
            `batch-size`. Default 32.
        shuffle: keyword-only; shuffle array data each epoch. Default True.
        cache_partitions: keyword-only; partitions kept in memory per worker (0: reload each
            round). Default 64.

    Returns:
        A `flwr.clientapp.ClientApp` with `train` and `evaluate` functions. Exceptions raised
        by `data_fn` or training reach Flower, which replies to the server with an error; the
        server app counts and reports them.
    """
    if not callable(model_fn):
        raise TypeError(f"`model_fn` must be callable; received {model_fn!r}.")
    if not callable(data_fn):
        raise TypeError(f"`data_fn` must be callable; received {data_fn!r}.")
    handlers = _Handlers(model_fn, data_fn, local_epochs, batch_size, shuffle, cache_partitions)
    app = ClientApp()
    app.train()(handlers.train)
    app.evaluate()(handlers.evaluate)
    return app
