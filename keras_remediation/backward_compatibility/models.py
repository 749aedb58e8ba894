"""Keras models that train a new model h2 to stay compatible with a deployed model h1.

`BCNewErrorCompatibilityModel` (new error) and `BCStrictImitationCompatibilityModel` (strict
imitation) train with `compile`/`fit` on `L(h2) + λ_c · dissonance(h1, h2)` (see `losses` for the
formulas and the papers). Both take h2 either as a list of layers, like the seed's
`BCNewErrorCompatibilityModel([layers...], h1=h1, lambda_c=0.7)` (a `keras.Sequential` is built
from them), or as an existing model of any kind (Functional, Sequential, subclassed), which they
wrap. They are `common.RemediationModel`s: compile is shared with h2, the dissonance is its own
metric, the `.keras` format round-trips, `save_original_model` saves h2 alone.
"""

import contextlib
import inspect

import keras
from keras import ops

from keras_remediation.backward_compatibility import losses as bc_losses
from keras_remediation.common.keras_internals import discarding_added_losses
from keras_remediation.common.keras_internals import flatten_layers
from keras_remediation.common.remediation_model import RemediationModel
from keras_remediation.common.validation import check_sample_weight_values

# Keras's built-in losses and what the dissonance needs to know about them: the kind of output
# (binary scores or a categorical distribution) and whether it takes logits.
_CATEGORICAL = {"sparse_categorical_crossentropy", "categorical_crossentropy", "kl_divergence",
                "categorical_focal_crossentropy"}
_BINARY = {"binary_crossentropy", "binary_focal_crossentropy"}


def _no_grad():
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _without_cached_logits(output):
    """`output` without the logits that Keras caches on a softmax/sigmoid output on TensorFlow.

    Keras on TensorFlow computes a binary cross-entropy of such an output from the cached logits,
    read as sigmoid logits: for a softmax output (BackwardCompatibilityML's two-column binary
    setup) that is another loss than the cross-entropy of the probabilities that JAX and PyTorch
    compute. A fresh tensor (`tf.identity`) carries no cached logits and no softmax/sigmoid op,
    so the loss is computed from the probabilities on every backend. Other backends: unchanged.
    """
    if keras.backend.backend() != "tensorflow" or isinstance(output, (dict, list, tuple)):
        return output
    if isinstance(output, keras.KerasTensor):
        return output
    import tensorflow as tf

    return tf.identity(output)


class _ResolvedLoss:
    """A compiled loss as the dissonance uses it: per-example values, output kind, logits."""

    def __init__(self, loss):
        original = loss
        if isinstance(loss, (list, tuple)) and len(loss) == 1:
            loss = loss[0]
        if isinstance(loss, (dict, list, tuple)) or loss is None:
            raise ValueError(
                "Backward-compatibility models need a single loss for their single output, "
                "given to `compile(loss=...)` (e.g. 'sparse_categorical_crossentropy'); "
                f"received {original!r}."
            )
        if isinstance(loss, str):
            loss = keras.losses.get(loss)
        if not callable(loss):
            raise ValueError(f"`loss` must be a Keras loss or a callable; received {original!r}.")
        self.loss = loss
        fn = getattr(loss, "fn", loss) if isinstance(loss, keras.losses.Loss) else loss
        name = getattr(fn, "__name__", "")
        config = loss.get_config() if isinstance(loss, keras.losses.Loss) else {}
        self.from_logits = bool(config.get("from_logits", False))
        self.binary = True if name in _BINARY else (False if name in _CATEGORICAL else None)
        self.probabilistic = name in _BINARY or name in _CATEGORICAL

    @property
    def reads_probabilities_of_binary_outputs(self):
        return bool(self.binary) and not self.from_logits

    def per_example(self, y_true, y_pred):
        if self.reads_probabilities_of_binary_outputs:
            y_pred = _without_cached_logits(y_pred)
        if isinstance(self.loss, keras.losses.Loss):
            return self.loss.call(ops.convert_to_tensor(y_true), y_pred)
        return self.loss(y_true, y_pred)


def _original_model_from_args(args, kwargs, class_name):
    """h2 from the positional/keyword arguments: a keras.Model, or layers for a Sequential."""
    given = list(args)
    for key in ("original_model", "layers"):
        if key in kwargs:
            given.append(kwargs.pop(key))
    if len(given) != 1:
        raise TypeError(
            f"{class_name} takes one h2 argument: a list of layers (built into a "
            "keras.Sequential) or an existing keras.Model; received "
            f"{len(given)} positional/`original_model`/`layers` arguments."
        )
    h2 = given[0]
    if isinstance(h2, keras.Model):
        return h2
    if isinstance(h2, keras.layers.Layer):
        h2 = [h2]
    if isinstance(h2, (list, tuple)) and all(
        isinstance(layer, (keras.layers.Layer, keras.KerasTensor)) for layer in h2
    ):
        return keras.Sequential(list(h2))
    raise TypeError(
        f"{class_name}: h2 must be a list of layers (built into a keras.Sequential) or a "
        f"keras.Model; received {h2!r} of type {type(h2).__name__}."
    )


def _bound_arguments(method, model, args, kwargs):
    """The arguments of a call `method(model, *args, **kwargs)` by name (empty if they do not bind)."""
    try:
        return inspect.signature(method).bind_partial(model, *args, **kwargs).arguments
    except TypeError:
        return {}


@keras.saving.register_keras_serializable(package="keras_remediation")
class BCNewErrorCompatibilityModel(RemediationModel):
    """Trains h2 on `L(h2) + λ_c · dissonance`, the base loss of h2 on the examples h1 gets right.

    Seed usage (h2 built from layers, like a Sequential)::

        h2 = BCNewErrorCompatibilityModel([
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ], h1=h1, lambda_c=0.7)
        h2.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3),
                   metrics=["accuracy"])
        h2.fit(dataset_train, epochs=6, validation_data=dataset_test)

    Wrapper usage, for an existing h2 of any kind::

        model = BCNewErrorCompatibilityModel(my_functional_or_subclassed_h2, h1=h1, lambda_c=2.0)

    Args:
        *args: h2: one list of layers (a `keras.Sequential` is built from it) or one existing
            `keras.Model` (wrapped; also accepted as `original_model=`). `layers=` is accepted
            as for Sequential.
        h1: the deployed `keras.Model`, with a single output of the same shape as h2's
            (`[batch, classes]`, or `[batch, 1]` for binary classification). Required. It is
            frozen (`h1.trainable` is set to False), run once per step in inference mode
            (`training=False`) and receives no gradient.
        lambda_c: the dissonance weight λ_c ≥ 0. Default 0.0 (plain training of h2). Values
            above 1 are meaningful. Can be changed between `fit` calls (the compiled step is
            rebuilt).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Loss: with `compile(loss=ℓ)`, a single loss (string, function or `keras.losses.Loss`),

        loss = ℓ(y, h2(x)) + regularisation of h2 + λ_c · Σ_{i∈S} w_i ℓ(y_i, h2(x_i)) / |S|,

    S = {i : h1 predicts y_i} (argmax of h1's outputs; a 0.5 threshold, or 0 for a loss with
    `from_logits=True`, for `[batch, 1]` binary outputs), w the sample weights. The dissonance is
    0 on a batch where h1 is wrong everywhere (no NaN); h2 then trains on its base loss. One h2
    forward pass and one h1 inference run per step; regularisation losses count once. A binary
    cross-entropy of probabilities (`from_logits=False`) is computed from the probabilities on
    every backend, also for two-column softmax outputs (Keras on TensorFlow would read the
    softmax's cached logits as sigmoid logits and give another value).
    Labels: as the compiled loss expects them (class indices or one-hot). Source: Bansal et al.,
    AAAI 2019; Srivastava, Nushi, Kamar, Shah, Horvitz, KDD 2020.

    Metrics: `fit` logs `loss` (the total above) and `dissonance` (unweighted by λ_c), and
    `val_dissonance` on validation data; `evaluate` reports both.

    Raises:
        ValueError: if `h1` is missing; if `lambda_c` is negative, NaN or not a number; if h1
            and h2 have different output shapes (at construction when both are built
            Functional/Sequential models, else at the first training or evaluation step); if
            compiled with several losses or without one; if an output is not a single tensor.
            In `fit`/`evaluate`, for array labels that do not fit the outputs of a Keras
            cross-entropy/KL loss (class indices outside `[0, classes)`, binary or one-hot
            labels outside [0, 1], NaN) and for negative or non-finite `sample_weight` arrays.
        TypeError: if h2 is neither layers nor a `keras.Model`; if `h1` is not a `keras.Model`.

    Differences from BackwardCompatibilityML: the loss is a mean over the batch, not a sum; h2
    runs once per step, not twice; the logged `loss` is the true total; the step is Keras's own
    on every backend (the anchor's `train_step` was TensorFlow-only); the model saves and loads
    in the `.keras` format (`model.save("m.keras")`, `keras.saving.load_model`).
    """

    _extra_loss_name = "dissonance"
    _side_data_required = False  # h1 runs on the batch itself, in `compute_loss`

    def __init__(self, *args, h1=None, lambda_c=0.0, **kwargs):
        original_model = _original_model_from_args(args, kwargs, type(self).__name__)
        if h1 is None:
            raise ValueError(
                f"{type(self).__name__}: the parameter `h1` (the deployed model h2 must stay "
                "compatible with) is required; received None."
            )
        if not isinstance(h1, keras.Model):
            raise TypeError(
                f"`h1` must be a keras.Model; received {h1!r} of type {type(h1).__name__}."
            )
        lambda_c = bc_losses.check_lambda_c(lambda_c)
        bc_losses.check_model_output_shapes(h1, original_model)
        super().__init__(original_model, **kwargs)
        # Every layer explicitly: a subclassed h1 built with `trainable=False` (as `from_config`
        # does when loading a saved wrapper) keeps trainable sublayers after `h1.trainable =
        # False` in Keras 3, and would then be trained and regularised with h2.
        for layer in flatten_layers(h1):
            layer.trainable = False
        self._h1 = h1
        self._lambda_c = lambda_c
        self._resolved_loss = None
        self._create_extra_loss_metrics()

    # Properties ---------------------------------------------------------------------------------

    @property
    def h1(self):
        """The deployed model (frozen)."""
        return self._h1

    @property
    def lambda_c(self):
        """The dissonance weight λ_c (a float ≥ 0)."""
        return self._lambda_c

    @lambda_c.setter
    def lambda_c(self, value):
        self._lambda_c = bc_losses.check_lambda_c(value)
        # λ_c is a constant of the compiled step: rebuild it on the next fit/evaluate.
        self.train_function = None
        self.test_function = None

    # Seed API -----------------------------------------------------------------------------------

    def dissonance(self, h2_output, target_labels, loss, h1_output=None, sample_weight=None):
        """The dissonance of a batch, with `loss` as the base loss (the seed's signature).

        Args:
            h2_output: h2's outputs `[batch, classes]`.
            target_labels: the labels, as `loss` expects them.
            loss: the base loss: a Keras loss name, function or `keras.losses.Loss`.
            h1_output: h1's outputs on the batch. If None, the rows are taken to be the
                examples h1 gets right already (the anchor's convention) and the dissonance is
                the mean loss over all of them.
            sample_weight: optional `[batch]` weights.

        Returns:
            A scalar tensor: `Σ_{i∈S} w_i ℓ(y_i, h2(x_i)) / |S|` (0 when S is empty).
        """
        resolved = loss if isinstance(loss, _ResolvedLoss) else _ResolvedLoss(loss)
        h2_output = self._check_output(h2_output, "h2")
        if h1_output is None:
            return bc_losses.weighted_mean(
                resolved.per_example(target_labels, h2_output), sample_weight
            )
        return bc_losses.new_error_dissonance(
            target_labels, h2_output, self._check_output(h1_output, "h1"),
            loss=resolved.per_example, from_logits=resolved.from_logits, binary=resolved.binary,
            sample_weight=sample_weight,
        )

    def loss_func(self, x, y, loss=None, sample_weight=None, training=True):
        """The total loss on `(x, y)`: `L(h2) + regularisation + λ_c · dissonance` (a scalar).

        Runs h2 once (`training=training`) and h1 once (inference). `loss`: the base loss;
        default: the compiled loss, or sparse categorical cross-entropy before `compile` (the
        anchor's default). For use in a custom training step; `fit` computes the same in
        `compute_loss`.
        """
        if loss is None:
            loss = self.loss if self.loss is not None else "sparse_categorical_crossentropy"
        resolved = _ResolvedLoss(loss)
        h2_output = self(x, training=training)
        values = resolved.per_example(y, self._check_output(h2_output, "h2"))
        total = bc_losses.weighted_mean(values, sample_weight)
        for extra in self.losses:
            total = total + ops.cast(ops.sum(extra), total.dtype)
        dissonance = self._dissonance_from_outputs(
            resolved, y, h2_output, self._h1_inference(x), sample_weight
        )
        return total + ops.cast(self._lambda_c, total.dtype) * dissonance

    # Training -----------------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss (see the class docstring); a binary cross-entropy of probabilities
        is computed from the probabilities on every backend (see `_without_cached_logits`)."""
        if y_pred is not None and self.loss is not None:
            if self._compiled_loss().reads_probabilities_of_binary_outputs:
                y_pred = _without_cached_logits(y_pred)
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; labels and sample weights given as arrays are checked first.

        Raises:
            ValueError: (besides Keras's errors) if array labels do not fit the outputs of a
                Keras cross-entropy/KL loss (class indices outside `[0, classes)`, binary or
                one-hot labels outside [0, 1], NaN), or `sample_weight` is negative or not
                finite; likewise for `validation_data` arrays. Data sets are not read ahead.
        """
        arguments = _bound_arguments(keras.Model.fit, self, args, kwargs)
        self._check_labelled_data(arguments.get("y"), arguments.get("sample_weight"))
        validation = arguments.get("validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) in (2, 3):
            self._check_labelled_data(
                validation[1], validation[2] if len(validation) == 3 else None,
                "validation_data[1]", "validation_data[2]",
            )
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`, with the checks of `fit` on array labels and weights."""
        arguments = _bound_arguments(keras.Model.evaluate, self, args, kwargs)
        self._check_labelled_data(arguments.get("y"), arguments.get("sample_weight"))
        return super().evaluate(*args, **kwargs)

    def _check_labelled_data(self, y, sample_weight, y_name="y", weight_name="sample_weight"):
        check_sample_weight_values(sample_weight, weight_name)
        if y is None or self.loss is None:
            return
        resolved = self._compiled_loss()
        if not resolved.probabilistic:
            return
        shape = bc_losses.static_output_shape(self._original_model) or (
            bc_losses.static_output_shape(self._h1)
        )
        bc_losses.check_labels(
            y, shape[-1] if shape else None, binary=resolved.binary, arg_name=y_name
        )

    def _compute_target_losses(self, x, y, y_pred, sample_weight, training):
        """`[(λ_c · dissonance, dissonance)]` of a labelled batch, for `compute_loss`."""
        dissonance = self._dissonance_from_outputs(
            self._compiled_loss(), y, y_pred, self._h1_inference(x), sample_weight
        )
        return [(ops.cast(self._lambda_c, dissonance.dtype) * dissonance, dissonance)]

    def _compiled_loss(self):
        if self.loss is None:
            raise ValueError(
                f"{type(self).__name__} needs a loss: compile it with `loss=...` (e.g. "
                "'sparse_categorical_crossentropy')."
            )
        if self._resolved_loss is None or self._resolved_loss[0] is not self.loss:
            self._resolved_loss = (self.loss, _ResolvedLoss(self.loss))
        return self._resolved_loss[1]

    def _h1_inference(self, x):
        with _no_grad(), discarding_added_losses(self._h1):
            output = self._h1(x, training=False)
        return ops.stop_gradient(self._check_output(output, "h1"))

    def _check_output(self, output, which):
        if isinstance(output, (dict, list, tuple)):
            raise ValueError(
                f"{type(self).__name__}: {which} must have a single output tensor "
                f"[batch, classes]; its output is a {type(output).__name__}."
            )
        return output

    def _dissonance_from_outputs(self, resolved, y, h2_output, h1_output, sample_weight):
        h2_output = self._check_output(h2_output, "h2")
        bc_losses.check_same_output_shape(h1_output, h2_output)
        return self.dissonance(h2_output, y, resolved, h1_output=h1_output,
                               sample_weight=sample_weight)

    # Serialisation ------------------------------------------------------------------------------

    def _remediation_config(self):
        h1_config = keras.saving.serialize_keras_object(self._h1)
        # h1 is frozen: its own training configuration (if it was compiled) is not needed, and
        # restoring it would leave an unbuilt optimizer that cannot take the saved state.
        h1_config.pop("compile_config", None)
        return {"h1": h1_config, "lambda_c": self._lambda_c}


@keras.saving.register_keras_serializable(package="keras_remediation")
class BCStrictImitationCompatibilityModel(BCNewErrorCompatibilityModel):
    """Trains h2 on `L(h2) + λ_c · dissonance`, h2 imitating h1's outputs where h1 is right.

    Same arguments, usage, metrics, errors and saving as `BCNewErrorCompatibilityModel`; only the
    dissonance differs:

        dissonance = Σ_{i∈S} w_i · KL(h1(x_i) ‖ h2(x_i)) / |S|,   S = {i : h1 predicts y_i},

    the KL divergence between the categorical distributions (Bernoulli per column for binary
    outputs and the binary cross-entropies) given by h1's and h2's outputs — probabilities, or
    logits when the compiled loss has `from_logits=True`. h1's outputs are soft targets
    (constants). For a compiled loss that is not a Keras cross-entropy/KL loss (e.g. mean
    squared error on scores), the dissonance is that loss with h1's outputs as targets. Source:
    Srivastava, Nushi, Kamar, Shah, Horvitz, KDD 2020.
    """

    def dissonance(self, h2_output, target_labels, loss, h1_output=None, sample_weight=None):
        """Strict-imitation dissonance of a batch (the seed's signature, plus `h1_output`).

        Args:
            h2_output: h2's outputs `[batch, classes]`.
            target_labels: the labels (they select the examples h1 gets right).
            loss: the base loss (name, function or `keras.losses.Loss`); it tells whether the
                outputs are logits and binary.
            h1_output: h1's outputs on the batch. Required.
            sample_weight: optional `[batch]` weights.

        Returns:
            A scalar tensor (0 when h1 is wrong on every example).

        Raises:
            ValueError: if `h1_output` is None.
        """
        if h1_output is None:
            raise ValueError(
                "Strict imitation compares h2 with h1: `dissonance` needs `h1_output`."
            )
        resolved = loss if isinstance(loss, _ResolvedLoss) else _ResolvedLoss(loss)
        h2_output = self._check_output(h2_output, "h2")
        h1_output = self._check_output(h1_output, "h1")
        return bc_losses.strict_imitation_dissonance(
            target_labels,
            h2_output,
            h1_output,
            loss=None if resolved.probabilistic else resolved.per_example,
            from_logits=resolved.from_logits,
            binary=resolved.binary,
            sample_weight=sample_weight,
        )


__all__ = ["BCNewErrorCompatibilityModel", "BCStrictImitationCompatibilityModel"]
