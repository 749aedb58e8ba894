"""`CounterfactualLoss`: the base class of the pairwise losses of counterfactual logit pairing.

A counterfactual loss compares a model's outputs on examples (`original`) with its outputs on
their counterfactuals (`counterfactual`, the same examples with a sensitive attribute changed)
and is small when the two agree. Called as `loss(original, counterfactual, sample_weight=None)`
(TF Model Remediation's contract):

    original:       `[batch, d0, .., dN]` outputs on the originals (any float or int dtype;
                    a `tf.SparseTensor` is densified).
    counterfactual: the outputs on the counterfactuals, of the same shape.
    sample_weight:  optional scalar, `[batch]` or `[batch, 1]` (one weight per pair).

A subclass implements `call(original, counterfactual)`, returning the per-example losses (the
last axis reduced, e.g. `[batch]` for `[batch, D]` inputs). The base class reduces them:

    default (`batch_reduction="sum_over_batch_size"`, TF Model Remediation's and Keras's):
        L = Σ_i w_i · l_i / B        B = `global_batch_size` if set, else the batch size;
                                     an empty batch gives 0, never NaN.
        A scalar weight 2.3 scales the loss by 2.3.
    `batch_reduction="weighted_mean"` (keras-remediation's earlier default, kept as an option):
        L = Σ_i w_i · l_i / Σ_i w_i  (0 when all weights are 0), so weights rescale pairs
        relative to each other but not the loss as a whole.

If `call` returns a scalar (a rank-1 input reduces to one value), the loss is that value,
times the sum of `sample_weight` when weights are given (TF Model Remediation's rule).

Errors (on call): TypeError if an input is not numeric (strings, dicts, objects; "`original`
must have a bool, integer or float dtype; received …"); ValueError if an input is None
("Argument `original` must not be None."), a ragged list, or the shapes differ ("Incompatible
shape [3, 2] vs [1, 2]"), if `sample_weight` is not a scalar, `[batch]` or `[batch, 1]`, if
`original` or `counterfactual` has NaN or infinite values ("`original` must be finite; …"),
or `sample_weight` negative or non-finite ones, or if finite outputs overflow the loss (e.g.
an MSE of values near 1e38 in float32). Values are checked when they are known (NumPy,
eager TensorFlow, JAX outside `jit`, PyTorch outside `torch.compile`); in a TensorFlow graph
the same checks run as assertions (`tf.errors.InvalidArgumentError` naming the argument);
inside a JAX `jit` they cannot run, and NaN or infinite outputs give a NaN loss (never a
finite one).

On the TensorFlow backend, `tf.RaggedTensor` inputs go through the TensorFlow ops as they are
(the built-in losses then average each row over its own length, as TF Model Remediation's).
Differences from TF Model Remediation: the loss does not write a `tf.summary` scalar; negative
weights raise.
"""

import abc
import re

import keras
import numpy as np
from keras import ops

from keras_remediation.common.tensor_utils import all_finite_now
from keras_remediation.common.tensor_utils import compute_dtype
from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.common.validation import assert_in_graph
from keras_remediation.common.validation import check_choice
from keras_remediation.common.validation import check_finite_values
from keras_remediation.common.validation import check_numeric
from keras_remediation.common.validation import check_positive_int
from keras_remediation.common.validation import check_sample_weight_values

__all__ = ["CounterfactualLoss"]

ARGUMENT_ORDER = "loss(original, counterfactual, sample_weight=None)"
BATCH_REDUCTIONS = ("sum_over_batch_size", "weighted_mean")
_FINITE_HINT = (
    " Counterfactual losses check the model's outputs wherever their values are known (a NaN "
    "usually comes from NaN features or diverged weights)."
)


def _shape(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return []
    return [None if d is None else int(d) for d in shape]


def _to_dense(x):
    """Densifies a `tf.SparseTensor` (TensorFlow only); other values are returned as they are."""
    if type(x).__name__ == "SparseTensor":
        import tensorflow as tf

        return tf.sparse.to_dense(x)
    return x


class CounterfactualLoss(keras.losses.Loss, abc.ABC):
    """Base class of counterfactual losses (a `keras.losses.Loss` with reduction `"none"`).

    Subclasses implement `call(original, counterfactual)` returning per-example losses; see the
    module docstring for the reduction and the errors.

    Args:
        name: name used in logs and configs; defaults to the class name in snake case
            (`PairwiseMSELoss` -> `"pairwise_mse_loss"`; a private class `_MyLoss` ->
            `"private__my_loss"`).
        global_batch_size: the divisor of the default reduction instead of the batch size,
            e.g. the global batch size when training replicas each reduce their part.
        batch_reduction: `"sum_over_batch_size"` (default, Σ w·l / batch size) or
            `"weighted_mean"` (Σ w·l / Σ w).

    Raises:
        TypeError: if `global_batch_size` is not None or an int, or `batch_reduction` not a
            string.
        ValueError: if `global_batch_size` is ≤ 0, or `batch_reduction` another string.
    """

    def __init__(self, name=None, global_batch_size=None, batch_reduction="sum_over_batch_size"):
        check_choice(batch_reduction, "batch_reduction", BATCH_REDUCTIONS)
        check_positive_int(global_batch_size, "global_batch_size", allow_none=True)
        name = name or _to_snake_case(type(self).__name__)
        super().__init__(name=name, reduction="none")
        self.name = name
        self.global_batch_size = global_batch_size
        self.batch_reduction = batch_reduction

    def __call__(self, original, counterfactual, sample_weight=None):
        if original is None:
            raise ValueError(f"Argument `original` must not be None. Call as `{ARGUMENT_ORDER}`.")
        if counterfactual is None:
            raise ValueError(
                f"Argument `counterfactual` must not be None. Call as `{ARGUMENT_ORDER}`."
            )
        hint = f" Counterfactual losses are called as `{ARGUMENT_ORDER}`."
        check_numeric(original, "original", hint)
        check_numeric(counterfactual, "counterfactual", hint)
        if sample_weight is not None:
            check_numeric(sample_weight, "sample_weight", hint)
        original, counterfactual = _to_dense(original), _to_dense(counterfactual)
        if not hasattr(original, "shape"):
            original = ops.convert_to_tensor(original)
        if not hasattr(counterfactual, "shape"):
            counterfactual = ops.convert_to_tensor(counterfactual)
        shape_o, shape_c = _shape(original), _shape(counterfactual)
        if len(shape_o) != len(shape_c) or any(
            a is not None and b is not None and a != b for a, b in zip(shape_o, shape_c)
        ):
            raise ValueError(
                f"Incompatible shape {shape_o} vs {shape_c}|Dimensions must be equal: "
                "`original` and `counterfactual` must have the same shape."
            )
        if len(shape_o) == 0:
            raise ValueError(
                "`original` and `counterfactual` must have a batch dimension; received scalars."
            )
        batch_size = shape_o[0]
        if sample_weight is not None:
            sample_weight = _to_dense(sample_weight)
            shape_w = _shape(sample_weight) if hasattr(sample_weight, "shape") else list(
                ops.shape(ops.convert_to_tensor(sample_weight))
            )
            if shape_w not in ([None], [], [batch_size], [batch_size, 1], [None, 1]):
                raise ValueError(
                    f"Incompatible `sample_weight` shape {shape_w}. Must be scalar or 1D tensor "
                    f"of shape [batch_size] i.e, [{batch_size}] (or [batch_size, 1]); received "
                    f"shape {shape_w}."
                )
            check_sample_weight_values(sample_weight)
        dtype = compute_dtype(original, counterfactual)
        original = ops.cast(ops.convert_to_tensor(original), dtype)
        counterfactual = ops.cast(ops.convert_to_tensor(counterfactual), dtype)
        for value, arg_name in ((original, "original"), (counterfactual, "counterfactual")):
            check_finite_values(value, arg_name, _FINITE_HINT)
            assert_in_graph(value, arg_name)
        if sample_weight is not None:
            assert_in_graph(ops.convert_to_tensor(sample_weight), "sample_weight", True)
        self._check_inputs(original, counterfactual)
        per_example = ops.cast(ops.convert_to_tensor(self.call(original, counterfactual)), dtype)
        if batch_size == 0:
            # An empty batch gives 0, never NaN (and a compiled TensorFlow step never runs the
            # weighted reduction on it: its CPU kernels can crash on empty weights).
            return ops.sum(original) * 0
        _check_no_overflow(per_example, original, counterfactual, dtype)
        value = self._reduce(per_example, sample_weight, dtype)
        _check_no_overflow(value, original, counterfactual, dtype, sample_weight)
        return value

    def _reduce(self, per_example, sample_weight, dtype):
        """The loss from the per-example losses and the weights (see the module docstring)."""
        rank = len(per_example.shape)
        if rank == 0:
            if sample_weight is None:
                return per_example
            return ops.sum(per_example * ops.cast(ops.convert_to_tensor(sample_weight), dtype))
        if sample_weight is None:
            weighted = per_example
            weights = None
        else:
            weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
            if len(weights.shape) == 0:
                weights = weights * ops.ones((ops.shape(per_example)[0],), dtype=dtype)
            weights = ops.reshape(weights, (-1,) + (1,) * (rank - 1))
            weighted = per_example * weights
        total = ops.sum(weighted)
        if self.batch_reduction == "weighted_mean":
            if weights is None:
                denominator = ops.cast(ops.size(per_example), dtype)
            else:
                denominator = ops.sum(weights * ops.ones_like(per_example))
            # All weights 0: 0, or NaN if a loss is NaN/inf (0 · NaN), never hiding it.
            return ops.where(ops.equal(denominator, 0), total * 0, safe_divide(total, denominator))
        if self.global_batch_size is not None:
            denominator = ops.cast(self.global_batch_size, dtype)
        else:
            denominator = ops.cast(ops.shape(per_example)[0], dtype)
        return safe_divide(total, denominator)

    def _check_inputs(self, original, counterfactual):
        """Hook for subclasses: checks of the dense inputs (e.g. a warning). Default: none."""

    @abc.abstractmethod
    def call(self, original, counterfactual):
        """Per-example losses of `original` and `counterfactual` (the last axis reduced).

        Like `keras.losses.Loss.call`, not called directly: `loss(...)` calls it, with dense
        tensors of the same shape and float dtype, and reduces its result.
        """
        raise NotImplementedError("Must be implemented in subclass.")

    def get_config(self):
        """`{"name": ...}`, plus `global_batch_size` and `batch_reduction` when not default."""
        config = {"name": self.name}
        if self.global_batch_size is not None:
            config["global_batch_size"] = self.global_batch_size
        if self.batch_reduction != "sum_over_batch_size":
            config["batch_reduction"] = self.batch_reduction
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _check_no_overflow(value, original, counterfactual, dtype, sample_weight=None):
    """Raises ValueError if `value` (per-example losses or the loss), known now, is NaN or
    infinite although the (already checked) inputs are finite: they overflow `dtype`."""
    if all_finite_now(value) is not False:
        return
    inputs = (original, counterfactual) + (() if sample_weight is None else (sample_weight,))
    largest = max(
        float(np.max(np.abs(np.asarray(concrete_value(x), np.float64)), initial=0.0))
        for x in inputs
    )
    names = "`original`, `counterfactual` and `sample_weight`" if sample_weight is not None else (
        "`original` and `counterfactual`"
    )
    raise ValueError(
        f"{names} must be small enough for the loss to be finite in {dtype}; received values "
        f"up to {largest:.3g}, which overflow it. Scale the outputs (e.g. pair logits or "
        "probabilities) or the weights, or compute in float64."
    )


def _to_snake_case(name):
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
    return "private" + snake if snake.startswith("_") else snake
