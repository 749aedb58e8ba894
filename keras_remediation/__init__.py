"""keras-remediation: train Keras 3 models with extra loss components on every backend.

Subpackages:
    min_diff: MinDiff fairness remediation (`MinDiffModel`, MinDiff losses, data utilities).
    backward_compatibility: backward-compatible updates of a deployed model h1 (BC models and
        losses, BTC/BEC scores, λ_c sweeps and their plots).
    counterfactual: counterfactual logit pairing (`CounterfactualModel`, pairwise losses,
        counterfactual data utilities).
    federated: federated training on Flower (`from_keras_model`, Flower apps).
    evaluation: group metrics (fairlearn) and plots of what remediation did.
    common: the wrapping machinery shared by every technique.

Importing this package imports Keras only; no backend-specific package, Flower or Ray.
"""

__version__ = "0.1.0"
