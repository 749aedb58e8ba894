"""`MinDiffLoss`: the base class of MinDiff losses, with the input checks every loss shares."""

import abc
import re
import sys
import warnings

import numpy as np
import keras
from keras import ops

from keras_remediation.common.config_equality import EqualByConfig
from keras_remediation.common.tensor_utils import compute_dtype
from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.common.tensor_utils import static_batch_size
from keras_remediation.common.validation import check_choice
from keras_remediation.common.validation import check_finite_values
from keras_remediation.common.validation import check_numeric
from keras_remediation.common.validation import check_sample_weight_values
from keras_remediation.min_diff.losses.kernels import check_bool
from keras_remediation.min_diff.losses.kernels import get_kernel
from keras_remediation.min_diff.losses.summary_utils import write_loss_summaries

ARGUMENT_ORDER = "loss(membership, predictions, sample_weight=None)"

EMPTY_GROUP_CHOICES = ("reference", "zero")

_JAX_FLOAT64_NOTE = (
    " (under JAX without `jax_enable_x64`, float64 inputs are silently converted to float32 "
    "first: a float64 value beyond the float32 range becomes infinite)"
)


def validate_transform(transform, arg_name):
    """Raises ValueError if `transform` is neither None nor callable."""
    if transform is not None and not callable(transform):
        raise ValueError(
            f"`{arg_name}` must be callable or None (it should be a callable instance, e.g. a "
            "function applied to a tensor); received "
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


def _in_tf_graph():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.executing_eagerly()


def _graph_membership_assertion(membership):
    """In a TensorFlow graph, adds a runtime check of membership values (cheap, no host sync)."""
    if not _in_tf_graph():
        return
    import tensorflow as tf

    valid = tf.reduce_all(tf.logical_or(tf.equal(membership, 0), tf.equal(membership, 1)))
    tf.debugging.Assert(
        valid,
        [
            "`membership` must contain only 0.0 and 1.0; MinDiff losses are called as "
            f"`{ARGUMENT_ORDER}`: check that membership and predictions are not swapped."
        ],
    )


def _graph_value_assertions(predictions, weights):
    """In a TensorFlow graph, adds runtime checks that `predictions` are finite and `weights`
    (None or a tensor) finite and non-negative (cheap reductions, no host sync)."""
    if not _in_tf_graph():
        return
    import tensorflow as tf

    tf.debugging.Assert(
        tf.reduce_all(tf.math.is_finite(predictions)),
        ["`predictions` must be finite; received NaN or infinite values."],
    )
    if weights is not None:
        tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(weights)),
            ["`sample_weight` must be finite; received NaN or infinite values."],
        )
        tf.debugging.Assert(
            tf.reduce_all(tf.greater_equal(weights, 0)),
            ["`sample_weight` must be non-negative; received negative values."],
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


class MinDiffLoss(EqualByConfig, abc.ABC):
    """Base class of MinDiff losses: a scalar penalty on the difference between two groups.

    A loss is called as `loss(membership, predictions, sample_weight=None)`, the order of
    TF Model Remediation:
        membership: `[batch]` or `[batch, 1]` tensor or array, any numeric dtype, 1.0 for
            examples of the sensitive group and 0.0 for the others.
        predictions: `[batch]` or `[batch, D]` float16/32/64 tensor of model outputs on the
            same examples (higher ranks are flattened to `[batch, D]`), all finite.
        sample_weight: optional non-negative finite `[batch]`, `[batch, 1]` or scalar
            weights. Weights are normalised to sum to 1.

    It returns a scalar tensor, float32 (float64 if the predictions are float64).

    Dtypes: float16 and bfloat16 predictions are computed in float32, float64 in float64.
    Under JAX without `jax_enable_x64` (JAX's default) float64 inputs are silently float32:
    JAX converts them when they become arrays, before the loss sees them, so the loss is
    computed and returned in float32 (and a float64 value beyond the float32 range arrives as
    infinite, which the finiteness check below then reports). Enable `jax_enable_x64` for
    float64 losses on JAX.

    A batch that lacks a group (no row of it, or only zero weights) has no difference to
    penalise. `empty_group` chooses its loss: `'reference'` (default) keeps TF Model
    Remediation's value, which for the MMD losses is the kernel spread of the group that is
    present (e.g. MMD ≈ 0.58, adjusted MMD ≈ 5 on a batch of probabilities) with a gradient
    that pulls that group's predictions together; `'zero'` returns 0 with a zero gradient.
    All-zero weights give 0 either way, and so does `AbsoluteCorrelationLoss` for any batch
    that lacks a group.

    Raises (on call, from `_preprocess_inputs`, which every built-in loss's `call` uses):
        TypeError: if an input is not a number, tensor, array or nested list of a bool,
            integer or float dtype (e.g. strings, dicts, complex numbers).
        ValueError: if `membership` holds values other than 0 and 1 (the typical sign of
            swapped arguments); if `predictions` (after `predictions_transform`) hold NaN or
            infinite values; if a shape is not one of the above; if the batch sizes of the
            three inputs differ; if `sample_weight` is negative or not finite. Values are
            checked whenever they are known (eager TensorFlow, JAX outside `jit`, PyTorch
            outside `torch.compile`). Inside a compiled step values are not known: on
            TensorFlow graph assertions raise `tf.errors.InvalidArgumentError` (naming the
            argument) for bad membership values, non-finite predictions and non-finite or
            negative weights (XLA-compiled functions, `jit_compile=True`, drop these
            assertions); under JAX's `jit` (and `torch.compile`) no value check can raise:
            rows whose membership is neither 0 nor 1 belong to neither group, negative weights
            are not detected, and NaN or infinite predictions give a NaN loss (never a finite
            one, whatever the kernel and `empty_group`). Validate data beforehand (the
            `min_diff.keras.utils` packers check every batch).

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

    Args (positional in this order, as in TF Model Remediation):
        membership_transform: optional callable applied to `membership` by
            `_preprocess_inputs`. Default None.
        predictions_transform: optional callable applied to `predictions` by
            `_preprocess_inputs`, e.g. `keras.ops.sigmoid` to compare probabilities rather
            than logits. Default None.
        membership_kernel: optional kernel, a name (`'gaussian'`, `'laplacian'`, …; see
            `get_kernel`) or a `MinDiffKernel`, applied to membership by `_apply_kernels`.
            Default None.
        predictions_kernel: optional kernel, as `membership_kernel`, applied to predictions by
            `_apply_kernels`. Default None.
        name: string used for logging and as the prefix of the summaries; defaults to the
            class name in snake case (TF Model Remediation's rule: `MyHTTPLoss` →
            `'my_http_loss'`, and a leading underscore gives a `'private'` prefix).
        enable_summary_histogram: bool or None (default). Whether each call also writes
            histograms of the predictions (see "Summaries"). None means True on the
            TensorFlow backend (TF Model Remediation's default) and False on JAX and PyTorch,
            which have no `tf.summary` writer; True on those backends warns at construction
            (UserWarning naming the backend) and writes nothing. The attribute
            `enable_summary_histogram` holds the resolved bool.
        empty_group: keyword-only, `'reference'` (default) or `'zero'`: the loss of a batch
            that lacks a group (see above). An addition to TF Model Remediation's arguments;
            built-in losses apply it, a custom `call` applies it with
            `self._apply_empty_group(value, membership, normed_weights)`.

    Raises (on construction):
        TypeError: if a kernel is neither a string nor a `MinDiffKernel`, `name` is neither a
            string nor None, `enable_summary_histogram` is neither a bool nor None, or
            `empty_group` is not a string.
        ValueError: if a transform is not callable (TF Model Remediation raises ValueError
            here too), a kernel name is unknown, or `empty_group` is neither `'reference'` nor
            `'zero'`.

    Summaries (TensorFlow backend): whenever a default `tf.summary` writer is set, each call
    writes TF Model Remediation's scalar summaries (example counts, average prediction, loss)
    and, if `enable_summary_histogram`, three histograms of the predictions, under
    `<name>_inputs/`; see `summary_utils`. Without a writer nothing is written and nothing is
    added to a traced graph. Inside an XLA-compiled function (`jit_compile=True`), which
    cannot run summary ops, they are skipped with a UserWarning. On JAX and PyTorch no
    summaries are written.

    Serialization: `get_config()` holds `name`, `empty_group` unless it is `'reference'`,
    and every other argument that is not None
    (transforms and kernels serialised with `keras.saving.serialize_keras_object`), so
    `from_config(get_config())` rebuilds an equal loss, also for a subclass whose
    constructor takes fewer arguments (as long as those it lacks are None).
    """

    def __init__(
        self,
        membership_transform=None,
        predictions_transform=None,
        membership_kernel=None,
        predictions_kernel=None,
        name=None,
        enable_summary_histogram=None,
        *,
        empty_group="reference",
    ):
        self.empty_group = check_choice(empty_group, "empty_group", EMPTY_GROUP_CHOICES)
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"`name` must be a string or None; received {name!r} of type "
                f"{type(name).__name__}."
            )
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
        self._enable_summary_histogram = (
            None
            if enable_summary_histogram is None
            else check_bool(enable_summary_histogram, "enable_summary_histogram")
        )
        backend = keras.backend.backend()
        if self._enable_summary_histogram is None:
            self.enable_summary_histogram = backend == "tensorflow"
        elif self._enable_summary_histogram and backend != "tensorflow":
            warnings.warn(
                f"`enable_summary_histogram=True` has no effect on the {backend} backend: "
                "MinDiff loss summaries are written with `tf.summary`, on the TensorFlow "
                "backend only. Leave it unset or pass False to silence this warning.",
                UserWarning,
                stacklevel=_stacklevel_outside(self),
            )
            self.enable_summary_histogram = False
        else:
            self.enable_summary_histogram = self._enable_summary_histogram

    def __call__(self, membership, predictions, sample_weight=None):
        """Returns the scalar loss of `membership`, `predictions` and optional `sample_weight`.

        The inputs are handed unchanged to `self.call(membership, predictions, sample_weight)`
        (`sample_weight` may be None), as in TF Model Remediation; `call` preprocesses them
        with `_preprocess_inputs`. On TensorFlow, with a default `tf.summary` writer, the
        summaries of the class docstring are then written. Shapes and errors: see the class
        docstring.
        """
        value = self.call(membership, predictions, sample_weight)
        if keras.backend.backend() == "tensorflow":
            write_loss_summaries(self, membership, predictions, sample_weight, value)
        return value

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
        hint = f" MinDiff losses are called as `{ARGUMENT_ORDER}`."
        check_numeric(membership, "membership", hint)
        check_numeric(predictions, "predictions", hint)
        if sample_weight is not None:
            check_numeric(sample_weight, "sample_weight", hint)
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
        check_finite_values(
            predictions,
            "predictions",
            " MinDiff losses check their predictions wherever the values are known" + (
                _JAX_FLOAT64_NOTE if keras.backend.backend() == "jax" else ""
            ) + ".",
        )

        if sample_weight is None:
            weights = ops.ones_like(membership)
            _graph_value_assertions(predictions, None)
        else:
            check_sample_weight_values(sample_weight)
            weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
            _graph_value_assertions(predictions, weights)
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

    def _apply_empty_group(self, value, membership, normed_weights):
        """Applies `empty_group` to a loss `value` computed from `_preprocess_inputs`' outputs.

        With `empty_group='zero'`, returns `value` when both groups have positive weight, else
        `0 · value`: 0 with a zero gradient when the batch lacks a group (or gives it zero
        weight), and NaN if the value is NaN (an absent group never hides a NaN). With
        `'reference'`, returns `value` unchanged. A custom `call` applies it last.
        """
        if self.empty_group == "reference":
            return value
        in_sensitive = ops.cast(ops.equal(membership, 1), normed_weights.dtype)
        in_nonsensitive = ops.cast(ops.equal(membership, 0), normed_weights.dtype)
        both = ops.logical_and(
            ops.greater(ops.sum(normed_weights * in_sensitive), 0),
            ops.greater(ops.sum(normed_weights * in_nonsensitive), 0),
        )
        # Not `value * cast(both)`: XLA rewrites that product as a select, which drops a NaN.
        return ops.where(both, value, value * ops.zeros_like(value))

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
        """Returns `name` and every other constructor argument that is not None.

        Keys: `name`, and when set `membership_transform`, `predictions_transform`,
        `membership_kernel`, `predictions_kernel` (serialised with
        `keras.saving.serialize_keras_object`) and `enable_summary_histogram` (as given; None,
        the backend's default, is left out so a config moves between backends). JSON-ready
        when the transforms are serialisable (Keras functions, registered functions; lambdas
        need `safe_mode=False` to load). A subclass with other arguments extends this.
        """
        config = {"name": self.name}
        for key in ("membership_transform", "predictions_transform", "membership_kernel",
                    "predictions_kernel"):
            value = getattr(self, key)
            if value is not None:
                config[key] = keras.saving.serialize_keras_object(value)
        if self._enable_summary_histogram is not None:
            config["enable_summary_histogram"] = self._enable_summary_histogram
        if self.empty_group != "reference":
            config["empty_group"] = self.empty_group
        return config

    @classmethod
    def from_config(cls, config):
        """Builds a loss from `get_config()`: deserialises transforms and kernels, then
        `cls(**config)`. Kernels may also be given as names."""
        config = dict(config)
        for key, value in config.items():
            if value is None or callable(value):
                continue
            if key.endswith("_transform") or (
                key in _KERNEL_KEYS and not isinstance(value, str)
            ):
                config[key] = keras.saving.deserialize_keras_object(value)
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


_KERNEL_KEYS = ("kernel", "membership_kernel", "predictions_kernel")


def _stacklevel_outside(obj):
    """`stacklevel` for a warning raised in `obj`'s constructor that points at the line that
    built `obj` (past the chain of subclass `__init__` frames)."""
    level = 1
    frame = sys._getframe(1)
    while frame is not None and frame.f_locals.get("self") is obj:
        level += 1
        frame = frame.f_back
    return level


def _snake_case(name):
    """Default loss name: the class name in snake case, by TF Model Remediation's rule.

    `MMDLoss` → `mmd_loss`, `MyHTTPLoss` → `my_http_loss`, `Loss2D` → `loss2d`; a name that
    would start with `_` gets the prefix `private` (`_CustomLoss` → `private__custom_loss`),
    TensorFlow name scopes not accepting a leading underscore.
    """
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
    return "private" + snake if snake.startswith("_") else snake
