"""`MMDLoss`: maximum mean discrepancy between the predictions on two groups."""

import keras
from keras import ops

from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.min_diff.losses.base_loss import MinDiffLoss


def group_kernel_means(kernel_matrix, membership, normed_weights):
    """Weighted mean kernel values within and between the two groups.

    With S the rows whose membership is 1 and N those whose membership is 0, `a = w̃·[m = 1]`
    and `b = w̃·[m = 0]` (`[batch, 1]`), the weighted mean of `K` over `A × B` is
    `aᵀ K b / (Σa · Σb)`, 0 when a group is empty or has zero weight. All three means come
    from one `[2, 2]` product `Gᵀ K G` with `G = [a, b]`.

    Args:
        kernel_matrix: `[batch, batch]` kernel matrix `K`.
        membership: `[batch, 1]` membership in the compute dtype.
        normed_weights: `[batch, 1]` normalised weights `w̃`.

    Returns:
        `(mean_SS, mean_NN, mean_SN, group_weights)` where `group_weights` is `G`
        `[batch, 2]` (column 0: sensitive, column 1: non-sensitive), for losses that need
        further statistics of the groups.
    """
    in_sensitive = ops.cast(ops.equal(membership, 1), normed_weights.dtype)
    in_nonsensitive = ops.cast(ops.equal(membership, 0), normed_weights.dtype)
    group_weights = normed_weights * ops.concatenate([in_sensitive, in_nonsensitive], axis=1)
    sums = ops.sum(group_weights, axis=0)
    means = safe_divide(
        ops.matmul(ops.transpose(group_weights), ops.matmul(kernel_matrix, group_weights)),
        ops.outer(sums, sums),
    )
    return means[0, 0], means[1, 1], means[0, 1], group_weights


@keras.saving.register_keras_serializable(package="keras_remediation")
class MMDLoss(MinDiffLoss):
    """Maximum Mean Discrepancy between the prediction distributions of two groups.

    `MMD = mean_w K(S, S) − 2·mean_w K(S, N) + mean_w K(N, N)`, the biased estimate with the
    diagonal included and no square root (its gradient blows up near 0), where `K` is the kernel
    matrix of the predictions, S the sensitive group (membership 1), N the others (membership 0)
    and `mean_w` the sample-weighted mean over pairs (see `group_kernel_means`). A group that is
    empty in the batch contributes 0 to its terms, so the loss stays finite.

    Source: Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; used as a MinDiff loss by
    Prost et al., "Toward a better trade-off between performance and fairness with kernel-based
    distribution matching", 2019 (arXiv:1910.11779). Agrees with TF Model Remediation's
    `MMDLoss` to 1e-5 in float32.

    Computed in vector form (`aᵀKb`) rather than with `[batch, batch]` weight masks: one
    `[batch, batch]` kernel matrix is the only quadratic-size intermediate.

    Args:
        kernel: `'gaussian'` (default) or `'laplacian'` (also `'gauss'`, `'laplace'`, with an
            optional `'_kernel'` suffix, case-insensitive) or a `MinDiffKernel` instance.
        predictions_transform: optional callable applied to the predictions first.
        name: defaults to `'mmd_loss'`.

    Called as `loss(membership, predictions, sample_weight=None)`; see `MinDiffLoss`.
    """

    def __init__(self, kernel="gaussian", predictions_transform=None, name=None):
        super().__init__(
            predictions_transform=predictions_transform,
            predictions_kernel=kernel,
            name=name or "mmd_loss",
        )

    def call(self, membership, predictions, sample_weight):
        _, kernel_matrix = self._apply_kernels(membership, predictions)
        mean_ss, mean_nn, mean_sn, _ = group_kernel_means(
            kernel_matrix, membership, sample_weight
        )
        return mean_ss - 2.0 * mean_sn + mean_nn

    def get_config(self):
        config = super().get_config()
        config["kernel"] = keras.saving.serialize_keras_object(self.predictions_kernel)
        return config
