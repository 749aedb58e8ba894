"""MinDiff kernels: `MinDiffKernel` base, `GaussianKernel`, `LaplacianKernel` and `get_kernel`.

A kernel maps predictions `x` of shape `[N, D]` (and optionally `y` of shape `[M, D]`) to the
`[N, M]` matrix of pairwise similarities `k(x_i, y_j)`. `y` defaults to `x`. As in TF Model
Remediation, `kernel(x, y)` tiles the inputs to `[N, 1, D]` and `[1, M, D]` before handing
them to `call` (`tile_input=True`, the default); with `tile_input=False` the caller passes
inputs that are already paired, e.g. `[N, M, D]` each.
"""

import abc
import math
import numbers

import numpy as np
import keras
from keras import ops

from keras_remediation.common.config_equality import EqualByConfig
from keras_remediation.common.names import resolve_name
from keras_remediation.common.tensor_utils import compute_dtype

_PACKAGE = "keras_remediation"

# exp(-80) ≈ 1.8e-35 is a normal float32. Below it, `exp` returns subnormal numbers, which CPUs
# compute tens of times slower unless denormals are flushed to zero. XLA (JAX) and TensorFlow
# flush them; PyTorch does not, and there the kernel values of distant predictions (e.g. d²/l² =
# 100 for d = 1, l = 0.1) made one kernel matrix cost more than the whole training step, so on
# PyTorch the exponent is clipped, which changes a kernel value by at most 1.8e-35. Elsewhere it
# is not: the clip (and its gradient's select) cost more than the exponential itself, 18 µs of a
# 128-row MMD's 49 µs value and gradient under `jax.jit` on CPU (benchmarks/README.md).
_MIN_EXPONENT = -80.0


def _as_2d(x, dtype):
    x = ops.convert_to_tensor(x)
    x = ops.cast(x, dtype)
    if len(x.shape) == 0:
        raise ValueError("Kernel inputs must have a batch dimension; received a scalar.")
    if len(x.shape) == 1:
        x = ops.expand_dims(x, -1)
    elif len(x.shape) > 2:
        x = ops.reshape(x, (ops.shape(x)[0], -1))
    return x


def _exp_of_negative(exponent):
    """`exp(exponent)` for `exponent ≤ 0`, without subnormal results (see `_MIN_EXPONENT`)."""
    # `clip`, not `maximum`: Keras's `maximum` on the torch backend returns float32 for float64.
    if keras.backend.backend() != "torch":
        return ops.exp(exponent)
    return ops.exp(ops.clip(exponent, _MIN_EXPONENT, 0.0))


def _squared_distances(x, y, kernel_name):
    """`[N, M]` squared Euclidean distances of paired rows: `Σ_d (x - y)²` over the last axis.

    `x` and `y` are rank 3 and broadcast to `[N, M, D]`: `[N, 1, D]` and `[1, M, D]` when the
    kernel tiles its inputs, or `[N, M, D]` each with `tile_input=False`.
    """
    if len(x.shape) != 3 or len(y.shape) != 3:
        raise ValueError(
            f"{kernel_name} with `tile_input=False` must be called on paired inputs of rank 3, "
            f"e.g. `[N, M, D]` each; received shapes {tuple(x.shape)} and {tuple(y.shape)}. "
            "Leave `tile_input=True` to call it on `[N, D]` and `[M, D]` inputs."
        )
    difference = x - y
    # `d · d`, not `square(d)`: the gradient of `square` is `2d · g`, and `2d` overflows to
    # inf for |d| > 1.7e38 in float32, so a zero upstream gradient (a kernel value clipped to
    # 0) became NaN. The product's gradient is `d · g + g · d`: 0 there.
    return ops.sum(difference * difference, axis=-1)


def check_bool(value, arg_name):
    """Returns `value` as a Python bool; raises TypeError unless it is a (NumPy) bool."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(
        f"`{arg_name}` must be a bool; received {value!r} of type {type(value).__name__}."
    )


def check_kernel_length(kernel_length):
    """Returns `kernel_length` as a float after checking it is a positive finite number.

    Python and NumPy real numbers are accepted (not booleans).

    Raises:
        TypeError: if `kernel_length` is not a real number.
        ValueError: if it is not positive, or is infinite or NaN.
    """
    if isinstance(kernel_length, (bool, np.bool_)) or not isinstance(kernel_length, numbers.Real):
        raise TypeError(
            f"`kernel_length` must be a positive finite number (int or float); received "
            f"{kernel_length!r} of type {type(kernel_length).__name__}."
        )
    value = float(kernel_length)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"`kernel_length` must be a positive finite number; received {kernel_length!r}."
        )
    return value


class MinDiffKernel(EqualByConfig, abc.ABC):
    """Base class of MinDiff kernels (TF Model Remediation's `MinDiffKernel`).

    Args:
        tile_input: bool, default True. If True, `kernel(x, y)` takes `x` `[N, D]` and `y`
            `[M, D]` (`[N]` is read as `[N, 1]`; higher ranks are flattened to `[N, D]`) and
            hands `call` the tiled `[N, 1, D]` and `[1, M, D]` tensors, which broadcast
            against each other. If False, the inputs are handed to `call` as given (converted
            to tensors of the compute dtype): the caller pairs them, e.g. `[N, M, D]` each.
            Both give the same `[N, M]` matrix for the built-in kernels; tiling is the usual
            way to call a kernel on a batch of predictions.

    Raises:
        TypeError: if `tile_input` is not a bool.

    Subclasses implement `call(x, y)`, which receives the tiled (or paired) tensors and returns
    the `[N, M]` kernel matrix, e.g. (the example of TF Model Remediation):

        class MyGaussianKernel(MinDiffKernel):
            def call(self, x, y):
                return keras.ops.exp(-keras.ops.sum(keras.ops.square(x - y), axis=2) / 0.01)

    A subclass with more arguments passes `tile_input` on (`super().__init__(**kwargs)`) and
    extends `get_config`.
    """

    def __init__(self, tile_input=True):
        self.tile_input = check_bool(tile_input, "tile_input")

    def __call__(self, x, y=None):
        """Returns the `[N, M]` kernel matrix of `x` and `y` (`y` defaults to `x`).

        Args:
            x: `[N, D]` or `[N]` tensor or array (with `tile_input=False`: any shape `call`
                accepts, `[N, M, D]` for the built-in kernels).
            y: optional tensor or array of the same kind, `[M, D]` or `[M]`; defaults to `x`.

        Returns:
            `[N, M]` tensor, float32 (float64 if an input is float64).

        Raises:
            ValueError: with `tile_input=True`, if an input is a scalar or the feature sizes
                `D` of `x` and `y` differ.
        """
        dtype = compute_dtype(x, y)
        if not self.tile_input:
            x = ops.cast(ops.convert_to_tensor(x), dtype)
            y = x if y is None else ops.cast(ops.convert_to_tensor(y), dtype)
            return self.call(x, y)
        x = _as_2d(x, dtype)
        y = x if y is None else _as_2d(y, dtype)
        if x.shape[1] is not None and y.shape[1] is not None and x.shape[1] != y.shape[1]:
            raise ValueError(
                f"Kernel inputs `x` and `y` must have the same number of features; received "
                f"shapes {tuple(x.shape)} and {tuple(y.shape)}."
            )
        return self.call(ops.expand_dims(x, 1), ops.expand_dims(y, 0))

    @abc.abstractmethod
    def call(self, x, y):
        """Kernel matrix `[N, M]` of `x` `[N, 1, D]` and `y` `[1, M, D]` (tiled inputs).

        With `tile_input=False`, `x` and `y` are the inputs as given. Call the kernel itself,
        not this method.
        """

    def get_config(self):
        """Returns `{'tile_input': ...}`; subclasses add their own arguments."""
        return {"tile_input": self.tile_input}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class _LengthScaleKernel(MinDiffKernel):
    """A kernel with one length scale `l = kernel_length`: the `__init__` and `get_config` the
    built-in kernels share. Subclasses implement `call`."""

    def __init__(self, kernel_length=0.1, *, tile_input=True):
        super().__init__(tile_input=tile_input)
        self.kernel_length = check_kernel_length(kernel_length)

    def get_config(self):
        return {"kernel_length": self.kernel_length, **super().get_config()}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GaussianKernel(_LengthScaleKernel):
    """Gaussian kernel `k(x, y) = exp(-||x - y||² / l²)` with `l = kernel_length`.

    Note the denominator is `l²`, not `2σ²` (the TF Model Remediation convention).

    Source: TF Model Remediation's `GaussianKernel`; used for MinDiff by Prost et al., "Toward
    a better trade-off between performance and fairness with kernel-based distribution
    matching", 2019 (arXiv:1910.11779).

    Args:
        kernel_length: positive finite number (Python or NumPy int or float), default 0.1, the
            length scale `l`, suited to predictions that are probabilities in [0, 1]. Stored
            as a float.
        tile_input: keyword-only bool, default True; see `MinDiffKernel`.

    Raises:
        TypeError: if `kernel_length` is not a number or `tile_input` not a bool.
        ValueError: if `kernel_length` is not positive, or is infinite or NaN.

    `random_frequencies` samples its spectrum, for random Fourier features.
    """

    def call(self, x, y):
        squared = _squared_distances(x, y, type(self).__name__)
        return _exp_of_negative(-squared / (self.kernel_length**2))

    def random_frequencies(self, dim, num_features, seed):
        """`[dim, num_features]` float64 NumPy frequencies `ω ~ N(0, (2 / l²)·I)`.

        Bochner's theorem: `k(x, y) = exp(-||x − y||²/l²) = E_ω[cos(ωᵀ(x − y))]` for `ω` of
        that normal distribution (the kernel's Fourier transform), so `cos` and `sin` of `xᵀω`
        are random Fourier features of `k` (Rahimi and Recht, "Random Features for Large-Scale
        Kernel Machines", NIPS 2007). The draw is `numpy.random.default_rng(seed)`: the same
        on every backend.

        Args:
            dim: number of prediction features `D`, a positive int.
            num_features: number of frequencies, a positive int.
            seed: int seed of the draw.
        """
        rng = np.random.default_rng(seed)
        return rng.standard_normal((dim, num_features)) * (math.sqrt(2.0) / self.kernel_length)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LaplacianKernel(_LengthScaleKernel):
    """Laplacian kernel `k(x, y) = exp(-||x - y||₂ / l)` with `l = kernel_length`.

    The Euclidean norm has no derivative at 0 (the diagonal of `k(x, x)`); it is computed so that
    its gradient there is 0 rather than NaN, on every backend, eager or compiled. (TF Model
    Remediation adds 1e-8 to `x - y` instead; the values agree to about 1e-7.)

    Source: TF Model Remediation's `LaplacianKernel`; Prost et al. 2019 (arXiv:1910.11779).

    Args:
        kernel_length: positive finite number (Python or NumPy int or float), default 0.1, the
            length scale `l`. Stored as a float.
        tile_input: keyword-only bool, default True; see `MinDiffKernel`.

    Raises:
        TypeError: if `kernel_length` is not a number or `tile_input` not a bool.
        ValueError: if `kernel_length` is not positive, or is infinite or NaN.
    """

    def call(self, x, y):
        squared = _squared_distances(x, y, type(self).__name__)
        # `not_equal`, not `greater`: a NaN distance must stay NaN, not become 0 (kernel value 1).
        positive = ops.not_equal(squared, 0)
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
        kernel: a `MinDiffKernel` instance (returned as is), or a name, case-insensitive:
            `'gauss'`, `'gaussian'`, `'laplace'` or `'laplacian'`, optionally followed by
            `'_kernel'` (a new instance with the default arguments).
        arg_name: name of the argument, used in error messages.

    Raises:
        TypeError: if `kernel` is neither a string nor a `MinDiffKernel` instance.
        ValueError: for an unknown name.
    """
    if not isinstance(kernel, (str, MinDiffKernel)):
        raise TypeError(
            f"`{arg_name}` must be a MinDiffKernel instance or a string (a kernel name such as "
            f"'gaussian'); received {kernel!r} of type {type(kernel).__name__}."
        )
    return resolve_name(
        kernel, _KERNELS, MinDiffKernel, suffix="_kernel", kind="kernel", arg_name=arg_name
    )
