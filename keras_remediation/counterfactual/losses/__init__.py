"""Pairwise losses for counterfactual logit pairing (CLP), TF Model Remediation's layout.

`CounterfactualLoss` (`base_loss`) is the base class: subclasses implement
`call(original, counterfactual)`; `PairwiseMSELoss`, `PairwiseAbsoluteDifferenceLoss` and
`PairwiseCosineLoss` are the built-in losses; `get` resolves a name (`loss_utils`).

Sources: counterfactual fairness, Kusner et al., "Counterfactual Fairness", NeurIPS 2017;
counterfactual logit pairing, Garg et al., "Counterfactual Fairness in Text Classification
through Robustness", AIES 2019; the API follows TF Model Remediation's `counterfactual.losses`.
"""

from keras_remediation.counterfactual.losses.base_loss import CounterfactualLoss
from keras_remediation.counterfactual.losses.loss_utils import get
from keras_remediation.counterfactual.losses.pairwise_absolute_difference_loss import (
    PairwiseAbsoluteDifferenceLoss,
)
from keras_remediation.counterfactual.losses.pairwise_cosine_loss import PairwiseCosineLoss
from keras_remediation.counterfactual.losses.pairwise_mse_loss import PairwiseMSELoss

__all__ = [
    "CounterfactualLoss",
    "PairwiseAbsoluteDifferenceLoss",
    "PairwiseCosineLoss",
    "PairwiseMSELoss",
    "get",
]
