"""`common/tensor_utils.concrete_value`: which values are read on the host, and which are not."""

import numpy as np
import pytest
import keras

from keras_remediation.common.tensor_utils import concrete_value


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
