"""Shared helpers of the MinDiff loss tests: NumPy references and backend-neutral gradients.

The references follow TF Model Remediation's formulation with explicit `[N, N]` weight masks
(`weights_ij = w̃ w̃ᵀ`, positive/negative masks, divide-no-nan) and are computed in float64,
independently of the vectorised `aᵀKb` form used by the library.
"""

import contextlib

import keras
import zlib

import numpy as np

BACKEND = keras.backend.backend()

# ---------------------------------------------------------------------------------------------
# NumPy references.
# ---------------------------------------------------------------------------------------------


def div_no_nan(a, b):
    return 0.0 if b == 0 else a / b


def prepare(membership, predictions, sample_weight=None):
    """Float64 `[N, 1]` membership, `[N, D]` predictions and `[N, 1]` normalised weights."""
    m = np.asarray(membership, dtype=np.float64).reshape(-1, 1)
    p = np.asarray(predictions, dtype=np.float64)
    p = p.reshape(p.shape[0], -1)
    n = m.shape[0]
    if sample_weight is None:
        w = np.ones((n, 1))
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        w = np.broadcast_to(w.reshape(-1, 1) if w.ndim else w, (n, 1)).astype(np.float64)
    total = w.sum()
    w = w / total if total != 0 else np.zeros_like(w)
    return m, p, w


def kernel_ref(x, y=None, kernel="gaussian", kernel_length=0.1):
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    y = x if y is None else np.asarray(y, dtype=np.float64).reshape(np.shape(y)[0], -1)
    squared = np.zeros((x.shape[0], y.shape[0]))
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            squared[i, j] = np.sum((x[i] - y[j]) ** 2)
    if kernel == "gaussian":
        return np.exp(-squared / kernel_length**2)
    if kernel == "laplacian":
        return np.exp(-np.sqrt(squared) / kernel_length)
    raise ValueError(kernel)


def _masked_means(k, m, w):
    weights_ij = w @ w.T
    pos = (m == 1.0).astype(np.float64)
    neg = (m == 0.0).astype(np.float64)
    pos_w = weights_ij * (pos @ pos.T)
    neg_w = weights_ij * (neg @ neg.T)
    pos_neg_w = weights_ij * (pos @ neg.T)
    pos_mean = div_no_nan(np.sum(pos_w * k), np.sum(pos_w))
    neg_mean = div_no_nan(np.sum(neg_w * k), np.sum(neg_w))
    pos_neg_mean = div_no_nan(np.sum(pos_neg_w * k), np.sum(pos_neg_w))
    return pos_mean, neg_mean, pos_neg_mean, pos, neg


def mmd_ref(membership, predictions, sample_weight=None, kernel="gaussian", kernel_length=0.1):
    m, p, w = prepare(membership, predictions, sample_weight)
    k = kernel_ref(p, kernel=kernel, kernel_length=kernel_length)
    pos_mean, neg_mean, pos_neg_mean, _, _ = _masked_means(k, m, w)
    return pos_mean - 2.0 * pos_neg_mean + neg_mean


def adjusted_mmd_denominator_ref(
    membership, predictions, sample_weight=None, kernel="gaussian", kernel_length=0.1
):
    """`var_S / n_eff_S + var_N / n_eff_N + 0.01` of the adjusted MMD."""
    m, p, w = prepare(membership, predictions, sample_weight)
    k = kernel_ref(p, kernel=kernel, kernel_length=kernel_length)
    pos_mean, neg_mean, _, pos, neg = _masked_means(k, m, w)

    def var_of_mean(mask, group_mean):
        group_w = (w * mask).reshape(-1)
        diag_w = np.diag(group_w)
        square_mean = div_no_nan(np.sum(diag_w * k), np.sum(diag_w))
        variance = square_mean - group_mean
        n_eff = div_no_nan(group_w.sum() ** 2, np.sum(group_w**2))
        return div_no_nan(variance, n_eff)

    return var_of_mean(pos, pos_mean) + var_of_mean(neg, neg_mean) + 0.01


def adjusted_mmd_ref(
    membership, predictions, sample_weight=None, kernel="gaussian", kernel_length=0.1
):
    args = (membership, predictions, sample_weight, kernel, kernel_length)
    return mmd_ref(*args) / adjusted_mmd_denominator_ref(*args)


def abs_corr_ref(membership, predictions, sample_weight=None):
    m, p, w = prepare(membership, predictions, sample_weight)
    m, w = m[:, 0], w[:, 0]
    correlations = []
    for j in range(p.shape[1]):
        col = p[:, j]
        mean_m = np.sum(w * m)
        mean_p = np.sum(w * col)
        cov = np.sum(w * (m - mean_m) * (col - mean_p))
        var_m = np.sum(w * (m - mean_m) ** 2)
        var_p = np.sum(w * (col - mean_p) ** 2)
        correlations.append(abs(cov / (np.sqrt(var_m + 1e-7) * np.sqrt(var_p + 1e-7))))
    return float(np.mean(correlations))


# ---------------------------------------------------------------------------------------------
# Backend helpers.
# ---------------------------------------------------------------------------------------------


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


@contextlib.contextmanager
def float64_enabled():
    """Lets JAX hold float64 values (it truncates them to float32 by default)."""
    if BACKEND == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


def _tf_tape_grad(fn, x):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    g = tape.gradient(y, x)
    if g is None:
        raise AssertionError("the loss is not connected to the predictions")
    return g


def grad(fn, x):
    """Gradient of the scalar `fn(x)` w.r.t. the NumPy array `x`, as a NumPy array (eager)."""
    x = np.asarray(x)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return _tf_tape_grad(fn, tf.constant(x)).numpy()
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(fn)(jnp.asarray(x)))
    if BACKEND == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        fn(t).backward()
        return t.grad.detach().numpy()
    raise NotImplementedError(BACKEND)


def compiled_grad(fn, x):
    """As `grad`, but traced and compiled: `tf.function` on TensorFlow, `jax.jit` on JAX.

    On PyTorch, plain autograd (there is no separate graph mode to exercise cheaply).
    """
    x = np.asarray(x)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda t: _tf_tape_grad(fn, t))(tf.constant(x)).numpy()
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.jit(jax.grad(fn))(jnp.asarray(x)))
    return grad(fn, x)


def compiled_call(fn, *args):
    """Value of `fn(*args)` traced and compiled (`tf.function` / `jax.jit`; eager on PyTorch)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return to_numpy(tf.function(fn)(*[tf.constant(a) for a in args]))
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        return to_numpy(jax.jit(fn)(*[jnp.asarray(a) for a in args]))
    return to_numpy(fn(*args))


def finite_difference(fn_numpy, x, eps=1e-6):
    """Central finite-difference gradient of the scalar NumPy function `fn_numpy` at `x`."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        g[idx] = (fn_numpy(plus) - fn_numpy(minus)) / (2 * eps)
    return g


def random_inputs(seed, n=12, d=None, both_groups=True):
    """Seeded membership `[n]` in {0, 1}, predictions `[n]` or `[n, d]` in (0, 1), weights `[n]`."""
    rng = np.random.default_rng(seed)
    membership = rng.integers(0, 2, size=n).astype(np.float32)
    if both_groups:
        membership[0], membership[1] = 1.0, 0.0
    shape = (n,) if d is None else (n, d)
    predictions = rng.uniform(0.0, 1.0, size=shape).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, size=n).astype(np.float32)
    return membership, predictions, weights


def case_inputs(case, pred_shape, membership_shape="N", weight_shape="N", adjust=None):
    """`random_inputs` seeded by `case`, in the requested shapes.

    `pred_shape` is `"N"`, `"N1"` or `"ND"` (D = 3); `membership_shape` and `weight_shape` are
    `"N"` or `"N1"` (`weight_shape=None`: no weights). `adjust(membership, predictions)`, if
    given, returns new predictions and is applied before reshaping.
    """
    membership, predictions, weights = random_inputs(
        zlib.crc32(repr(case).encode()), d=3 if pred_shape == "ND" else None
    )
    if adjust is not None:
        predictions = adjust(membership, predictions).astype(np.float32)
    if pred_shape == "N1":
        predictions = predictions.reshape(-1, 1)
    if membership_shape == "N1":
        membership = membership.reshape(-1, 1)
    if weight_shape is None:
        weights = None
    elif weight_shape == "N1":
        weights = weights.reshape(-1, 1)
    return membership, predictions, weights
