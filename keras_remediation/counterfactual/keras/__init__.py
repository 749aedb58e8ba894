"""CLP for Keras models: `CounterfactualModel` and the data utilities in `utils`."""

from keras_remediation.counterfactual.keras import utils
from keras_remediation.counterfactual.keras.counterfactual_model import CounterfactualModel

__all__ = ["CounterfactualModel", "utils"]
