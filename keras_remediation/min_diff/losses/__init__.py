"""MinDiff losses and kernels, called as `loss(membership, predictions, sample_weight=None)`."""

from keras_remediation.min_diff.losses.absolute_correlation_loss import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses.adjusted_mmd_loss import AdjustedMMDLoss
from keras_remediation.min_diff.losses import kernels
from keras_remediation.min_diff.losses.base_loss import MinDiffLoss
from keras_remediation.min_diff.losses.kernels import GaussianKernel
from keras_remediation.min_diff.losses.kernels import LaplacianKernel
from keras_remediation.min_diff.losses.kernels import MinDiffKernel
from keras_remediation.min_diff.losses.kernels import get_kernel
from keras_remediation.min_diff.losses.loss_utils import get_min_diff_loss
from keras_remediation.min_diff.losses.mmd_loss import MMDLoss

__all__ = [
    "AbsoluteCorrelationLoss",
    "AdjustedMMDLoss",
    "GaussianKernel",
    "LaplacianKernel",
    "MMDLoss",
    "MinDiffKernel",
    "MinDiffLoss",
    "get_kernel",
    "get_min_diff_loss",
    "kernels",
]
