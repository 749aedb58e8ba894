"""Helpers of the backward-compatibility tests: tiny models, NumPy conversion, backend autodiff."""

import numpy as np
import keras

N_FEATURES = 6
N_CLASSES = 3


def classifier(n_classes=N_CLASSES, hidden=8, activation="softmax", n_features=N_FEATURES,
               **dense_kwargs):
    """A tiny Sequential classifier n_features → hidden → n_classes (deterministic layers)."""
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(hidden, activation="relu", **dense_kwargs),
            keras.layers.Dense(n_classes, activation=activation),
        ]
    )


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def value_and_grad(fn, x):
    """`(fn(x), dfn/dx)` as NumPy, with the backend's own autodiff (x: a float32 array)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(np.asarray(x))
        return to_numpy(value), to_numpy(grad)
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(variable)
        return to_numpy(value), to_numpy(tape.gradient(value, variable))
    import torch

    tensor = torch.tensor(np.asarray(x), requires_grad=True)
    value = fn(tensor)
    value.backward()
    return value.detach().numpy(), tensor.grad.numpy()
