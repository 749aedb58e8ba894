"""MinDiff Keras models (TF Model Remediation's `min_diff.keras.models`): `MinDiffModel`."""

from keras_remediation.min_diff.keras.models.min_diff_model import MinDiffModel

__all__ = ["MinDiffModel"]
