"""The private Keras 3 attributes keras-remediation relies on, reached from this module only.

Checked on Keras 3.15.1 (the version CI installs; `pyproject.toml` bounds Keras to the minor
versions tested). Each function names the private attributes it touches, so that a Keras
upgrade that moves one of them breaks here, in one place, and in the tests of this module:

- `Layer._losses`, `Layer._loss_ids`, `Layer._losses_override`, `Layer._clear_losses` and the
  stateless scope's `losses`: how `add_loss` records losses in eager mode, in TensorFlow graphs
  and under JAX's `stateless_call`, and how Keras forgets them.
- `Layer._layers` and `Layer._flatten_layers`: which sublayers a model tracks.
- `Layer._seed_generators`: the random-number generators a layer owns (dropout, noise), and
  `keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell`: the recurrent cells that own one
  whatever their dropout rates.
- `keras.src.backend.common.masking.get_keras_mask` / `set_keras_mask`: the mask a tensor carries
  (e.g. after `Embedding(mask_zero=True)`), which the compiled loss applies.
- `keras.src.models.functional.Functional`: the class that `keras.Model(inputs, outputs)`
  subclasses are turned into.
- `Trainer._compile_loss` and `Trainer._loss_tracker`: the compiled loss `compute_loss` calls,
  and the metric that averages the loss in the logs (federated training).
"""

import contextlib
import threading

import keras

from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from keras.src.models.functional import Functional


def flatten_layers(model):
    """`model` and every layer below it, `model` first (Keras's `_flatten_layers`)."""
    return list(model._flatten_layers(include_self=True))


def draws_random_numbers(layer):
    """Whether `layer` itself draws random numbers in training: it owns a `SeedGenerator`
    (dropout, noise), unless it is a Keras recurrent cell (LSTM, GRU, SimpleRNN) whose
    `dropout` and `recurrent_dropout` are 0, which owns one and never draws from it."""
    if not getattr(layer, "_seed_generators", None):
        return False
    if isinstance(layer, DropoutRNNCell):
        return layer.dropout > 0 or layer.recurrent_dropout > 0
    return True


def is_plain_sequential_or_functional(model):
    """True for a `keras.Sequential` or a functional `keras.Model`, not a subclass of them."""
    return type(model) in (keras.Sequential, Functional)


def slice_rows(tensor, start, stop):
    """`tensor[start:stop]`, keeping the rows `start:stop` of the Keras mask it carries."""
    from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

    piece = tensor[start:stop]
    mask = get_keras_mask(tensor)
    if mask is not None:
        set_keras_mask(piece, mask[start:stop])
    return piece


def track_sublayer(model, layer):
    """Makes sure `model` tracks `layer` (its weights, losses and metrics) as a sublayer.

    Attribute assignment tracks a layer into the list `model._layers` was bound to at
    `Layer.__init__`; `keras.Sequential.__init__` rebinds `_layers` to a new list afterwards,
    so in a class that mixes a wrapper with Sequential (TF Model Remediation's subclassing
    recipe) an assigned model would be invisible: no trainable variables, no losses.
    """
    if not any(existing is layer for existing in model._layers):
        model._layers.append(layer)


def own_added_losses(layer):
    """The losses `layer` itself added with `add_loss` in the current forward pass.

    Eager mode and TensorFlow graphs: `layer._losses` (cleared by Keras when a new outermost
    call starts). Under JAX's trainer, the forward pass runs in a stateless scope and Keras
    hands its losses to `compute_loss` through `_losses_override`; the layer's own ones are
    those whose ids it recorded in `_loss_ids`.
    """
    if layer._losses_override:
        return [loss for loss in layer._losses_override if id(loss) in layer._loss_ids]
    return layer._get_own_losses()


def forget_own_loss_ids(layer):
    """Forgets the ids of losses `layer` added in earlier stateless passes.

    Keras keeps `_loss_ids` across JAX steps when `call` is entered through `stateless_call`
    (no outermost `__call__` clears it); a stale id could match a new tensor of a sublayer.
    Call at the start of the layer's `call`. Eager `_losses` are not touched.
    """
    if keras.src.backend.in_stateless_scope():
        layer._loss_ids.clear()


def clear_losses(layer):
    """Forgets the losses `layer` and its sublayers added (Keras's `Layer._clear_losses`).

    Keras clears them only when the next outermost call starts; until then the last step's
    loss tensors stay in `Layer._losses`, where `torch.compile` guards on them as inputs of the
    next compiled step, and recompiles it when they are freed.
    """
    layer._clear_losses()


@contextlib.contextmanager
def discarding_added_losses(model):
    """Drops the losses that `model`'s layers add with `add_loss` inside this context.

    Used around extra forward passes of the original model (e.g. on MinDiff examples), so that
    a model's own internal losses count once, for the original batch. Works in eager mode and
    in Keras's stateless scope (JAX).

    The losses present on entry are restored as they were, not only the new ones dropped: when
    the extra pass is the entry call of `model` (no outer call context, as under JAX's
    `stateless_call`, which runs the wrapper's `call` directly), Keras first clears `model`'s
    losses of the original batch, in its layers and in the stateless scope.
    """
    layers = flatten_layers(model)
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


def set_compiled_loss(model, loss):
    """Makes `model.compute_loss` call `loss(y, y_pred, sample_weight)` as its compiled loss.

    Keras's `Trainer.compute_loss` calls `self._compile_loss`; `loss` must also offer the
    `metrics` list and `built` flag Keras reads from it.

    Raises:
        RuntimeError: if this Keras version has no `_compile_loss` (`model` must be compiled).
    """
    if not hasattr(model, "_compile_loss"):
        raise RuntimeError(
            "This Keras version has no `Model._compile_loss`; cannot install the loss."
        )
    model._compile_loss = loss


def loss_tracker(model):
    """The `Mean` metric that averages the loss in a compiled model's logs."""
    return model._loss_tracker


def is_functional_subclass(cls):
    """True if `cls` derives from Keras's Functional model but not from `keras.Sequential`.

    A `keras.Model` subclass that was once instantiated with `inputs=` and `outputs=` has
    Functional injected into its bases by Keras; a wrapper mixed with such a class must not
    run `Functional.__init__`, which needs a graph of inputs and outputs.
    """
    return issubclass(cls, Functional) and not issubclass(cls, keras.Sequential)


_functional_init_lock = threading.RLock()


@contextlib.contextmanager
def functional_init_skipped(instance):
    """Within this context, `Functional.__init__` on `instance` only initialises a plain Model.

    It lets a custom Functional base class's `__init__` run (setting its own attributes) when
    it is mixed into a wrapper, as TF Model Remediation's `skip_init=True` did on TF 2:
    `Functional.__init__` must then receive `skip_init=True` (the custom class must pass its
    keyword arguments through), else it raises ValueError. Other instances are unaffected.
    """
    original_init = Functional.__init__

    def init(self, *args, **kwargs):
        if self is not instance:
            return original_init(self, *args, **kwargs)
        if not kwargs.pop("skip_init", False):
            raise ValueError(
                "the custom base class did not pass `skip_init=True` on to "
                "`super().__init__` (it must forward its keyword arguments)."
            )
        kwargs.pop("inputs", None)
        kwargs.pop("outputs", None)
        args = [arg for arg in args if arg is not None]
        keras.Model.__init__(self, *args, **kwargs)
        # The attributes Functional's properties read, for a model with no graph of its own.
        self._inputs_struct = None
        self._outputs_struct = None
        self._inputs = []
        self._outputs = []
        self._operations = []
        self._nodes_by_depth = {}
        self._operations_by_depth = {}

    with _functional_init_lock:
        Functional.__init__ = init
        try:
            yield
        finally:
            Functional.__init__ = original_init
