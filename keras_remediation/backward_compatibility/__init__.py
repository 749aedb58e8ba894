"""Backward-compatible model updates: train a new model h2 that keeps what a deployed h1 got right.

Loss: L(h2) + λ_c · dissonance(h1, h2), λ_c ≥ 0, the dissonance measured on the examples h1
classifies correctly (new error: h2's loss there; strict imitation: KL(h1 ‖ h2) there). Sources:
Bansal et al., AAAI 2019; Srivastava, Nushi, Kamar, Shah, Horvitz, KDD 2020. The API follows
BackwardCompatibilityML's TensorFlow package, on every Keras backend.

Modules:
    models: `BCNewErrorCompatibilityModel`, `BCStrictImitationCompatibilityModel` (compile/fit).
    losses: `BCCrossEntropyLoss(h1, h2, lambda_c)` and friends; backend-agnostic dissonances.
    helpers: `bc_fit`, the seed's training function for the loss objects (on the models' `fit`).
    scores: `trust_compatibility_score` (BTC), `error_compatibility_score` (BEC), new errors.
    sweep: `lambda_sweep` (a pandas table per λ_c), `plot_tradeoff`, `plot_error_overlap`.
"""

from keras_remediation.backward_compatibility import helpers
from keras_remediation.backward_compatibility import losses
from keras_remediation.backward_compatibility import models
from keras_remediation.backward_compatibility import scores
from keras_remediation.backward_compatibility import sweep
from keras_remediation.backward_compatibility.helpers import bc_fit
from keras_remediation.backward_compatibility.models import BCNewErrorCompatibilityModel
from keras_remediation.backward_compatibility.models import BCStrictImitationCompatibilityModel
from keras_remediation.backward_compatibility.scores import error_compatibility_score
from keras_remediation.backward_compatibility.scores import trust_compatibility_score
from keras_remediation.backward_compatibility.sweep import lambda_sweep
from keras_remediation.backward_compatibility.sweep import plot_error_overlap
from keras_remediation.backward_compatibility.sweep import plot_tradeoff

__all__ = [
    "BCNewErrorCompatibilityModel",
    "BCStrictImitationCompatibilityModel",
    "bc_fit",
    "error_compatibility_score",
    "helpers",
    "lambda_sweep",
    "losses",
    "models",
    "plot_error_overlap",
    "plot_tradeoff",
    "scores",
    "sweep",
    "trust_compatibility_score",
]
