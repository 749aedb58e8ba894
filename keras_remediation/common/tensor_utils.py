"""Backend-neutral tensor helpers: eager-value access, safe division, dtype, shape and weight checks."""

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
    round trip.
    """
    if x is None:
        return None
    if isinstance(x, (np.ndarray, np.generic, int, float, bool, list, tuple)):
        return np.asarray(x)
    if isinstance(x, keras.KerasTensor):
        return None
    library = type(x).__module__.split(".")[0]
    if library == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly() and isinstance(x, tf.__internal__.EagerTensor):
            return x.numpy()
        return None
    if library in ("jax", "jaxlib"):
        import jax

        return None if isinstance(x, jax.core.Tracer) else np.asarray(x)
    if library == "torch":
        import torch

        if torch.compiler.is_compiling():
            return None
        return x.detach().cpu().numpy()
    return None


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


def check_sample_weight_values(sample_weight, arg_name="sample_weight"):
    """Raises ValueError if concrete `sample_weight` values are negative or not finite."""
    values = concrete_value(sample_weight)
    if values is None:
        return
    values = np.asarray(values, dtype=np.float64)
    if np.any(~np.isfinite(values)):
        raise ValueError(f"`{arg_name}` must be finite; received NaN or infinite values.")
    if np.any(values < 0):
        raise ValueError(
            f"`{arg_name}` must be non-negative; received negative values, e.g. "
            f"{values[values < 0][:5].tolist()}."
        )
