"""Resolving counterfactual losses from names, and (de)serialising them with Keras."""

import keras

from keras_remediation.common.names import resolve_name
from keras_remediation.counterfactual.losses.base_loss import CounterfactualLoss
from keras_remediation.counterfactual.losses.pairwise_absolute_difference_loss import (
    PairwiseAbsoluteDifferenceLoss,
)
from keras_remediation.counterfactual.losses.pairwise_cosine_loss import PairwiseCosineLoss
from keras_remediation.counterfactual.losses.pairwise_mse_loss import PairwiseMSELoss

__all__ = ["deserialize_keras_object", "get", "serialize_keras_object"]

_LOSSES = {
    "pairwise_mse": PairwiseMSELoss,
    "pairwise_absolute_difference": PairwiseAbsoluteDifferenceLoss,
    "pairwise_cosine": PairwiseCosineLoss,
}


def serialize_keras_object(obj):
    """`keras.saving.serialize_keras_object` (TF Model Remediation's helper name)."""
    return keras.saving.serialize_keras_object(obj)


def deserialize_keras_object(config, module_objects=None, custom_objects=None,
                             printable_module_name=None):
    """`keras.saving.deserialize_keras_object` (TF Model Remediation's helper signature)."""
    del printable_module_name  # Keras 3 has no such argument.
    return keras.saving.deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects=module_objects
    )


def get(loss, arg_name="loss"):
    """Returns a `CounterfactualLoss` for a name, instance or serialized config (None: None).

    Args:
        loss: a `CounterfactualLoss` instance; a name, case-insensitive, with or without the
            `_loss` suffix: `"pairwise_mse_loss"`, `"pairwise_absolute_difference_loss"`,
            `"pairwise_cosine_loss"`; a dict from `keras.saving.serialize_keras_object`; or
            None.
        arg_name: the argument's name, used in error messages.

    Raises:
        ValueError: for an unknown name ("... must be ... one of the supported values ...").
        TypeError: for a value of another type.
    """
    if loss is None:
        return None
    if isinstance(loss, dict) and "class_name" in loss:
        loss = keras.saving.deserialize_keras_object(loss)
    if isinstance(loss, str):
        try:
            return resolve_name(
                loss, _LOSSES, CounterfactualLoss, suffix="_loss", kind="counterfactual loss",
                arg_name=arg_name,
            )
        except ValueError as error:
            raise ValueError(
                f"If {arg_name} is a string, it must be a (case-insensitive) match for one of "
                f"the supported values {sorted(n + '_loss' for n in _LOSSES)}; given: {loss!r}."
            ) from error
    if isinstance(loss, CounterfactualLoss):
        return loss
    raise TypeError(
        f"{arg_name} must be either of type CounterfactualLoss or string, given: {loss!r} "
        f"(type: {type(loss).__name__})."
    )


# TF Model Remediation's private name, for code that imports it.
_get_loss = get
