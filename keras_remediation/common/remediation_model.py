"""`RemediationModel`: a Keras model that trains another model with an extra loss component.

Every technique of keras-remediation is "the original model's loss + weight × an extra loss
computed from side data packed into the inputs". This base class does the shared part once:
wrapping and delegating to the original model, reporting the extra loss as its own metric in
`fit`/`evaluate` logs on every backend, compiling both models, detecting a custom
`train_step` that drops the extra loss, and saving in the `.keras` format. A technique
subclasses it and implements three hooks: `_unpack_original_inputs`, `_unpack_extra_data` and
`_compute_extra_loss`.

How the extra loss reaches training: `call` computes it when the inputs carry side data and
adds it with `add_loss`, so it is part of `model.losses` (an eager `model(batch,
training=True)` leaves it there, as TF Model Remediation promised). Keras's default
`compute_loss` adds `model.losses` to the compiled loss once, together with the
regularisation losses. `compute_loss` is overridden only to update the metric from the value
computed in `call` (a metric updated inside `call` would read 0 under JAX).
"""

import contextlib
import warnings

import keras


@contextlib.contextmanager
def discarding_added_losses(model):
    """Drops the losses that `model`'s layers add with `add_loss` inside this context.

    Used around extra forward passes of the original model (e.g. on MinDiff examples), so that
    a model's own internal losses count once, for the original batch. Works in eager mode and
    in Keras's stateless scope (JAX); relies on Keras 3's per-layer loss lists.

    The losses present on entry are restored as they were, not only the new ones dropped: when
    the extra pass is the entry call of `model` (no outer call context, as under JAX's
    `stateless_call`, which runs the wrapper's `call` directly), Keras first clears `model`'s
    losses of the original batch, in its layers and in the stateless scope.
    """
    layers = list(model._flatten_layers(include_self=True))
    saved = [(list(layer._losses), set(layer._loss_ids)) for layer in layers]
    scope = keras.src.backend.get_stateless_scope()
    scope_losses = list(scope.losses) if scope is not None else None
    try:
        yield
    finally:
        for layer, (losses, loss_ids) in zip(layers, saved):
            layer._losses[:] = losses
            layer._loss_ids.clear()
            layer._loss_ids.update(loss_ids)
        if scope is not None:
            scope.losses[:] = scope_losses


class _ExtraLossUseCheck(keras.callbacks.Callback):
    """After the first training batch, warns if the extra loss was computed but dropped."""

    def __init__(self, wrapper):
        super().__init__()
        self._wrapper = wrapper

    def on_train_batch_end(self, batch, logs=None):
        wrapper = self._wrapper
        if wrapper._extra_loss_checked:
            return
        wrapper._extra_loss_checked = True
        if wrapper._extra_loss_seen_in_training and not wrapper._extra_loss_used:
            warnings.warn(
                f"{type(wrapper).__name__}: the {wrapper._extra_loss_name} was computed in the "
                "forward pass of a training step, but the step neither called "
                "`self.compute_loss(...)` nor read `self.losses`: the "
                f"{wrapper._extra_loss_name} is silently missing from training. A custom "
                "`train_step` must compute its loss with `self.compute_loss(x, y, y_pred, "
                "sample_weight)` (or add `ops.sum(self.losses)` to it).",
                RuntimeWarning,
                stacklevel=2,
            )


class RemediationModel(keras.Model):
    """Base class: `original_model`'s loss + an extra loss computed from packed side data.

    Args:
        original_model: the `keras.Model` to train (Sequential, Functional or subclassed,
            single or multi-output). Inference and evaluation use its outputs.
        **kwargs: passed to `keras.Model.__init__` (e.g. `name`).

    Raises:
        TypeError: if `original_model` is not a `keras.Model`.

    Subclasses set `_extra_loss_name` (the metric name, e.g. `"min_diff_loss"`) and implement
    `_unpack_original_inputs(inputs)`, `_unpack_extra_data(inputs)` (None when absent) and
    `_compute_extra_loss(extra_data, training, mask)` returning a list of weighted scalar
    losses. A technique whose extra loss needs the labels (backward compatibility) sets
    `_extra_loss_needs_targets = True` and implements `_compute_extra_loss_from_targets`
    instead: `call` then runs the original model alone and `compute_loss` adds the loss.
    """

    _extra_loss_name = "extra_loss"
    _extra_loss_needs_targets = False

    def __init__(self, original_model, **kwargs):
        if not isinstance(original_model, keras.Model):
            raise TypeError(
                f"`original_model` must be a keras.Model instance; received "
                f"{original_model!r} of type {type(original_model).__name__}."
            )
        super().__init__(**kwargs)
        self._original_model = original_model
        # The wrapper owns no weights: it is built as soon as the original model is.
        self.built = original_model.built
        self._extra_loss_tracker = keras.metrics.Mean(name=self._extra_loss_name)
        self._pending_extra_loss = None
        self._in_fit = False
        self._extra_loss_seen_in_training = False
        self._extra_loss_used = False
        self._extra_loss_checked = True
        self._warned_no_extra_data = False

    @property
    def original_model(self):
        """The wrapped `keras.Model`."""
        return self._original_model

    # Hooks for subclasses ----------------------------------------------------------------------

    def _unpack_original_inputs(self, inputs):
        raise NotImplementedError

    def _unpack_extra_data(self, inputs):
        raise NotImplementedError

    def _compute_extra_loss(self, extra_data, training=None, mask=None):
        raise NotImplementedError

    def _compute_extra_loss_from_targets(self, x, y, y_pred, sample_weight, training):
        """Returns `(weighted extra loss, value for the metric)` of a labelled batch.

        Used when `_extra_loss_needs_targets` is True; called by `compute_loss` after Keras's
        loss (regularisation losses count once), `y_pred` being the original model's outputs.
        """
        raise NotImplementedError

    def _missing_extra_data_message(self):
        return f"{type(self).__name__} was called with training=True but without its side data."

    # Keras model API ---------------------------------------------------------------------------

    def build(self, input_shape=None):
        # The original model builds itself on its first call; the wrapper owns no weights. This
        # also stops a second base class such as Sequential (the subclassing recipe) from
        # building layers of its own from the packed input structure.
        self.built = True

    def call(self, inputs, training=None, mask=None):
        """Calls `original_model` on the original inputs, adding the extra loss if side data is in.

        Raises:
            ValueError: if `training=True` in a direct call and `inputs` carry no side data.
        """
        if self._extra_loss_needs_targets:
            if training:
                self._extra_loss_seen_in_training = True
            return self._call_original(inputs, training=training, mask=mask)
        original_inputs = self._unpack_original_inputs(inputs)
        extra_data = self._unpack_extra_data(inputs)
        if mask is not None and all(m is None for m in keras.tree.flatten(mask)):
            mask = None  # Keras fills `mask` with the input structure of Nones.
        if extra_data is None and training is True:
            if not self._in_fit:
                raise ValueError(self._missing_extra_data_message())
            if not self._warned_no_extra_data:
                self._warned_no_extra_data = True
                warnings.warn(
                    f"{type(self).__name__}.fit: the batches carry no side data, so this fit "
                    f"trains the original model without the {self._extra_loss_name}.",
                    UserWarning,
                    stacklevel=2,
                )
        if extra_data is None:
            return self._call_original(original_inputs, training=training, mask=mask)
        outputs, extra_losses = self._forward_with_extra_loss(
            original_inputs, extra_data, training=training, mask=mask
        )
        for loss in extra_losses:
            self.add_loss(loss)
        total = extra_losses[0]
        for loss in extra_losses[1:]:
            total = total + loss
        self._pending_extra_loss = total
        if training:
            self._extra_loss_seen_in_training = True
        return outputs

    def _forward_with_extra_loss(self, original_inputs, extra_data, training=None, mask=None):
        """Returns `(outputs on original_inputs, list of weighted extra losses)`.

        The default runs the original model on the original inputs, then computes the extra
        loss; losses that the original model adds from its internals (`add_loss`, activity
        regularisers) during that second computation are discarded, so they count once, for
        the original batch. Subclasses may override this to fuse the two forward passes.
        """
        outputs = self._call_original(original_inputs, training=training, mask=mask)
        with discarding_added_losses(self._original_model):
            extra_losses = self._compute_extra_loss(extra_data, training=training, mask=mask)
        return outputs, extra_losses

    def _call_original(self, inputs, training=None, mask=None):
        kwargs = {}
        if training is not None:
            kwargs["training"] = training
        if mask is not None:
            kwargs["mask"] = mask
        return self._original_model(inputs, **kwargs)

    def _mark_extra_loss_used(self):
        # Only a training forward pass counts: at the start of `fit`, Keras builds the model
        # and its loss symbolically with `training=False` (JAX, torch), which would otherwise
        # mark the loss as used before the first real train step.
        if self._pending_extra_loss is not None and self._extra_loss_seen_in_training:
            self._extra_loss_used = True

    @property
    def losses(self):
        losses = super().losses
        self._mark_extra_loss_used()
        return losses

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's loss (compiled loss + `self.losses`, which hold the extra loss), and the metric."""
        pending = self._pending_extra_loss
        total = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if pending is not None:
            self._mark_extra_loss_used()
            self._extra_loss_tracker.update_state(pending)
            self._pending_extra_loss = None
        if self._extra_loss_needs_targets and y is not None:
            extra_loss, metric_value = self._compute_extra_loss_from_targets(
                x, y, y_pred, sample_weight, training
            )
            self._extra_loss_tracker.update_state(metric_value)
            if training and self._extra_loss_seen_in_training:
                self._extra_loss_used = True  # a real training step, not the symbolic build
            total = total + keras.ops.cast(extra_loss, total.dtype)
        return total

    def compile(self, *args, **kwargs):
        """Compiles both this model and `original_model` with the same arguments.

        See `keras.Model.compile`. Both share the optimizer, so `original_model` saved after
        training (`save_original_model`) carries the trained optimizer state and can go on
        training on its own.
        """
        super().compile(*args, **kwargs)
        kwargs.pop("optimizer", None)
        self._original_model.compile(self.optimizer, *args[1:], **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded model from its saved compile configuration (used by loading)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self._original_model.built:
            self.built = True
            self.optimizer.build(self.trainable_variables)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, plus a check that a custom `train_step` keeps the extra loss."""
        callbacks = kwargs.pop("callbacks", None)
        callbacks = list(callbacks) if callbacks is not None else []
        callbacks.append(_ExtraLossUseCheck(self))
        self._in_fit = True
        self._extra_loss_seen_in_training = False
        self._extra_loss_used = False
        self._extra_loss_checked = False
        self._warned_no_extra_data = False
        try:
            return super().fit(*args, callbacks=callbacks, **kwargs)
        finally:
            self._in_fit = False
            self._pending_extra_loss = None

    def compute_output_spec(self, inputs, training=None, mask=None):
        return self._original_model.compute_output_spec(self._unpack_original_inputs(inputs))

    def save_original_model(self, *args, **kwargs):
        """Saves `original_model` alone (see `keras.Model.save`).

        The file loads as the original model's type, for inference or further plain training,
        without the wrapper.
        """
        return self._original_model.save(*args, **kwargs)

    # Serialization -----------------------------------------------------------------------------

    def _base_config(self):
        return {"name": self.name, "trainable": self.trainable}

    def get_build_config(self):
        return None

    def build_from_config(self, config):
        self.built = True

