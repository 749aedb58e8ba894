"""Tests of the MinDiff kernels (`GaussianKernel`, `LaplacianKernel`, `get_kernel`)."""

import json
import math

import keras
import numpy as np
import pytest

from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffKernel
from keras_remediation.min_diff.losses import get_kernel
from min_diff_losses_testlib import compiled_grad
from min_diff_losses_testlib import dtype_of
from min_diff_losses_testlib import finite_difference
from min_diff_losses_testlib import float64_enabled
from min_diff_losses_testlib import grad
from min_diff_losses_testlib import kernel_ref
from min_diff_losses_testlib import to_numpy

KERNELS = {"gaussian": GaussianKernel, "laplacian": LaplacianKernel}


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("kernel_length", [0.05, 0.1, 0.5, 2.0])
@pytest.mark.parametrize("d", [None, 1, 3])
def test_kernel_matrix_matches_reference(name, kernel_length, d):
    rng = np.random.default_rng(0)
    shape_x = (7,) if d is None else (7, d)
    shape_y = (5,) if d is None else (5, d)
    x = rng.uniform(0, 1, size=shape_x).astype(np.float32)
    y = rng.uniform(0, 1, size=shape_y).astype(np.float32)
    kernel = KERNELS[name](kernel_length)

    k_xy = to_numpy(kernel(x, y))
    assert k_xy.shape == (7, 5)
    np.testing.assert_allclose(k_xy, kernel_ref(x, y, name, kernel_length), rtol=1e-5, atol=1e-6)

    k_xx = to_numpy(kernel(x))
    assert k_xx.shape == (7, 7)
    np.testing.assert_allclose(k_xx, kernel_ref(x, None, name, kernel_length), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.diag(k_xx), np.ones(7), rtol=0, atol=1e-6)
    np.testing.assert_allclose(k_xx, k_xx.T, atol=1e-7)


def test_length_scale_conventions():
    # Gaussian uses l² (not 2σ²); Laplacian uses the Euclidean (not L1) distance over l.
    x = np.array([[0.0, 0.0]], dtype=np.float32)
    y = np.array([[0.3, 0.4]], dtype=np.float32)  # Euclidean distance 0.5, L1 distance 0.7.
    np.testing.assert_allclose(to_numpy(GaussianKernel(0.5)(x, y)), [[math.exp(-1.0)]], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(LaplacianKernel(0.5)(x, y)), [[math.exp(-1.0)]], rtol=1e-6)


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_default_kernel_length(cls):
    assert cls().kernel_length == 0.1
    x = np.array([0.0], dtype=np.float32)
    y = np.array([0.1], dtype=np.float32)
    np.testing.assert_allclose(to_numpy(cls()(x, y)), [[math.exp(-1.0)]], rtol=1e-5)


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_higher_rank_inputs_are_flattened(cls):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        to_numpy(cls(0.7)(x)), to_numpy(cls(0.7)(x.reshape(4, 6))), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_scalar_input_raises(cls):
    with pytest.raises(ValueError, match="batch dimension"):
        cls()(np.float32(0.5))


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_kernel_dtypes(cls):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(6, 2))
    expected = kernel_ref(x.astype(np.float16), None, cls.__name__[:-6].lower(), 0.3)

    out16 = cls(0.3)(x.astype(np.float16))
    assert dtype_of(out16) == "float32"
    np.testing.assert_allclose(to_numpy(out16), expected, rtol=1e-5, atol=1e-6)

    out32 = cls(0.3)(x.astype(np.float32))
    assert dtype_of(out32) == "float32"

    with float64_enabled():
        out64 = cls(0.3)(x)
        assert dtype_of(out64) == "float64"
        np.testing.assert_allclose(
            to_numpy(out64), kernel_ref(x, None, cls.__name__[:-6].lower(), 0.3), rtol=1e-12
        )
        # A float64 `y` promotes a float32 `x`.
        assert dtype_of(cls(0.3)(x.astype(np.float32), x)) == "float64"


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_laplacian_gradient_finite_at_zero_distance(compiled):
    # Rows 0 and 1 coincide, and every diagonal entry is at distance 0: the Euclidean norm has
    # no derivative there, and a naive sqrt gives NaN gradients (most visibly under compilation).
    x = np.array([[0.2, 0.4], [0.2, 0.4], [0.9, 0.1], [0.5, 0.5]], dtype=np.float32)
    kernel = LaplacianKernel(0.3)

    def fn(t):
        return keras.ops.sum(kernel(t))

    g = (compiled_grad if compiled else grad)(fn, x)
    assert np.all(np.isfinite(g)), g

    # Away from the coincident rows the gradient is the true one: compare with finite
    # differences on row 2 and 3 (distance-0 pairs contribute a zero subgradient).
    fd = finite_difference(lambda v: np.sum(kernel_ref(v, None, "laplacian", 0.3)), x, eps=1e-4)
    np.testing.assert_allclose(g[2:], fd[2:], rtol=1e-3, atol=1e-4)
    # Rows 0 and 1 move together in the perturbation-free sense: their pairwise term is flat
    # at its maximum, so their gradients only come from rows 2 and 3 and are equal.
    np.testing.assert_allclose(g[0], g[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_kernel_gradient_matches_finite_difference(name):
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(5, 2))
    kernel = KERNELS[name](0.4)
    weights = rng.uniform(size=(5, 5))
    with float64_enabled():
        g = grad(
            lambda t: keras.ops.sum(kernel(t) * keras.ops.convert_to_tensor(weights)), x
        )
    fd = finite_difference(lambda v: np.sum(kernel_ref(v, None, name, 0.4) * weights), x)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, -1, float("nan"), float("inf")])
@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_invalid_kernel_length_raises(cls, bad):
    with pytest.raises(ValueError, match="kernel_length"):
        cls(bad)


@pytest.mark.parametrize("bad", ["0.1", None, True, [0.1]])
@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_wrong_type_kernel_length_raises(cls, bad):
    with pytest.raises(TypeError, match="kernel_length"):
        cls(bad)


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_integer_kernel_length_accepted(cls):
    kernel = cls(2)
    assert kernel.kernel_length == 2.0
    assert isinstance(kernel.kernel_length, float)


def test_min_diff_kernel_is_abstract():
    with pytest.raises(TypeError):
        MinDiffKernel()


def test_custom_kernel_subclass():
    # `call` receives the tiled `[N, 1, D]` and `[1, M, D]` inputs (TF-MR's contract).
    class DotKernel(MinDiffKernel):
        def call(self, x, y):
            return keras.ops.sum(x * y, axis=-1)

    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    np.testing.assert_allclose(to_numpy(DotKernel()(x)), np.outer(x, x))
    kernel = DotKernel()
    assert get_kernel(kernel, "k") is kernel
    assert kernel.tile_input is True


@pytest.mark.parametrize(
    "name, cls",
    [
        ("gauss", GaussianKernel),
        ("Gaussian", GaussianKernel),
        ("GAUSSIAN_KERNEL", GaussianKernel),
        ("gauss_kernel", GaussianKernel),
        ("laplace", LaplacianKernel),
        ("Laplacian", LaplacianKernel),
        ("laplacian_kernel", LaplacianKernel),
        ("Laplace_Kernel", LaplacianKernel),
    ],
)
def test_get_kernel_by_name(name, cls):
    kernel = get_kernel(name)
    assert type(kernel) is cls
    assert kernel.kernel_length == 0.1


def test_get_kernel_returns_instances_unchanged():
    kernel = LaplacianKernel(0.7)
    assert get_kernel(kernel) is kernel
    # Names give a new instance each time (no shared mutable state).
    assert get_kernel("gauss") is not get_kernel("gauss")


@pytest.mark.parametrize("bad", ["rbf", "gaussian_kernel_", "kernel", ""])
def test_get_kernel_unknown_name(bad):
    with pytest.raises(ValueError, match="my_kernel_arg") as info:
        get_kernel(bad, "my_kernel_arg")
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [3, None, GaussianKernel, 0.1])
def test_get_kernel_wrong_type(bad):
    with pytest.raises(TypeError, match="`kernel`"):
        get_kernel(bad)


@pytest.mark.parametrize("cls", [GaussianKernel, LaplacianKernel])
def test_kernel_serialization_round_trip(cls):
    kernel = cls(0.37)
    x = np.random.default_rng(4).uniform(size=(5, 2)).astype(np.float32)

    config = keras.saving.serialize_keras_object(kernel)
    config = json.loads(json.dumps(config))  # Must survive a JSON file.
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is cls
    assert restored.kernel_length == 0.37
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(kernel(x)), rtol=1e-7)

    from_config = cls.from_config(kernel.get_config())
    assert type(from_config) is cls
    assert from_config.get_config() == kernel.get_config()
    assert kernel.get_config() == {"kernel_length": 0.37, "tile_input": True}


def test_kernels_are_registered():
    assert keras.saving.get_registered_object("keras_remediation>GaussianKernel") is GaussianKernel
    assert (
        keras.saving.get_registered_object("keras_remediation>LaplacianKernel") is LaplacianKernel
    )


def test_kernel_repr():
    assert repr(LaplacianKernel(0.5)) == "LaplacianKernel(kernel_length=0.5, tile_input=True)"


@pytest.mark.parametrize("kernel", [GaussianKernel(0.1), LaplacianKernel(0.01)])
def test_distant_predictions_give_no_subnormal_kernel_values(kernel):
    # exp(-100) is subnormal in float32; CPUs compute such values many times slower when they
    # are not flushed to zero. PyTorch does not flush them, so there the exponent is clipped at
    # -80; TensorFlow and XLA flush them to 0.
    matrix = to_numpy(kernel(np.array([0.0, 1.0], np.float32)))
    off_diagonal = matrix[0, 1]
    assert off_diagonal <= 2e-35
    if keras.backend.backend() == "torch":
        assert off_diagonal >= np.finfo(np.float32).tiny
    else:
        assert off_diagonal == 0.0
    np.testing.assert_allclose(np.diag(matrix), [1.0, 1.0])
