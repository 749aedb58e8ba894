"""keras-remediation: train Keras 3 models with extra loss components on every backend.

Subpackages:
    min_diff: MinDiff fairness remediation (`MinDiffModel`, MinDiff losses, data utilities).
    common: the wrapping machinery shared by every technique.

Importing this package imports Keras only; no backend-specific package, Flower or Ray.
"""

__version__ = "0.1.0"
