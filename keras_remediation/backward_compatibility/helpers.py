"""`bc_fit`: a custom training loop that updates h2 with a backward-compatibility loss object.

The seed's `bc_fit(h2, training_set, testing_set, epochs, bc_loss, optimizer)`, on every Keras
backend. Each step runs h1 once (inference) and h2 once through `h2.stateless_call`, and takes
the gradient with the backend's own autodiff (`jax.value_and_grad` in a jitted step,
`tf.GradientTape` in a `tf.function`, `torch.autograd.grad`).
"""

import numbers

import numpy as np
import keras
from keras import ops

from keras_remediation.backward_compatibility.losses import BCLoss
from keras_remediation.backward_compatibility.losses import h1_correct_mask


def _has_training_arg(model):
    return getattr(model, "_call_has_training_arg", True)


def _stateless_forward(model, trainable, non_trainable, x, training):
    kwargs = {"training": training} if _has_training_arg(model) else {}
    return model.stateless_call(trainable, non_trainable, x, return_losses=True, **kwargs)


def _sum_losses(total, losses):
    for loss in losses or ():
        total = total + ops.cast(ops.sum(loss), total.dtype)
    return total


def _forward_and_loss(h2, bc_loss, trainable, non_trainable, x, y, sample_weight, h1_output):
    """(total loss, (dissonance, new non-trainable values)) of one batch: one h2 forward pass."""
    h2_output, non_trainable, losses = _stateless_forward(
        h2, trainable, non_trainable, x, training=True
    )
    total, dissonance = bc_loss.loss_and_dissonance(y, h2_output, h1_output, sample_weight)
    return _sum_losses(total, losses), (dissonance, non_trainable)


def _h1_output(h1, x):
    if isinstance(h1, keras.Model):
        kwargs = {"training": False} if _has_training_arg(h1) else {}
        return ops.stop_gradient(h1(x, **kwargs))
    return ops.stop_gradient(h1(x))


def _evaluate_batch(h2, bc_loss, x, y, sample_weight):
    h1_output = _h1_output(bc_loss.h1, x)
    kwargs = {"training": False} if _has_training_arg(h2) else {}
    h2_output = h2(x, **kwargs)
    total, dissonance = bc_loss.loss_and_dissonance(y, h2_output, h1_output, sample_weight)
    total = _sum_losses(total, h2.losses)
    binary = True if bc_loss.kind == "binary_crossentropy" else None
    correct = h1_correct_mask(y, h2_output, binary=binary, from_logits=bc_loss.from_logits)
    return total, dissonance, ops.mean(correct)


class _Trainer:
    """Per-backend train and evaluation steps; state lives in the Keras variables between
    epochs (JAX carries it through its jitted steps within an epoch)."""

    def __init__(self, h2, bc_loss, optimizer):
        self.h2 = h2
        self.bc_loss = bc_loss
        self.optimizer = optimizer
        self.backend = keras.backend.backend()
        if self.backend == "jax":
            self._build_jax()
        elif self.backend == "tensorflow":
            import tensorflow as tf

            self._step = tf.function(self._stateful_step, reduce_retracing=True)
            self._evaluate = tf.function(self._evaluate_fn, reduce_retracing=True)
        elif self.backend == "torch":
            self._step = self._stateful_step
            self._evaluate = self._evaluate_fn
        else:
            raise NotImplementedError(
                f"bc_fit supports the tensorflow, jax and torch backends; the Keras backend is "
                f"{self.backend!r}."
            )

    # TensorFlow and PyTorch: gradients of the stateless forward pass, stateful update.

    def _gradients(self, trainable, non_trainable, x, y, sample_weight, h1_output):
        h2, bc_loss = self.h2, self.bc_loss
        if self.backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(trainable)
                loss, aux = _forward_and_loss(
                    h2, bc_loss, trainable, non_trainable, x, y, sample_weight, h1_output
                )
            return loss, aux, tape.gradient(loss, trainable)
        import torch

        loss, aux = _forward_and_loss(
            h2, bc_loss, trainable, non_trainable, x, y, sample_weight, h1_output
        )
        grads = torch.autograd.grad(loss, trainable, allow_unused=True) if trainable else []
        grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, trainable)]
        return loss.detach(), (aux[0].detach(), [v.detach() for v in aux[1]]), grads

    def _stateful_step(self, x, y, sample_weight):
        h2 = self.h2
        h1_output = self._h1_no_grad(x)
        trainable = [v.value for v in h2.trainable_variables]
        non_trainable = [v.value for v in h2.non_trainable_variables]
        loss, (dissonance, new_non_trainable), grads = self._gradients(
            trainable, non_trainable, x, y, sample_weight, h1_output
        )
        self._apply(grads)
        for variable, value in zip(h2.non_trainable_variables, new_non_trainable):
            variable.assign(value)
        return loss, dissonance

    def _apply(self, grads):
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                self.optimizer.apply(grads, self.h2.trainable_variables)
        else:
            self.optimizer.apply(grads, self.h2.trainable_variables)

    def _h1_no_grad(self, x):
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                return _h1_output(self.bc_loss.h1, x)
        return _h1_output(self.bc_loss.h1, x)

    def _evaluate_fn(self, x, y, sample_weight):
        if self.backend == "torch":
            import torch

            with torch.no_grad():
                return _evaluate_batch(self.h2, self.bc_loss, x, y, sample_weight)
        return _evaluate_batch(self.h2, self.bc_loss, x, y, sample_weight)

    # JAX: everything stateless and jitted.

    def _build_jax(self):
        import jax

        h2, bc_loss, optimizer = self.h2, self.bc_loss, self.optimizer
        h1 = bc_loss.h1
        h1_stateless = isinstance(h1, keras.Layer)

        def h1_forward(h1_state, x):
            if not h1_stateless:
                return ops.stop_gradient(h1(x))
            kwargs = {"training": False} if _has_training_arg(h1) else {}
            output, _ = h1.stateless_call(h1_state[0], h1_state[1], x, **kwargs)
            return ops.stop_gradient(output)

        def loss_fn(trainable, non_trainable, x, y, sample_weight, h1_output):
            return _forward_and_loss(
                h2, bc_loss, trainable, non_trainable, x, y, sample_weight, h1_output
            )

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def step(state, h1_state, x, y, sample_weight):
            trainable, non_trainable, optimizer_variables = state
            h1_output = h1_forward(h1_state, x)
            (loss, (dissonance, non_trainable)), grads = grad_fn(
                trainable, non_trainable, x, y, sample_weight, h1_output
            )
            trainable, optimizer_variables = optimizer.stateless_apply(
                optimizer_variables, grads, trainable
            )
            return (trainable, non_trainable, optimizer_variables), loss, dissonance

        def evaluate(state, h1_state, x, y, sample_weight):
            trainable, non_trainable = state
            h1_output = h1_forward(h1_state, x)
            h2_output, _, losses = _stateless_forward(
                h2, trainable, non_trainable, x, training=False
            )
            total, dissonance = bc_loss.loss_and_dissonance(
                y, h2_output, h1_output, sample_weight
            )
            binary = True if bc_loss.kind == "binary_crossentropy" else None
            correct = h1_correct_mask(y, h2_output, binary=binary, from_logits=bc_loss.from_logits)
            return _sum_losses(total, losses), dissonance, ops.mean(correct)

        self._jax_step = jax.jit(step)
        self._jax_evaluate = jax.jit(evaluate)
        self._h1_stateless = h1_stateless

    def _h1_state(self):
        h1 = self.bc_loss.h1
        if not self._h1_stateless:
            return None
        return (
            [v.value for v in h1.trainable_variables],
            [v.value for v in h1.non_trainable_variables],
        )

    # Epoch-level API.

    def run_epoch(self, batches, progbar):
        """Trains on every batch; returns the example-weighted mean loss and dissonance."""
        totals = np.zeros(2)
        count = 0
        if self.backend == "jax":
            h2 = self.h2
            state = (
                [v.value for v in h2.trainable_variables],
                [v.value for v in h2.non_trainable_variables],
                [v.value for v in self.optimizer.variables],
            )
            h1_state = self._h1_state()
        try:
            for step, (x, y, sample_weight) in enumerate(batches, start=1):
                if self.backend == "jax":
                    state, loss, dissonance = self._jax_step(state, h1_state, x, y, sample_weight)
                else:
                    loss, dissonance = self._step(x, y, sample_weight)
                values = np.array([float(loss), float(dissonance)])
                rows = _rows(x)
                totals += values * rows
                count += rows
                progbar.update(step, values=[("loss", values[0]), ("dissonance", values[1])])
            if progbar.target is None and count:
                progbar.update(step, finalize=True)
        finally:
            if self.backend == "jax":
                self._write_back(state)
        if count == 0:
            raise ValueError("`training_set` produced no batches.")
        return totals / count

    def _write_back(self, state):
        trainable, non_trainable, optimizer_variables = state
        for variable, value in zip(self.h2.trainable_variables, trainable):
            variable.assign(value)
        for variable, value in zip(self.h2.non_trainable_variables, non_trainable):
            variable.assign(value)
        for variable, value in zip(self.optimizer.variables, optimizer_variables):
            variable.assign(value)

    def evaluate(self, batches):
        """Example-weighted mean loss, dissonance and accuracy of h2 over `batches`."""
        totals = np.zeros(3)
        count = 0
        if self.backend == "jax":
            state = (
                [v.value for v in self.h2.trainable_variables],
                [v.value for v in self.h2.non_trainable_variables],
            )
            h1_state = self._h1_state()
        for x, y, sample_weight in batches:
            if self.backend == "jax":
                results = self._jax_evaluate(state, h1_state, x, y, sample_weight)
            else:
                results = self._evaluate(x, y, sample_weight)
            rows = _rows(x)
            totals += np.array([float(r) for r in results]) * rows
            count += rows
        if count == 0:
            raise ValueError("`testing_set` produced no batches.")
        return totals / count


def _rows(x):
    return int(keras.tree.flatten(x)[0].shape[0])


def _native(leaf):
    """`leaf` as a tensor of the current backend (tf.data and DataLoader batches included)."""
    if leaf is None:
        return None
    library = type(leaf).__module__.split(".")[0]
    backend = keras.backend.backend()
    if library == "torch" and backend != "torch":
        leaf = leaf.detach().cpu().numpy()
    elif library == "tensorflow" and backend != "tensorflow":
        leaf = leaf.numpy()
    return ops.convert_to_tensor(leaf)


def _is_array_tuple(data):
    return (
        isinstance(data, tuple)
        and len(data) in (2, 3)
        and all(item is None or isinstance(item, np.ndarray) for item in data)
    )


def _batches(data, batch_size, arg_name):
    """Yields `(x, y, sample_weight)` batches of backend tensors from `data`."""
    if _is_array_tuple(data):
        arrays = tuple(data) if len(data) == 3 else (data[0], data[1], None)
        rows = [len(a) for a in arrays if a is not None]
        if len(set(rows)) != 1:
            raise ValueError(
                f"`{arg_name}`: x, y (and sample_weight) must have the same number of rows; "
                f"received {rows}."
            )
        batches = (
            tuple(None if a is None else a[start : start + batch_size] for a in arrays)
            for start in range(0, rows[0], batch_size)
        )
    elif isinstance(data, keras.utils.PyDataset):
        batches = (data[i] for i in range(len(data)))
    else:
        batches = iter(data)
    for batch in batches:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                f"`{arg_name}` must yield batches `(x, y)` or `(x, y, sample_weight)`; received "
                f"a {type(batch).__name__}."
            )
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(tuple(batch))
        yield (
            keras.tree.map_structure(_native, x),
            _native(y),
            None if sample_weight is None else _native(sample_weight),
        )
    if isinstance(data, keras.utils.PyDataset):
        data.on_epoch_end()


def _steps(data, batch_size):
    if _is_array_tuple(data):
        return -(-len(data[0]) // batch_size)
    try:
        steps = len(data)
    except TypeError:
        return None
    return steps if steps >= 0 else None


def bc_fit(
    h2,
    training_set=None,
    testing_set=None,
    epochs=None,
    bc_loss=None,
    optimizer=None,
    *,
    batch_size=32,
    verbose=1,
):
    """Trains `h2` with a backward-compatibility loss object, in a custom loop with a progress bar.

    Example::

        h1.trainable = False  # (h1 is only run in inference mode anyway)
        h2 = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(128, activation="relu"),
                               keras.layers.Dense(10, activation="softmax")])
        bc_loss = BCCrossEntropyLoss(h1, h2, lambda_c=0.9)
        history = bc_fit(h2, training_set=ds_train, testing_set=ds_test, epochs=6,
                         bc_loss=bc_loss, optimizer=keras.optimizers.Adam(0.001))

    Each step runs h1 once in inference mode (no gradient) and h2 once in training mode through
    `h2.stateless_call`, computes `bc_loss.loss_and_dissonance` plus h2's regularisation
    losses, takes the gradient with the backend's autodiff and applies `optimizer`.

    Args:
        h2: the `keras.Model` to train (built: call it once or give it an `Input`). Must be the
            `h2` that `bc_loss` was constructed with.
        training_set: batches `(x, y)` or `(x, y, sample_weight)`: a `tf.data.Dataset`, a
            `keras.utils.PyDataset`, a torch `DataLoader`, any re-iterable of batches (iterated
            once per epoch), or a tuple of NumPy arrays `(x, y[, sample_weight])` cut into
            batches of `batch_size` rows in order (no shuffling). Required.
        testing_set: optional data in the same forms, evaluated after every epoch.
        epochs: number of passes over `training_set`, a positive integer. Required.
        bc_loss: a `losses.BCLoss` instance (e.g. `BCCrossEntropyLoss(h1, h2, lambda_c)`).
            Required.
        optimizer: a `keras.optimizers.Optimizer`. Default None: `keras.optimizers.Adam(1e-3)`.
            It is built on `h2.trainable_variables` if it is not built yet.
        batch_size: rows per batch for NumPy tuples. Default 32.
        verbose: 1 (default) shows a `keras.utils.Progbar` per epoch; 0 is silent.

    Returns:
        A dict of per-epoch lists (the seed returned nothing; h2's weights are updated in
        place): `loss` and `dissonance` (example-weighted means over the epoch's batches), and
        with a `testing_set` `val_loss`, `val_dissonance` and `val_accuracy` (h2's accuracy).

    Raises:
        ValueError: if `training_set`, `epochs` or `bc_loss` is missing or invalid; if
            `bc_loss.h2` is not `h2`; if a batch is not `(x, y[, sample_weight])`; if a data set
            produces no batches.
        TypeError: if `h2` is not a `keras.Model`, `bc_loss` not a `BCLoss` or `optimizer` not
            a Keras optimizer.
        NotImplementedError: on a backend other than tensorflow, jax or torch.
    """
    if not isinstance(h2, keras.Model):
        raise TypeError(f"`h2` must be a keras.Model; received {type(h2).__name__}.")
    if training_set is None:
        raise ValueError("`training_set` is required: batches (x, y) or (x, y, sample_weight).")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer; received {epochs!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")
    if bc_loss is None:
        raise ValueError(
            "`bc_loss` is required: e.g. `BCCrossEntropyLoss(h1, h2, lambda_c)`."
        )
    if not isinstance(bc_loss, BCLoss):
        raise TypeError(
            f"`bc_loss` must be a backward-compatibility loss (a `BCLoss`, e.g. "
            f"BCCrossEntropyLoss(h1, h2, lambda_c)); received {type(bc_loss).__name__}."
        )
    if bc_loss.h2 is not h2:
        raise ValueError(
            "`bc_loss` was constructed with another h2 than the model passed to bc_fit; "
            "construct it with this h2: `BCCrossEntropyLoss(h1, h2, lambda_c)`."
        )
    if not h2.built:
        raise ValueError(
            "`h2` must be built before bc_fit: give it a `keras.Input` or call it once on a "
            "batch."
        )
    if optimizer is None:
        optimizer = keras.optimizers.Adam(1e-3)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"`optimizer` must be a keras.optimizers.Optimizer; received "
            f"{type(optimizer).__name__}."
        )
    if not optimizer.built:
        optimizer.build(h2.trainable_variables)

    trainer = _Trainer(h2, bc_loss, optimizer)
    history = {"loss": [], "dissonance": []}
    if testing_set is not None:
        history.update(val_loss=[], val_dissonance=[], val_accuracy=[])
    for epoch in range(epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        progbar = keras.utils.Progbar(_steps(training_set, batch_size), verbose=1 if verbose else 0)
        loss, dissonance = trainer.run_epoch(
            _batches(training_set, batch_size, "training_set"), progbar
        )
        history["loss"].append(float(loss))
        history["dissonance"].append(float(dissonance))
        if testing_set is not None:
            val = trainer.evaluate(_batches(testing_set, batch_size, "testing_set"))
            history["val_loss"].append(float(val[0]))
            history["val_dissonance"].append(float(val[1]))
            history["val_accuracy"].append(float(val[2]))
            if verbose:
                print(
                    f"val_loss: {val[0]:.4f} - val_dissonance: {val[1]:.4f} - "
                    f"val_accuracy: {val[2]:.4f}"
                )
    return history


__all__ = ["bc_fit"]
