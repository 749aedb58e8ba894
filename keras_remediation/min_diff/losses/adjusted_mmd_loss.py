"""`AdjustedMMDLoss`: MMD divided by the variance of the groups' kernel means."""

import keras
from keras import ops

from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.min_diff.losses.mmd_loss import MMDLoss
from keras_remediation.min_diff.losses.mmd_loss import weighted_mmd

_EPSILON = 0.01


def _variance_of_mean(kernel_diagonal, group_weights, group_mean):
    """Variance of a group's weighted kernel mean: `(mean_w K_ii − mean_w K) / n_eff`.

    `n_eff = (Σw)² / Σw²` is Kish's effective sample size of the group's weights `w` `[batch, 1]`.
    """
    total = ops.sum(group_weights)
    square_mean = safe_divide(ops.sum(group_weights * kernel_diagonal), total)
    variance = square_mean - group_mean
    return safe_divide(variance * ops.sum(ops.square(group_weights)), total * total)


@keras.saving.register_keras_serializable(package="keras_remediation")
class AdjustedMMDLoss(MMDLoss):
    """MMD normalised by the estimated variance of the two groups' kernel means.

    `loss = MMD / (stop_gradient(var_S / n_eff_S + var_N / n_eff_N) + 0.01)` where, for a
    group G with weights `w`, `var_G = mean_w K_ii − mean_w K(G, G)` and `n_eff = (Σw)²/Σw²`
    (Kish's effective sample size). MMD is `MMDLoss`'s value. Dividing by the standard error
    of the means makes the penalty comparable across batch sizes and prediction spreads.

    Source: TF Model Remediation's `AdjustedMMDLoss` (agrees to 1e-5 in float32); standard
    error of a weighted mean, Kish, "Survey Sampling", 1965.

    Args (positional in this order, as in TF Model Remediation):
        kernel: as for `MMDLoss`; defaults to `'gaussian'`.
        predictions_transform: optional callable applied to the predictions first.
        name: defaults to `'adjusted_mmd_loss'`.
        enable_summary_histogram: bool or None (default: True on TensorFlow, where summaries
            are written); see `MinDiffLoss`.
        empty_group: keyword-only, `'reference'` (default: TF Model Remediation's value) or
            `'zero'`: the loss of a batch that lacks a group (no row of it, or only zero
            weights). `'reference'` returns the group's spread over the
            variance term (e.g. ≈ 5 on a batch of probabilities), with a
            gradient that pulls its predictions together; `'zero'` returns 0 with a zero
            gradient (a NaN value stays NaN). See `MinDiffLoss`.

    Dtypes: computed and returned in float32, or float64 for float64 predictions. Under JAX
    without `jax_enable_x64` (JAX's default) float64 inputs are silently float32 (see
    `MinDiffLoss`).

    Raises: as `MMDLoss`.
    """

    def __init__(
        self,
        kernel="gaussian",
        predictions_transform=None,
        name=None,
        enable_summary_histogram=None,
        *,
        empty_group="reference",
    ):
        super().__init__(
            kernel=kernel,
            predictions_transform=predictions_transform,
            name=name or "adjusted_mmd_loss",
            enable_summary_histogram=enable_summary_histogram,
            empty_group=empty_group,
        )

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, sample_weight = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        _, kernel_matrix = self._apply_kernels(membership, predictions)
        mmd, mean_ss, mean_nn, group_weights = weighted_mmd(
            kernel_matrix, membership, sample_weight
        )
        diagonal = ops.expand_dims(ops.diagonal(kernel_matrix), -1)
        variance = _variance_of_mean(
            diagonal, group_weights[:, :1], mean_ss
        ) + _variance_of_mean(diagonal, group_weights[:, 1:], mean_nn)
        denominator = ops.stop_gradient(variance) + _EPSILON
        return self._apply_empty_group(mmd / denominator, membership, sample_weight)
