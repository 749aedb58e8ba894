"""`CounterfactualModel`: counterfactual logit pairing (CLP) on the shared `RemediationModel`."""

import keras
from keras import ops

from keras_remediation.common.remediation_model import RemediationModel
from keras_remediation.common.validation import check_loss_weight
from keras_remediation.counterfactual import losses as cf_losses
from keras_remediation.counterfactual.keras import utils as cf_utils


@keras.saving.register_keras_serializable(package="keras_remediation")
class CounterfactualModel(RemediationModel):
    """Trains `original_model` with counterfactual logit pairing.

    Batches whose inputs are `CounterfactualPackedInputs` (see
    `counterfactual.keras.utils.pack_counterfactual_data`) train on

        original loss + loss_weight · loss(f(original_x), f(counterfactual_x), cf_weight)

    where f is `original_model` (called with the step's `training` flag) and
    `(original_x, counterfactual_x[, cf_weight])` is the batch's counterfactual data. No
    gradient is stopped: both f(original_x) and f(counterfactual_x) receive gradients, as in
    TF Model Remediation's CLP, so the model is pulled towards equal outputs from both sides.
    Inference and evaluation give `original_model`'s outputs on the original inputs. With
    dropout, the two passes draw independent masks in training, as in the reference.

    Args:
        original_model: the `keras.Model` to train; its output on the counterfactual data
            must be a single tensor `[batch]` or `[batch, D]`.
        loss: a `counterfactual.losses.CounterfactualLoss` or its name
            (`"pairwise_mse_loss"` (default), `"pairwise_absolute_difference_loss"`,
            `"pairwise_cosine_loss"`, case-insensitive, `_loss` optional).
        loss_weight: non-negative number multiplying the counterfactual loss. Default 1.0.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        TypeError: if `original_model` is not a `keras.Model`; if `loss_weight` is not a
            number.
        ValueError: for an unknown loss name or another type; for a negative, NaN or infinite
            `loss_weight`; on call, for malformed counterfactual data (see
            `counterfactual.keras.utils.validate_counterfactual_batch`), a multi-output
            model, or `training=True` outside `fit` without counterfactual data.

    Metrics: `fit` and `evaluate` on packed data report `counterfactual_loss`, the weighted
    counterfactual loss (`val_counterfactual_loss` on validation data); on batches without
    counterfactual data it reads 0.

    Saving: `model.save("m.keras")` and `keras.saving.load_model` round-trip the wrapper, its
    loss and weight; `save_original_model` saves the original model alone.
    """

    _extra_loss_name = "counterfactual_loss"

    def __init__(self, original_model, loss="pairwise_mse_loss", loss_weight=1.0, **kwargs):
        resolved = cf_losses.get(loss, "loss")
        weight = check_loss_weight(
            loss_weight, "loss_weight", "the weight of the counterfactual loss"
        )
        super().__init__(original_model, **kwargs)
        self._loss = resolved
        self._loss_weight = weight
        self._create_extra_loss_metrics()

    @property
    def counterfactual_loss(self):
        """The resolved `CounterfactualLoss`."""
        return self._loss

    @property
    def counterfactual_loss_weight(self):
        """The counterfactual loss weight (float)."""
        return self._loss_weight

    def compute_counterfactual_loss(self, counterfactual_data, training=None, mask=None):
        """The weighted counterfactual loss of one `(original_x, counterfactual_x[, w])` batch.

        Returns a scalar tensor `loss_weight · loss(f(original_x), f(counterfactual_x), w)`.
        """
        original_x, counterfactual_x, weight = self._validated(counterfactual_data)
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
        return self._loss_weight * self._loss(
            predictions, counterfactual_predictions, weight
        )

    @staticmethod
    def _validated(counterfactual_data):
        batch = cf_utils.validate_counterfactual_batch(counterfactual_data)
        original_x, counterfactual_x = batch[0], batch[1]
        weight = batch[2] if len(batch) == 3 else None
        return original_x, counterfactual_x, weight

    # RemediationModel hooks.

    def _unpack_original_inputs(self, inputs):
        return cf_utils.unpack_original_inputs(inputs)

    def _unpack_extra_data(self, inputs):
        return cf_utils.unpack_counterfactual_data(inputs)

    def _compute_extra_losses(self, extra_data, training=None, mask=None):
        return [self.compute_counterfactual_loss(extra_data, training=training, mask=mask)]

    def _missing_extra_data_message(self):
        return (
            "CounterfactualModel was called with training=True but the inputs do not contain "
            "counterfactual data. Pack it with "
            "`counterfactual.keras.utils.pack_counterfactual_data`, or call "
            "`model.original_model` to train without it."
        )

    # Serialization.

    def _remediation_config(self):
        return {"loss": self._loss, "loss_weight": self._loss_weight}
