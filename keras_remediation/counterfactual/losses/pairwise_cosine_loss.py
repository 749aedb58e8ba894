"""`PairwiseCosineLoss`: minus the cosine similarity of each pair (Keras's `CosineSimilarity`)."""

import warnings

import keras
from keras import ops

from keras_remediation.counterfactual.losses.base_loss import CounterfactualLoss

_NORM_EPSILON = 1e-12
_LARGE = 1e16
_SCALE = 2.0**-72


@keras.saving.register_keras_serializable(package="keras_remediation")
class PairwiseCosineLoss(CounterfactualLoss):
    """l_i = −⟨o_i, c_i⟩ / (‖o_i‖_s · ‖c_i‖_s) over the last axis, reduced as in `CounterfactualLoss`.

    ‖x‖_s = sqrt(max(Σ x², 1e-12)) (Keras's `l2_normalize`), so l_i ∈ [−1, 1]: −1 for pairs
    pointing the same way, 0 for an all-zero row (finite value and gradient; a row with an
    entry beyond ±1e16 is scaled by 2^-72 first, so outputs near the float limit
    keep a finite value and gradient). This is Keras's
    `CosineSimilarity` loss, as in TF Model Remediation (keras-remediation's earlier version
    returned 1 − cos: the same gradient, shifted by the sum of the weights over the batch size).
    An empty batch gives 0.

    With outputs of last dimension 1 (one logit or probability per example) the cosine only
    sees signs: it is ±1 and its gradient 0 almost everywhere, so the loss cannot pair the
    outputs. The loss warns (once per instance) when it sees such inputs; use
    `PairwiseMSELoss` or `PairwiseAbsoluteDifferenceLoss` there.

    Name: `"pairwise_cosine_loss"` (or `"pairwise_cosine"`).

    Args:
        name: defaults to `"pairwise_cosine_loss"`.
        global_batch_size, batch_reduction: see `CounterfactualLoss`.
    """

    def __init__(self, name=None, global_batch_size=None, batch_reduction="sum_over_batch_size"):
        super().__init__(
            name=name or "pairwise_cosine_loss", global_batch_size=global_batch_size,
            batch_reduction=batch_reduction,
        )
        self._warned_one_dimensional = False

    def _check_inputs(self, original, counterfactual):
        shape = original.shape
        if len(shape) >= 2 and shape[-1] == 1 and not self._warned_one_dimensional:
            self._warned_one_dimensional = True
            warnings.warn(
                f"PairwiseCosineLoss on outputs of shape {tuple(shape)}: with one value per "
                "example the cosine similarity is ±1 (its sign) and its gradient is 0, so this "
                "loss is constant and does not pair the outputs. Use PairwiseMSELoss or "
                "PairwiseAbsoluteDifferenceLoss for single-output models.",
                UserWarning,
                stacklevel=3,
            )

    def call(self, original, counterfactual):
        def normalize(x):
            # Rows with an entry beyond ±1e16 are first scaled by 2^-72 (same direction, and
            # Σ x² stays above the epsilon), so Σ x² cannot overflow; other rows are exactly
            # Keras's. A multiplication, not a division by the row's maximum: the reciprocal
            # of a value near the float32 limit is subnormal, and XLA flushes it to zero.
            # (`any`, not `max(..., initial=0)`, which `torch.compile` cannot trace.)
            large = ops.any(ops.abs(x) > _LARGE, axis=-1, keepdims=True)
            x = ops.where(large, x * _SCALE, x)
            return x / ops.sqrt(
                ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), _NORM_EPSILON)
            )

        return -ops.sum(normalize(original) * normalize(counterfactual), axis=-1)
