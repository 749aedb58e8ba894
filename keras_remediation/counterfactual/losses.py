"""Pairwise losses for counterfactual logit pairing (CLP).

A counterfactual loss compares a model's outputs on examples with its outputs on their
counterfactuals (the same examples with a sensitive attribute changed) and is small when the two
agree. Called as `loss(original, counterfactual, sample_weight=None)`:

    original:       `[batch, D]` or `[batch]` float tensor or array, outputs on the originals.
    counterfactual: the outputs on the counterfactuals, of exactly the same shape.
    sample_weight:  optional non-negative `[batch]` or `[batch, 1]` weights (one per pair).

With a per-pair loss l_i, the result is the weighted mean over the batch

    L = Σ_i w_i · l_i / Σ_i w_i      (w_i = 1 without weights; 0 when all w_i are 0, never NaN)

a scalar tensor, float32 (float64 if an input is float64; half precision is computed in
float32). A `[batch]` input is treated as `[batch, 1]`. The per-pair losses, with o_i and c_i
the i-th rows:

    PairwiseMSELoss:                l_i = (1/D) Σ_d (o_id − c_id)²
    PairwiseAbsoluteDifferenceLoss: l_i = (1/D) Σ_d |o_id − c_id|
    PairwiseCosineLoss:             l_i = 1 − ⟨o_i, c_i⟩ / (‖o_i‖_s · ‖c_i‖_s),
                                    ‖x‖_s = sqrt(max(Σ_d x_d², 1e-12))

The safe norm ‖·‖_s keeps the value and its gradient finite for an all-zero row (whose cosine
similarity is then 0, so l_i = 1). For D = 1 the cosine only sees signs; prefer MSE there.

Errors (on call): ValueError if `original` and `counterfactual` shapes differ (the message names
both shapes), if an input is a scalar or not of rank 1 or 2, if `sample_weight` is not `[batch]`,
`[batch, 1]` or a scalar, or its batch size differs, or its values are negative or not finite.
Weight values are checked when they are known (eager TensorFlow, JAX outside `jit`, PyTorch);
inside a compiled step they are not: `pack_counterfactual_data` checks them beforehand.

Sources: counterfactual fairness, Kusner et al., "Counterfactual Fairness", NeurIPS 2017;
counterfactual logit pairing, Garg et al., "Counterfactual Fairness in Text Classification
through Robustness", AIES 2019; the loss set (`PairwiseMSELoss`,
`PairwiseAbsoluteDifferenceLoss`, `PairwiseCosineLoss`) follows TF Model Remediation's
`counterfactual.losses`. Difference from the reference: the batch reduction divides by the sum
of the weights (a weighted mean), not by the batch size, so weights rescale pairs relative to
each other but not the loss as a whole.
"""

import abc
import re

import keras
from keras import ops

from keras_remediation.common.names import resolve_name
from keras_remediation.common.tensor_utils import check_sample_weight_values
from keras_remediation.common.tensor_utils import compute_dtype
from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.common.tensor_utils import static_batch_size

ARGUMENT_ORDER = "loss(original, counterfactual, sample_weight=None)"
_PACKAGE = "keras_remediation"
_NORM_EPSILON = 1e-12

__all__ = [
    "CounterfactualLoss",
    "PairwiseAbsoluteDifferenceLoss",
    "PairwiseCosineLoss",
    "PairwiseMSELoss",
    "get",
]


def _as_matrix(x, arg_name, dtype):
    x = ops.cast(ops.convert_to_tensor(x), dtype)
    rank = len(x.shape)
    if rank == 1:
        return ops.expand_dims(x, -1)
    if rank == 2:
        return x
    raise ValueError(
        f"`{arg_name}` must have shape [batch_size] or [batch_size, D]; received shape "
        f"{tuple(x.shape)}. Counterfactual losses are called as `{ARGUMENT_ORDER}`."
    )


def _shape(x):
    shape = getattr(x, "shape", None)
    return () if shape is None else tuple(None if d is None else int(d) for d in shape)


class CounterfactualLoss(abc.ABC):
    """Base class of counterfactual losses (see the module docstring for the call contract).

    Subclasses implement `per_example(original, counterfactual)`: given two `[batch, D]`
    tensors in the compute dtype, return `[batch]` losses. The base class validates shapes and
    weights and takes the weighted mean.

    Args:
        name: name used in logs and configs; defaults to the class name in snake case
            (`PairwiseMSELoss` -> `"pairwise_mse_loss"`).
    """

    def __init__(self, name=None):
        self.name = name or _snake_case(type(self).__name__)

    def __call__(self, original, counterfactual, sample_weight=None):
        if original is None or counterfactual is None:
            raise ValueError(
                f"`original` and `counterfactual` are required; the loss is called as "
                f"`{ARGUMENT_ORDER}`."
            )
        if not hasattr(original, "shape"):
            original = ops.convert_to_tensor(original)
        if not hasattr(counterfactual, "shape"):
            counterfactual = ops.convert_to_tensor(counterfactual)
        shape_o, shape_c = _shape(original), _shape(counterfactual)
        if len(shape_o) != len(shape_c) or any(
            a is not None and b is not None and a != b for a, b in zip(shape_o, shape_c)
        ):
            raise ValueError(
                f"`original` and `counterfactual` must have the same shape; received shapes "
                f"{shape_o} and {shape_c}."
            )
        dtype = compute_dtype(original, counterfactual)
        original = _as_matrix(original, "original", dtype)
        counterfactual = _as_matrix(counterfactual, "counterfactual", dtype)
        per_example = self.per_example(original, counterfactual)  # [batch]
        if sample_weight is None:
            return ops.mean(per_example)
        check_sample_weight_values(sample_weight)
        weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
        rank = len(weights.shape)
        if rank == 0:
            weights = weights * ops.ones_like(per_example)
        elif rank == 1 or (rank == 2 and weights.shape[1] == 1):
            weights = ops.reshape(weights, (-1,))
            size_w, size_p = static_batch_size(weights), static_batch_size(original)
            if size_w is not None and size_p is not None and size_w != size_p:
                raise ValueError(
                    f"`sample_weight` must have the batch size of `original`; received shapes "
                    f"{_shape(sample_weight)} and {shape_o}."
                )
        else:
            raise ValueError(
                f"`sample_weight` must have shape [batch_size] or [batch_size, 1]; received "
                f"shape {tuple(weights.shape)}."
            )
        return safe_divide(ops.sum(weights * per_example), ops.sum(weights))

    @abc.abstractmethod
    def per_example(self, original, counterfactual):
        """Per-pair losses `[batch]` of two `[batch, D]` tensors."""

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PairwiseMSELoss(CounterfactualLoss):
    """Mean squared difference of each pair: l_i = (1/D) Σ_d (o_id − c_id)², weighted mean over i.

    Name: `"pairwise_mse_loss"` (or `"pairwise_mse"`). See the module docstring for shapes,
    weights and errors.
    """

    def per_example(self, original, counterfactual):
        return ops.mean(ops.square(original - counterfactual), axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PairwiseAbsoluteDifferenceLoss(CounterfactualLoss):
    """Mean absolute difference of each pair: l_i = (1/D) Σ_d |o_id − c_id|, weighted mean over i.

    Name: `"pairwise_absolute_difference_loss"` (or without `_loss`). See the module docstring.
    """

    def per_example(self, original, counterfactual):
        return ops.mean(ops.abs(original - counterfactual), axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PairwiseCosineLoss(CounterfactualLoss):
    """One minus the cosine similarity of each pair, weighted mean over i.

    l_i = 1 − ⟨o_i, c_i⟩ / (‖o_i‖_s · ‖c_i‖_s) with the safe norm ‖x‖_s = sqrt(max(‖x‖², 1e-12)),
    so l_i ∈ [0, 2], 0 for pairs pointing the same way, and finite (with finite gradients) for
    all-zero rows. Name: `"pairwise_cosine_loss"` (or `"pairwise_cosine"`).
    """

    def per_example(self, original, counterfactual):
        def safe_norm(x):
            return ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1), _NORM_EPSILON))

        dot = ops.sum(original * counterfactual, axis=-1)
        return 1.0 - dot / (safe_norm(original) * safe_norm(counterfactual))


_LOSSES = {
    "pairwise_mse": PairwiseMSELoss,
    "pairwise_absolute_difference": PairwiseAbsoluteDifferenceLoss,
    "pairwise_cosine": PairwiseCosineLoss,
}


def get(loss, arg_name="loss"):
    """Returns a `CounterfactualLoss` for a name, instance or serialized config.

    Args:
        loss: a `CounterfactualLoss` instance; a name, case-insensitive, with or without the
            `_loss` suffix: `"pairwise_mse_loss"`, `"pairwise_absolute_difference_loss"`,
            `"pairwise_cosine_loss"`; or a dict from `keras.saving.serialize_keras_object`.
        arg_name: the argument's name, used in error messages.

    Raises:
        ValueError: for an unknown name or a value of another type.
    """
    if isinstance(loss, dict):
        loss = keras.saving.deserialize_keras_object(loss)
    return resolve_name(
        loss, _LOSSES, CounterfactualLoss, suffix="_loss", kind="counterfactual loss",
        arg_name=arg_name,
    )


def _snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
