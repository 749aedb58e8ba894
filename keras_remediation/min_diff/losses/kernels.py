"""MinDiff kernels: `MinDiffKernel` base, `GaussianKernel`, `LaplacianKernel` and `get_kernel`.

A kernel maps predictions `x` of shape `[N, D]` (and optionally `y` of shape `[M, D]`) to the
`[N, M]` matrix of pairwise similarities `k(x_i, y_j)`. `y` defaults to `x`.
"""

import abc

import keras
from keras import ops

from keras_remediation.common.names import resolve_name
from keras_remediation.common.tensor_utils import compute_dtype

_PACKAGE = "keras_remediation"

# exp(-80) ≈ 1.8e-35 is a normal float32. Below it, `exp` returns subnormal numbers, which CPUs
# compute tens of times slower unless denormals are flushed to zero: XLA (JAX) and TensorFlow
# flush them, PyTorch does not, and the kernel values of distant predictions (e.g. d²/l² = 100
# for d = 1, l = 0.1) made one kernel matrix cost more than the whole training step. Clipping
# the exponent changes a kernel value by at most 1.8e-35.
_MIN_EXPONENT = -80.0


def _as_2d(x, dtype):
    x = ops.convert_to_tensor(x)
    x = ops.cast(x, dtype)
    if len(x.shape) == 0:
        raise ValueError(f"Kernel inputs must have a batch dimension; received a scalar.")
    if len(x.shape) == 1:
        x = ops.expand_dims(x, -1)
    elif len(x.shape) > 2:
        x = ops.reshape(x, (ops.shape(x)[0], -1))
    return x


def _exp_of_negative(exponent):
    """`exp(exponent)` for `exponent ≤ 0`, without subnormal results (see `_MIN_EXPONENT`)."""
    # `clip`, not `maximum`: Keras's `maximum` on the torch backend returns float32 for float64.
    return ops.exp(ops.clip(exponent, _MIN_EXPONENT, 0.0))


def _squared_distances(x, y):
    """`[N, M]` squared Euclidean distances between the rows of `x` `[N, D]` and `y` `[M, D]`."""
    diff = ops.expand_dims(x, 1) - ops.expand_dims(y, 0)
    return ops.sum(ops.square(diff), axis=-1)


class MinDiffKernel(abc.ABC):
    """Base class of MinDiff kernels.

    Args:
        kernel_length: Positive float, the length scale `l` of the kernel. Defaults to 0.1,
            suited to predictions that are probabilities in [0, 1].

    Raises:
        ValueError: if `kernel_length` is not a positive number.

    Subclasses implement `call(x, y)` returning the `[N, M]` kernel matrix.
    """

    def __init__(self, kernel_length=0.1):
        if isinstance(kernel_length, bool) or not isinstance(kernel_length, (int, float)):
            raise ValueError(
                f"`kernel_length` must be a positive number; received {kernel_length!r}."
            )
        if not kernel_length > 0:
            raise ValueError(f"`kernel_length` must be positive; received {kernel_length!r}.")
        self.kernel_length = float(kernel_length)

    def __call__(self, x, y=None):
        """Returns the `[N, M]` kernel matrix of `x` `[N, D]` (or `[N]`) and `y` (default `x`).

        Computed in float32, or float64 when an input is float64.
        """
        dtype = compute_dtype(x, y)
        x = _as_2d(x, dtype)
        y = x if y is None else _as_2d(y, dtype)
        return self.call(x, y)

    @abc.abstractmethod
    def call(self, x, y):
        """Kernel matrix of 2-D tensors `x` `[N, D]` and `y` `[M, D]`."""

    def get_config(self):
        return {"kernel_length": self.kernel_length}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(kernel_length={self.kernel_length})"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GaussianKernel(MinDiffKernel):
    """Gaussian kernel `k(x, y) = exp(-||x - y||² / l²)` with `l = kernel_length` (default 0.1).

    Note the denominator is `l²`, not `2σ²` (the TF Model Remediation convention).
    """

    def call(self, x, y):
        return _exp_of_negative(-_squared_distances(x, y) / (self.kernel_length**2))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LaplacianKernel(MinDiffKernel):
    """Laplacian kernel `k(x, y) = exp(-||x - y||₂ / l)` with `l = kernel_length` (default 0.1).

    The Euclidean norm has no derivative at 0 (the diagonal of `k(x, x)`); it is computed so that
    its gradient there is 0 rather than NaN, on every backend, eager or compiled.
    """

    def call(self, x, y):
        squared = _squared_distances(x, y)
        positive = ops.greater(squared, 0)
        safe_squared = ops.where(positive, squared, ops.ones_like(squared))
        distances = ops.where(positive, ops.sqrt(safe_squared), ops.zeros_like(squared))
        return _exp_of_negative(-distances / self.kernel_length)


_KERNELS = {
    "gauss": GaussianKernel,
    "gaussian": GaussianKernel,
    "laplace": LaplacianKernel,
    "laplacian": LaplacianKernel,
}


def get_kernel(kernel, arg_name="kernel"):
    """Resolves a kernel name or instance to a `MinDiffKernel` instance.

    Args:
        kernel: A `MinDiffKernel` instance, or a name, case-insensitive: `'gauss'`, `'gaussian'`,
            `'laplace'` or `'laplacian'`, optionally followed by `'_kernel'`.
        arg_name: Name of the argument, used in error messages.

    Raises:
        ValueError: for an unknown name or a value of another type.
    """
    return resolve_name(
        kernel, _KERNELS, MinDiffKernel, suffix="_kernel", kind="kernel", arg_name=arg_name
    )
