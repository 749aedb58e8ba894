"""`CounterfactualModel` (TF Model Remediation's `counterfactual.keras.models`)."""

from keras_remediation.counterfactual.keras.models import counterfactual_model
from keras_remediation.counterfactual.keras.models.counterfactual_model import CounterfactualModel

__all__ = ["CounterfactualModel", "counterfactual_model"]
