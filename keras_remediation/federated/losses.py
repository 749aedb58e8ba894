"""Checking `from_keras_model`'s `loss` and `loss_weights` against the model's outputs.

As in TFF's `from_keras_model`: a list (one loss per output, in order) or a dict (one per
output name) for a multi-output model; the minimised loss is the sum of the per-output losses,
each multiplied by its entry in `loss_weights`. Lists and dicts are handed to
`keras.Model.compile`, which computes that sum.

A single loss object or function on a multi-output model receives the whole structures, as in
TFF: `loss(y_true, y_pred)` with all the labels and all the predictions, nested as the labels
and the model's outputs (Keras 3's `compile` would apply it to each output separately and sum).
`install_whole_structure_loss` sets this up. A loss given by name (`"mse"`, not in TFF's
contract) keeps Keras's per-output meaning.

Errors follow TFF's tests: a loss dict, or a `loss_weights` dict, naming outputs the model does
not have raises `OutputNamesError`, which is both a KeyError (TFF's documented contract) and a
TypeError (what TFF's tests expect).
"""

import keras
from keras import ops

from keras_remediation.common import keras_internals
from keras_remediation.common.validation import check_loss_weight


def output_structure(outputs, model):
    """`(count, names)` of a model's outputs from one output value.

    `names` is the list of output names (dict keys for a dict output, `model.output_names`
    for a Functional model), or None when the outputs are not named.
    """
    if isinstance(outputs, dict):
        return len(outputs), sorted(outputs)
    if isinstance(outputs, (list, tuple)):
        count = len(outputs)
    else:
        count = 1
    names = getattr(model, "output_names", None)
    if names is not None and len(names) == count:
        return count, list(names)
    return count, None


class OutputNamesError(KeyError, TypeError):
    """A loss or `loss_weights` dict whose keys are not the model's output names.

    Both a KeyError (TFF's documented contract for a loss dict) and a TypeError (what TFF's
    tests expect), so code written against either catches it.
    """

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _is_single_loss(loss):
    return isinstance(loss, (str, keras.losses.Loss)) or callable(loss)


def check_loss(loss, output_count, output_names):
    """Raises if `loss` does not fit the outputs (see `from_keras_model`).

    Raises:
        TypeError: if `loss` is None or neither a loss, a list nor a dict.
        ValueError: if a loss name is not a Keras loss's.
        OutputNamesError (KeyError and TypeError): if `loss` is a dict whose keys are not
            exactly the output names.
        ValueError: if `loss` is a list whose length is not the number of outputs.
    """
    if loss is None:
        raise TypeError("`loss` is required: a Keras loss, or a list or dict of them.")
    if isinstance(loss, dict):
        if output_names is None:
            raise OutputNamesError(
                "`loss` is a dict but the model's outputs have no names (a dict-output or "
                "Functional model has them); give a list of losses instead."
            )
        if set(loss) != set(output_names):
            raise OutputNamesError(
                f"The keys of the `loss` dict, {sorted(map(str, loss))}, must be the model's "
                f"output names, {sorted(output_names)}."
            )
        for key, value in loss.items():
            _check_single_loss(value, f"loss[{key!r}]")
        return
    if isinstance(loss, (list, tuple)):
        if len(loss) != output_count:
            raise ValueError(
                f"`loss` is a list of {len(loss)} losses but the model has {output_count} "
                "output(s); give one loss per output."
            )
        for i, value in enumerate(loss):
            _check_single_loss(value, f"loss[{i}]")
        return
    _check_single_loss(loss, "loss", " or a list or dict of them")


def _check_single_loss(loss, label, alternatives=""):
    expected = (
        f"`{label}` must be a Keras loss (a `keras.losses.Loss`, a loss function or its "
        f"name){alternatives}"
    )
    if not _is_single_loss(loss):
        raise TypeError(f"{expected}; received {loss!r} of type {type(loss).__name__}.")
    if isinstance(loss, str):
        try:
            keras.losses.get(loss)
        except ValueError:
            raise ValueError(
                f"{expected}; received {loss!r}, which is not a Keras loss name."
            ) from None


def _number(value, label):
    return check_loss_weight(value, label, "the weight of a loss")


def normalize_loss_weights(loss_weights, loss, output_count, output_names):
    """`loss_weights` checked against `loss`, in the form `keras.Model.compile` takes.

    A single loss takes a number (or a one-element list or dict); a list of losses a list of
    numbers of the same length; a dict of losses a dict of numbers whose keys are output names
    (missing outputs weigh 1.0).

    Raises:
        TypeError: for a weight that is not a number, or a structure that does not fit `loss`.
        ValueError: for a list of the wrong length; a weight that is negative, NaN or infinite.
        OutputNamesError (KeyError and TypeError): for dict keys that are not output names.
    """
    if loss_weights is None:
        return None
    if isinstance(loss, dict):
        if not isinstance(loss_weights, dict):
            raise TypeError(
                "`loss` is a dict, so `loss_weights` must be a dict keyed by output name; "
                f"received {type(loss_weights).__name__}."
            )
        unknown = set(loss_weights) - set(loss)
        if unknown:
            raise OutputNamesError(
                f"`loss_weights` has keys {sorted(map(str, unknown))} that are not output names "
                f"({sorted(loss)})."
            )
        return {key: _number(loss_weights.get(key, 1.0), f"loss_weights[{key!r}]") for key in loss}
    if isinstance(loss, (list, tuple)):
        if isinstance(loss_weights, dict):
            if output_names is None:
                raise TypeError(
                    "`loss_weights` is a dict but the model's outputs have no names; give a list."
                )
            unknown = set(loss_weights) - set(output_names)
            if unknown:
                raise OutputNamesError(
                    f"`loss_weights` has keys {sorted(map(str, unknown))} that are not output "
                    f"names ({list(output_names)})."
                )
            loss_weights = [loss_weights.get(name, 1.0) for name in output_names]
        if not isinstance(loss_weights, (list, tuple)):
            raise TypeError(
                "`loss` is a list, so `loss_weights` must be a list (one number per output); "
                f"received {loss_weights!r}."
            )
        if len(loss_weights) != len(loss):
            raise ValueError(
                f"`loss_weights` has {len(loss_weights)} entries but `loss` has {len(loss)}; "
                "give one weight per output."
            )
        return [_number(w, f"loss_weights[{i}]") for i, w in enumerate(loss_weights)]
    # A single loss.
    if isinstance(loss_weights, dict):
        if len(loss_weights) != 1:
            raise ValueError("A single `loss` takes a single weight in `loss_weights`.")
        (key, value), = loss_weights.items()
        if output_names is not None and key not in output_names:
            raise OutputNamesError(f"`loss_weights` key {key!r} is not an output name ({output_names}).")
        return _number(value, f"loss_weights[{key!r}]")
    if isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != 1:
            raise ValueError("A single `loss` takes a single weight in `loss_weights`.")
        return _number(loss_weights[0], "loss_weights[0]")
    return _number(loss_weights, "loss_weights")


def uses_whole_structure(loss, output_count):
    """True if `loss` is one loss object or function for a model with several outputs."""
    return (
        output_count > 1
        and not isinstance(loss, (str, dict, list, tuple))
        and callable(loss)
    )


class WholeStructureLoss(keras.losses.Loss):
    """One loss applied to the whole label and prediction structures (TFF's single loss).

    Stands in for Keras's compiled loss (`CompileLoss`), whose interface it provides (`built`,
    `metrics`, `variables`, `build`). A `keras.losses.Loss` reduces its own result (and
    applies `sample_weight`); a plain function's result is averaged.
    """

    def __init__(self, loss, weight=None):
        super().__init__(name="compile_loss")
        self._loss = loss
        self._weight = 1.0 if weight is None else float(weight)
        self.built = True

    @property
    def metrics(self):
        return []

    @property
    def variables(self):
        return []

    def build(self, y_true, y_pred):
        del y_true, y_pred

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true = keras.tree.map_structure(ops.convert_to_tensor, y_true)
        y_pred = keras.tree.map_structure(ops.convert_to_tensor, y_pred)
        if isinstance(self._loss, keras.losses.Loss):
            value = self._loss(y_true, y_pred, sample_weight=sample_weight)
        else:
            value = ops.mean(self._loss(y_true, y_pred))
        return ops.multiply(ops.cast(value, "float32"), self._weight)

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)


def install_whole_structure_loss(model, loss, weight=None):
    """Replaces the compiled loss of `model` (compiled) by `WholeStructureLoss(loss, weight)`.

    Keras's `compute_loss` then calls it with `(y, y_pred, sample_weight)` (see
    `common.keras_internals.set_compiled_loss`).
    """
    keras_internals.set_compiled_loss(model, WholeStructureLoss(loss, weight))
