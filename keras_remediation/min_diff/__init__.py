"""MinDiff: penalise the difference between a model's predictions on two groups of examples.

`min_diff.losses` holds the losses and kernels; `min_diff.keras` holds `MinDiffModel` and the
data utilities (`min_diff.keras.utils`).
"""

from keras_remediation.min_diff import losses
from keras_remediation.min_diff import keras
