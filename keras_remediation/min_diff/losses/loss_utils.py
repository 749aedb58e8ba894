"""`get_min_diff_loss`: resolve a MinDiff loss name or instance."""

from keras_remediation.common.names import resolve_name
from keras_remediation.min_diff.losses.absolute_correlation_loss import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses.adjusted_mmd_loss import AdjustedMMDLoss
from keras_remediation.min_diff.losses.base_loss import MinDiffLoss
from keras_remediation.min_diff.losses.mmd_loss import MMDLoss

_LOSSES = {
    "mmd": MMDLoss,
    "maximum_mean_discrepancy": MMDLoss,
    "abs_corr": AbsoluteCorrelationLoss,
    "absolute_correlation": AbsoluteCorrelationLoss,
    "adjusted_mmd": AdjustedMMDLoss,
}


def get_min_diff_loss(loss, arg_name="loss"):
    """Returns a `MinDiffLoss` instance for a name or instance.

    Args:
        loss: a `MinDiffLoss` instance or a name, case-insensitive: `'mmd'`,
            `'maximum_mean_discrepancy'`, `'abs_corr'`, `'absolute_correlation'` or
            `'adjusted_mmd'`, each optionally followed by `'_loss'`.
        arg_name: name of the argument, used in error messages.

    Returns:
        `loss` itself if it is a `MinDiffLoss`, else a new instance of the named loss with
        its default arguments.

    Raises:
        TypeError: if `loss` is neither a string nor a `MinDiffLoss` instance.
        ValueError: for an unknown name.
    """
    if not isinstance(loss, (str, MinDiffLoss)):
        raise TypeError(
            f"`{arg_name}` must be a MinDiffLoss instance or a string (a loss name such as "
            f"'mmd'); received {loss!r} of type {type(loss).__name__}."
        )
    return resolve_name(
        loss, _LOSSES, MinDiffLoss, suffix="_loss", kind="MinDiff loss", arg_name=arg_name
    )
