"""`federated.input_spec`: specs of every kind, example batches, errors, data checks."""

import numpy as np
import pytest
import keras

from keras_remediation.federated import input_spec as spec_lib
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs


def test_keras_tensors_and_example_arrays_normalise_alike():
    from_specs = spec_lib.normalize_input_spec(
        (keras.KerasTensor((None, 4), dtype="float32"), keras.KerasTensor((None, 1)))
    )
    from_arrays = spec_lib.normalize_input_spec(
        (np.zeros((7, 4), "float32"), np.zeros((7, 1), "float32"))
    )
    assert from_specs == from_arrays
    assert from_specs.x == spec_lib.TensorSpec((None, 4), "float32")


def test_keras_input_and_fixed_batch_dimensions_are_kept():
    spec = spec_lib.normalize_input_spec((keras.Input((3, 2)), keras.KerasTensor((8, 1), "int32")))
    assert spec.x.shape == (None, 3, 2)
    assert spec.y == spec_lib.TensorSpec((8, 1), "int32")


def test_tf_tensor_spec_and_jax_shape_dtype_struct():
    tf = pytest.importorskip("tensorflow")
    jax = pytest.importorskip("jax")
    spec = spec_lib.normalize_input_spec(
        (tf.TensorSpec([None, 4], tf.float32), jax.ShapeDtypeStruct((2, 1), np.int64))
    )
    assert spec.x == spec_lib.TensorSpec((None, 4), "float32")
    assert spec.y == spec_lib.TensorSpec((2, 1), "int64")


def test_any_object_with_shape_and_dtype_is_a_spec():
    class Duck:
        shape = (None, 2)
        dtype = "float32"

    spec = spec_lib.normalize_input_spec({"x": {"a": Duck(), "b": Duck()}, "y": Duck()})
    assert spec.x == {"a": spec_lib.TensorSpec((None, 2), "float32"),
                      "b": spec_lib.TensorSpec((None, 2), "float32")}


def test_nested_and_packed_structures_are_kept():
    packed = MinDiffPackedInputs(
        {"f": np.zeros((2, 3), "float32")},
        (np.zeros((2, 3), "float32"), np.zeros((2, 1), "float32"), np.ones((2, 1), "float32")),
    )
    spec = spec_lib.normalize_input_spec((packed, [np.zeros((2, 1)), np.zeros((2, 2))]))
    assert isinstance(spec.x, MinDiffPackedInputs)
    assert spec.x.original_inputs["f"].shape == (None, 3)
    assert [s.shape for s in spec.y] == [(None, 1), (None, 2)]
    zeros = spec_lib.zeros_like_spec(spec.x, batch_size=3)
    assert zeros.original_inputs["f"].shape == (3, 3)


@pytest.mark.parametrize(
    "bad",
    [
        (np.zeros((2, 3)),),
        (np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((2, 1))),
        keras.KerasTensor((None, 3)),
        {"inputs": np.zeros((2, 3)), "labels": np.zeros((2, 1))},
    ],
)
def test_input_spec_without_two_elements_raises_value_error(bad):
    with pytest.raises(ValueError, match="two elements"):
        spec_lib.normalize_input_spec(bad)


def test_unusable_leaves_raise_type_error():
    with pytest.raises(TypeError):
        spec_lib.normalize_input_spec((None, np.zeros((2, 1))))
    with pytest.raises(TypeError):
        spec_lib.normalize_input_spec((object(), np.zeros((2, 1))))


def test_check_against_spec():
    spec = spec_lib.normalize_input_spec(({"a": np.zeros((1, 3))}, np.zeros((1, 1)))).x
    spec_lib.check_against_spec({"a": np.zeros((9, 3))}, spec, "inputs")
    with pytest.raises(ValueError, match="shape"):
        spec_lib.check_against_spec({"a": np.zeros((9, 4))}, spec, "inputs")
    with pytest.raises(ValueError, match="structure"):
        spec_lib.check_against_spec({"b": np.zeros((9, 3))}, spec, "inputs")


def test_the_batch_dimension_and_a_different_rank_are_not_checked():
    spec = spec_lib.normalize_input_spec((keras.KerasTensor((1, 3)), keras.KerasTensor((1,))))
    spec_lib.check_against_spec(np.zeros((5, 3)), spec.x, "inputs")
    spec_lib.check_against_spec(np.zeros((5, 1)), spec.y, "labels")  # [1] fed [n, 1]
    with pytest.raises(ValueError, match="batch dimension is not checked"):
        spec_lib.check_against_spec(np.zeros((5, 4)), spec.x, "inputs")
    # Zeros for building: the declared batch sizes (3 and 1) are not used.
    ragged = spec_lib.normalize_input_spec((keras.KerasTensor((3, 2)), keras.KerasTensor((1,))))
    assert spec_lib.zeros_like_spec(ragged.x).shape == (1, 2)
    assert spec_lib.zeros_like_spec(ragged.y, batch_size=2).shape == (2,)


def test_scalar_leaves_raise_type_error():
    with pytest.raises(TypeError, match="Expected input spec member to be of type.*TensorSpec"):
        spec_lib.normalize_input_spec((np.float32(0.0), np.zeros((2, 1))))
    with pytest.raises(TypeError, match="scalar"):
        spec_lib.normalize_input_spec({"x": np.zeros((2, 1)), "y": 1.0})


def test_string_specs_and_arrays_normalise_to_string():
    spec = spec_lib.normalize_input_spec(
        (keras.KerasTensor((None, 1), dtype="string"), np.array([["a"], ["b"]]))
    )
    assert spec.x == spec_lib.TensorSpec((None, 1), "string")
    assert spec.y == spec_lib.TensorSpec((None, 1), "string")
    zeros = spec_lib.zeros_like_spec(spec.x)
    assert zeros.shape == (1, 1) and zeros[0, 0] == ""
    assert spec_lib.string_paths({"a": spec.x, "b": spec_lib.TensorSpec((None,), "float32")}, "x") == [
        "x['a']"
    ]
    tf = pytest.importorskip("tensorflow")
    assert spec_lib.normalize_input_spec(
        (tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.float32))
    ).x.dtype == "string"
