"""Backend-neutral tensor helpers: eager-value access, safe division, dtype and shape."""

import numpy as np
import keras
from keras import ops


def concrete_value(x):
    """Returns `x` as a NumPy array when its values are known now, else None.

    Values are known for NumPy arrays, Python numbers and lists, eager TensorFlow tensors, JAX
    arrays outside of tracing and PyTorch tensors outside of `torch.compile`, whatever the Keras
    backend (a `tf.data` pipeline yields TensorFlow tensors under the JAX and torch backends
    too). Inside a compiled step (a `tf.function` graph, a JAX trace, a Keras symbolic tensor)
    they are not, and None is returned: callers then skip value checks that would need a host
    round trip. Values on an accelerator (PyTorch tensors and JAX arrays not on the CPU) are
    not read either: reading them would stall the device on every eager step. The data packers
    check every batch in the input pipeline instead; a NaN prediction on an accelerator gives
    a NaN loss there, as under JAX's `jit`.
    """
    if x is None:
        return None
    if isinstance(x, (np.ndarray, np.generic, int, float, bool, list, tuple)):
        return np.asarray(x)
    if is_traced(x):
        return None
    library = type(x).__module__.split(".")[0]
    if library == "tensorflow":
        return x.numpy()
    if library in ("jax", "jaxlib"):
        devices = getattr(x, "devices", None)
        if devices is not None and any(d.platform != "cpu" for d in devices()):
            return None
        return np.asarray(x)
    if library == "torch":
        if x.device.type != "cpu":
            return None
        return x.detach().numpy()
    return None


def is_traced(x):
    """True while `x` belongs to a step being compiled or built: a TensorFlow graph tensor (or
    any tensor while a `tf.function` traces), a JAX tracer, any tensor while `torch.compile`
    traces, a Keras symbolic tensor. A tensor made now from constants would then belong to
    that trace, and must not be kept for later steps."""
    if isinstance(x, keras.KerasTensor):
        return True
    library = type(x).__module__.split(".")[0]
    if library == "tensorflow":
        import tensorflow as tf

        return not (tf.executing_eagerly() and isinstance(x, tf.__internal__.EagerTensor))
    if library in ("jax", "jaxlib"):
        import jax

        return isinstance(x, jax.core.Tracer)
    if library == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def safe_divide(numerator, denominator):
    """`numerator / denominator`, and 0 where the denominator is 0, with finite gradients.

    The double `where` keeps the gradient of the unused branch finite (a plain division by zero
    would put NaN into the backward pass even where the result is masked).
    """
    is_zero = ops.equal(denominator, 0)
    safe_denominator = ops.where(is_zero, ops.ones_like(denominator), denominator)
    return ops.where(is_zero, ops.zeros_like(numerator), numerator / safe_denominator)


def compute_dtype(*tensors):
    """The float dtype to compute a loss in: float64 if any input is float64, else float32.

    float16 and bfloat16 inputs are computed in float32 (sums of exponentials overflow or lose
    precision in half precision).
    """
    for t in tensors:
        if t is not None and "float64" in str(getattr(t, "dtype", "")):
            return "float64"
    return "float32"


def static_batch_size(x):
    """The first dimension of `x` if it is known statically, else None."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) == 0:
        return None
    size = shape[0]
    return None if size is None else int(size)


def all_finite_now(x):
    """True or False if the values of `x` are known now (see `concrete_value`) and all finite,
    else None (inside a compiled step). Reduced where the values live (one boolean crosses to
    the host for a JAX or PyTorch array on an accelerator), not copied whole."""
    if x is None or is_traced(x):
        return None
    library = type(x).__module__.split(".")[0]
    if library == "torch":
        import torch

        if not torch.is_floating_point(x) and not torch.is_complex(x):
            return True
        return bool(torch.isfinite(x.detach()).all())
    if library in ("jax", "jaxlib"):
        import jax.numpy as jnp

        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return True
        return bool(jnp.all(jnp.isfinite(x)))
    values = concrete_value(x)
    if values is None:
        return None
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.inexact):
        return values.dtype != object or bool(np.all(np.isfinite(values.astype(np.float64))))
    return bool(np.all(np.isfinite(values)))
