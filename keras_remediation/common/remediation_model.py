"""`RemediationModel`: a Keras model that trains another model with extra loss components.

Every technique of keras-remediation is "the original model's loss + weighted extra losses".
This base class does the shared part once, around hooks that each technique maps to its public,
overridable methods (see ARCHITECTURE.md):

- `_unpack_original_inputs(inputs)` and `_unpack_extra_data(inputs)`: split a packed batch
  (MinDiff: `unpack_original_inputs`, `unpack_min_diff_data`).
- `_compute_extra_losses(extra_data, training, mask)`: the weighted extra losses of the side
  data, one per named term (MinDiff: `compute_min_diff_loss`). `call` adds them with `add_loss`,
  so they are in `model.losses` and Keras's `compute_loss` counts them once, with the
  regularisation losses.
- `_compute_target_losses(x, y, y_pred, sample_weight, training)`: extra losses that need the
  labels (backward compatibility), added by `compute_loss`.

Each term has its own `keras.metrics.Mean`, updated in `compute_loss` from the losses `call`
added in the same forward pass (read back from Keras's own loss tracking, so nothing carries
over from an earlier call) and from the target losses. The base also validates and tracks the
wrapped model (including in TF Model Remediation's mixin recipe with Sequential or Functional
custom classes), compiles both models, warns when a custom `train_step` drops the extra loss,
and writes `get_config` / `from_config`, merging a custom base class's config.
"""

import os
import warnings

import keras

from keras_remediation.common import distribution
from keras_remediation.common import keras_internals


class _ExtraLossUseCheck(keras.callbacks.Callback):
    """After the first training batch, warns if the extra loss was computed but dropped.

    It reads flags set in Python while the step is traced or run, never the logs, so it is
    async-safe: Keras keeps dispatching steps without waiting for the device.
    """

    async_safe = True

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


# Modules whose classes are never a user's custom base class (Keras backends' bases included).
_LIBRARY_MODULES = ("builtins", "keras", "keras_remediation", "tensorflow", "torch", "jax", "flax")


def _is_library_class(klass):
    return klass.__module__.split(".")[0] in _LIBRARY_MODULES


def _zipped(filepath, zipped):
    """`zipped` for `keras.Model.save`: False for an extension-less local path, unless given."""
    if zipped is not None or not isinstance(filepath, (str, os.PathLike)):
        return zipped
    return None if os.path.splitext(os.fspath(filepath))[1] else False


# Built-in model classes, by the names legacy configs give them.
_MODELS = {"Sequential": keras.Sequential, "Functional": keras.Model, "Model": keras.Model}


def _deserialize_value(value):
    """A config value as an object: serialised Keras objects (dicts with `class_name`) loaded.

    Also reads the legacy form `{"class_name": "Sequential", "config": ...}` (no `module`),
    which Keras 2 and TF Model Remediation wrote for built-in layers and models.
    """
    if isinstance(value, dict):
        if "class_name" in value:
            if "module" not in value and "registered_name" not in value:
                try:
                    return keras.saving.deserialize_keras_object(value, custom_objects=_MODELS)
                except TypeError:
                    return keras.layers.deserialize(value)
            return keras.saving.deserialize_keras_object(value)
        return {key: _deserialize_value(item) for key, item in value.items()}
    return value


class RemediationModel(keras.Model):
    """Base class: `original_model`'s loss + weighted extra losses from packed side data.

    Args:
        original_model: the `keras.Model` to train (Sequential, Functional or subclassed,
            single or multi-output). Inference and evaluation use its outputs.
        **kwargs: passed to the next base class's `__init__` (`keras.Model`, or a custom model
            class mixed in after the wrapper, e.g. `class C(MinDiffModel, CustomModel)`).

    Raises:
        TypeError: if `original_model` is not a `keras.Model`.
        ValueError: (or the error raised by the custom base class) if a custom base class
            cannot be initialised with `kwargs`; for a Functional custom base class, if it does
            not pass its keyword arguments on to `super().__init__`.

    Subclasses set `_extra_loss_name` (e.g. `"min_diff_loss"`), call
    `self._create_extra_loss_metrics(keys)` at the end of `__init__`, implement the hooks of the
    module docstring and `_remediation_config()` (their constructor arguments).
    """

    _extra_loss_name = "extra_loss"
    #: Whether training needs side data packed into the inputs (MinDiff, CLP) or the extra loss
    #: comes from the labelled batch alone (backward compatibility). Without required side data
    #: a batch reports no extra-loss metric, as TF Model Remediation's `test_step` did.
    _side_data_required = True
    #: Plain per-step bookkeeping (bools, None, lists of tensors, never layers or variables),
    #: set without Keras's layer tracker (`Layer.__setattr__`): on PyTorch eager the tracker
    #: took about 7 × 8 µs of every training step.
    _untracked_attributes = frozenset({
        "_in_fit", "_extra_loss_seen_in_training", "_extra_loss_used", "_extra_loss_checked",
        "_warned_no_extra_data",
    })

    def __init__(self, original_model, **kwargs):
        if not isinstance(original_model, keras.Model):
            raise TypeError(
                f"`original_model` must be a keras.Model instance; received "
                f"{original_model!r} of type {type(original_model).__name__}."
            )
        self._init_model_bases(kwargs)
        self._original_model = original_model
        keras_internals.track_sublayer(self, original_model)
        # The wrapper owns no weights: it is built as soon as it exists.
        self.built = True
        self._extra_loss_metrics = []
        self._in_fit = False
        self._extra_loss_seen_in_training = False
        self._extra_loss_used = False
        self._extra_loss_checked = True
        self._warned_no_extra_data = False

    def _init_model_bases(self, kwargs):
        """Runs the next base class's `__init__` (keras.Model's, or a custom class's)."""
        cls = type(self)
        functional = keras_internals.is_functional_subclass(cls)
        if functional:
            kwargs = {"inputs": None, "outputs": None, "skip_init": True, **kwargs}
        try:
            if functional:
                with keras_internals.functional_init_skipped(self):
                    super().__init__(**kwargs)
            else:
                super().__init__(**kwargs)
        except (TypeError, ValueError) as error:
            custom = [k.__name__ for k in cls.__mro__ if not _is_library_class(k)]
            # An unknown keyword argument is a TypeError in Python (Keras raises ValueError).
            kind = TypeError if "Unrecognized keyword" in str(error) else type(error)
            technique = next(k.__name__ for k in cls.__mro__ if _is_library_class(k))
            what = f"{technique} instance" if technique == cls.__name__ else (
                f"{technique} subclass instance {cls.__name__}"
            )
            raise kind(
                f"There was a problem initializing the {what}: the keyword "
                f"arguments {sorted(kwargs)} were not accepted by `keras.Model` or by a custom "
                f"base class ({', '.join(custom) or 'none'}). A custom base class must accept "
                f"and pass its keyword arguments on to `super().__init__`. Error raised: {error}"
            ) from error

    def _create_extra_loss_metrics(self, keys=None):
        """One `Mean` metric per extra-loss term: `<name>`, or `<key>_<name>` for named terms.

        A name already used by a metric of the wrapped models (e.g. a wrapper around a
        wrapper) gets a suffix `_1`, `_2`, … (TF Model Remediation's rule).
        """
        names = [self._extra_loss_name] if keys is None else [
            f"{key}_{self._extra_loss_name}" for key in keys
        ]
        taken = {
            metric.name
            for layer in keras_internals.flatten_layers(self._original_model)
            for metric in (getattr(layer, "metrics", None) or [])
        }
        unique = []
        for name in names:
            candidate, count = name, 1
            while candidate in taken:
                candidate, count = f"{name}_{count}", count + 1
            taken.add(candidate)
            unique.append(candidate)
        self._extra_loss_metrics = [keras.metrics.Mean(name=name) for name in unique]

    @property
    def original_model(self):
        """The wrapped `keras.Model`."""
        return self._original_model

    def __setattr__(self, name, value):
        if name in self._untracked_attributes or (
            # Keras's JAX `fit` assigns its whole training state (lists of arrays, never layers
            # or variables) after every step; `Layer.__setattr__` would walk it with the layer
            # tracker each time, about as long as a small model's compiled step.
            name == "_jax_state" and not keras.config.is_nnx_enabled()
        ):
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    # Hooks for techniques ----------------------------------------------------------------------

    def _unpack_original_inputs(self, inputs):
        """The original model's part of `inputs`. Default: all of them."""
        return inputs

    def _unpack_extra_data(self, inputs):
        """The side data of `inputs`, or None. Default: None (no side data)."""
        return None

    def _compute_extra_losses(self, extra_data, training=None, mask=None):
        """The list of weighted extra losses of `extra_data`, one per metric, in order."""
        raise NotImplementedError

    def _compute_target_losses(self, x, y, y_pred, sample_weight, training):
        """Extra losses that need the labels: a list of `(weighted loss, metric value)`.

        Called by `compute_loss` after Keras's own loss, with `y_pred` the original model's
        outputs. Default: none.
        """
        return []

    def _on_missing_extra_data(self, training):
        """Called by `call` when the inputs carry no side data.

        With `_side_data_required`: raises ValueError for `training=True` outside `fit` (a
        direct call); inside `fit` the batch trains the original model alone, with one warning
        per `fit`.
        """
        if not self._side_data_required:
            if training:
                self._extra_loss_seen_in_training = True
            return
        if training is not True:
            return
        if not self._in_fit:
            raise ValueError(self._missing_extra_data_message())
        if not self._warned_no_extra_data:
            self._warned_no_extra_data = True
            warnings.warn(
                f"{type(self).__name__}.fit: the batches carry no side data, so this fit "
                f"trains the original model without the {self._extra_loss_name}.",
                UserWarning,
                stacklevel=3,
            )

    def _missing_extra_data_message(self):
        return f"{type(self).__name__} was called with training=True but without its side data."

    def _remediation_config(self):
        """The technique's constructor arguments (objects; Keras serialises them)."""
        raise NotImplementedError

    # Keras model API ---------------------------------------------------------------------------

    def build(self, input_shape=None):
        # The original model builds itself on its first call; the wrapper owns no weights. This
        # also stops a second base class such as Sequential (the subclassing recipe) from
        # building layers of its own from the packed input structure.
        self.built = True

    def call(self, inputs, training=None, mask=None):
        """Calls `original_model` on the original inputs, adding the extra losses if side data is in.

        Raises:
            ValueError: if `training=True` in a direct call and `inputs` carry no side data.
        """
        keras_internals.forget_own_loss_ids(self)
        original_inputs = self._unpack_original_inputs(inputs)
        extra_data = self._unpack_extra_data(inputs)
        if mask is not None and all(m is None for m in keras.tree.flatten(mask)):
            mask = None  # Keras fills `mask` with the input structure of Nones.
        if extra_data is None:
            self._on_missing_extra_data(training)
            return self._call_original_model(original_inputs, training=training, mask=mask)
        outputs, extra_losses = self._forward_with_extra_losses(
            original_inputs, extra_data, training=training, mask=mask
        )
        for loss in extra_losses:
            # Layer's own add_loss (a Functional custom base class refuses `add_loss`), of a
            # tensor (an overridden loss method may return a Python number).
            keras.layers.Layer.add_loss(self, keras.ops.convert_to_tensor(loss))
        if training:
            self._extra_loss_seen_in_training = True
        return outputs

    def _forward_with_extra_losses(self, original_inputs, extra_data, training=None, mask=None):
        """Returns `(outputs on original_inputs, list of weighted extra losses)`.

        Runs the original model on the original inputs, then computes the extra losses; losses
        that the original model adds from its internals (`add_loss`, activity regularisers)
        during that second computation are discarded, so they count once, for the original
        batch.
        """
        outputs = self._call_original_model(original_inputs, training=training, mask=mask)
        with keras_internals.discarding_added_losses(self._original_model):
            extra_losses = self._compute_extra_losses(extra_data, training=training, mask=mask)
        return outputs, extra_losses

    def _call_original_model(self, inputs, training=None, mask=None):
        """`original_model(inputs, training=..., mask=...)`, passing only the flags given."""
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
        if self._extra_loss_seen_in_training:
            self._extra_loss_used = True

    @property
    def losses(self):
        # The getter is called directly: `torch.compile` cannot trace `super().losses` and
        # would run all of `compute_loss` eagerly.
        losses = keras.layers.Layer.losses.__get__(self, type(self))
        self._mark_extra_loss_used()
        return losses

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's loss (compiled loss + `self.losses`, which hold the extra losses) + target losses.

        Updates each term's metric: from the losses `call` added in this forward pass, and from
        `_compute_target_losses`.
        """
        total = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        added = keras_internals.own_added_losses(self)
        if added:
            self._mark_extra_loss_used()
            self._update_extra_loss_metrics(added)
        if y is not None:
            terms = self._compute_target_losses(x, y, y_pred, sample_weight, training)
            if terms:
                if training:
                    self._mark_extra_loss_used()
                self._update_extra_loss_metrics([value for _, value in terms])
                for loss, _ in terms:
                    # Scaled per replica under tf.distribute, as Keras scales its own losses.
                    total = total + keras.ops.cast(distribution.scale_for_replicas(loss),
                                                   total.dtype)
        return total

    # The extra losses of a step are dropped when it ends: left in `Layer._losses` until the
    # next call, they would be inputs of the next step, and `torch.compile` recompiles the
    # step whenever the tensors it guarded on are freed (every step, until its cache limit).

    def train_step(self, *args):
        logs = super().train_step(*args)
        keras_internals.clear_losses(self)
        return logs

    def test_step(self, *args):
        logs = super().test_step(*args)
        keras_internals.clear_losses(self)
        return logs

    def predict_step(self, *args):
        outputs = super().predict_step(*args)
        keras_internals.clear_losses(self)
        return outputs

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras's metrics; without side data in `x`, the extra-loss metrics are left out."""
        logs = super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if self._side_data_required and self._unpack_extra_data(x) is None:
            for metric in self._extra_loss_metrics:
                logs.pop(metric.name, None)
        return logs

    def _update_extra_loss_metrics(self, values):
        metrics = self._extra_loss_metrics
        if len(values) != len(metrics):
            if len(metrics) != 1:
                raise ValueError(
                    f"{type(self).__name__} expected {len(metrics)} extra losses (one per "
                    f"metric {[m.name for m in metrics]}); the forward pass added "
                    f"{len(values)}. An overridden loss method must return one loss per "
                    "application."
                )
            total = values[0]
            for value in values[1:]:
                total = total + value
            values = [total]
        for metric, value in zip(metrics, values):
            metric.update_state(value)

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

    def compute_output_spec(self, inputs, training=None, mask=None):
        return self._original_model.compute_output_spec(self._unpack_original_inputs(inputs))

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the whole model (see `keras.Model.save`); reload it to keep training.

        A `filepath` without an extension (TF Model Remediation's SavedModel directories) is
        saved as an unzipped Keras directory, which `keras.saving.load_model` reads back.
        """
        return super().save(filepath, overwrite=overwrite, zipped=_zipped(filepath, zipped),
                            **kwargs)

    def save_original_model(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves `original_model` alone (see `keras.Model.save`).

        The file loads as the original model's type, for inference or further plain training,
        without the wrapper. A `filepath` without an extension is saved as a directory.
        """
        return self._original_model.save(
            filepath, overwrite=overwrite, zipped=_zipped(filepath, zipped), **kwargs
        )

    # Serialization -----------------------------------------------------------------------------

    def get_config(self):
        """`name`, a custom base class's config, `original_model` and the technique's arguments.

        Values are objects (the original model, losses, functions); Keras serialises them when
        saving. For `class C(Wrapper, CustomModel)`, `CustomModel.get_config` is merged in, so
        its constructor arguments round-trip through `from_config`.
        """
        config = {"name": self.name}
        config.update(self._custom_base_config())
        config["original_model"] = self._original_model
        config.update(self._remediation_config())
        return config

    def _custom_base_config(self):
        for klass in type(self).__mro__:
            if _is_library_class(klass) or issubclass(klass, RemediationModel):
                continue
            if "get_config" in vars(klass):
                try:
                    return dict(klass.get_config(self))
                except NotImplementedError:
                    return {}
        return {}

    @classmethod
    def from_config(cls, config):
        """Builds the model from `get_config()`'s output, serialised (loading) or not."""
        return cls(**{key: _deserialize_value(value) for key, value in config.items()})

    def get_build_config(self):
        return None

    def build_from_config(self, config):
        self.built = True
