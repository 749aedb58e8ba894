"""`CounterfactualModel`: counterfactual logit pairing (CLP) on the shared `RemediationModel`."""

import keras
from keras import ops

from keras_remediation.common import distribution
from keras_remediation.common import keras_internals
from keras_remediation.common import structures
from keras_remediation.common.remediation_model import RemediationModel
from keras_remediation.common.validation import check_loss_weight
from keras_remediation.counterfactual.keras.utils import input_utils
from keras_remediation.counterfactual.keras.utils import structure_utils
from keras_remediation.counterfactual.losses import loss_utils

__all__ = ["CounterfactualModel"]

_VALIDATION_DATA_POSITION = 7  # keras.Model.fit(x, y, batch_size, epochs, verbose, callbacks,
#                                 validation_split, validation_data, ...)


@keras.saving.register_keras_serializable(package="keras_remediation")
class CounterfactualModel(RemediationModel):
    """Trains `original_model` with counterfactual logit pairing (TF Model Remediation's API).

    Batches that are `CounterfactualPackedInputs(original_input, counterfactual_data)` (see
    `counterfactual.keras.utils.pack_counterfactual_data`) train on

        total_loss = original_loss + Σ_k loss_weight_k · loss_k(f(original_x_k),
                                                               f(counterfactual_x_k), w_k)

    where f is `original_model` (called with the step's `training` flag), `original_loss` is
    Keras's loss of the original batch (compiled loss + the original model's own losses, e.g.
    regularisers) and k runs over the objectives: one, or the keys of a dict `loss`. No
    gradient is stopped: both f(original_x) and f(counterfactual_x) receive gradients.
    Inference and evaluation give `original_model`'s outputs on the original inputs.

    Args:
        original_model: the `keras.Model` to train; its output on the counterfactual data
            must be a single tensor.
        loss: a `counterfactual.losses.CounterfactualLoss`, a loss name
            (`"pairwise_mse_loss"` (default), `"pairwise_absolute_difference_loss"`,
            `"pairwise_cosine_loss"`), or a dict objective -> loss for several objectives;
            then the counterfactual data of each batch is a dict with the same keys.
        loss_weight: a non-negative number, or a dict objective -> number (missing keys get
            1.0; a single number applies to every objective). Default 1.0.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        TypeError: if `original_model` is not a `keras.Model`; if `loss` is neither a loss,
            a name nor a flat dict of them; if a weight is not a number.
        ValueError: for an unknown loss name; a nested `loss` dict; `loss_weight` keys that
            are not `loss` keys, or a dict `loss_weight` with a single `loss`; a negative, NaN
            or infinite weight; on call with `training=True` (in `fit` or directly), for
            inputs without counterfactual data ("Training data must be an instance of
            CounterfactualPackedInputs"), malformed counterfactual data or a multi-output model.

    Metrics: `fit` and `evaluate` log Keras's `loss` (= `total_loss`), `total_loss`,
    `original_loss`, and `counterfactual_loss` (one objective) or `<key>_counterfactual_loss`
    per objective, the weighted counterfactual losses. `evaluate` (and validation) on batches
    without counterfactual data logs no counterfactual loss.

    Saving: `model.save("m.keras")` and `keras.saving.load_model` round-trip the wrapper, its
    losses and weights; `save_original_model` saves the original model alone.
    """

    _extra_loss_name = "counterfactual_loss"

    def __init__(self, original_model, loss="pairwise_mse_loss", loss_weight=1.0, **kwargs):
        structure_utils.validate_counterfactual_structure(loss, struct_name="loss")
        losses = (
            {key: loss_utils.get(value, f"loss[{key!r}]") for key, value in loss.items()}
            if isinstance(loss, dict)
            else loss_utils.get(loss, "loss")
        )
        weights = _conform_weights_to_losses(losses, loss_weight)
        if isinstance(weights, dict):
            weights = {
                key: check_loss_weight(
                    value, f"loss_weight[{key!r}]", "the weight of a counterfactual loss"
                )
                for key, value in weights.items()
            }
        else:
            weights = check_loss_weight(
                weights, "loss_weight", "the weight of the counterfactual loss"
            )
        super().__init__(original_model, **kwargs)
        self._counterfactual_losses = losses
        self._counterfactual_loss_weights = weights
        self._create_extra_loss_metrics(sorted(losses) if isinstance(losses, dict) else None)
        self._counterfactual_loss_metrics = {m.name: m for m in self._extra_loss_metrics}
        self._total_loss_metric = keras.metrics.Mean(name="total_loss")
        self._original_loss_metric = keras.metrics.Mean(name="original_loss")
        self._step_has_counterfactual_data = None

    @property
    def counterfactual_loss(self):
        """The resolved `CounterfactualLoss`, or the dict objective -> loss."""
        return self._counterfactual_losses

    @property
    def counterfactual_loss_weight(self):
        """The counterfactual loss weight (float), or the dict objective -> weight."""
        return self._counterfactual_loss_weights

    # Losses ------------------------------------------------------------------------------------

    def compute_counterfactual_loss(self, counterfactual_data, training=None, mask=None):
        """The weighted counterfactual losses of one batch of counterfactual data, as a list.

        Args:
            counterfactual_data: `(original_x, counterfactual_x[, counterfactual_sample_weight])`,
                or for a dict `loss` a dict of such tuples with the same keys.
            training, mask: passed to `original_model`.

        Returns:
            A list of scalar tensors `loss_weight_k · loss_k(f(original_x_k),
            f(counterfactual_x_k), w_k)`: one element for a single loss, else one per objective
            in sorted-key order (the order of the metrics).

        Raises:
            ValueError: if the structure of `counterfactual_data` does not match `loss`, or a
                batch is malformed.
        """
        losses = self._counterfactual_losses
        if isinstance(losses, dict):
            if not isinstance(counterfactual_data, dict) or set(counterfactual_data) != set(
                losses
            ):
                received = (
                    sorted(counterfactual_data) if isinstance(counterfactual_data, dict)
                    else type(counterfactual_data).__name__
                )
                raise ValueError(
                    "The counterfactual data of a multi-objective CounterfactualModel must be a "
                    f"dict with the keys of `loss` {sorted(losses)}; received {received}."
                )
        elif isinstance(counterfactual_data, dict):
            raise ValueError(
                "CounterfactualModel has a single loss, so its counterfactual data must be one "
                "tuple `(original_x, counterfactual_x[, weight])`; received a dict with keys "
                f"{sorted(counterfactual_data)}. Give `loss` as a dict with these keys for "
                "several objectives."
            )
        flat_data = structures.flatten_structure(counterfactual_data)
        flat_losses = structures.flatten_structure(losses)
        flat_weights = structures.flatten_structure(
            self._counterfactual_loss_weights
        )
        return [
            self._compute_single_counterfactual_loss(
                data, loss, weight, training=training, mask=mask
            )
            for data, loss, weight in zip(flat_data, flat_losses, flat_weights)
        ]

    def _compute_single_counterfactual_loss(
        self, counterfactual_data, loss_fn, loss_weight, training=None, mask=None
    ):
        batch = input_utils.validate_counterfactual_batch(counterfactual_data)
        original_x, counterfactual_x = batch[0], batch[1]
        weight = batch[2] if len(batch) == 3 else None
        predictions = self._call_original_model(original_x, training=training, mask=mask)
        counterfactual_predictions = self._call_original_model(
            counterfactual_x, training=training, mask=mask
        )
        for value in (predictions, counterfactual_predictions):
            if not ops.is_tensor(value) and not isinstance(value, keras.KerasTensor):
                raise ValueError(
                    "CounterfactualModel needs `original_model` to return a single tensor; "
                    f"received a {type(value).__name__}. Wrap a multi-output model in one "
                    "that returns the output to pair."
                )
        return loss_weight * loss_fn(
            original=predictions, counterfactual=counterfactual_predictions,
            sample_weight=weight,
        )

    def compute_total_loss(self, y, y_pred, sample_weight, cf_data, **kwargs):
        """The original loss plus the counterfactual losses, as TF Model Remediation returns them.

        Args:
            y, y_pred, sample_weight: labels, `original_model`'s predictions and weights of the
                original batch.
            cf_data: the batch's counterfactual data (see `compute_counterfactual_loss`).
            **kwargs: passed to `compute_counterfactual_loss` (`training`, `mask`).

        Returns:
            `(total_loss, counterfactual_losses, compiled_loss)`: `compiled_loss` is
            `original_model.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)`
            (its compiled loss plus its own losses of its last call), `counterfactual_losses`
            the list of `compute_counterfactual_loss`, `total_loss` their sum.
        """
        compiled_loss = self._original_model.compute_loss(
            y=y, y_pred=y_pred, sample_weight=sample_weight
        )
        counterfactual_losses = self.compute_counterfactual_loss(cf_data, **kwargs)
        total = compiled_loss
        for value in counterfactual_losses:
            total = total + ops.cast(value, total.dtype)
        return total, counterfactual_losses, compiled_loss

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's loss of the step (see `RemediationModel.compute_loss`), logging its parts.

        Updates `total_loss` (the returned loss) and `original_loss` (it minus the
        counterfactual losses this forward pass added).
        """
        total = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        total_logged = distribution.unscale_for_replicas(total)  # tf.distribute scales it
        original = total_logged
        for value in keras_internals.own_added_losses(self):
            original = original - ops.cast(value, total.dtype)
        self._total_loss_metric.update_state(total_logged)
        self._original_loss_metric.update_state(original)
        return total

    def get_metrics_result(self):
        """Keras's metric results, without the counterfactual losses on batches without data."""
        results = super().get_metrics_result()
        if self._step_has_counterfactual_data is False:
            for name in self._counterfactual_loss_metrics:
                results.pop(name, None)
        return results

    # Data: TF Model Remediation's packed batches -----------------------------------------------

    def fit(self, *args, **kwargs):
        """`keras.Model.fit` on `CounterfactualPackedInputs` batches (tf.data or PyDataset).

        Raises:
            ValueError: on the first step if the batches carry no counterfactual data.
        """
        args, kwargs = _convert_data_argument(args, kwargs, 0, "x")
        args, kwargs = _convert_data_argument(
            args, kwargs, _VALIDATION_DATA_POSITION, "validation_data"
        )
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; packed batches log the counterfactual losses too."""
        args, kwargs = _convert_data_argument(args, kwargs, 0, "x")
        return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        """`keras.Model.predict`: `original_model`'s outputs, on packed or plain batches."""
        args, kwargs = _convert_data_argument(args, kwargs, 0, "x")
        return super().predict(*args, **kwargs)

    def train_step(self, *args):
        *state, data = args
        return super().train_step(*state, input_utils.to_keras_batch(data))

    def test_step(self, *args):
        *state, data = args
        return super().test_step(*state, input_utils.to_keras_batch(data))

    def predict_step(self, *args):
        *state, data = args
        return super().predict_step(*state, input_utils.to_keras_batch(data))

    # RemediationModel hooks --------------------------------------------------------------------

    def _unpack_original_inputs(self, inputs):
        return input_utils.unpack_original_inputs(inputs)

    def _unpack_extra_data(self, inputs):
        data = input_utils.unpack_counterfactual_data(inputs)
        self._step_has_counterfactual_data = data is not None
        return data

    def _compute_extra_losses(self, extra_data, training=None, mask=None):
        return self.compute_counterfactual_loss(extra_data, training=training, mask=mask)

    def _on_missing_extra_data(self, training):
        # TF Model Remediation's train_step raises on batches without counterfactual data.
        if training is True:
            raise ValueError(self._missing_extra_data_message())

    def _missing_extra_data_message(self):
        return (
            "Training data must be an instance of CounterfactualPackedInputs: "
            "CounterfactualModel was called with training=True on inputs without "
            "counterfactual data. Pack it with "
            "`counterfactual.keras.utils.pack_counterfactual_data`, or train "
            "`model.original_model` without it."
        )

    def _remediation_config(self):
        return {
            "loss": self._counterfactual_losses,
            "loss_weight": self._counterfactual_loss_weights,
        }


def _convert_data_argument(args, kwargs, position, name):
    if name in kwargs:
        kwargs = dict(kwargs, **{name: input_utils.as_keras_data(kwargs[name])})
    elif len(args) > position:
        args = list(args)
        args[position] = input_utils.as_keras_data(args[position])
        args = tuple(args)
    return args, kwargs


def _unique_metric_name(name, existing_metrics):
    """`name`, or `name_1`, `name_2`, ... : the first not among the names of `existing_metrics`."""
    taken = {metric.name for metric in existing_metrics}
    candidate, count = name, 0
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    return candidate


def _conform_weights_to_losses(loss, loss_weight, default_value=1.0):
    """`loss_weight` in the structure of `loss` (one element or a flat dict).

    A single weight (None: `default_value`) applies to every loss; a dict fills missing keys
    with `default_value`.

    Raises:
        TypeError / ValueError: if `loss` is not a Counterfactual structure.
        ValueError: for a dict `loss_weight` with a single loss ("do not have matching
            structures"), keys that are not `loss` keys, a value that is not a single element,
            or a `loss_weight` that is neither a single element nor a dict.
    """
    structure_utils.validate_counterfactual_structure(loss, struct_name="loss")
    if not keras.tree.is_nested(loss_weight):
        value = default_value if loss_weight is None else loss_weight
        return {key: value for key in loss} if isinstance(loss, dict) else value
    if not isinstance(loss, dict):
        raise ValueError(
            "`loss` and `loss_weight` do not have matching structures: a single loss takes a "
            f"single weight.\n  loss: type={type(loss).__name__} str={loss}\n  loss_weight: "
            f"type={type(loss_weight).__name__} str={loss_weight}"
        )
    if not isinstance(loss_weight, dict):
        raise ValueError(
            "`loss_weight` is neither a single element nor a dict; with a dict `loss` it must "
            f"be one of them. Given: {loss_weight!r}"
        )
    unknown = set(loss_weight) - set(loss)
    if unknown:
        raise ValueError(
            "`loss_weight` contains keys that do not correspond to losses:"
            f"\n\nloss: {loss}\n\nloss_weight: {loss_weight}"
        )
    weights = {key: loss_weight.get(key, default_value) for key in loss}
    nested = [key for key, value in weights.items() if keras.tree.is_nested(value)]
    if nested:
        raise ValueError(
            "`loss` and `loss_weight` (potentially with default weights added) do not have "
            f"matching structures: the weights of {nested} are not single values."
        )
    return weights
