"""`MinDiffModel`: wraps a Keras model and adds one or more MinDiff losses to its training."""

import keras
from keras import ops

from keras_remediation.common import keras_internals
from keras_remediation.common.remediation_model import RemediationModel
from keras_remediation.common.structures import short_repr
from keras_remediation.common.validation import check_loss_weight
from keras_remediation.min_diff.keras.utils import input_utils
from keras_remediation.min_diff.keras.utils.structure_utils import validate_min_diff_structure
from keras_remediation.min_diff.losses.base_loss import validate_transform
from keras_remediation.min_diff.losses.loss_utils import get_min_diff_loss


def _identity(predictions):
    return predictions


def _resolve_losses(loss):
    if isinstance(loss, dict):
        if not loss:
            raise ValueError("`loss` must be a loss or a non-empty dict of losses; received {}.")
        for key in loss:
            if not isinstance(key, str):
                raise TypeError(
                    f"`loss` keys must be strings (MinDiff application names); received "
                    f"{key!r} of type {type(key).__name__}."
                )
            if isinstance(loss[key], dict):
                raise ValueError(
                    "`loss` is not a recognized MinDiff structure: it is a dict, so it must be "
                    f"unnested, one MinDiff loss per application; `loss[{key!r}]` is a nested "
                    f"dict. Given: {short_repr(loss)}"
                )
        return {key: get_min_diff_loss(value, f"loss[{key!r}]") for key, value in loss.items()}
    if isinstance(loss, (list, tuple)):
        raise TypeError(
            "`loss` is not a recognized MinDiff structure: it should have a type of either a "
            "single MinDiff loss (name or `MinDiffLoss`) or a dict of them keyed by "
            f"application. Given: {short_repr(loss)} of type {type(loss).__name__}."
        )
    return get_min_diff_loss(loss, "loss")


def _resolve_weights(loss_weight, losses):
    """`loss_weight` conformed to `losses`: a float, or a dict with every key (default 1.0)."""
    if loss_weight is None:
        loss_weight = 1.0
    if isinstance(loss_weight, (dict, list)):
        validate_min_diff_structure(loss_weight, "loss_weight")
    if not isinstance(losses, dict):
        if isinstance(loss_weight, dict):
            raise ValueError(
                "`loss` and `loss_weight` do not have matching structures: `loss` is a single "
                f"loss ({short_repr(losses)}) but `loss_weight` is a dict with keys "
                f"{sorted(loss_weight)}; give a single number, or a dict `loss` with the same "
                "keys."
            )
        return check_loss_weight(loss_weight, "loss_weight", "the weight of the MinDiff loss")
    if isinstance(loss_weight, dict):
        unknown = set(loss_weight) - set(losses)
        if unknown:
            raise ValueError(
                f"`loss_weight` contains keys that do not correspond to losses (the keys of "
                f"`loss` are {sorted(losses)}): {sorted(unknown)}."
            )
        return {
            key: check_loss_weight(
                loss_weight.get(key, 1.0), f"loss_weight[{key!r}]",
                "the weight of the MinDiff loss",
            )
            for key in losses
        }
    weight = check_loss_weight(loss_weight, "loss_weight", "the weight of the MinDiff loss")
    return {key: weight for key in losses}


@keras.saving.register_keras_serializable(package="keras_remediation")
class MinDiffModel(RemediationModel):
    """Model that adds one or more MinDiff loss components to another model during training.

    Wraps `original_model`; batches whose inputs are `MinDiffPackedInputs` (see
    `min_diff.keras.utils.pack_min_diff_data`) train it on
    `original loss + Σ loss_weight · min_diff_loss`. Inference and evaluation give
    `original_model`'s outputs.

    Args:
        original_model: the `keras.Model` to train with the MinDiff loss (Sequential,
            Functional, subclassed, single- or multi-output).
        loss: a MinDiff loss name (`'mmd'`, `'abs_corr'`, `'adjusted_mmd'`, …) or
            `min_diff.losses.MinDiffLoss` instance; or a dict of them, one entry per MinDiff
            application, keyed by application name.
        loss_weight: non-negative finite number, or dict of them keyed like `loss`, multiplying
            each MinDiff loss. Applications missing from a dict get 1.0; a single number is
            used for every application. Default 1.0.
        predictions_transform: optional callable applied to `original_model`'s output on the
            MinDiff examples before the loss; required when that output is not a single tensor
            (e.g. `lambda p: p["output2"]`, or better a registered function, for a
            multi-output model). Default: identity.
        fuse_forward_passes: keyword-only, `'auto'` (default), True or False: whether the
            original and the MinDiff rows go through `original_model` in one forward pass
            (one pass of `[batch + min_diff_batch, ...]` instead of two; equal in exact
            arithmetic when no layer mixes the rows of a batch, so results differ only by
            float rounding). One pass is faster where a second, smaller pass costs more than
            the rows it adds: on CPU a 64 + 64-row step of a 4×2048 dense model cost 1.26×
            the plain 128-row step in two passes and 1.00× fused (benchmarks/README.md).
            `'auto'` fuses only models whose exactness is known: `keras.Sequential` and
            functional models (nested ones too) built from Keras's own layers, none of which
            is a batch or spectral normalisation, a `Lambda` or a wrapper of foreign code
            (`TorchModuleWrapper`, `JaxLayer`, `FlaxLayer`, `TFSMLayer`), acts along the batch
            axis (`axis=0`), draws random numbers in training (dropout, noise, a recurrent
            layer's non-zero `dropout` or `recurrent_dropout`), keeps state across batches
            (`stateful=True`) or has an activity regulariser, and no
            `keras.ops` call between layers; any other model runs in two passes, as in TF
            Model Remediation. Fused outputs keep their Keras masks. True also fuses custom
            layers and subclassed models that do not mix rows, which cannot be detected
            (Keras's `BatchNormalization`, activity regularisers and user layers that call
            `add_loss` are still detected and run unfused). False: always two passes. With
            fusion, an overridden `compute_min_diff_loss` that gets its predictions from
            `_call_original_model` (as TF Model Remediation's does) receives the fused pass's
            MinDiff rows; one that calls `original_model` itself runs them a second time, with
            the same result.
        **kwargs: passed to the next base class (`keras.Model`, e.g. `name`, or a custom model
            class mixed in after MinDiffModel).

    Raises:
        TypeError: if `original_model` is not a `keras.Model`; if `loss` is neither a name, a
            `MinDiffLoss` nor a dict of them; if a `loss_weight` is not a number.
        ValueError: if `predictions_transform` is given but not callable; if a loss name is
            unknown; if a `loss_weight` is negative, NaN or infinite; if `loss` and
            `loss_weight` have different structures or `loss_weight` has unknown keys.

    Metrics: `fit` and `evaluate` (with MinDiff data) report `min_diff_loss`, the weighted
    MinDiff loss, or one `<key>_min_diff_loss` per application for a dict `loss` (with a
    `val_` prefix on validation data). Batches without MinDiff data report no MinDiff metric,
    as in TF Model Remediation.

    Extending it (TF Model Remediation's recipes): `call` reaches the MinDiff loss through
    `unpack_original_inputs`, `unpack_min_diff_data` and `compute_min_diff_loss`, so a subclass
    overriding any of them changes training. `class C(MinDiffModel, CustomModel)` keeps
    `CustomModel`'s methods (e.g. its `train_step`) and its config.

    Differences from TF Model Remediation, forced by or improving on Keras 3:
    - `fit` on batches without MinDiff data trains the original model alone, with a warning;
      a direct `model(x, training=True)` without MinDiff data raises ValueError as before.
    - A custom `train_step` that neither calls `self.compute_loss` nor reads `self.losses`
      would drop the MinDiff loss: `fit` warns after the first batch.
    - The model saves and loads in the `.keras` format (`model.save("m.keras")`,
      `keras.saving.load_model`); a lambda `predictions_transform` loads only with
      `safe_mode=False`, a function registered with
      `keras.saving.register_keras_serializable` loads everywhere (TF-MR pickled it with dill).
    """

    _extra_loss_name = "min_diff_loss"

    _untracked_attributes = RemediationModel._untracked_attributes | {
        "_model_fusable", "_fused_predictions",
    }

    def __init__(
        self,
        original_model,
        loss,
        loss_weight=1.0,
        predictions_transform=None,
        *,
        fuse_forward_passes="auto",
        **kwargs,
    ):
        validate_transform(predictions_transform, "predictions_transform")
        losses = _resolve_losses(loss)
        weights = _resolve_weights(loss_weight, losses)
        _check_fuse_forward_passes(fuse_forward_passes)
        super().__init__(original_model, **kwargs)
        self._loss = losses
        self._loss_weight = weights
        self._predictions_transform = predictions_transform
        self._fuse_forward_passes = fuse_forward_passes
        self._model_fusable = None
        self._fused_predictions = None
        self._create_extra_loss_metrics(list(losses) if isinstance(losses, dict) else None)

    @property
    def predictions_transform(self):
        """The transform applied to MinDiff predictions (the identity if none was given)."""
        return self._predictions_transform or _identity

    @property
    def fuse_forward_passes(self):
        """The `fuse_forward_passes` setting: `'auto'`, True or False."""
        return self._fuse_forward_passes

    @property
    def min_diff_losses(self):
        """The resolved MinDiff loss, or dict of losses keyed by application."""
        return self._loss

    @property
    def min_diff_loss_weights(self):
        """The MinDiff loss weight, or dict of weights keyed by application."""
        return self._loss_weight

    def unpack_original_inputs(self, inputs):
        """Returns the original-model part of `inputs` (all of `inputs` if not packed).

        A wrapper around `min_diff.keras.utils.unpack_original_inputs`; override it to read a
        custom input structure. `model.unpack_original_inputs([1, 2, 3])` is `[1, 2, 3]`.
        """
        return input_utils.unpack_original_inputs(inputs)

    def unpack_min_diff_data(self, inputs):
        """Returns the MinDiff data of `inputs`, or None if there is none.

        A wrapper around `min_diff.keras.utils.unpack_min_diff_data`; override it to read a
        custom input structure. `model.unpack_min_diff_data([1, 2, 3])` is None.
        """
        return input_utils.unpack_min_diff_data(inputs)

    def compute_min_diff_loss(self, min_diff_data, training=None, mask=None):
        """Computes the weighted MinDiff loss(es) of `min_diff_data`.

        Args:
            min_diff_data: `(min_diff_x, membership[, min_diff_sample_weight])` — unpacked with
                `keras.utils.unpack_x_y_sample_weight` — with membership `[batch, 1]` of
                0.0/1.0; or a dict of such tuples with the keys of `loss`.
            training: passed to `original_model` on the MinDiff examples.
            mask: passed to `original_model`.

        For each application, `predictions = predictions_transform(original_model(min_diff_x,
        training=training))` and the loss is `loss_weight · loss(membership, predictions,
        min_diff_sample_weight)`.

        Returns:
            A scalar tensor for a single loss, or a list of scalars in the order of `loss`'s
            keys.

        Raises:
            ValueError: if the structure of `min_diff_data` does not match that of `loss`; if
                the transformed predictions are not a tensor; if membership values are not 0/1
                (see `min_diff.losses.MinDiffLoss` for when values can be checked).
        """
        losses = [
            self._weighted_loss(
                key, data, self._call_original_model(data[0], training=training, mask=mask)
            )
            for key, data in self._application_data(min_diff_data)
        ]
        return losses if isinstance(self._loss, dict) else losses[0]

    def _application_data(self, min_diff_data):
        """Validates `min_diff_data` against `loss`; returns `[(key, (x, membership, w))]`.

        Keys follow the order of `loss`; the key is None for a single loss.
        """
        if isinstance(self._loss, dict):
            if not isinstance(min_diff_data, dict) or set(min_diff_data) != set(self._loss):
                raise ValueError(
                    "`min_diff_data` must match the structure of `loss`: a dict with keys "
                    f"{sorted(self._loss)}; received {_structure(min_diff_data)}."
                )
            named = [(key, min_diff_data[key]) for key in self._loss]
        elif isinstance(min_diff_data, dict):
            raise ValueError(
                "`min_diff_data` must match the structure of `loss`: a single "
                f"`(min_diff_x, membership[, sample_weight])` tuple; received "
                f"{_structure(min_diff_data)}."
            )
        else:
            named = [(None, min_diff_data)]
        result = []
        for key, data in named:
            label = "min_diff_data" if key is None else f"min_diff_data[{key!r}]"
            if isinstance(data, list):
                data = tuple(data)
            if not isinstance(data, tuple) or len(data) not in (2, 3):
                raise ValueError(
                    f"`{label}` must be a tuple `(min_diff_x, membership)` or `(min_diff_x, "
                    f"membership, min_diff_sample_weight)`; received {_structure(data)}."
                )
            result.append((key, keras.utils.unpack_x_y_sample_weight(data)))
        return result

    def _weighted_loss(self, key, data, predictions):
        """`loss_weight · loss(membership, predictions_transform(predictions), weight)`."""
        _, membership, sample_weight = data
        predictions = self.predictions_transform(predictions)
        if not ops.is_tensor(predictions) and hasattr(predictions, "shape") and hasattr(
            predictions, "dtype"
        ):
            predictions = ops.convert_to_tensor(predictions)  # a NumPy or another backend's array
        if not ops.is_tensor(predictions):
            hint = (
                "the provided `predictions_transform` does not return a Tensor"
                if self._predictions_transform is not None
                else "`original_model` does not return a single tensor (multi-output?): pass a "
                "`predictions_transform` that selects one output, e.g. "
                "`lambda predictions: predictions['output_name']`"
            )
            raise ValueError(
                "The MinDiff predictions must be a Tensor after `predictions_transform`; "
                f"received {_structure(predictions)}, {short_repr(predictions)}:\n{hint}."
            )
        loss = self._loss if key is None else self._loss[key]
        weight = self._loss_weight if key is None else self._loss_weight[key]
        return weight * loss(
            membership=membership, predictions=predictions, sample_weight=sample_weight
        )

    # RemediationModel hooks: the public methods above are what training calls.

    def _unpack_original_inputs(self, inputs):
        return self.unpack_original_inputs(inputs)

    def _unpack_extra_data(self, inputs):
        return self.unpack_min_diff_data(inputs)

    def _compute_extra_losses(self, extra_data, training=None, mask=None):
        losses = self.compute_min_diff_loss(extra_data, training=training, mask=mask)
        return list(losses) if isinstance(losses, (list, tuple)) else [losses]

    def _missing_extra_data_message(self):
        return (
            "MinDiffModel was called with training=True but the inputs do not contain "
            "min_diff_data: inputs must contain MinDiffData during training. Pack it with "
            "`min_diff.keras.utils.pack_min_diff_data`, or call "
            "`model.original_model` to train without MinDiff."
        )

    # Fused forward pass (opt-in).

    def _forward_with_extra_losses(self, original_inputs, extra_data, training=None, mask=None):
        """One pass over original and MinDiff rows when `fuse_forward_passes` allows it.

        The joint outputs are sliced per input and handed to `compute_min_diff_loss` through
        `_call_original_model`, which returns the slice computed for the very same MinDiff
        inputs object: an overridden `compute_min_diff_loss` is still what computes the loss.
        """
        if mask is not None or self._fuse_forward_passes is False:
            return super()._forward_with_extra_losses(original_inputs, extra_data, training, mask)
        try:
            applications = self._application_data(extra_data)
        except ValueError:
            applications = None  # let compute_min_diff_loss raise its own error
        inputs = None if applications is None else (
            [original_inputs] + [data[0] for _, data in applications]
        )
        if inputs is None or not self._fusion_allowed(inputs):
            return super()._forward_with_extra_losses(original_inputs, extra_data, training, mask)
        rows = [ops.shape(keras.tree.flatten(x)[0])[0] for x in inputs]
        joined = keras.tree.map_structure(lambda *leaves: ops.concatenate(leaves, axis=0), *inputs)
        joined_outputs = super()._call_original_model(joined, training=training)
        pieces, start = [], 0
        for count in rows:
            stop = start + count
            pieces.append(
                keras.tree.map_structure(
                    lambda t, a=start, b=stop: keras_internals.slice_rows(t, a, b), joined_outputs
                )
            )
            start = stop
        self._fused_predictions = [(x, piece) for x, piece in zip(inputs[1:], pieces[1:])]
        try:
            with keras_internals.discarding_added_losses(self._original_model):
                extra_losses = self._compute_extra_losses(extra_data, training, mask)
        finally:
            self._fused_predictions = None
        return pieces[0], extra_losses

    def _call_original_model(self, inputs, training=None, mask=None):
        for fused_inputs, predictions in self._fused_predictions or ():
            if fused_inputs is inputs:
                return predictions
        return super()._call_original_model(inputs, training=training, mask=mask)

    def _fusion_allowed(self, inputs):
        if self._model_fusable is None:
            self._model_fusable = _model_allows_fusion(self.original_model) and (
                self._fuse_forward_passes is True
                or _model_fuses_automatically(self.original_model)
            )
        if not self._model_fusable:
            return False
        try:
            for other in inputs[1:]:
                keras.tree.assert_same_structure(inputs[0], other)
        except (ValueError, TypeError):
            return False
        first_leaves = keras.tree.flatten(inputs[0])
        for other in inputs[1:]:
            for a, b in zip(first_leaves, keras.tree.flatten(other)):
                if not (_is_dense(a) and _is_dense(b)):
                    return False
                if len(a.shape) == 0 or len(b.shape) == 0:
                    return False
                if str(a.dtype) != str(b.dtype) or tuple(a.shape[1:]) != tuple(b.shape[1:]):
                    return False
        return True

    def call(self, inputs, training=None, mask=None):
        """Calls `original_model`, adding the MinDiff loss when `inputs` carry MinDiff data.

        Args:
            inputs: original inputs, or `MinDiffPackedInputs` with MinDiff data.
            training: whether to run in training mode. With `training=True`, inputs must carry
                MinDiff data (inside `fit`, batches without it train the original model alone,
                with a warning).
            mask: passed to `original_model`.

        When MinDiff data is present, `compute_min_diff_loss` computes each weighted MinDiff
        loss and it is added with `add_loss`: after an eager `model(batch, training=True)`,
        `model.losses[0]` is the (first) MinDiff loss.

        Returns:
            `original_model`'s outputs on the original inputs.

        Raises:
            ValueError: if `training=True` outside `fit` and `inputs` carry no MinDiff data; or
                as `compute_min_diff_loss`.
        """
        return super().call(inputs, training=training, mask=mask)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the whole MinDiffModel (see `keras.Model.save`); reload it to keep training.

        Subclasses of MinDiffModel should be registered with
        `keras.saving.register_keras_serializable` to load as themselves. A `filepath` without
        an extension is saved as an unzipped Keras directory.
        """
        return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def _remediation_config(self):
        config = {"loss": self._loss, "loss_weight": self._loss_weight}
        if self._predictions_transform is not None:
            config["predictions_transform"] = self._predictions_transform
        if self._fuse_forward_passes != "auto":
            config["fuse_forward_passes"] = self._fuse_forward_passes
        return config


_ROW_MIXING_LAYERS = (keras.layers.BatchNormalization,)

#: Keras layers `fuse_forward_passes='auto'` does not fuse: they run code it cannot inspect, or
#: update their weights on every training call (so one pass updates them once, two passes twice).
_NOT_AUTO_FUSED_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in (
        "Lambda", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "TFSMLayer",
        "SpectralNormalization",
    )
    if hasattr(keras.layers, name)
)


def _acts_across_rows(layer):
    """True if `layer`'s `axis` setting includes the batch axis (e.g. `Softmax(axis=0)`), or
    may: an axis that is not an int, or a negative one on an input of unknown rank."""
    axis = getattr(layer, "axis", None)
    if axis is None:
        return False
    try:
        rank = len(keras.tree.flatten(layer.input)[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        rank = None
    for value in axis if isinstance(axis, (list, tuple)) else [axis]:
        if not isinstance(value, int) or value == 0:
            return True
        if value < 0 and (rank is None or value + rank == 0):
            return True
    return False


#: Sparse and ragged tensor types, by name (TensorFlow, JAX): they are not concatenated.
_SPARSE_TYPES = ("SparseTensor", "SparseTensorValue", "RaggedTensor", "BCOO", "BCSR")


def _is_dense(leaf):
    """True for a dense tensor or array (symbolic ones included); False for sparse, ragged."""
    if not hasattr(leaf, "shape") or getattr(leaf, "sparse", False):
        return False
    if getattr(leaf, "ragged", False):
        return False
    return type(leaf).__name__ not in _SPARSE_TYPES


def _check_fuse_forward_passes(value):
    if isinstance(value, bool) or value == "auto":
        return
    raise (ValueError if isinstance(value, str) else TypeError)(
        "`fuse_forward_passes` must be 'auto', True or False; received "
        f"{value!r} of type {type(value).__name__}."
    )


def _model_fuses_automatically(model):
    """Whether `fuse_forward_passes='auto'` fuses `model`: known to treat rows independently.

    Sequential and functional models (not subclasses, whose `call` could do anything; not
    functional models that apply `keras.ops` functions) of Keras's own layers, without layers
    that run foreign code, act along the batch axis (`axis=0`), update weights on every call
    (spectral normalisation), draw random numbers in training or keep state across batches.
    `_model_allows_fusion` checks the rest.
    """
    for layer in keras_internals.flatten_layers(model):
        if isinstance(layer, keras.Model):
            if not keras_internals.is_plain_sequential_or_functional(layer):
                return False
            # A functional model may apply `keras.ops` functions, which are not layers.
            operations = getattr(layer, "operations", ())  # functional models (not Sequential)
            if not all(isinstance(op, keras.layers.Layer) for op in operations):
                return False
            continue
        if type(layer).__module__.split(".")[0] != "keras":
            return False
        if isinstance(layer, _NOT_AUTO_FUSED_LAYERS) or _acts_across_rows(layer):
            return False
        if keras_internals.draws_random_numbers(layer) or getattr(layer, "stateful", False):
            return False
    return True


def _adds_losses(cls):
    """True if a non-Keras class in `cls`'s MRO has a method that refers to `add_loss`."""
    for klass in cls.__mro__:
        if klass is object or klass.__module__.split(".")[0] == "keras":
            continue
        for attr in vars(klass).values():
            code = getattr(attr, "__code__", None)
            if code is not None and _code_refers_to(code, "add_loss"):
                return True
    return False


def _code_refers_to(code, name):
    if name in code.co_names:
        return True
    return any(
        _code_refers_to(const, name) for const in code.co_consts if hasattr(const, "co_names")
    )


def _model_allows_fusion(model):
    """Whether rows of original and MinDiff data can share one forward pass exactly.

    Not when a layer mixes rows (batch normalisation), has an activity regulariser, or is a
    user class that calls `add_loss` (its loss would then cover the MinDiff rows too).
    """
    for layer in keras_internals.flatten_layers(model):
        if isinstance(layer, _ROW_MIXING_LAYERS):
            return False
        if getattr(layer, "activity_regularizer", None) is not None:
            return False
        if _adds_losses(type(layer)):
            return False
    return True


def _structure(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"
