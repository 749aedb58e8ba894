"""`MMDLoss`: maximum mean discrepancy between the predictions on two groups."""

import keras
from keras import ops

from keras_remediation.common.tensor_utils import safe_divide
from keras_remediation.min_diff.losses.base_loss import MinDiffLoss
from keras_remediation.min_diff.losses.kernels import get_kernel


def weighted_mmd(kernel_matrix, membership, normed_weights):
    """The weighted MMD of a batch, with the groups' mean kernel values.

    With S the rows whose membership is 1 and N those whose membership is 0, `ĝ_S = w̃·[m = 1]
    / Σ w̃·[m = 1]` and `ĝ_N` likewise (`[batch]`, all 0 for an empty or zero-weight group),
    the weighted mean of `K` over `A × B` is `ĝ_Aᵀ K ĝ_B`, and
    `MMD = ĝ_SᵀKĝ_S − 2·ĝ_SᵀKĝ_N + ĝ_NᵀKĝ_N = cᵀ K c` with `c = ĝ_S − ĝ_N`. The MMD is
    summed in that contrast form rather than as a difference of the three means: when the two
    groups' predictions agree, the means are all near 1 and their difference would be float32
    rounding (about 1e-7, which `AdjustedMMDLoss` then multiplies by up to 100). `einsum`, not
    `matmul`: Keras's `matmul` on the torch backend rounds float64 operands through float32.

    Args:
        kernel_matrix: `[batch, batch]` kernel matrix `K`.
        membership: `[batch, 1]` membership in the compute dtype.
        normed_weights: `[batch, 1]` normalised weights `w̃`.

    Returns:
        `(mmd, mean_ss, mean_nn, group_weights)`: scalars, and `group_weights` `[batch, 2]`,
        the weights `w̃` of each group (column 0: sensitive, column 1: non-sensitive), for
        losses that need further statistics of the groups.
    """
    in_sensitive = ops.cast(ops.equal(membership, 1), normed_weights.dtype)
    in_nonsensitive = ops.cast(ops.equal(membership, 0), normed_weights.dtype)
    group_weights = normed_weights * ops.concatenate([in_sensitive, in_nonsensitive], axis=1)
    group_means = safe_divide(group_weights, ops.sum(group_weights, axis=0, keepdims=True))
    kernel_means = ops.einsum("ij,jb->ib", kernel_matrix, group_means)
    contrast = group_means[:, 0] - group_means[:, 1]
    mmd = ops.sum(contrast * (kernel_means[:, 0] - kernel_means[:, 1]))
    mean_ss = ops.sum(group_means[:, 0] * kernel_means[:, 0])
    mean_nn = ops.sum(group_means[:, 1] * kernel_means[:, 1])
    return mmd, mean_ss, mean_nn, group_weights


@keras.saving.register_keras_serializable(package="keras_remediation")
class MMDLoss(MinDiffLoss):
    """Maximum Mean Discrepancy between the prediction distributions of two groups.

    `MMD = mean_w K(S, S) − 2·mean_w K(S, N) + mean_w K(N, N)`, the biased estimate with the
    diagonal included and no square root (its gradient blows up near 0), where `K` is the kernel
    matrix of the predictions, S the sensitive group (membership 1), N the others (membership 0)
    and `mean_w` the sample-weighted mean over pairs (see `weighted_mmd`). A group that is
    empty in the batch contributes 0 to its terms, so the loss stays finite (it is then the
    spread of the other group; `empty_group='zero'` returns 0 instead).

    Source: Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; used as a MinDiff loss by
    Prost et al., "Toward a better trade-off between performance and fairness with kernel-based
    distribution matching", 2019 (arXiv:1910.11779). Agrees with TF Model Remediation's
    `MMDLoss` to 1e-5 in float32.

    Computed in vector form (`cᵀKc`) rather than with `[batch, batch]` weight masks: one
    `[batch, batch]` kernel matrix is the only quadratic-size intermediate.

    Args (positional in this order, as in TF Model Remediation):
        kernel: `'gaussian'` (default) or `'laplacian'` (also `'gauss'`, `'laplace'`, with an
            optional `'_kernel'` suffix, case-insensitive) or a `MinDiffKernel` instance,
            applied to the predictions (it is the loss's `predictions_kernel`).
        predictions_transform: optional callable applied to the predictions first, e.g.
            `keras.ops.sigmoid`. Default None.
        name: defaults to `'mmd_loss'`.
        enable_summary_histogram: bool or None (default: True on TensorFlow, where summaries
            are written); see `MinDiffLoss`.
        empty_group: keyword-only, `'reference'` (default: TF Model Remediation's value) or
            `'zero'`: the loss of a batch that lacks a group (no row of it, or only zero
            weights). `'reference'` returns the spread of the group that is present, with a
            gradient that pulls its predictions together; `'zero'` returns 0 with a zero
            gradient (a NaN value stays NaN). See `MinDiffLoss`.

    Dtypes: computed and returned in float32, or float64 for float64 predictions. Under JAX
    without `jax_enable_x64` (JAX's default) float64 inputs are silently float32 (see
    `MinDiffLoss`).

    Raises:
        TypeError: if `kernel` is neither a string nor a `MinDiffKernel`; see `MinDiffLoss`
            for the other arguments.
        ValueError: for an unknown kernel name, a non-callable transform or an `empty_group`
            other than `'reference'` and `'zero'`; on call, for bad membership, non-finite
            predictions or bad weights (see `MinDiffLoss`).

    Called as `loss(membership, predictions, sample_weight=None)`; see `MinDiffLoss`.
    Serialised as `{'kernel', 'name'}` plus `predictions_transform`,
    `enable_summary_histogram` and `empty_group` when set; `from_config` also accepts TF Model Remediation's
    key `predictions_kernel` for `kernel`.
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
            predictions_transform=predictions_transform,
            predictions_kernel=get_kernel(kernel, "kernel"),
            name=name or "mmd_loss",
            enable_summary_histogram=enable_summary_histogram,
            empty_group=empty_group,
        )

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, sample_weight = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        _, kernel_matrix = self._apply_kernels(membership, predictions)
        mmd, _, _, _ = weighted_mmd(kernel_matrix, membership, sample_weight)
        return self._apply_empty_group(mmd, membership, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["kernel"] = config.pop("predictions_kernel")
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "predictions_kernel" in config:  # TF Model Remediation's key.
            config["kernel"] = config.pop("predictions_kernel")
        return super().from_config(config)
