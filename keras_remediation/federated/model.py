"""`from_keras_model` and `FederatedModel`: a Keras model as a federated algorithm trains it.

After TFF's `tff.learning.from_keras_model`, with Keras 3 on every backend and no TFF: the
returned `FederatedModel` owns the weights exchange (NumPy arrays in, NumPy arrays out), one
round of local training on a client's data, evaluation, example counts and metric state that
aggregates correctly across clients (`metric_state`: sums and counts, finalised once on the
server). It is engine-neutral; `keras_remediation.federated.flower` runs it on Flower.

The Keras model may be a plain model, a `min_diff.keras.MinDiffModel` (clients feed it data
packed with `min_diff.keras.utils.pack_min_diff_data`; its `min_diff_loss` is reported as a
metric) or a backward-compatibility model (`backward_compatibility.BCNewErrorCompatibilityModel`;
its `dissonance` is reported). For these wrappers only the wrapped (original) model's weights
are exchanged: the wrapper owns none, and a BC model's deployed model h1 is frozen and the same
on every client, so it stays local.

Metrics: besides `loss` and the compiled metrics, a `FederatedModel` reports `num_examples`
and `num_batches` (TFF's defaults), summed over clients like every other metric state; a
metric of that name in `metrics` replaces the default, as in TFF. `metrics` takes metric
objects or no-arg constructors (TFF's recommendation), not both; `reset_metrics()` zeroes them.

Kept from TFF: `input_spec` is a type (structure and dtypes; the batch dimension is never
checked) and is returned as given by `FederatedModel.input_spec`; a single loss object or
function on a multi-output model receives the whole label and prediction structures (Keras 3's
`compile` would apply it per output), while a list or dict of losses applies per output.

Differences from TFF's contract (the seed's contract is kept for the arguments and errors):
- The client optimizer belongs to the model here (`optimizer=`, default SGD with learning rate
  0.01), not to the algorithm; its state (moments, iteration count) restarts at every round,
  as in TFF's FedAvg, so a round is plain local training from the global weights.
- `input_spec` may also be an example batch of NumPy arrays (see `input_spec`).
- `loss_weights` for a dict of losses may leave outputs out (they weigh 1.0).
- `metrics` may also hold metric names (`"accuracy"`), as `keras.Model.compile` takes them.
- A loss given by name (`"mse"`) on a multi-output model keeps Keras's meaning (per output,
  summed): TFF takes loss objects only.
- String inputs need the TensorFlow backend (Keras has no string tensors on JAX or PyTorch);
  NumPy string arrays in `(x, y)` tuples are handed to Keras as `tf.string` tensors.
- Keras 3 casts labels to the loss's dtype (float32) before a `keras.losses.Loss` sees them,
  so a custom loss that needs integer labels must cast them back (`keras.ops.cast`).
"""

import dataclasses

import numpy as np
import keras

from keras_remediation.common import keras_internals
from keras_remediation.common.remediation_model import RemediationModel
from keras_remediation.common.validation import check_finite_leaves
from keras_remediation.common.validation import check_finite_values
from keras_remediation.common.validation import check_numeric
from keras_remediation.common.validation import check_positive_int
from keras_remediation.common.validation import check_sample_weight_values
from keras_remediation.federated import input_spec as input_spec_lib
from keras_remediation.federated import losses as losses_lib
from keras_remediation.federated import metric_state as metric_state_lib
from keras_remediation.min_diff.keras.utils import input_utils


@dataclasses.dataclass
class FederatedResult:
    """What a client reports after local training or evaluation (or their aggregate).

    Attributes:
        num_examples: examples in one pass over the data (the FedAvg weight of a client; for an
            aggregate, the sum over clients).
        metric_state: the raw metric state, `{key: float64 array}` (see `metric_state`); for an
            aggregate, the clients' states summed.
        metrics: `{name: float}` finalised from `metric_state` (names as in `fit`'s logs, e.g.
            `loss`, `accuracy`, `min_diff_loss`).
    """

    num_examples: int
    metric_state: dict
    metrics: dict


_COUNTER_NAMES = ("num_examples", "num_batches")


class _BatchCounter(keras.callbacks.Callback):
    """Counts the batches of the current epoch (`fit`) or evaluation, as Keras's metric state
    covers them (`fit` resets the metrics at each epoch, `evaluate` at its start)."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_test_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches = max(self.batches, int(batch) + 1)

    def on_test_batch_end(self, batch, logs=None):
        self.batches = max(self.batches, int(batch) + 1)


class _EpochStates(keras.callbacks.Callback):
    """Adds up the metric state at the end of each epoch (`fit` resets it at each start)."""

    def __init__(self, federated_model):
        super().__init__()
        self._federated_model = federated_model
        self.total = None
        self.first_epoch_examples = None

    def on_epoch_end(self, epoch, logs=None):
        state = self._federated_model.metric_state()
        if self.first_epoch_examples is None:
            self.first_epoch_examples = self._federated_model._examples_in(state)
        self.total = state if self.total is None else metric_state_lib.add_states(self.total, state)


def _weight_keys(variables):
    """Positional weight names (`"0003.kernel"`): variable paths hold layer names that Keras
    numbers per process (`dense`, `dense_1`, ...), so copies of a model would not agree."""
    return [f"{i:04d}.{variable.name}" for i, variable in enumerate(variables)]


def _original_inputs(keras_model, x):
    """The original model's part of inputs `x`: a wrapper's `unpack_original_inputs` (MinDiff),
    the MinDiff unpacking for other wrappers (a no-op on unpacked inputs), else `x`."""
    if not isinstance(keras_model, RemediationModel):
        return x
    unpack = getattr(keras_model, "unpack_original_inputs", None)
    if callable(unpack):
        return unpack(x)
    return input_utils.unpack_original_inputs(x)


def _is_array_tuple(data):
    return isinstance(data, (tuple, list)) and not hasattr(data, "_fields") and len(data) in (2, 3)


def _is_string_array(value):
    if not isinstance(value, np.ndarray):
        return False
    if value.dtype.kind in ("U", "S"):
        return True
    return value.dtype == object and value.size > 0 and all(
        isinstance(v, (str, bytes)) for v in value.reshape(-1)
    )


def _string_arrays_as_tensors(structure):
    """NumPy string arrays in `structure` as `tf.string` tensors (TensorFlow backend only).

    Keras's array adapter takes no NumPy string arrays; TensorFlow string tensors it takes.
    """
    if structure is None or keras.backend.backend() != "tensorflow":
        return structure
    leaves = keras.tree.flatten(structure)
    if not any(_is_string_array(leaf) for leaf in leaves):
        return structure
    import tensorflow as tf  # noqa: PLC0415 - the TensorFlow backend is in use

    return keras.tree.map_structure(
        lambda leaf: tf.constant(leaf.astype(object) if leaf.dtype.kind == "U" else leaf)
        if _is_string_array(leaf) else leaf,
        structure,
    )


def _describe(data):
    if isinstance(data, (tuple, list)):
        return f"a {type(data).__name__} of {len(data)} element(s)"
    if isinstance(data, dict):
        return f"a dict with keys {sorted(map(str, data))}"
    shape = getattr(data, "shape", None)
    return f"a {type(data).__name__}" + ("" if shape is None else f" of shape {tuple(shape)}")


def _check_client_data(data, arg_name="data"):
    """Checks a client's data before any weight changes.

    Arrays `(x, y)` or `(x, y, sample_weight)`: every row (float values finite, weights
    finite and ≥ 0, equal row counts, at least one row). A `keras.utils.PyDataset`: at least
    one batch, and its first batch as arrays. Other datasets (`tf.data`, generators) are
    left to Keras.

    Raises:
        TypeError: for None, a string, a dict, a lone array or a tuple of another length.
        ValueError: for the value errors above.
    """
    is_tuple = isinstance(data, (tuple, list)) and not hasattr(data, "_fields")
    if (
        data is None or isinstance(data, (str, bytes, dict)) or hasattr(data, "shape")
        or (is_tuple and len(data) not in (2, 3))
    ):
        raise TypeError(
            f"`{arg_name}` must be `(x, y)` or `(x, y, sample_weight)` arrays, a "
            "keras.utils.PyDataset or a tf.data.Dataset of such batches (labels are needed to "
            f"train and evaluate); received {_describe(data)}."
        )
    if isinstance(data, keras.utils.PyDataset):
        if len(data) == 0:
            raise ValueError(f"`{arg_name}` must have at least one batch; received none.")
        batch = _first_batch(data)
        if isinstance(batch, (tuple, list)):
            _check_batch_values(batch, arg_name)
        return
    if not is_tuple:
        return
    _check_batch_values(data, arg_name)
    rows = sorted({
        int(leaf.shape[0]) for part in data if part is not None
        for leaf in keras.tree.flatten(part) if len(getattr(leaf, "shape", ())) > 0
    })
    if len(rows) > 1:
        raise ValueError(
            f"`{arg_name}` must have the same number of rows in x, y and sample_weight; "
            f"received {rows}."
        )
    if rows == [0]:
        raise ValueError(f"`{arg_name}` must have at least one row; received 0 rows.")


def _check_batch_values(batch, arg_name):
    x, y, sample_weight = (tuple(batch) + (None,))[:3]
    check_finite_leaves(x, f"{arg_name} x")
    check_finite_leaves(y, f"{arg_name} y")
    if sample_weight is not None:
        check_numeric(sample_weight, f"{arg_name} sample_weight")
        check_sample_weight_values(sample_weight, f"{arg_name} sample_weight")


def _first_batch(data):
    """The first batch of `data` when it is cheap to read (arrays, PyDataset), else None."""
    if _is_array_tuple(data):
        return tuple(data)
    if isinstance(data, keras.utils.PyDataset):
        try:
            return data[0]
        except Exception:  # noqa: BLE001 - let `fit` report a broken dataset
            return None
    return None


class FederatedModel:
    """A compiled Keras model with the operations a federated algorithm needs.

    Build it with `from_keras_model`. Client side: `set_weights(global_weights)`,
    `train(data)` (one round of local training), `get_weights()`, `evaluate(data)`. Server
    side: `aggregate(results)` sums the clients' metric states and finalises them.
    `metric_state()`, `reset_metrics()` and `finalize_metrics(state)` expose the raw state
    (with the `num_examples` and `num_batches` counters) as TFF's unfinalised metrics.
    """

    def __init__(self, keras_model, input_spec, compile_kwargs, *, given_input_spec=None,
                 whole_structure_loss=None, counters=_COUNTER_NAMES):
        self._keras_model = keras_model
        self._input_spec = input_spec
        self._given_input_spec = input_spec if given_input_spec is None else given_input_spec
        self._wrapped = keras_model.original_model if isinstance(keras_model, RemediationModel) else None
        self._counters = tuple(counters)
        self._batch_counter = _BatchCounter()
        keras_model.compile(**compile_kwargs)
        if whole_structure_loss is not None:
            losses_lib.install_whole_structure_loss(keras_model, *whole_structure_loss)
        self._build_loss_and_metrics()
        optimizer = keras_model.optimizer
        if not optimizer.built:
            optimizer.build(keras_model.trainable_variables)
        self._initial_optimizer_state = [
            np.array(keras.ops.convert_to_numpy(v.value)) for v in optimizer.variables
        ]
        self._weight_variables = list((self._wrapped or keras_model).weights)
        self._weight_names = _weight_keys(self._weight_variables)
        keys = metric_state_lib.state_keys(keras_model)
        count = keras_internals.loss_tracker(keras_model).count
        self._count_key = next(
            (k for k, v in zip(keys, keras_model.metrics_variables) if v is count), None
        )

    # Construction -------------------------------------------------------------------------------

    def _original_inputs(self, x):
        return _original_inputs(self._keras_model, x)

    def _build_loss_and_metrics(self):
        model = self._keras_model
        x = input_spec_lib.zeros_like_spec(self._input_spec.x)
        y = input_spec_lib.zeros_like_spec(self._input_spec.y)
        inputs = x
        y_pred = model(inputs, training=False)
        model.compute_loss(x=inputs, y=y, y_pred=y_pred, sample_weight=None, training=False)
        model.compute_metrics(inputs, y, y_pred, sample_weight=None)
        model.reset_metrics()

    # Properties ---------------------------------------------------------------------------------

    @property
    def keras_model(self):
        """The compiled Keras model (the wrapper, for MinDiff and BC models)."""
        return self._keras_model

    @property
    def input_spec(self):
        """`input_spec` as given to `from_keras_model` (TFF's `input_spec` property)."""
        return self._given_input_spec

    @property
    def normalized_input_spec(self):
        """The normalised `input_spec`: `InputSpec(x, y)` of `TensorSpec` structures."""
        return self._input_spec

    @property
    def weight_names(self):
        """Names of the exchanged weights (`"0003.kernel"`), in `get_weights` order.

        Positional, so that every copy of the model built by the same function agrees.
        """
        return list(self._weight_names)

    # Weights exchange ---------------------------------------------------------------------------

    def get_weights(self):
        """The exchanged weights (trainable and non-trainable) as a list of NumPy arrays."""
        return [np.array(keras.ops.convert_to_numpy(v.value)) for v in self._weight_variables]

    def set_weights(self, weights):
        """Sets the exchanged weights from a list of arrays (as `get_weights`) or a name dict.

        Raises:
            TypeError: for an array that is not numeric.
            ValueError: on a wrong number of arrays, missing names, a shape mismatch or NaN
                or infinite values. Every array is checked before any weight is set.
        """
        if isinstance(weights, dict):
            missing = [name for name in self._weight_names if name not in weights]
            if missing:
                raise ValueError(
                    f"`weights` must name every exchanged weight; received a dict without "
                    f"{len(missing)} of them, e.g. {missing[:3]}."
                )
            weights = [weights[name] for name in self._weight_names]
        weights = list(weights)
        if len(weights) != len(self._weight_variables):
            raise ValueError(
                f"`weights` must hold {len(self._weight_variables)} arrays (one per exchanged "
                f"weight); received {len(weights)}."
            )
        arrays = []
        for name, variable, value in zip(self._weight_names, self._weight_variables, weights):
            check_numeric(value, f"weights[{name!r}]")
            value = np.asarray(value)
            if value.shape != tuple(variable.shape):
                raise ValueError(
                    f"`weights[{name!r}]` must have shape {tuple(variable.shape)}; received "
                    f"{value.shape}."
                )
            check_finite_values(value, f"weights[{name!r}]")
            arrays.append(value)
        for variable, value in zip(self._weight_variables, arrays):  # all checked: assign
            variable.assign(value.astype(variable.dtype))

    # Metrics ------------------------------------------------------------------------------------

    def metric_state(self):
        """The model's current raw metric state (see `metric_state.read_state`).

        Besides the Keras metrics' variables: `num_examples` and `num_batches` (unless a metric
        of that name was given) of the last local epoch or evaluation, as the Keras metrics.
        """
        state = metric_state_lib.read_state(self._keras_model)
        counts = {"num_examples": self._examples_in(state), "num_batches": self._batch_counter.batches}
        for name in self._counters:
            state[name] = np.array(float(counts[name]), dtype=np.float64)
        return state

    def zero_metric_state(self):
        """A metric state of zeros (a client that saw no data)."""
        state = metric_state_lib.zero_state(self._keras_model)
        for name in self._counters:
            state[name] = np.zeros((), dtype=np.float64)
        return state

    def reset_metrics(self):
        """Resets every metric's state (the Keras metrics and the counters) to zero."""
        self._keras_model.reset_metrics()
        self._batch_counter.batches = 0

    def finalize_metrics(self, state):
        """`{name: float}` computed once from a (summed) raw metric state.

        `num_examples` and `num_batches` are ints.
        """
        results = metric_state_lib.finalize(self._keras_model, state)
        for name in self._counters:
            results[name] = int(round(float(np.sum(state.get(name, 0.0)))))
        return results

    def aggregate(self, results):
        """Aggregates clients' `FederatedResult`s: example counts and metric states summed.

        The metrics are finalised from the summed state (pooled accuracy, pooled AUC, the loss
        averaged over all examples), never averaged from the clients' ratios.

        Returns:
            A `FederatedResult`, or None when `results` is empty.
        """
        results = list(results)
        if not results:
            return None
        state = metric_state_lib.sum_states(r.metric_state for r in results)
        return FederatedResult(
            num_examples=int(sum(r.num_examples for r in results)),
            metric_state=state,
            metrics=self.finalize_metrics(state),
        )

    def _examples_in(self, state):
        if self._count_key is None:
            return 0
        return int(round(float(np.sum(state[self._count_key]))))

    # Local work ---------------------------------------------------------------------------------

    def _check_data(self, data):
        _check_client_data(data)
        batch = _first_batch(data)
        if batch is None:
            return
        x, y, _ = input_utils.unpack_x_y_sample_weight(batch)
        input_spec_lib.check_against_spec(
            self._original_inputs(x), self._original_inputs(self._input_spec.x), "inputs"
        )
        if y is not None:
            input_spec_lib.check_against_spec(y, self._input_spec.y, "labels")

    def _fit_arguments(self, data):
        if _is_array_tuple(data):
            x, y, sample_weight = (tuple(data) + (None,))[:3]
            return {"x": _string_arrays_as_tensors(x), "y": _string_arrays_as_tensors(y),
                    "sample_weight": sample_weight}
        return {"x": data}

    def reset_optimizer(self):
        """Restores the optimizer's state (moments, iteration count) to its initial values."""
        for variable, value in zip(self._keras_model.optimizer.variables, self._initial_optimizer_state):
            variable.assign(value)

    def train(self, data, *, epochs=1, batch_size=None, shuffle=True, seed=None, verbose=0,
              reset_optimizer=True):
        """One round of local training on a client's data, from the current weights.

        Args:
            data: `(x, y)` or `(x, y, sample_weight)` arrays, or anything `keras.Model.fit`
                takes as `x` (a `keras.utils.PyDataset` such as `pack_min_diff_data`'s
                result, a `tf.data.Dataset`, a generator).
            epochs: local passes over `data`. Default 1.
            batch_size: for arrays; Keras's default (32) when None.
            shuffle: shuffle arrays each epoch. Default True.
            seed: if given, `keras.utils.set_random_seed(seed)` first (shuffle, dropout).
            verbose: `fit`'s verbosity. Default 0.
            reset_optimizer: restart the client optimizer's state first (FedAvg). Default True.

        Returns:
            `FederatedResult`: `num_examples` of one epoch (the FedAvg weight), the metric
            state summed over all local epochs (`loss`, compiled metrics, `min_diff_loss` for a
            MinDiff model, and the `num_examples` / `num_batches` counters, which therefore
            count every local epoch, as TFF's do) and the metrics finalised from it.

        Raises:
            TypeError: if `epochs` is not an int; if `data` is not `(x, y)` or
                `(x, y, sample_weight)` arrays or a dataset (see `_check_client_data`).
            ValueError: if `epochs` is < 1; if the data is empty, its arrays differ in row
                count, its float values are NaN or infinite or its weights negative (every
                row of arrays; the first batch of a `PyDataset`; a `tf.data.Dataset` is not
                read), or the first batch does not match `input_spec`. All before any
                weight changes.
        """
        check_positive_int(epochs, "epochs")
        self._check_data(data)
        if reset_optimizer:
            self.reset_optimizer()
        if seed is not None:
            keras.utils.set_random_seed(seed)
        states = _EpochStates(self)
        self._keras_model.fit(
            **self._fit_arguments(data),
            batch_size=batch_size,
            epochs=epochs,
            shuffle=shuffle,
            verbose=verbose,
            callbacks=[self._batch_counter, states],
        )
        state = states.total if states.total is not None else self.zero_metric_state()
        return FederatedResult(
            num_examples=int(states.first_epoch_examples or 0),
            metric_state=state,
            metrics=self.finalize_metrics(state),
        )

    def evaluate(self, data, *, batch_size=None, verbose=0):
        """Evaluates the current weights on a client's data (same `data` forms as `train`).

        Returns:
            `FederatedResult` with the examples seen and the evaluation metric state.

        Raises:
            TypeError, ValueError: for bad `data`, as `train`.
        """
        self._check_data(data)
        arguments = self._fit_arguments(data)
        self._keras_model.evaluate(
            **arguments, batch_size=batch_size, verbose=verbose, callbacks=[self._batch_counter]
        )
        state = self.metric_state()
        return FederatedResult(
            num_examples=self._examples_in(state),
            metric_state=state,
            metrics=self.finalize_metrics(state),
        )

    def predict(self, x, *, batch_size=None, verbose=0):
        """`keras.Model.predict` of the current weights."""
        return self._keras_model.predict(x, batch_size=batch_size, verbose=verbose)


def _compile_kwargs(loss, loss_weights, metrics, optimizer, jit_compile):
    if optimizer is None:
        optimizer = keras.optimizers.SGD(learning_rate=0.01)
    elif isinstance(optimizer, str):
        optimizer = keras.optimizers.get(optimizer)
    elif not isinstance(optimizer, keras.optimizers.Optimizer) and callable(optimizer):
        optimizer = optimizer()
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "`optimizer` must be a keras.optimizers.Optimizer, its name, or a function returning "
            f"one; received {optimizer!r}."
        )
    kwargs = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or []),
              "jit_compile": jit_compile}
    if loss_weights is not None:
        kwargs["loss_weights"] = loss_weights
    return kwargs


def _metric_objects(metrics):
    """`metrics` with each constructor called (TFF: a list of metrics or of no-arg callables).

    Raises:
        TypeError: if `metrics` is not a list, an entry is neither a metric, a metric name nor
            a callable, a callable does not create a metric without arguments, or metric
            objects and constructors are mixed (TFF's rule).
    """
    if metrics is None:
        return []
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(
            "`metrics` must be a list of keras.metrics.Metric objects or of no-arg callables "
            f"that each construct one; received {metrics!r}."
        )
    objects = []
    has_object = has_constructor = False
    for metric in metrics:
        if isinstance(metric, keras.metrics.Metric):
            has_object = True
            objects.append(metric)
        elif isinstance(metric, str):
            objects.append(metric)
        elif callable(metric):
            try:
                made = metric()
            except TypeError as error:
                raise TypeError(
                    f"Metric constructor {metric!r} in `metrics` is not a no-arg callable that "
                    f"creates a keras.metrics.Metric: {error}"
                ) from error
            if not isinstance(made, keras.metrics.Metric):
                raise TypeError(
                    f"Metric constructor {metric!r} in `metrics` is not a no-arg callable that "
                    f"creates a keras.metrics.Metric; it created a {type(made).__name__}."
                )
            has_constructor = True
            objects.append(made)
        else:
            raise TypeError(
                "Expected each entry of `metrics` to be a keras.metrics.Metric, a metric name or "
                f"a no-arg callable that constructs a metric; found a non-callable "
                f"{type(metric).__name__}: {metric!r}."
            )
    if has_object and has_constructor:
        raise TypeError(
            "Expected `metrics` to be either a list of keras.metrics.Metric objects or a list "
            f"of no-arg callables that each construct one; found both types in {metrics!r}."
        )
    return objects


def _check_string_specs(spec):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    paths = input_spec_lib.string_paths(spec.x, "x") + input_spec_lib.string_paths(spec.y, "y")
    if paths:
        raise TypeError(
            f"`input_spec` declares string tensors at {', '.join(paths)}, but the {backend} "
            "backend of Keras has no string tensors. Use KERAS_BACKEND=tensorflow, or map the "
            "strings to integer ids in the data pipeline and declare those."
        )


def from_keras_model(keras_model, loss, input_spec, loss_weights=None, metrics=None, *,
                     optimizer=None, jit_compile="auto"):
    """Builds a `FederatedModel` from an uncompiled Keras model (TFF's `from_keras_model`).

    Args:
        keras_model: an uncompiled `keras.Model`: plain, a `min_diff.keras.MinDiffModel` or a
            backward-compatibility model. Each call must get its own model (build it in a
            function that the client and server apps call).
        loss: a Keras loss (`keras.losses.Loss`, loss function or name) taking `(y_true,
            y_pred)`; for a multi-output model, a list (one per output) or a dict (keyed by
            output name), whose per-output losses are summed, weighted by `loss_weights`. A
            single loss object or function on a multi-output model receives the whole
            structures, as in TFF: `loss(y_true, y_pred)` with all the labels and all the
            outputs (a loss name keeps Keras's meaning: applied to each output and summed).
            Keras 3 casts the labels to the loss's dtype (float32) before a
            `keras.losses.Loss` sees them: a loss that needs integer labels casts them back.
        input_spec: the pair `(inputs spec, labels spec)`, each a structure of specs with
            `.shape` and `.dtype` (`keras.KerasTensor`, `tf.TensorSpec`,
            `jax.ShapeDtypeStruct`, ...) or an example batch of NumPy arrays, nested like the
            data; a dict with keys `'x'` and `'y'` also works. As in TFF it is a type: the
            batch dimension, and the rank where it differs from the data's, are not checked.
            String specs need the TensorFlow backend. For a MinDiff model the inputs spec may
            be the original inputs' or the packed inputs'. `FederatedModel.input_spec` returns
            it as given.
        loss_weights: optional Python floats weighting the losses: a number for a single loss,
            a list (1:1 with the outputs) for a list of losses, a dict (output name → weight)
            for a dict of losses.
        metrics: optional list of `keras.metrics.Metric` objects (or names), or of no-arg
            callables (metric classes, functions) that each construct one; constructors are
            called here, so each model gets fresh metrics. Objects must be fresh (they hold
            state). `num_examples` and `num_batches` are added unless a metric has that name.
        optimizer: keyword-only; the client optimizer (instance, name or zero-argument function
            returning one). Default `keras.optimizers.SGD(learning_rate=0.01)`. Not in TFF's
            signature (there the algorithm owns it).
        jit_compile: keyword-only; passed to `keras.Model.compile`. Default `"auto"`.

    Returns:
        A `FederatedModel` backed by `keras_model` (which is built and compiled here).

    Raises:
        TypeError: if `keras_model` is not a `keras.Model`, or `loss`, `metrics`, a weight or
            the optimizer has the wrong type, or an `input_spec` leaf is not a spec or an
            array with a batch dimension, or `input_spec` has strings on JAX or PyTorch.
        ValueError: if `keras_model` was compiled (also by an earlier `from_keras_model`,
            which compiles the model it is given: each call needs its own model), or
            `input_spec` does not have two elements or does not fit the model (e.g. a wrong
            feature count), or `loss` names
            no Keras loss, or a loss list or `loss_weights` list has the wrong length, or a
            loss weight is negative, NaN or infinite.
        OutputNamesError: (a KeyError, as TFF documents, and a TypeError, as TFF's tests
            expect) if `loss` is a dict whose keys are not the model's output names, or
            `loss_weights` names an unknown output.
    """
    if not isinstance(keras_model, keras.Model):
        raise TypeError(
            f"`keras_model` must be a keras.models.Model (keras.Model); received "
            f"{keras_model!r} of type {type(keras_model).__name__}."
        )
    spec = input_spec_lib.normalize_input_spec(input_spec)
    _check_string_specs(spec)
    metrics = _metric_objects(metrics)
    names = {m.name for m in metrics if isinstance(m, keras.metrics.Metric)}
    counters = tuple(name for name in _COUNTER_NAMES if name not in names)
    # Build the model to learn its outputs, then check the losses against them.
    x = input_spec_lib.zeros_like_spec(spec.x)
    original_x = _original_inputs(keras_model, x)
    try:
        outputs = keras_model(original_x, training=False)
    except ValueError as error:
        raise ValueError(
            f"`input_spec` does not fit `keras_model`: calling the model on inputs of the "
            f"spec's structure, shapes and dtypes failed: {error}"
        ) from error
    named_model = keras_model.original_model if isinstance(keras_model, RemediationModel) else keras_model
    count, output_names = losses_lib.output_structure(outputs, named_model)
    losses_lib.check_loss(loss, count, output_names)
    loss_weights = losses_lib.normalize_loss_weights(loss_weights, loss, count, output_names)
    # Checked after the arguments, so that a bad argument is reported as such also for a
    # model that an earlier call compiled.
    if getattr(keras_model, "compiled", False) or getattr(keras_model, "optimizer", None) is not None:
        raise ValueError(
            "`keras_model` must not be compiled; received a compiled model. "
            "`from_keras_model` compiles the model it is given (with `loss`, `loss_weights`, "
            "`metrics` and the client optimizer): build a new model for each call (e.g. in a "
            "function)."
        )
    whole_structure_loss = None
    compile_loss = loss
    if losses_lib.uses_whole_structure(loss, count):
        whole_structure_loss = (loss, loss_weights)
        compile_loss, loss_weights = None, None
    return FederatedModel(
        keras_model, spec,
        _compile_kwargs(compile_loss, loss_weights, metrics, optimizer, jit_compile),
        given_input_spec=input_spec, whole_structure_loss=whole_structure_loss,
        counters=counters,
    )
