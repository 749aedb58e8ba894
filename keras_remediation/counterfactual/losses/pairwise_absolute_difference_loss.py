"""`PairwiseAbsoluteDifferenceLoss`: mean absolute difference of each pair."""

import keras
from keras import ops

from keras_remediation.counterfactual.losses.base_loss import CounterfactualLoss


@keras.saving.register_keras_serializable(package="keras_remediation")
class PairwiseAbsoluteDifferenceLoss(CounterfactualLoss):
    """l_i = mean over the last axis of |o_i − c_i|, reduced as in `CounterfactualLoss`.

    Name: `"pairwise_absolute_difference_loss"` (or without `_loss`).

    Args:
        name: defaults to `"pairwise_absolute_difference_loss"`.
        global_batch_size, batch_reduction: see `CounterfactualLoss`.
    """

    def __init__(self, name=None, global_batch_size=None, batch_reduction="sum_over_batch_size"):
        super().__init__(
            name=name or "pairwise_absolute_difference_loss",
            global_batch_size=global_batch_size, batch_reduction=batch_reduction,
        )

    def call(self, original, counterfactual):
        return ops.mean(ops.abs(original - counterfactual), axis=-1)
