"""MinDiff for Keras models: `MinDiffModel` and the data utilities in `utils`."""

from keras_remediation.min_diff.keras import utils
from keras_remediation.min_diff.keras.min_diff_model import MinDiffModel

__all__ = ["MinDiffModel", "utils"]
