"""`MinDiffLoss`: the base class of MinDiff losses, with the input checks every loss shares."""

import abc
import re

import numpy as np
import keras
from keras import ops

from keras_remediation.common.tensor_utils import check_sample_weight_values
from keras_remediation.common.tensor_utils import compute_dtype
from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.common.tensor_utils import static_batch_size
from keras_remediation.min_diff.losses.kernels import get_kernel

ARGUMENT_ORDER = "loss(membership, predictions, sample_weight=None)"


def validate_transform(transform, arg_name):
    """Raises ValueError if `transform` is neither None nor callable."""
    if transform is not None and not callable(transform):
        raise ValueError(
            f"`{arg_name}` must be a callable applied to a tensor, or None; received "
            f"{transform!r} of type {type(transform).__name__}."
        )


def check_membership_values(membership, arg_name="membership"):
    """Raises ValueError if concrete `membership` values are not all 0 or 1.

    Values that are not known yet (inside a compiled step) are not checked here.
    """
    values = concrete_value(membership)
    if values is None:
        return
    values = np.asarray(values)
    bad = ~np.isin(values, (0, 1))
    if np.any(bad):
        examples = np.unique(values[bad])[:5].tolist()
        raise ValueError(
            f"`{arg_name}` must contain only 0.0 (non-sensitive group) and 1.0 (sensitive group); "
            f"received other values, e.g. {examples}. MinDiff losses are called as "
            f"`{ARGUMENT_ORDER}`: check that membership and predictions are not swapped."
        )


def _graph_membership_assertion(membership):
    """In a TensorFlow graph, adds a runtime check of membership values (cheap, no host sync)."""
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.executing_eagerly():
        return
    valid = tf.reduce_all(tf.logical_or(tf.equal(membership, 0), tf.equal(membership, 1)))
    tf.debugging.Assert(
        valid,
        [
            "`membership` must contain only 0.0 and 1.0; MinDiff losses are called as "
            f"`{ARGUMENT_ORDER}`: check that membership and predictions are not swapped."
        ],
    )


def _to_column(x, arg_name, dtype):
    x = ops.cast(ops.convert_to_tensor(x), dtype)
    rank = len(x.shape)
    if rank == 1:
        return ops.expand_dims(x, -1)
    if rank == 2 and x.shape[1] == 1:
        return x
    raise ValueError(
        f"`{arg_name}` must have shape [batch_size] or [batch_size, 1]; received shape "
        f"{tuple(x.shape)}. MinDiff losses are called as `{ARGUMENT_ORDER}`."
    )


def _batch_sizes_agree(a, b):
    size_a, size_b = static_batch_size(a), static_batch_size(b)
    return size_a is None or size_b is None or size_a == size_b


class MinDiffLoss(abc.ABC):
    """Base class of MinDiff losses: a scalar penalty on the difference between two groups.

    A loss is called as `loss(membership, predictions, sample_weight=None)`, the order of
    TF Model Remediation:
        membership: `[batch]` or `[batch, 1]` tensor or array, any numeric dtype, 1.0 for
            examples of the sensitive group and 0.0 for the others.
        predictions: `[batch]` or `[batch, D]` float16/32/64 tensor of model outputs on the
            same examples (higher ranks are flattened to `[batch, D]`).
        sample_weight: optional non-negative `[batch]`, `[batch, 1]` or scalar weights.
            Weights are normalised to sum to 1; all-zero weights give a loss of 0.

    It returns a scalar tensor, float32 (float64 if the predictions are float64).

    Raises (on call):
        ValueError: if `membership` holds values other than 0 and 1 (the typical sign of
            swapped arguments); if a shape is not one of the above; if the batch sizes of the
            three inputs differ; if `sample_weight` is negative or not finite. Values are
            checked whenever they are known (eager TensorFlow and JAX, PyTorch). Inside a
            compiled step values are not known: on TensorFlow a graph assertion raises
            `InvalidArgumentError` for bad membership values; under JAX's `jit` no value check
            runs, rows whose membership is neither 0 nor 1 belong to neither group, and
            negative weights are not detected: validate data beforehand (the
            `min_diff.keras.utils` packers do).

    Writing a loss (as in TF Model Remediation): subclass and implement
    `call(self, membership, predictions, sample_weight=None)`. `loss(...)` hands `call` the
    inputs unchanged, `sample_weight` possibly None; `call` then preprocesses them itself:

        class MeanGapLoss(MinDiffLoss):
            def call(self, membership, predictions, sample_weight=None):
                membership, predictions, weights = self._preprocess_inputs(
                    membership, predictions, sample_weight)
                # Here membership is [batch, 1], predictions [batch, D] and weights [batch, 1]
                # (summing to 1, or all 0), all in the compute dtype; the transforms are
                # applied and the inputs checked. `self._apply_kernels(membership,
                # predictions)` then applies `membership_kernel` / `predictions_kernel`.
                ...
                return scalar_loss

    `_preprocess_inputs` applies `membership_transform` and `predictions_transform`, so a
    `call` that uses it must not apply them again. A `call` that skips it receives neither
    transforms nor the checks listed above.

    Args:
        membership_transform: optional callable applied to `membership` first.
        predictions_transform: optional callable applied to `predictions` first, e.g.
            `keras.ops.sigmoid` to compare probabilities rather than logits.
        membership_kernel: optional kernel (name or `MinDiffKernel`) for subclasses.
        predictions_kernel: optional kernel (name or `MinDiffKernel`) for subclasses.
        name: name used for logging; defaults to the class name in snake case.

    Raises (on construction):
        ValueError: if a transform is not callable or a kernel is unknown.
    """

    def __init__(
        self,
        membership_transform=None,
        predictions_transform=None,
        membership_kernel=None,
        predictions_kernel=None,
        name=None,
    ):
        validate_transform(membership_transform, "membership_transform")
        validate_transform(predictions_transform, "predictions_transform")
        self.membership_transform = membership_transform
        self.predictions_transform = predictions_transform
        self.membership_kernel = (
            None if membership_kernel is None else get_kernel(membership_kernel, "membership_kernel")
        )
        self.predictions_kernel = (
            None
            if predictions_kernel is None
            else get_kernel(predictions_kernel, "predictions_kernel")
        )
        self.name = name or _snake_case(type(self).__name__)

    def __call__(self, membership, predictions, sample_weight=None):
        """Returns the scalar loss of `membership`, `predictions` and optional `sample_weight`.

        The inputs are handed unchanged to `self.call(membership, predictions, sample_weight)`
        (`sample_weight` may be None), as in TF Model Remediation; `call` preprocesses them
        with `_preprocess_inputs`. Shapes and errors: see the class docstring.
        """
        return self.call(membership, predictions, sample_weight)

    def _preprocess_inputs(self, membership, predictions, sample_weight=None):
        """Applies the transforms, validates and reshapes the inputs and normalises the weights.

        The helper every `call` uses first (TF Model Remediation's `_preprocess_inputs`):
            membership: `membership_transform` is applied if set; the values are then checked
                to be 0 or 1 and the result is a `[batch, 1]` tensor in the compute dtype.
            predictions: `predictions_transform` is applied if set; the result is a
                `[batch, D]` tensor (`[batch]` gives D = 1, higher ranks are flattened) in the
                compute dtype: float32, or float64 if the (transformed) predictions are.
            sample_weight: None (equal weights), a scalar, `[batch]` or `[batch, 1]`; checked
                to be non-negative and finite, and normalised to `[batch, 1]` weights summing
                to 1 (all 0 if the weights are all 0).

        Args:
            membership: raw membership, as passed to the loss.
            predictions: raw predictions, as passed to the loss.
            sample_weight: raw weights or None.

        Returns:
            `(membership, predictions, normed_weights)`: `[batch, 1]`, `[batch, D]` and
            `[batch, 1]` tensors of the compute dtype.

        Raises:
            ValueError: as listed in the class docstring ("Raises (on call)").
        """
        if self.membership_transform is not None:
            membership = self.membership_transform(membership)
        if self.predictions_transform is not None:
            predictions = self.predictions_transform(predictions)
        if membership is None or predictions is None:
            raise ValueError(
                f"`membership` and `predictions` are required; the loss is called as "
                f"`{ARGUMENT_ORDER}`."
            )
        predictions = ops.convert_to_tensor(predictions)
        dtype = compute_dtype(predictions)
        predictions = ops.cast(predictions, dtype)
        if len(predictions.shape) == 0:
            raise ValueError(
                f"`predictions` must have shape [batch_size] or [batch_size, D]; received a "
                f"scalar. MinDiff losses are called as `{ARGUMENT_ORDER}`."
            )
        if len(predictions.shape) == 1:
            predictions = ops.expand_dims(predictions, -1)
        elif len(predictions.shape) > 2:
            predictions = ops.reshape(predictions, (ops.shape(predictions)[0], -1))

        check_membership_values(membership)
        membership = _to_column(membership, "membership", dtype)
        if not _batch_sizes_agree(membership, predictions):
            raise ValueError(
                f"`membership` and `predictions` must have the same batch size; received shapes "
                f"{tuple(membership.shape)} and {tuple(predictions.shape)}."
            )
        _graph_membership_assertion(membership)

        if sample_weight is None:
            weights = ops.ones_like(membership)
        else:
            check_sample_weight_values(sample_weight)
            weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
            if len(weights.shape) == 0:
                weights = weights * ops.ones_like(membership)
            else:
                weights = _to_column(weights, "sample_weight", dtype)
                if not _batch_sizes_agree(weights, membership):
                    raise ValueError(
                        f"`sample_weight` must have the batch size of `membership`; received "
                        f"shapes {tuple(weights.shape)} and {tuple(membership.shape)}."
                    )
        normed_weights = safe_divide(weights, ops.sum(weights))
        return membership, predictions, normed_weights

    def _apply_kernels(self, membership, predictions):
        """Applies `membership_kernel` and `predictions_kernel` to the inputs they are set for.

        TF Model Remediation's `_apply_kernels`: returns `(membership_kernel(membership),
        predictions_kernel(predictions))`, each input unchanged when its kernel is None. With
        the `[batch, D]` predictions of `_preprocess_inputs`, a kernel gives the
        `[batch, batch]` matrix of the predictions.
        """
        if self.membership_kernel is not None:
            membership = self.membership_kernel(membership)
        if self.predictions_kernel is not None:
            predictions = self.predictions_kernel(predictions)
        return membership, predictions

    @abc.abstractmethod
    def call(self, membership, predictions, sample_weight=None):
        """Computes the scalar loss from the raw inputs (see the class docstring).

        Receives the arguments of `__call__` unchanged (`sample_weight` may be None) and
        usually starts with `self._preprocess_inputs(membership, predictions, sample_weight)`.
        Call the loss itself, not this method.
        """

    def get_config(self):
        config = {"name": self.name}
        if self.predictions_transform is not None:
            config["predictions_transform"] = keras.saving.serialize_keras_object(
                self.predictions_transform
            )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("predictions_transform") is not None:
            config["predictions_transform"] = keras.saving.deserialize_keras_object(
                config["predictions_transform"]
            )
        if config.get("kernel") is not None and not isinstance(config["kernel"], str):
            config["kernel"] = keras.saving.deserialize_keras_object(config["kernel"])
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _snake_case(name):
    """`MMDLoss` -> `mmd_loss`, `AbsoluteCorrelationLoss` -> `absolute_correlation_loss`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
