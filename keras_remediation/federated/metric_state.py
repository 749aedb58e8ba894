"""Raw metric state: what clients report, what the server sums and then finalises.

A Keras metric keeps its state in variables (a `Mean`: total and count; `BinaryAccuracy`: the
number right and the count; `AUC`: confusion counts at each threshold; a compiled model's loss:
the sum of batch losses × rows, and the rows). Each client reports those variables as they
stand after its local work; the server adds the clients' states element by element and only
then computes the metric (`Metric.result`) once, from the sums. This is TFF's
"sum then finalise": the aggregated accuracy is the accuracy of the pooled examples and the
aggregated AUC the AUC of the pooled confusion counts, never a (weighted) mean of per-client
ratios, which is what Flower's default metric aggregation computes.

Every built-in Keras metric keeps additive state (sums and counts), so summing is exact for
them. A custom metric whose state is not additive (a running maximum, a stored mean) needs its
own aggregation and is not supported by this module.

A state is a dict `{key: np.ndarray (float64)}`, one entry per metric variable of the model
(`model.metrics_variables`), keyed by position and variable name (see `state_keys`). A
`FederatedModel` adds the keys `num_examples` and `num_batches` (TFF's default counters),
which sum like the rest.

`NumExamplesCounter` and `NumBatchesCounter` are those counters as Keras metrics (TFF's
`tff.learning.metrics` classes of the same names), for a `metrics` list that wants them
explicitly; a metric named `num_examples` or `num_batches` replaces `FederatedModel`'s default.
"""

import numpy as np
import keras


def state_keys(model):
    """The state keys of a compiled `model`, in the order of `model.metrics_variables`.

    Positional (`"003.true_positives"`: index and variable name), because variable paths carry
    layer and metric names that Keras numbers per process (`auc`, `auc_1`, ...), so two copies
    of one model may name their variables differently.
    """
    return [f"{i:03d}.{variable.name}" for i, variable in enumerate(model.metrics_variables)]


def read_state(model):
    """The current metric state of `model`: `{key: float64 array}`."""
    return {
        key: np.array(keras.ops.convert_to_numpy(variable.value), dtype=np.float64)
        for key, variable in zip(state_keys(model), model.metrics_variables)
    }


def write_state(model, state):
    """Assigns `state` (as returned by `read_state` or `sum_states`) to `model`'s metrics.

    Raises:
        KeyError: if `state` lacks a key of the model.
        ValueError: if a value has the wrong shape.
    """
    for key, variable in zip(state_keys(model), model.metrics_variables):
        if key not in state:
            raise KeyError(f"The metric state has no value for {key!r}.")
        value = np.asarray(state[key])
        if value.shape != tuple(variable.shape):
            if value.size == int(np.prod(variable.shape)):
                value = value.reshape(tuple(variable.shape))
            else:
                raise ValueError(
                    f"The metric state {key!r} has shape {value.shape}; the model's variable "
                    f"has shape {tuple(variable.shape)}."
                )
        variable.assign(value.astype(variable.dtype))


def zero_state(model):
    """A state of zeros for `model` (what a client that saw no data reports)."""
    return {
        key: np.zeros(tuple(variable.shape), dtype=np.float64)
        for key, variable in zip(state_keys(model), model.metrics_variables)
    }


def add_states(a, b):
    """The element-wise sum of two states with the same keys."""
    if set(a) != set(b):
        raise KeyError(
            "Metric states with different keys cannot be added: "
            f"{sorted(set(a) ^ set(b))} are in only one of them."
        )
    return {key: np.asarray(a[key], np.float64) + np.asarray(b[key], np.float64) for key in a}


def sum_states(states):
    """The element-wise sum of an iterable of states (None for no states)."""
    total = None
    for state in states:
        total = {k: np.array(v, np.float64) for k, v in state.items()} if total is None else add_states(total, state)
    return total


def _python(value):
    array = np.asarray(value)
    if array.ndim == 0:
        return float(array)
    return [float(v) for v in array.reshape(-1)]


def finalize(model, state):
    """The metric results `{name: float or list of floats}` of `state`, computed on `model`.

    Uses `model`'s metric objects (`Metric.result` on the given state, through
    `model.get_metrics_result`, so the names are those of `fit`'s logs); the model's own metric
    state is restored afterwards.
    """
    saved = read_state(model)
    try:
        write_state(model, state)
        # Read the results before the state is restored: a metric's `result` may return its
        # variable itself (TensorFlow) or a view of it (PyTorch).
        results = {name: _python(value) for name, value in model.get_metrics_result().items()}
    finally:
        write_state(model, saved)
    return results


class _Counter(keras.metrics.Metric):
    """A count kept in one int32 variable, `count` (sums exactly over clients)."""

    def __init__(self, name, dtype="int32"):
        super().__init__(name=name, dtype=dtype)
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=dtype, name="count")

    def _increment(self, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        del y_true, sample_weight
        self.count.assign_add(keras.ops.cast(self._increment(y_pred), self.count.dtype))

    def result(self):
        return keras.ops.multiply(self.count.value, 1)  # a copy, not the variable

    def reset_state(self):
        self.count.assign(keras.ops.zeros((), self.count.dtype))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class NumExamplesCounter(_Counter):
    """Counts examples: the rows of the first prediction of each batch (TFF's metric)."""

    def __init__(self, name="num_examples", dtype="int32"):
        super().__init__(name=name, dtype=dtype)

    def _increment(self, y_pred):
        return keras.ops.shape(keras.tree.flatten(y_pred)[0])[0]


class NumBatchesCounter(_Counter):
    """Counts batches (TFF's metric)."""

    def __init__(self, name="num_batches", dtype="int32"):
        super().__init__(name=name, dtype=dtype)

    def _increment(self, y_pred):
        del y_pred
        return 1
