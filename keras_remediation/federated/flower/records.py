"""Converting a `FederatedModel`'s weights and results to Flower records and back.

Weights travel as an `ArrayRecord` keyed by the model's weight names (variable paths), in
`get_weights` order. A client's result travels as one `MetricRecord`:

- `num-examples`: the client's example count (FedAvg's weight: Flower's strategies read this
  key by default);
- the metrics finalised on the client (`loss`, `accuracy`, `min_diff_loss`, ...), for logs and
  for strategies that average them;
- `state/<variable path>`: the raw metric state (lists of floats), which
  `keras_remediation`'s server sums over clients before finalising it once.
"""

import numpy as np
from flwr.app import Array
from flwr.app import ArrayRecord
from flwr.app import MetricRecord

from keras_remediation.federated.model import FederatedResult

NUM_EXAMPLES_KEY = "num-examples"
STATE_PREFIX = "state/"


def weights_to_array_record(federated_model, weights=None):
    """The model's weights (or the given list) as an `ArrayRecord` keyed by weight name."""
    if weights is None:
        weights = federated_model.get_weights()
    names = federated_model.weight_names
    if len(names) != len(weights):
        raise ValueError(f"Expected {len(names)} weight arrays; received {len(weights)}.")
    return ArrayRecord({name: Array(value) for name, value in zip(names, weights)})


def array_record_to_weights(federated_model, record):
    """The list of NumPy arrays in `record`, in the model's weight order.

    Raises:
        KeyError: if the record lacks one of the model's weights.
    """
    missing = [name for name in federated_model.weight_names if name not in record]
    if missing:
        raise KeyError(
            f"The ArrayRecord lacks {len(missing)} of the model's weights, e.g. {missing[:3]}; "
            "were the client and server models built by the same function?"
        )
    return [record[name].numpy() for name in federated_model.weight_names]


def _metric_value(value):
    if isinstance(value, list):
        return [float(v) for v in value]
    return float(value)


def result_to_metric_record(result, extra=None):
    """A `FederatedResult` (and optional extra numbers) as a `MetricRecord`."""
    values = {NUM_EXAMPLES_KEY: int(result.num_examples)}
    for name, value in result.metrics.items():
        values[name] = _metric_value(value)
    for key, array in result.metric_state.items():
        flat = [float(v) for v in array.reshape(-1)]
        values[STATE_PREFIX + key] = flat if array.ndim else flat[0]
    for key, value in (extra or {}).items():
        values[key] = value
    return MetricRecord(values)


def metric_record_to_result(federated_model, record):
    """The `FederatedResult` a client sent, its state shaped like the model's metric state.

    Raises:
        KeyError: if the record lacks `num-examples` or a state entry of the model.
    """
    if NUM_EXAMPLES_KEY not in record:
        raise KeyError(f"The MetricRecord lacks {NUM_EXAMPLES_KEY!r}.")
    template = federated_model.zero_metric_state()
    state = {}
    for key, zeros in template.items():
        name = STATE_PREFIX + key
        if name not in record:
            raise KeyError(
                f"The MetricRecord lacks the metric state {key!r}; were the client and server "
                "models built by the same function?"
            )
        value = record[name]
        state[key] = np.asarray(value, dtype=np.float64).reshape(zeros.shape)
    metrics = {
        key: value for key, value in record.items()
        if key != NUM_EXAMPLES_KEY and not key.startswith(STATE_PREFIX)
    }
    return FederatedResult(
        num_examples=int(record[NUM_EXAMPLES_KEY]), metric_state=state, metrics=metrics
    )
