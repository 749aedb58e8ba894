"""`AbsoluteCorrelationLoss`: |Pearson correlation| between membership and predictions."""

import keras
from keras import ops

from keras_remediation.min_diff.losses.base_loss import MinDiffLoss

_VARIANCE_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="keras_remediation")
class AbsoluteCorrelationLoss(MinDiffLoss):
    """Absolute weighted Pearson correlation between membership and predictions.

    `loss = |cov_w(m, p) / (sqrt(var_w(m) + 1e-7) · sqrt(var_w(p) + 1e-7))|` with weighted
    means, variances and covariance under the normalised weights. The `1e-7` keeps the value and
    its gradient finite when a batch has a single group or constant predictions (the reference
    returned NaN gradients there). For `[batch, D]` predictions the loss is the mean over the D
    columns of each column's absolute correlation; `[batch]` predictions are one column.

    Source: Beutel et al., "Putting Fairness Principles into Practice: Challenges, Metrics, and
    Improvements", AIES 2019 (arXiv:1901.04562); TF Model Remediation's
    `AbsoluteCorrelationLoss` (agrees to 1e-5 in float32 for 1-D predictions).

    Args (positional in this order, as in TF Model Remediation):
        name: defaults to `'absolute_correlation_loss'`.
        enable_summary_histogram: bool or None (default: True on TensorFlow, where summaries
            are written); see `MinDiffLoss`.
        predictions_transform: keyword-only, optional callable applied to the predictions
            first (an addition: TF Model Remediation's loss has no transform). Default None.
        empty_group: keyword-only, `'reference'` (default) or `'zero'` (see `MinDiffLoss`).
            A batch that lacks a group has a constant membership, hence a correlation of 0
            with a zero gradient either way; accepted so that every MinDiff loss takes it.

    Dtypes: computed and returned in float32, or float64 for float64 predictions. Under JAX
    without `jax_enable_x64` (JAX's default) float64 inputs are silently float32 (see
    `MinDiffLoss`).

    Raises: see `MinDiffLoss` (TypeError for a `name` that is not a string, e.g. a transform
    passed positionally).
    """

    def __init__(
        self,
        name=None,
        enable_summary_histogram=None,
        *,
        predictions_transform=None,
        empty_group="reference",
    ):
        super().__init__(
            predictions_transform=predictions_transform,
            name=name or "absolute_correlation_loss",
            enable_summary_histogram=enable_summary_histogram,
            empty_group=empty_group,
        )

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, sample_weight = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        mean_m = ops.sum(sample_weight * membership)
        mean_p = ops.sum(sample_weight * predictions, axis=0)
        centred_m = membership - mean_m
        centred_p = predictions - mean_p
        var_m = ops.sum(sample_weight * ops.square(centred_m))
        var_p = ops.sum(sample_weight * ops.square(centred_p), axis=0)
        covariance = ops.sum(sample_weight * centred_m * centred_p, axis=0)
        correlation = covariance / (
            ops.sqrt(var_m + _VARIANCE_EPSILON) * ops.sqrt(var_p + _VARIANCE_EPSILON)
        )
        # A sum over the `D` columns, not `ops.mean`: that rounds float64 through float32 on torch.
        value = ops.sum(ops.abs(correlation)) / ops.shape(correlation)[0]
        return self._apply_empty_group(value, membership, sample_weight)
