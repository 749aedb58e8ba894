"""`common/tensor_utils`: which values are read on the host (`concrete_value`), and which
tensors belong to a step being compiled (`is_traced`)."""

import numpy as np
import pytest
import keras

from keras_remediation.common.tensor_utils import concrete_value
from keras_remediation.common.tensor_utils import is_traced


def test_host_values_are_read():
    np.testing.assert_array_equal(concrete_value([1.0, 2.0]), [1.0, 2.0])
    np.testing.assert_array_equal(concrete_value(keras.ops.convert_to_tensor([3.0])), [3.0])


def test_symbolic_values_are_not_read():
    assert concrete_value(keras.KerasTensor((None, 1))) is None


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="PyTorch devices")
def test_torch_tensors_off_the_cpu_are_not_read():
    # Reading a GPU tensor would synchronise the device on every step; a "meta" tensor stands
    # in for any device that is not the CPU (it has no values at all).
    import torch

    assert concrete_value(torch.empty(3, device="meta")) is None


def _traced_inside_compiled_step():
    """`is_traced` of the input of a function compiled by the backend's compiler."""
    seen = []

    def fn(x):
        seen.append(is_traced(x))
        return x + 1

    backend = keras.backend.backend()
    x = keras.ops.ones((2,))
    if backend == "torch":
        import torch

        torch._dynamo.reset()
        torch.compile(fn, fullgraph=True, backend="eager")(x)
    elif backend == "jax":
        import jax

        jax.jit(fn)(x)
    else:
        import tensorflow as tf

        tf.function(fn)(x)
    return seen


def test_eager_tensors_are_not_traced():
    assert not is_traced(keras.ops.ones((2,)))
    assert not is_traced(np.ones(2))


def test_tensors_of_a_compiled_step_are_traced():
    assert is_traced(keras.KerasTensor((None, 1)))
    assert _traced_inside_compiled_step() == [True]
