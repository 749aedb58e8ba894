"""MinDiff for Keras models: `models` (home of `MinDiffModel`) and the data utilities in `utils`."""

from keras_remediation.min_diff.keras import models
from keras_remediation.min_diff.keras import utils
from keras_remediation.min_diff.keras.models import MinDiffModel

__all__ = ["MinDiffModel", "models", "utils"]
