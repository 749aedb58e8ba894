"""`bc_fit`: trains h2 with a backward-compatibility loss object, on the BC model's `fit`.

The seed's `bc_fit(h2, training_set, testing_set, epochs, bc_loss, optimizer)`, on every Keras
backend. It wraps h2 in a `BCNewErrorCompatibilityModel` whose compiled loss is the loss
object's base loss and whose dissonance is the loss object's own (`bc_loss.dissonance`), and
trains it with Keras's `fit`: the training step, its compilation (`jax.jit`, `tf.function`),
the progress bar and the validation are Keras's, as for the models.
"""


import numpy as np
import keras

from keras_remediation.backward_compatibility.losses import BCLoss
from keras_remediation.backward_compatibility.losses import check_labels
from keras_remediation.backward_compatibility.losses import h1_correct_mask
from keras_remediation.backward_compatibility.losses import static_output_shape
from keras_remediation.backward_compatibility.models import BCNewErrorCompatibilityModel
from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.validation import check_positive_int
from keras_remediation.common.validation import check_sample_weight_values

#: The per-epoch lists `bc_fit` returns (the `val_` ones with a `testing_set`).
HISTORY_KEYS = ("loss", "dissonance")
VALIDATION_KEYS = ("val_loss", "val_dissonance", "val_accuracy")


class _BaseLoss(keras.losses.Loss):
    """A loss object's base loss as a Keras loss: per-example values, Keras's mean reduction."""

    def __init__(self, bc_loss):
        super().__init__(name=f"{type(bc_loss).__name__}_base_loss")
        self._bc_loss = bc_loss

    def call(self, y_true, y_pred):
        return self._bc_loss.per_example(y_true, y_pred)


class _CallableH1(keras.Model):
    """A plain callable h1 (a loss object accepts one) as the frozen model the wrapper needs."""

    def __init__(self, fn):
        super().__init__(name="h1")
        self._fn = fn

    def call(self, inputs, training=False):
        try:
            return self._fn(inputs, training=False)
        except TypeError:
            return self._fn(inputs)


class _LossObjectModel(BCNewErrorCompatibilityModel):
    """The BC model `bc_fit` trains: `bc_loss`'s base loss, dissonance, h1 and λ_c.

    Compiling it leaves h2 uncompiled (the seed's `bc_fit` did not compile h2).
    """

    def __init__(self, bc_loss):
        h1 = bc_loss.h1 if isinstance(bc_loss.h1, keras.Model) else _CallableH1(bc_loss.h1)
        super().__init__(bc_loss.h2, h1=h1, lambda_c=bc_loss.lambda_c, name="bc_fit_model")
        self._bc_loss = bc_loss

    def compile(self, *args, **kwargs):
        keras.Model.compile(self, *args, **kwargs)

    def dissonance(self, h2_output, target_labels, loss=None, h1_output=None,
                   sample_weight=None):
        return self._bc_loss.dissonance(h2_output, target_labels, h1_output, sample_weight)

    def _check_labelled_data(self, y, sample_weight, y_name="y", weight_name="sample_weight"):
        check_sample_weight_values(sample_weight, weight_name)
        if y is None:
            return
        shape = static_output_shape(self._original_model)
        bc_loss = self._bc_loss
        check_labels(
            y, shape[-1] if shape else None, binary=_is_binary(bc_loss),
            sparse=bc_loss._sparse(), arg_name=y_name,
        )


def _is_binary(bc_loss):
    return True if bc_loss.kind == "binary_crossentropy" else None


def _accuracy_metric(bc_loss):
    """h2's accuracy as `h1_correct_mask` defines being right (argmax, or 0.5 / 0 thresholds)."""
    binary, from_logits, sparse = _is_binary(bc_loss), bc_loss.from_logits, bc_loss._sparse()

    def accuracy(y_true, y_pred):
        return h1_correct_mask(y_true, y_pred, binary=binary, from_logits=from_logits,
                               sparse=sparse)

    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")


# Data ------------------------------------------------------------------------------------------


def _is_array_tuple(data):
    return (
        isinstance(data, tuple)
        and len(data) in (2, 3)
        and all(item is None or isinstance(item, np.ndarray) for item in data)
    )


def _is_keras_data(data):
    """Data sets that `keras.Model.fit` takes as they are (tf.data, PyDataset, DataLoader)."""
    if isinstance(data, keras.utils.PyDataset):
        return True
    module = type(data).__module__
    if module.startswith("tensorflow"):
        import tensorflow as tf

        return isinstance(data, tf.data.Dataset)
    if module.startswith("torch"):
        import torch

        return isinstance(data, torch.utils.data.DataLoader)
    return False


def _rows(value):
    leaves = [leaf for leaf in keras.tree.flatten(value) if hasattr(leaf, "shape")]
    return int(leaves[0].shape[0]) if leaves and len(leaves[0].shape) else None


def _host(leaf):
    """A batch leaf as NumPy when its values are known (tf/torch/JAX tensors, lists)."""
    value = concrete_value(leaf) if not isinstance(leaf, (str, bytes)) else None
    return leaf if value is None else value


class _Batches(keras.utils.PyDataset):
    """A Python sequence of `(x, y[, sample_weight])` batches as a `PyDataset`, each checked.

    An iterable without a length is read once; its batches are reused every epoch.
    """

    def __init__(self, data, arg_name, check):
        super().__init__()
        if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
            data = list(data)
        self._data = data
        self._arg_name = arg_name
        self._check = check
        if len(data) == 0:
            raise ValueError(f"`{arg_name}` produced no batches.")
        self[0]  # Structure errors before training starts.

    def __len__(self):
        return len(self._data)

    def __getitem__(self, index):
        batch = self._data[index]
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                f"`{self._arg_name}` must yield batches `(x, y)` or `(x, y, sample_weight)`; "
                f"received a {type(batch).__name__}."
            )
        batch = tuple(keras.tree.map_structure(_host, item) for item in batch)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        _check_rows(self._arg_name, x, y, sample_weight)
        self._check(y, sample_weight)
        return batch


def _check_rows(arg_name, x, y, sample_weight):
    rows = [_rows(part) for part in (x, y, sample_weight) if part is not None]
    rows = [r for r in rows if r is not None]
    if len(set(rows)) > 1:
        raise ValueError(
            f"`{arg_name}`: x, y (and sample_weight) must have the same number of rows; "
            f"received {rows}."
        )


def _fit_arguments(data, batch_size, arg_name, check):
    """`(x, y, sample_weight)` for `fit`/`validation_data` from any accepted form of data."""
    if _is_array_tuple(data):
        x, y, sample_weight = data if len(data) == 3 else (*data, None)
        _check_rows(arg_name, x, y, sample_weight)
        if len(x) == 0:
            raise ValueError(f"`{arg_name}` produced no batches.")
        check(y, sample_weight)
        return x, y, sample_weight
    if _is_keras_data(data):
        return data, None, None
    if isinstance(data, (str, bytes, np.ndarray)) or not hasattr(data, "__iter__"):
        raise ValueError(
            f"`{arg_name}` must yield batches `(x, y)` or `(x, y, sample_weight)`, or be a tuple "
            f"of NumPy arrays; received a {type(data).__name__}."
        )
    return _Batches(data, arg_name, check), None, None


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
    """Trains `h2` with a backward-compatibility loss object (the seed's `bc_fit`).

    Example::

        h1.trainable = False  # (h1 is only run in inference mode anyway)
        h2 = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(128, activation="relu"),
                               keras.layers.Dense(10, activation="softmax")])
        bc_loss = BCCrossEntropyLoss(h1, h2, lambda_c=0.9)
        history = bc_fit(h2, training_set=ds_train, testing_set=ds_test, epochs=6,
                         bc_loss=bc_loss, optimizer=keras.optimizers.Adam(0.001))

    h2 is wrapped in a `BCNewErrorCompatibilityModel` (h1 = `bc_loss.h1`, λ_c =
    `bc_loss.lambda_c`) whose compiled loss is `bc_loss`'s base loss and whose dissonance is
    `bc_loss.dissonance`, and trained with that model's `fit`: each step runs h1 once in
    inference mode (no gradient) and h2 once in training mode, and minimises
    `bc_loss.loss_and_dissonance` plus h2's regularisation losses. h2 is not compiled (its own
    compile state is left as it was); h1's layers are frozen (`trainable = False`), as the
    models do.

    Args:
        h2: the `keras.Model` to train (built: call it once or give it an `Input`). Must be the
            `h2` that `bc_loss` was constructed with.
        training_set: batches `(x, y)` or `(x, y, sample_weight)`: a `tf.data.Dataset`, a
            `keras.utils.PyDataset`, a torch `DataLoader`, a sequence of batches (a list, say;
            an iterable without a length is read once and its batches reused every epoch), or
            a tuple of NumPy arrays `(x, y[, sample_weight])` cut into batches of `batch_size`
            rows in order (no shuffling). Required.
        testing_set: optional data in the same forms, evaluated after every epoch.
        epochs: number of passes over `training_set`, a positive integer. Required.
        bc_loss: a `losses.BCLoss` instance (e.g. `BCCrossEntropyLoss(h1, h2, lambda_c)`).
            Required.
        optimizer: a `keras.optimizers.Optimizer`. Default None: `keras.optimizers.Adam(1e-3)`.
        batch_size: rows per batch for NumPy tuples. Default 32.
        verbose: 1 (default) shows Keras's progress bar per epoch; 0 is silent.

    Returns:
        A dict of per-epoch lists (the seed returned nothing; h2's weights are updated in
        place): `loss` (the example-weighted mean total loss over the epoch's batches) and
        `dissonance` (the mean of the batches' dissonances), and with a `testing_set`
        `val_loss`, `val_dissonance` and `val_accuracy` (h2's accuracy).

    Raises:
        ValueError: if `training_set`, `epochs` or `bc_loss` is missing or invalid; if
            `bc_loss.h2` is not `h2`; if a batch is not `(x, y[, sample_weight])`, or its parts
            have different numbers of rows; if a data set produces no batches; if labels whose
            values are known (arrays, batches of a sequence) do not fit h2's outputs (class
            indices outside `[0, classes)`, binary or one-hot labels outside [0, 1], NaN); if
            `sample_weight` is negative or not finite.
        TypeError: if `h2` is not a `keras.Model`, `bc_loss` not a `BCLoss` or `optimizer` not
            a Keras optimizer.
    """
    if not isinstance(h2, keras.Model):
        raise TypeError(f"`h2` must be a keras.Model; received {type(h2).__name__}.")
    if training_set is None:
        raise ValueError("`training_set` is required: batches (x, y) or (x, y, sample_weight).")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
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

    model = _LossObjectModel(bc_loss)
    x, y, sample_weight = _fit_arguments(
        training_set, batch_size, "training_set", model._check_labelled_data
    )
    validation_data = None
    if testing_set is not None:
        validation_data = _fit_arguments(
            testing_set, batch_size, "testing_set", model._check_labelled_data
        )
        if validation_data[1] is None:
            validation_data = validation_data[0]
        elif validation_data[2] is None:
            validation_data = validation_data[:2]
    model.compile(optimizer=optimizer, loss=_BaseLoss(bc_loss), metrics=[_accuracy_metric(bc_loss)])
    history = model.fit(
        x, y, sample_weight=sample_weight, batch_size=batch_size if y is not None else None,
        epochs=epochs, shuffle=False, validation_data=validation_data,
        verbose=1 if verbose else 0,
    ).history
    keys = HISTORY_KEYS + (VALIDATION_KEYS if testing_set is not None else ())
    return {key: [float(value) for value in history[key]] for key in keys}


__all__ = ["bc_fit"]
