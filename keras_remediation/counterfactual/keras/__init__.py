"""CLP for Keras models: `models.CounterfactualModel` and the data utilities in `utils`."""

from keras_remediation.counterfactual.keras import models
from keras_remediation.counterfactual.keras import utils
from keras_remediation.counterfactual.keras.models import CounterfactualModel

__all__ = ["CounterfactualModel", "models", "utils"]
