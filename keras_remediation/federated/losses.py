"""Checking `from_keras_model`'s `loss` and `loss_weights` against the model's outputs.

As in TFF's `from_keras_model`: one loss for a single-output model (or for every output), or a
list (one loss per output, in order) or a dict (one per output name) for a multi-output model;
the minimised loss is the sum of the per-output losses, each multiplied by its entry in
`loss_weights`. The checked values are handed to `keras.Model.compile`, which computes that sum.
"""

import numbers

import keras


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


def _is_single_loss(loss):
    return isinstance(loss, (str, keras.losses.Loss)) or callable(loss)


def check_loss(loss, output_count, output_names):
    """Raises if `loss` does not fit the outputs (see `from_keras_model`).

    Raises:
        TypeError: if `loss` is None or neither a loss, a list nor a dict.
        KeyError: if `loss` is a dict whose keys are not exactly the output names.
        ValueError: if `loss` is a list whose length is not the number of outputs.
    """
    if loss is None:
        raise TypeError("`loss` is required: a Keras loss, or a list or dict of them.")
    if isinstance(loss, dict):
        if output_names is None:
            raise KeyError(
                "`loss` is a dict but the model's outputs have no names (a dict-output or "
                "Functional model has them); give a list of losses instead."
            )
        if set(loss) != set(output_names):
            raise KeyError(
                f"The keys of the `loss` dict, {sorted(map(str, loss))}, must be the model's "
                f"output names, {sorted(output_names)}."
            )
        for key, value in loss.items():
            if not _is_single_loss(value):
                raise TypeError(f"`loss[{key!r}]` must be a Keras loss; received {value!r}.")
        return
    if isinstance(loss, (list, tuple)):
        if len(loss) != output_count:
            raise ValueError(
                f"`loss` is a list of {len(loss)} losses but the model has {output_count} "
                "output(s); give one loss per output."
            )
        for i, value in enumerate(loss):
            if not _is_single_loss(value):
                raise TypeError(f"`loss[{i}]` must be a Keras loss; received {value!r}.")
        return
    if not _is_single_loss(loss):
        raise TypeError(
            f"`loss` must be a Keras loss (a `keras.losses.Loss`, a loss function or its name), "
            f"or a list or dict of them; received {loss!r}."
        )


def _number(value, label):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{label}` must be a Python number; received {value!r}.")
    return float(value)


def normalize_loss_weights(loss_weights, loss, output_count, output_names):
    """`loss_weights` checked against `loss`, in the form `keras.Model.compile` takes.

    A single loss takes a number (or a one-element list or dict); a list of losses a list of
    numbers of the same length; a dict of losses a dict of numbers whose keys are output names
    (missing outputs weigh 1.0).

    Raises:
        TypeError: for a weight that is not a number, or a structure that does not fit `loss`.
        ValueError: for a list of the wrong length.
        KeyError: for dict keys that are not output names.
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
            raise KeyError(
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
                raise KeyError(
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
            raise KeyError(f"`loss_weights` key {key!r} is not an output name ({output_names}).")
        return _number(value, f"loss_weights[{key!r}]")
    if isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != 1:
            raise ValueError("A single `loss` takes a single weight in `loss_weights`.")
        return _number(loss_weights[0], "loss_weights[0]")
    return _number(loss_weights, "loss_weights")
