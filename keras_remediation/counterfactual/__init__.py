"""Counterfactual logit pairing (CLP): penalise output changes when a sensitive attribute changes.

`counterfactual.losses` holds the pairwise losses; `counterfactual.keras` holds
`CounterfactualModel` and the data utilities (`counterfactual.keras.utils`). The most used names
are also available here.
"""

from keras_remediation.counterfactual import losses
from keras_remediation.counterfactual import keras
from keras_remediation.counterfactual.keras import CounterfactualModel
from keras_remediation.counterfactual.keras.utils import CounterfactualPackedInputs
from keras_remediation.counterfactual.keras.utils import build_counterfactual_data
from keras_remediation.counterfactual.keras.utils import build_counterfactual_pairs
from keras_remediation.counterfactual.keras.utils import pack_counterfactual_data
from keras_remediation.counterfactual.losses import CounterfactualLoss
from keras_remediation.counterfactual.losses import PairwiseAbsoluteDifferenceLoss
from keras_remediation.counterfactual.losses import PairwiseCosineLoss
from keras_remediation.counterfactual.losses import PairwiseMSELoss

__all__ = [
    "CounterfactualLoss",
    "CounterfactualModel",
    "CounterfactualPackedInputs",
    "PairwiseAbsoluteDifferenceLoss",
    "PairwiseCosineLoss",
    "PairwiseMSELoss",
    "build_counterfactual_data",
    "build_counterfactual_pairs",
    "keras",
    "losses",
    "pack_counterfactual_data",
]
