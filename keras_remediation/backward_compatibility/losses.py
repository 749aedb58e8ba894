"""Backward-compatibility losses: L(h2) + λ_c · dissonance(h1, h2), on every Keras backend.

A new model h2 replaces a deployed model h1. Users trust h1 on the examples it gets right, so an
update that breaks them hurts even when h2 is more accurate overall. The compatibility loss of
Bansal et al. (AAAI 2019) and Srivastava, Nushi, Kamar, Shah and Horvitz (KDD 2020, "An
Empirical Analysis of Backward Compatibility in Machine Learning Systems") is

    loss = L(y, h2(x)) + λ_c · dissonance(h1, h2),     λ_c ≥ 0 (values above 1 are meaningful),

where S = {i : h1's predicted class for x_i equals y_i} is the set of examples that h1 gets right
and the dissonance is

* new error: the base loss of h2 restricted to S, mean_{i∈S} w_i · ℓ(y_i, h2(x_i)) (new errors,
  that is mistakes on examples h1 got right, cost (1 + λ_c·N/|S|) times as much);
* strict imitation: the KL divergence from h1's predictive distribution to h2's on S,
  mean_{i∈S} w_i · KL(h1(x_i) ‖ h2(x_i)) (equal, up to h1's entropy which does not depend on
  h2, to the cross-entropy of h2 against h1's soft outputs).

Both are 0 on a batch where h1 is wrong everywhere (safe division: no NaN), and the base loss
still trains h2 there. h1's outputs are treated as constants (`stop_gradient`).

Two layers of API:

* plain callables built on `keras.ops` only, usable in any training step: `h1_correct_mask`,
  `per_example_loss`, `new_error_dissonance`, `strict_imitation_dissonance`, `masked_mean`;
* the seed's loss objects, constructed as `BCCrossEntropyLoss(h1, h2, lambda_c)` and called as
  `bc_loss(x, y)`, for `helpers.bc_fit` or a custom loop: new-error `BCCrossEntropyLoss`,
  `BCBinaryCrossEntropyLoss`, `BCNLLLoss`, `BCKLDivLoss` and strict-imitation
  `BCStrictImitationCrossEntropyLoss`, `BCStrictImitationBinaryCrossEntropyLoss`,
  `BCStrictImitationNLLLoss`, `BCStrictImitationKLDivLoss`.

Differences from BackwardCompatibilityML (the anchor): losses are means over the batch (Keras's
default), not sums, so λ_c and learning rates do not depend on the batch size; λ_c is not limited
to [0, 1] but must be ≥ 0; h2 runs once per step (the anchor ran it twice, counting its
regularisation twice); the NLL loss picks one probability per example (the anchor averaged a
B×B matrix); strict imitation imitates h1's outputs (the anchor's compared h2 with the labels).
"""


import numpy as np
import keras
from keras import ops

from keras_remediation.common.tensor_utils import compute_dtype
from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.validation import check_finite_values
from keras_remediation.common.validation import check_loss_weight
from keras_remediation.common.validation import check_numeric
from keras_remediation.common.validation import check_sample_weight_values

#: Names of the base losses understood by `per_example_loss` and the dissonance functions.
LOSS_KINDS = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "nll",
    "kl_divergence",
)

_PACKAGE = "keras_remediation"


# Argument checks ----------------------------------------------------------------------------


def check_lambda_c(lambda_c, arg_name="lambda_c"):
    """Returns `lambda_c` as a float after checking that it is a finite number ≥ 0.

    Raises:
        TypeError: if `lambda_c` is not a real number (booleans and strings included).
        ValueError: if `lambda_c` is negative, NaN or infinite.
    """
    return check_loss_weight(lambda_c, arg_name, "the weight of the dissonance")


def check_kind(kind, arg_name="loss"):
    """Returns `kind` lower-cased if it is one of `LOSS_KINDS`; raises ValueError otherwise."""
    if isinstance(kind, str) and kind.lower() in LOSS_KINDS:
        return kind.lower()
    raise ValueError(f"`{arg_name}` must be one of {LOSS_KINDS}; received {kind!r}.")


def _single_output(output, arg_name):
    if isinstance(output, (dict, list, tuple)):
        raise ValueError(
            f"`{arg_name}` must be a single tensor of shape [batch, classes]; received a "
            f"{type(output).__name__}. Backward-compatibility losses need single-output models."
        )
    return output


def check_same_output_shape(h1_output, h2_output):
    """Raises ValueError if the statically known shapes of h1's and h2's outputs differ.

    Every dimension is compared (the batch size too) where both are known.
    """
    shape1 = _shape(h1_output)
    shape2 = _shape(h2_output)
    if len(shape1) != len(shape2) or any(
        a is not None and b is not None and a != b for a, b in zip(shape1, shape2)
    ):
        raise ValueError(
            "`h1_output` and `h2_output` must have the same shape (h1 and h2 must produce the "
            f"same classes, in the same order, on the same batch); received shapes {shape1} "
            f"and {shape2}."
        )


def _shape(x):
    shape = getattr(x, "shape", None)
    return tuple(np.shape(x) if shape is None else shape)


def check_sample_weight_shape(sample_weight, like, like_name):
    """Raises ValueError unless `sample_weight` is a scalar or has shape `[batch]` or
    `[batch, 1]`, batch the first dimension of `like` (compared where both are known)."""
    shape, like_shape = _shape(sample_weight), _shape(like)
    batch = like_shape[0] if like_shape else None
    if not shape or (
        len(shape) <= 2
        and (len(shape) == 1 or shape[1] in (1, None))
        and (shape[0] is None or batch is None or shape[0] == batch)
    ):
        return
    raise ValueError(
        "`sample_weight` must be a scalar or have shape [batch] or [batch, 1], batch the first "
        f"dimension of `{like_name}`; received shapes {shape} and {like_shape}."
    )


def check_batch(y_true, h2_output, h1_output=None, sample_weight=None, *, label_name="y_true",
                binary=None, sparse=None, labels=False, probabilities=False):
    """Checks a batch given to a backward-compatibility loss before anything is computed.

    Types and static shapes are checked always; values only where they are known now (not
    inside a compiled step, see `common.tensor_utils.concrete_value`).

    Args:
        y_true: the labels; h2_output: h2's outputs `[batch, classes]`; h1_output: h1's
            outputs, same shape, or None (not checked); sample_weight: None, a scalar,
            `[batch]` or `[batch, 1]`.
        label_name: the labels' argument name in messages. Default "y_true".
        binary, sparse: as `h1_correct_mask` (for the label checks).
        labels: whether to check the label values and shape as classification labels
            (`check_labels`). Default False.
        probabilities: whether the outputs must be probabilities: ≥ 0, and for categorical
            outputs each row with a positive sum. Default False.

    Raises:
        TypeError: if an input is not numeric (strings, dicts, None, objects).
        ValueError: for a ragged list, NaN or infinite outputs, a scalar output, batch sizes
            that differ, a weight of another shape, outputs of different shapes, labels that do
            not fit (with `labels`), negative probabilities (with `probabilities`).
    """
    outputs = [("h2_output", h2_output)]
    if h1_output is not None:
        outputs.append(("h1_output", h1_output))
    check_numeric(y_true, label_name)
    for name, output in outputs:
        check_numeric(output, name)
        if not _shape(output):
            raise ValueError(
                f"`{name}` must have shape [batch, classes] (or [batch]); received a scalar."
            )
        check_finite_values(output, name)
    if sample_weight is not None:
        check_numeric(sample_weight, "sample_weight")
        check_sample_weight_shape(sample_weight, h2_output, "h2_output")
    if h1_output is not None:
        check_same_output_shape(h1_output, h2_output)
    label_shape, output_shape = _shape(y_true), _shape(h2_output)
    if label_shape and None not in (label_shape[0], output_shape[0]) and (
        label_shape[0] != output_shape[0]
    ):
        raise ValueError(
            f"`{label_name}` and `h2_output` must have the same batch size (first dimension); "
            f"received shapes {label_shape} and {output_shape}."
        )
    is_binary = len(output_shape) == 1 or (
        binary if binary is not None else output_shape[-1] == 1
    )
    if labels:
        _check_label_shape(label_shape, output_shape, is_binary, label_name)
        check_labels(y_true, output_shape[-1], binary=is_binary, sparse=sparse,
                     arg_name=label_name)
    if probabilities:
        for name, output in outputs:
            _check_probabilities(output, name, is_binary)


def _check_label_shape(label_shape, output_shape, binary, label_name):
    if binary:
        fits = label_shape == output_shape or (
            len(label_shape) == 1 and tuple(output_shape[1:]) in ((), (1,))
        ) or (len(label_shape) == 2 and label_shape[1] == 1 and output_shape[1:] == (1,))
    else:
        fits = len(label_shape) == 1 or (
            len(label_shape) == 2 and label_shape[1] in (1, None, output_shape[-1])
        )
    if not fits:
        expected = (
            "the outputs' shape" if binary
            else "shape [batch] or [batch, 1] (class indices) or [batch, classes] (one-hot)"
        )
        raise ValueError(
            f"`{label_name}` must have {expected}; received shape {label_shape} for "
            f"`h2_output` of shape {output_shape}."
        )


def _check_probabilities(output, name, binary):
    values = concrete_value(output)
    if values is None or not values.size:
        return
    values = values.astype(np.float64)
    if np.any(values < 0):
        raise ValueError(
            f"`{name}` must hold probabilities (≥ 0) when `from_logits` is False; received "
            f"values down to {values.min():g}."
        )
    if not binary and np.any(values.sum(axis=-1) <= 0):
        raise ValueError(
            f"`{name}` must hold probabilities with a positive sum in each row when "
            "`from_logits` is False; received a row of zeros."
        )


def check_labels(y_true, num_classes, binary=None, sparse=None, arg_name="y"):
    """Raises ValueError if label values known now (not inside a compiled step) do not fit.

    A Keras cross-entropy on JAX and PyTorch does not fail on a class index outside
    `[0, classes)`: the example trains silently with a loss of 0. The training paths call this
    where the values are known (NumPy arrays given to `fit`, `evaluate` and `bc_fit`, batches
    of a Python list of batches).

    Args:
        y_true: the labels (anything `common.tensor_utils.concrete_value` reads; else no check).
        num_classes: the last dimension of the models' outputs; None skips the check.
        binary: whether the outputs are binary scores (labels in [0, 1]). Default None: True
            when `num_classes` is 1.
        sparse: whether labels are class indices; default None: one-hot (or soft) when their
            last dimension is `num_classes` (> 1).
        arg_name: the name in the error message.
    """
    values = concrete_value(y_true)
    if values is None or num_classes is None:
        return
    if values.dtype == object or not (
        np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.bool_)
    ):
        raise TypeError(
            f"`{arg_name}` must be numeric labels; received an array of dtype {values.dtype}."
        )
    values = values.astype(np.float64)
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError(f"`{arg_name}` must be finite labels; received NaN or infinite values.")
    if not values.size:
        return
    low, high = float(values.min()), float(values.max())
    if binary or (binary is None and num_classes == 1):
        if low < 0 or high > 1:
            raise ValueError(
                f"`{arg_name}` must hold binary labels in [0, 1] for outputs of shape "
                f"[batch, {num_classes}]; received values from {low:g} to {high:g}."
            )
        return
    one_hot = (not sparse) if sparse is not None else (
        values.ndim >= 2 and values.shape[-1] == num_classes
    )
    if one_hot:
        if low < 0 or high > 1:
            raise ValueError(
                f"`{arg_name}` must hold one-hot (or soft) labels in [0, 1] for outputs with "
                f"{num_classes} classes; received values from {low:g} to {high:g}."
            )
        return
    bad = (values < 0) | (values >= num_classes) | (values != np.round(values))
    if np.any(bad):
        raise ValueError(
            f"`{arg_name}` must hold class indices in [0, {num_classes}) for outputs with "
            f"{num_classes} classes; received {values[bad][:5].tolist()}."
        )


# Tensor helpers -----------------------------------------------------------------------------


def _float_tensor(x, dtype=None):
    x = ops.convert_to_tensor(x)
    return ops.cast(x, dtype or compute_dtype(x))


def _per_row(values):
    """Averages `values` over every axis but the first: `[batch, ...]` → `[batch]`."""
    if len(values.shape) == 0:
        raise ValueError("Per-example loss values must have a batch dimension; received a scalar.")
    if len(values.shape) == 1:
        return values
    return ops.mean(values, axis=tuple(range(1, len(values.shape))))


def _row_weights(sample_weight, dtype):
    weights = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
    if len(weights.shape) == 0:
        return weights
    return ops.reshape(weights, (-1,))


def _is_one_hot(y_true, num_classes):
    return (
        num_classes is not None
        and num_classes > 1
        and len(y_true.shape) >= 2
        and y_true.shape[-1] == num_classes
    )


def _class_indices(y_true, num_classes, sparse=None):
    """Integer class labels `[batch]` from sparse `[batch]`/`[batch, 1]` or one-hot labels."""
    y_true = ops.convert_to_tensor(y_true)
    if sparse is None:
        sparse = not _is_one_hot(y_true, num_classes)
    if not sparse:
        return ops.cast(ops.argmax(y_true, axis=-1), "int32")
    if len(y_true.shape) > 2 or (len(y_true.shape) == 2 and y_true.shape[1] not in (1, None)):
        raise ValueError(
            "Sparse labels must have shape [batch] or [batch, 1] (class indices); received shape "
            f"{tuple(y_true.shape)}. One-hot labels must have shape [batch, classes] matching the "
            "model output."
        )
    return ops.cast(ops.reshape(y_true, (-1,)), "int32")


def _one_hot_targets(y_true, num_classes, dtype, sparse=None):
    y_true = ops.convert_to_tensor(y_true)
    if sparse is None:
        sparse = not _is_one_hot(y_true, num_classes)
    if sparse:
        return ops.one_hot(_class_indices(y_true, num_classes, sparse=True), num_classes, dtype=dtype)
    return ops.cast(y_true, dtype)


def _binary_targets(y_true, like):
    y_true = ops.cast(ops.convert_to_tensor(y_true), like.dtype)
    return ops.reshape(y_true, ops.shape(like))


def _infer_binary(output, binary):
    if binary is not None:
        return bool(binary)
    return len(output.shape) == 1 or output.shape[-1] == 1


def _no_gradient(x):
    return ops.stop_gradient(ops.convert_to_tensor(x))


# Plain callables ----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=_PACKAGE)
def h1_correct_mask(y_true, h1_output, binary=None, from_logits=False, sparse=None):
    """1.0 for the examples that h1 classifies correctly, 0.0 for the others.

    Args:
        y_true: labels: class indices `[batch]` or `[batch, 1]` (any numeric dtype), one-hot
            `[batch, classes]`, or for binary outputs 0/1 labels of the output's shape.
        h1_output: h1's outputs `[batch, classes]` (probabilities or logits), or `[batch, 1]` /
            `[batch]` (binary), or `[batch, k]` with `binary=True` (multi-label).
        binary: whether the outputs are independent binary scores. Default None: True when the
            last dimension is 1 (or the output is 1-D), False otherwise.
        from_logits: whether `h1_output` holds logits; sets the binary threshold (0 for logits,
            0.5 for probabilities). Argmax does not depend on it.
        sparse: whether labels are class indices (True) or one-hot (False). Default None:
            one-hot when `y_true` has the output's shape with more than one class.

    The predicted class is `argmax(h1_output)`; for binary outputs the prediction is
    `h1_output > threshold` and an example is correct when every one of its binary predictions
    equals `y_true > 0.5`.

    Returns:
        A float32 tensor `[batch]` of 0.0/1.0 (no gradient).

    Raises:
        ValueError: if sparse labels have a shape other than `[batch]`/`[batch, 1]`.
    """
    h1_output = _no_gradient(h1_output)
    if _infer_binary(h1_output, binary):
        threshold = 0.0 if from_logits else 0.5
        predicted = ops.greater(ops.cast(h1_output, "float32"), threshold)
        target = ops.greater(_binary_targets(y_true, ops.cast(h1_output, "float32")), 0.5)
        agree = ops.equal(predicted, target)
        if len(agree.shape) > 1:
            agree = ops.all(agree, axis=tuple(range(1, len(agree.shape))))
        return ops.cast(agree, "float32")
    num_classes = h1_output.shape[-1]
    predicted = ops.cast(ops.argmax(h1_output, axis=-1), "int32")
    target = _class_indices(y_true, num_classes, sparse=sparse)
    return ops.cast(ops.equal(predicted, target), "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
def masked_mean(values, mask, sample_weight=None):
    """`Σ_{i∈S} w_i · values_i / |S|`, S the rows where `mask` is 1; 0 when S is empty.

    This is Keras's default reduction ("sum over batch size") applied to the rows of S. The
    division is safe: by max(|S|, 1), and the numerator is 0 when S is empty.

    Args:
        values: per-example values `[batch]` (extra axes are averaged first).
        mask: `[batch]` 0.0/1.0.
        sample_weight: optional weights `[batch]`, `[batch, 1]` or scalar. Default None (1).

    Returns:
        A scalar tensor of `values`'s float dtype; finite with finite gradients even when S is
        empty (values outside S never reach the result, even if they are not finite).

    Raises:
        ValueError: if `sample_weight`'s values are known now (eager) and negative or not finite
            (inside a compiled step they are not known and not checked).
    """
    check_sample_weight_values(sample_weight)
    values = _per_row(ops.convert_to_tensor(values))
    if sample_weight is not None:
        check_sample_weight_shape(sample_weight, values, "values")
    mask = ops.cast(ops.reshape(mask, (-1,)), values.dtype)
    selected = ops.where(mask > 0, values, 0.0)
    if sample_weight is not None:
        selected = selected * _row_weights(sample_weight, values.dtype)
    return ops.sum(selected) / ops.maximum(ops.sum(mask), 1.0)


def weighted_mean(values, sample_weight=None):
    """`Σ_i w_i · values_i / N` over the batch (Keras's default reduction); a scalar tensor, 0
    for an empty batch (the division is by max(N, 1)).

    Raises:
        TypeError: if `sample_weight` is not numeric.
        ValueError: if `sample_weight` is not a scalar, `[batch]` or `[batch, 1]`, or its
            values are known now (eager) and negative or not finite.
    """
    check_sample_weight_values(sample_weight)
    values = _per_row(ops.convert_to_tensor(values))
    if sample_weight is not None:
        check_sample_weight_shape(sample_weight, values, "values")
        values = values * _row_weights(sample_weight, values.dtype)
    count = ops.cast(ops.shape(values)[0], values.dtype)
    return ops.sum(values) / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package=_PACKAGE)
def per_example_loss(
    kind,
    y_true,
    y_pred,
    from_logits=False,
    sparse=None,
    clip_value_min=1e-10,
    clip_value_max=4.0,
):
    """The base loss of each example, `[batch]`, computed with `keras.ops` (any backend).

    Args:
        kind: one of `LOSS_KINDS`:
            `"sparse_categorical_crossentropy"`: −log p_y, labels `[batch]`/`[batch, 1]`;
            `"categorical_crossentropy"`: −Σ_k y_k log p_k, labels one-hot (or soft)
                `[batch, classes]`, or class indices (converted to one-hot);
            `"binary_crossentropy"`: −(y log p + (1 − y) log(1 − p)) averaged over the last
                axis, labels of the output's shape (`[batch]` is reshaped to `[batch, 1]`);
            `"nll"`: −log clip(p_y, clip_value_min, clip_value_max), probabilities (or logits
                with `from_logits=True`), labels as for the sparse or one-hot cross-entropy;
            `"kl_divergence"`: Σ_k y_k log(y_k / p_k), targets a distribution `[batch, classes]`
                (class indices are converted to one-hot).
        y_true: labels as above.
        y_pred: model outputs `[batch, classes]` (`[batch, k]` for binary), float16/32/64;
            probabilities unless `from_logits=True`.
        from_logits: whether `y_pred` holds logits. Default False.
        sparse: for the categorical kinds, whether labels are class indices (True) or one-hot
            (False). Default None: one-hot when the labels have the output's shape with more
            than one class, class indices otherwise; so both cross-entropy kinds take either
            form of labels.
        clip_value_min, clip_value_max: probability clipping of `"nll"` (the anchor's
            defaults 1e-10 and 4.0).

    The categorical cross-entropies and the KL divergence are Keras's (`keras.losses.*`, with
    their clipping of probabilities to [ε, 1 − ε]); the binary cross-entropy is
    `binary_crossentropy` below (the same value on every backend).

    Returns:
        A float tensor `[batch]` (float32, or float64 for float64 outputs).

    Raises:
        ValueError: for an unknown `kind` or labels of the wrong shape.
    """
    kind = check_kind(kind, "kind")
    y_pred = _float_tensor(y_pred)
    num_classes = y_pred.shape[-1] if len(y_pred.shape) else None
    if kind == "sparse_categorical_crossentropy":
        labels = _class_indices(y_true, num_classes, sparse=sparse)
        values = keras.losses.sparse_categorical_crossentropy(
            labels, y_pred, from_logits=from_logits
        )
    elif kind == "categorical_crossentropy":
        targets = _one_hot_targets(y_true, num_classes, y_pred.dtype, sparse=sparse)
        values = keras.losses.categorical_crossentropy(targets, y_pred, from_logits=from_logits)
    elif kind == "binary_crossentropy":
        if len(y_pred.shape) == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        values = binary_crossentropy(_binary_targets(y_true, y_pred), y_pred, from_logits)
    elif kind == "nll":
        labels = _class_indices(y_true, num_classes, sparse=sparse)
        picked = ops.one_hot(labels, num_classes, dtype=y_pred.dtype)
        if from_logits:
            values = -ops.sum(picked * ops.log_softmax(y_pred, axis=-1), axis=-1)
        else:
            probability = ops.sum(picked * y_pred, axis=-1)
            values = -ops.log(ops.clip(probability, clip_value_min, clip_value_max))
    else:  # kl_divergence
        targets = _one_hot_targets(y_true, num_classes, y_pred.dtype, sparse=sparse)
        probabilities = ops.softmax(y_pred, axis=-1) if from_logits else y_pred
        values = keras.losses.kl_divergence(targets, probabilities)
    return _per_row(values)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy per example, averaged over the last axis: `[batch, k]` → `[batch]`.

    `−mean_k (y_k log p_k + (1 − y_k) log(1 − p_k))`, p clipped to [ε, 1 − ε]
    (`keras.config.epsilon()`), or with log-sigmoids of the logits when `from_logits=True`. This
    is `keras.losses.BinaryCrossentropy()`'s definition, and BackwardCompatibilityML's binary
    cross-entropy (which its notebooks apply to two-column softmax outputs with one-hot labels).
    It is computed here rather than by Keras because Keras on TensorFlow reads the logits that a
    softmax or sigmoid activation caches on its output as sigmoid logits, which for a softmax
    gives another number than on JAX and PyTorch.
    """
    y_pred = _float_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if from_logits:
        values = -(y_true * ops.log_sigmoid(y_pred) + (1.0 - y_true) * ops.log_sigmoid(-y_pred))
    else:
        eps = keras.config.epsilon()
        # `ops.clip` makes a new tensor: no cached logits reach the logarithms.
        p = ops.clip(y_pred, eps, 1.0 - eps)
        values = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    return ops.mean(values, axis=-1)


def _loss_values(loss, y_true, y_pred, from_logits, sparse=None):
    if isinstance(loss, str):
        return per_example_loss(loss, y_true, y_pred, from_logits=from_logits, sparse=sparse)
    if isinstance(loss, keras.losses.Loss):
        return _per_row(loss.call(ops.convert_to_tensor(y_true), _float_tensor(y_pred)))
    if callable(loss):
        return _per_row(ops.convert_to_tensor(loss(y_true, y_pred)))
    raise ValueError(
        f"`loss` must be one of {LOSS_KINDS}, a `keras.losses.Loss` or a callable "
        f"`(y_true, y_pred) -> per-example losses`; received {loss!r}."
    )


@keras.saving.register_keras_serializable(package=_PACKAGE)
def new_error_dissonance(
    y_true,
    h2_output,
    h1_output,
    loss="sparse_categorical_crossentropy",
    from_logits=False,
    binary=None,
    sample_weight=None,
    sparse=None,
):
    """New-error dissonance: h2's base loss on the examples h1 gets right.

    `dissonance = Σ_{i∈S} w_i · ℓ(y_i, h2(x_i)) / |S|`, S = {i : h1(x_i) predicts y_i}; 0 when S
    is empty. Source: Bansal et al., AAAI 2019; Srivastava, Nushi, Kamar, Shah, Horvitz, KDD 2020.

    Args:
        y_true: labels (see `per_example_loss` for the shapes of each kind).
        h2_output: h2's outputs `[batch, classes]` (or `[batch, 1]` binary), float.
        h1_output: h1's outputs on the same examples, same shape; no gradient flows into it.
        loss: a kind of `LOSS_KINDS`, a `keras.losses.Loss` (its unreduced `call` is used) or a
            callable `(y_true, y_pred) -> [batch]` per-example losses. Default
            `"sparse_categorical_crossentropy"`.
        from_logits: whether both outputs are logits (used by the named kinds and the binary
            threshold). Default False.
        binary: whether outputs are binary scores (see `h1_correct_mask`). Default None: True
            for `"binary_crossentropy"`, else inferred from the last dimension.
        sample_weight: optional `[batch]` weights, ≥ 0. Default None.
        sparse: whether labels are class indices (True) or one-hot (False). Default None:
            inferred (see `h1_correct_mask`).

    This is the one new-error dissonance of the library: the loss objects (`BCLoss`) and the
    models (`BCNewErrorCompatibilityModel`) call it.

    Returns:
        A scalar float tensor.

    Raises:
        TypeError, ValueError: as `check_batch` (label and probability values are checked for
            the named kinds of `loss` only), or as `per_example_loss`.
    """
    if binary is None and isinstance(loss, str) and loss.lower() == "binary_crossentropy":
        binary = True
    _check_plain(y_true, h2_output, h1_output, sample_weight, binary, sparse,
                 probabilistic=isinstance(loss, str), from_logits=from_logits)
    h2_output = _single_output(ops.convert_to_tensor(h2_output), "h2_output")
    h1_output = _single_output(_no_gradient(h1_output), "h1_output")
    mask = h1_correct_mask(y_true, h1_output, binary=binary, from_logits=from_logits, sparse=sparse)
    values = _loss_values(loss, y_true, h2_output, from_logits, sparse=sparse)
    return masked_mean(values, mask, sample_weight)


def _log_probabilities(output, from_logits, binary):
    """(p, log p, log(1 − p)) for binary outputs, (p, log p, None) for categorical ones."""
    eps = keras.config.epsilon()
    if binary:
        if from_logits:
            return ops.sigmoid(output), ops.log_sigmoid(output), ops.log_sigmoid(-output)
        clipped = ops.clip(output, eps, 1.0 - eps)
        return clipped, ops.log(clipped), ops.log(1.0 - clipped)
    if from_logits:
        return ops.softmax(output, axis=-1), ops.log_softmax(output, axis=-1), None
    normalised = output / ops.sum(output, axis=-1, keepdims=True)
    clipped = ops.clip(normalised, eps, 1.0)
    return clipped, ops.log(clipped), None


@keras.saving.register_keras_serializable(package=_PACKAGE)
def imitation_divergence(h1_output, h2_output, from_logits=False, binary=None):
    """KL(h1 ‖ h2) per example, `[batch]`: how far h2's predictive distribution is from h1's.

    Categorical outputs: Σ_k p1_k (log p1_k − log p2_k). Binary outputs (Bernoulli per column,
    averaged over the last axis): p1 (log p1 − log p2) + (1 − p1)(log(1 − p1) − log(1 − p2)).
    Probabilities are clipped to [ε, 1 − ε] (`keras.config.epsilon()`); logits use log-softmax /
    log-sigmoid. No gradient flows into `h1_output`.

    Args:
        h1_output, h2_output: outputs of the same shape `[batch, classes]` (or `[batch, 1]`).
        from_logits: whether both hold logits. Default False.
        binary: whether outputs are binary scores. Default None: inferred (last dimension 1).

    Returns:
        A float tensor `[batch]`, ≥ 0 up to clipping.
    """
    h2_output = _float_tensor(h2_output)
    h1_output = ops.cast(_no_gradient(h1_output), h2_output.dtype)
    binary = _infer_binary(h2_output, binary)
    p1, log_p1, log_q1 = _log_probabilities(h1_output, from_logits, binary)
    _, log_p2, log_q2 = _log_probabilities(h2_output, from_logits, binary)
    if binary:
        values = p1 * (log_p1 - log_p2) + (1.0 - p1) * (log_q1 - log_q2)
        return _per_row(values)
    return ops.sum(p1 * (log_p1 - log_p2), axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
def strict_imitation_dissonance(
    y_true,
    h2_output,
    h1_output,
    loss=None,
    from_logits=False,
    binary=None,
    sample_weight=None,
):
    """Strict-imitation dissonance: how far h2 is from h1's outputs on the examples h1 gets right.

    `dissonance = Σ_{i∈S} w_i · KL(h1(x_i) ‖ h2(x_i)) / |S|`, S = {i : h1(x_i) predicts y_i}; 0
    when S is empty. h1's outputs are soft targets (constants). Source: Srivastava, Nushi,
    Kamar, Shah, Horvitz, KDD 2020 ("strict imitation").

    Args:
        y_true: labels, only used to find S (see `h1_correct_mask`).
        h2_output: h2's outputs `[batch, classes]` (or `[batch, 1]` binary), float.
        h1_output: h1's outputs, same shape.
        loss: None (default) for the KL divergence (`imitation_divergence`); or a callable
            `(target, y_pred) -> [batch]` (e.g. a `keras.losses.Loss`, whose unreduced `call` is
            used) applied with h1's outputs as targets, for outputs that are not
            probabilities (e.g. regression-like scores with a mean squared error).
        from_logits: whether both outputs are logits. Default False.
        binary: whether outputs are binary scores. Default None: inferred (last dimension 1).
        sample_weight: optional `[batch]` weights. Default None.

    Returns:
        A scalar float tensor.

    Raises:
        TypeError, ValueError: as `check_batch` (label and probability values are checked when
            `loss` is None).
    """
    _check_plain(y_true, h2_output, h1_output, sample_weight, binary, None,
                 probabilistic=loss is None, from_logits=from_logits)
    h2_output = _single_output(ops.convert_to_tensor(h2_output), "h2_output")
    h1_output = _single_output(_no_gradient(h1_output), "h1_output")
    mask = h1_correct_mask(y_true, h1_output, binary=binary, from_logits=from_logits)
    if loss is None:
        values = imitation_divergence(h1_output, h2_output, from_logits=from_logits, binary=binary)
    else:
        values = _loss_values(loss, ops.cast(h1_output, compute_dtype(h2_output)), h2_output, from_logits)
    return masked_mean(values, mask, sample_weight)


def _check_plain(y_true, h2_output, h1_output, sample_weight, binary, sparse, probabilistic,
                 from_logits):
    """`check_batch` for the plain dissonances: a list or tuple of outputs (several model
    outputs) is left to `_single_output`; the label and probability checks apply to the named
    probabilistic kinds only."""
    if _is_output_list(h2_output) or _is_output_list(h1_output):
        return
    check_batch(y_true, h2_output, h1_output, sample_weight, binary=binary, sparse=sparse,
                labels=probabilistic, probabilities=probabilistic and not from_logits)


def _is_output_list(x):
    return isinstance(x, (list, tuple)) and bool(x) and hasattr(x[0], "shape") and bool(
        _shape(x[0])
    )


# Seed-compatible loss objects ---------------------------------------------------------------


class BCLoss:
    """Base class of the backward-compatibility loss objects: `L(h2) + λ_c · dissonance`.

    Constructed as `BCLossSubclass(h1, h2, lambda_c)` and called as `bc_loss(x, y)`, like
    BackwardCompatibilityML's TensorFlow losses (see `helpers.bc_fit`).

    Args:
        h1: the deployed model (a `keras.Model`, or any callable `h1(x, training=False)`); it is
            only run in inference mode and receives no gradient.
        h2: the new model being trained (a `keras.Model`).
        lambda_c: weight of the dissonance, a number ≥ 0 (values above 1 are meaningful).
        from_logits: whether both models output logits rather than probabilities.
            Default False (the anchor assumes softmax/sigmoid outputs).

    Raises:
        ValueError: if `lambda_c` is negative, NaN, infinite or not a number; if the statically
            known output shapes of h1 and h2 differ. When called, if a `sample_weight` whose
            values are known (not inside a compiled step) is negative or not finite.
        TypeError: if `h2` is not a `keras.Model` or `h1` is not callable.
    """

    #: Base loss kind (one of `LOSS_KINDS`), set by subclasses.
    kind = None
    #: True for strict imitation, False for new error.
    strict_imitation = False

    def __init__(self, h1, h2, lambda_c, from_logits=False):
        if not isinstance(h2, keras.Model):
            raise TypeError(
                f"`h2` must be a keras.Model (the model being trained); received {h2!r} of type "
                f"{type(h2).__name__}."
            )
        if h1 is None or not callable(h1):
            raise TypeError(
                f"`h1` must be a keras.Model or a callable (the deployed model); received {h1!r}."
            )
        self.h1 = h1
        self.h2 = h2
        self.lambda_c = check_lambda_c(lambda_c)
        self.from_logits = bool(from_logits)
        self.__name__ = type(self).__name__
        check_model_output_shapes(h1, h2)

    # Pieces.

    def _sparse(self):
        return None

    def _binary(self):
        return True if self.kind == "binary_crossentropy" else None

    def _kind_for(self, y_true, h2_output):
        return self.kind

    def per_example(self, y_true, h2_output):
        """The base loss of each example, `[batch]` (`per_example_loss` of this loss's kind)."""
        return per_example_loss(
            self._kind_for(y_true, h2_output), y_true, h2_output, from_logits=self.from_logits,
            sparse=self._sparse(), **self._per_example_kwargs(),
        )

    def _check(self, y_true, h2_output, h1_output, sample_weight, label_name):
        check_batch(y_true, h2_output, h1_output, sample_weight, label_name=label_name,
                    binary=self._binary(), sparse=self._sparse(), labels=True,
                    probabilities=not self.from_logits)

    def base_loss(self, y_true, h2_output, sample_weight=None):
        """`L(y, h2(x))`: the mean over the batch of the base loss (weighted by `sample_weight`)."""
        return weighted_mean(self.per_example(y_true, h2_output), sample_weight)

    def _per_example_kwargs(self):
        return {}

    def dissonance(self, h2_output, target_labels, h1_output=None, sample_weight=None):
        """The dissonance on a batch (the seed's `dissonance(h2_output, target_labels)`).

        Args:
            h2_output: h2's outputs `[batch, classes]`.
            target_labels: the labels of the batch.
            h1_output: h1's outputs on the batch `[batch, classes]`. For new error it may be
                omitted, as in the anchor, where the batch is already restricted to the
                examples h1 gets right: the dissonance is then the base loss on all rows.
            sample_weight: optional `[batch]` weights.

        Returns:
            A scalar tensor (see `new_error_dissonance` / `strict_imitation_dissonance`).

        Raises:
            ValueError: for strict imitation without `h1_output`; and as `loss_and_dissonance`.
            TypeError: as `loss_and_dissonance`.
        """
        if h1_output is None and self.strict_imitation:
            raise ValueError(
                f"`h1_output` must be h1's outputs on the batch ({type(self).__name__} "
                "compares h2's outputs with h1's); received None."
            )
        self._check(target_labels, h2_output, h1_output, sample_weight, "target_labels")
        return self._dissonance(h2_output, target_labels, h1_output, sample_weight)

    def _dissonance(self, h2_output, target_labels, h1_output, sample_weight):
        if h1_output is None:
            return self.base_loss(target_labels, h2_output, sample_weight)
        if self.strict_imitation:
            return strict_imitation_dissonance(
                target_labels, h2_output, h1_output, from_logits=self.from_logits,
                binary=self._binary(), sample_weight=sample_weight,
            )
        return new_error_dissonance(
            target_labels, h2_output, h1_output, loss=self.per_example,
            from_logits=self.from_logits, binary=self._binary(), sample_weight=sample_weight,
            sparse=self._sparse(),
        )

    def loss_and_dissonance(self, y_true, h2_output, h1_output, sample_weight=None):
        """`(L(h2) + λ_c · dissonance, dissonance)` from the two models' outputs on a batch.

        Used by `helpers.bc_fit` and custom training steps that have run the models already.

        Args:
            y_true: the labels (see the subclass for their forms).
            h2_output: h2's outputs `[batch, classes]`; h1_output: h1's, the same shape.
            sample_weight: None (default), a scalar, `[batch]` or `[batch, 1]` weights ≥ 0.

        Returns:
            Two scalar tensors; both 0 for an empty batch.

        Raises:
            TypeError: if an argument is not numeric (a string, dict, None or other object).
            ValueError: if a value known now (not inside a compiled step) does not fit: NaN or
                infinite outputs or labels, labels out of range (class indices outside
                `[0, classes)` or not integers, binary/one-hot labels outside [0, 1]), negative
                probabilities or rows of zeros (with `from_logits=False`), negative weights; or
                if the shapes do not fit: batch sizes that differ, h1's and h2's outputs of
                different shapes, weights not a scalar, `[batch]` or `[batch, 1]`.
        """
        check_numeric(h1_output, "h1_output")
        self._check(y_true, h2_output, h1_output, sample_weight, "y_true")
        dissonance = self._dissonance(h2_output, y_true, h1_output, sample_weight)
        base = self.base_loss(y_true, h2_output, sample_weight)
        return base + ops.cast(self.lambda_c, base.dtype) * dissonance, dissonance

    def __call__(self, x, y, sample_weight=None, training=True):
        """The total loss `L(h2) + λ_c · dissonance` on `(x, y)`, a scalar tensor.

        Runs h1 once (inference mode, no gradient) and h2 once (`training=training`, default
        True, as in a training step). Regularisation losses of h2 are not included (add
        `ops.sum(h2.losses)` in a custom loop; `bc_fit` does).
        """
        h1_output = _no_gradient(_call_model(self.h1, x, training=False))
        h2_output = _call_model(self.h2, x, training=training)
        total, _ = self.loss_and_dissonance(y, h2_output, h1_output, sample_weight)
        return total

    # Serialisation.

    def get_config(self):
        """Config with h1 and h2 serialised by architecture (not weights) and λ_c."""
        return {
            "h1": keras.saving.serialize_keras_object(self.h1),
            "h2": keras.saving.serialize_keras_object(self.h2),
            "lambda_c": self.lambda_c,
            "from_logits": self.from_logits,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["h1"] = keras.saving.deserialize_keras_object(config["h1"])
        config["h2"] = keras.saving.deserialize_keras_object(config["h2"])
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(lambda_c={self.lambda_c})"


def _call_model(model, x, training):
    try:
        return model(x, training=training)
    except TypeError:
        return model(x)


def static_output_shape(model):
    """The output shape of a built single-output Functional/Sequential model, else None."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    return tuple(outputs[0].shape)


def check_model_output_shapes(h1, h2):
    """Raises ValueError if both models' output shapes are known now and differ."""
    shape1, shape2 = static_output_shape(h1), static_output_shape(h2)
    if shape1 is None or shape2 is None:
        return
    if len(shape1) != len(shape2) or any(
        a is not None and b is not None and a != b for a, b in zip(shape1[1:], shape2[1:])
    ):
        raise ValueError(
            "h1 and h2 must produce outputs of the same shape (the same classes, in the same "
            f"order); h1's output has shape {shape1} and h2's output has shape {shape2}."
        )


class _CrossEntropyBase(BCLoss):
    """Cross-entropy base loss with sparse or one-hot labels (`sparse`, default inferred)."""

    kind = "sparse_categorical_crossentropy"

    def __init__(self, h1, h2, lambda_c, from_logits=False, sparse=None):
        super().__init__(h1, h2, lambda_c, from_logits=from_logits)
        self.sparse = None if sparse is None else bool(sparse)

    def _sparse(self):
        return self.sparse

    def _kind_for(self, y_true, h2_output):
        sparse = self.sparse
        if sparse is None:
            sparse = not _is_one_hot(
                ops.convert_to_tensor(y_true), ops.convert_to_tensor(h2_output).shape[-1]
            )
        return "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"

    def get_config(self):
        config = super().get_config()
        config["sparse"] = self.sparse
        return config


class _NLLBase(BCLoss):
    """NLL base loss with the anchor's probability clipping arguments."""

    kind = "nll"

    def __init__(self, h1, h2, lambda_c, clip_value_min=1e-10, clip_value_max=4.0,
                 from_logits=False):
        super().__init__(h1, h2, lambda_c, from_logits=from_logits)
        self.clip_value_min = float(clip_value_min)
        self.clip_value_max = float(clip_value_max)

    def _per_example_kwargs(self):
        return {"clip_value_min": self.clip_value_min, "clip_value_max": self.clip_value_max}

    def get_config(self):
        config = super().get_config()
        config.update(clip_value_min=self.clip_value_min, clip_value_max=self.clip_value_max)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCCrossEntropyLoss(_CrossEntropyBase):
    """New-error loss with a categorical cross-entropy base: `CE(h2) + λ_c · mean_S CE(h2)`.

    `BCCrossEntropyLoss(h1, h2, lambda_c, from_logits=False, sparse=None)`. Base loss −log p_y
    with labels as class indices `[batch]`/`[batch, 1]` or one-hot `[batch, classes]`
    (`sparse=None` infers which from the shape; True/False forces it); outputs
    `[batch, classes]` probabilities, or logits with `from_logits=True`. S: the examples h1
    gets right. See `BCLoss` for the other arguments, the errors and the methods.
    """


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCBinaryCrossEntropyLoss(BCLoss):
    """New-error loss with a binary cross-entropy base: `BCE(h2) + λ_c · mean_S BCE(h2)`.

    `BCBinaryCrossEntropyLoss(h1, h2, lambda_c, from_logits=False)`. Outputs `[batch, 1]` (or
    `[batch, k]` multi-label) sigmoid probabilities, or logits with `from_logits=True`; labels
    0/1 of the same shape (`[batch]` accepted); the BCE is averaged over the last axis. h1 is
    right on an example when all its thresholded outputs (0.5, or 0 for logits) equal the
    labels. See `BCLoss`.
    """

    kind = "binary_crossentropy"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCNLLLoss(_NLLBase):
    """New-error loss with a negative log-likelihood base: `NLL(h2) + λ_c · mean_S NLL(h2)`.

    `BCNLLLoss(h1, h2, lambda_c, clip_value_min=1e-10, clip_value_max=4.0, from_logits=False)`.
    NLL = −log clip(p_y, clip_value_min, clip_value_max), the probability of the true class,
    one per example (the anchor averaged a B×B matrix). Outputs `[batch, classes]`
    probabilities; labels class indices or one-hot. See `BCLoss`.
    """


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCKLDivLoss(BCLoss):
    """New-error loss with a KL-divergence base: `KL(y ‖ h2) + λ_c · mean_S KL(y ‖ h2)`.

    `BCKLDivLoss(h1, h2, lambda_c, from_logits=False)`. KL = Σ_k y_k log(y_k / p_k) between the
    target distribution (one-hot or soft `[batch, classes]`; class indices are converted to
    one-hot) and h2's probabilities `[batch, classes]`. See `BCLoss`.
    """

    kind = "kl_divergence"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCStrictImitationCrossEntropyLoss(_CrossEntropyBase):
    """Strict-imitation loss, cross-entropy base: `CE(h2) + λ_c · mean_S KL(h1 ‖ h2)`.

    `BCStrictImitationCrossEntropyLoss(h1, h2, lambda_c, from_logits=False, sparse=None)`.
    Labels and outputs as `BCCrossEntropyLoss`. See `BCLoss`.
    """

    strict_imitation = True


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCStrictImitationBinaryCrossEntropyLoss(BCLoss):
    """Strict-imitation loss, binary cross-entropy base: `BCE(h2) + λ_c · mean_S KL(h1 ‖ h2)`.

    `BCStrictImitationBinaryCrossEntropyLoss(h1, h2, lambda_c, from_logits=False)`; the KL is
    Bernoulli, averaged over the last axis. Labels and outputs as `BCBinaryCrossEntropyLoss`.
    See `BCLoss`.
    """

    kind = "binary_crossentropy"
    strict_imitation = True


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCStrictImitationNLLLoss(_NLLBase):
    """Strict-imitation loss, NLL base: `NLL(h2) + λ_c · mean_S KL(h1 ‖ h2)`.

    `BCStrictImitationNLLLoss(h1, h2, lambda_c, clip_value_min=1e-10, clip_value_max=4.0,
    from_logits=False)`. Labels and outputs as `BCNLLLoss`. See `BCLoss`.
    """

    strict_imitation = True


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BCStrictImitationKLDivLoss(BCLoss):
    """Strict-imitation loss, KL base: `KL(y ‖ h2) + λ_c · mean_S KL(h1 ‖ h2)`.

    `BCStrictImitationKLDivLoss(h1, h2, lambda_c, from_logits=False)`. Labels and outputs as
    `BCKLDivLoss`. See `BCLoss`.
    """

    kind = "kl_divergence"
    strict_imitation = True


__all__ = [
    "LOSS_KINDS",
    "BCLoss",
    "binary_crossentropy",
    "BCCrossEntropyLoss",
    "BCBinaryCrossEntropyLoss",
    "BCNLLLoss",
    "BCKLDivLoss",
    "BCStrictImitationCrossEntropyLoss",
    "BCStrictImitationBinaryCrossEntropyLoss",
    "BCStrictImitationNLLLoss",
    "BCStrictImitationKLDivLoss",
    "check_batch",
    "check_labels",
    "check_lambda_c",
    "h1_correct_mask",
    "imitation_divergence",
    "masked_mean",
    "new_error_dissonance",
    "per_example_loss",
    "strict_imitation_dissonance",
    "weighted_mean",
]
