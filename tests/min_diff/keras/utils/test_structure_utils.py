"""`min_diff.keras.utils` structure helpers: `validate_min_diff_structure` and the Keras object
(de)serialisers, with TF Model Remediation's behaviour (not its message wording)."""

import collections

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras import utils
from keras_remediation.min_diff.keras.utils import deserialize_keras_object
from keras_remediation.min_diff.keras.utils import deserialize_layer
from keras_remediation.min_diff.keras.utils import serialize_keras_object
from keras_remediation.min_diff.keras.utils import validate_min_diff_structure
from keras_remediation.min_diff.keras.utils import structure_utils

_Pair = collections.namedtuple("_Pair", ["a", "b"])


def test_exported_from_utils():
    for name in (
        "validate_min_diff_structure",
        "serialize_keras_object",
        "deserialize_keras_object",
        "deserialize_layer",
    ):
        assert getattr(utils, name) is getattr(structure_utils, name)
        assert name in utils.__all__


# ---------------------------------------------------------------------------------------------
# validate_min_diff_structure


@pytest.mark.parametrize(
    "element",
    ["element", 3, 2.5, None, ("a", "b", "c"), (), _Pair(1, 2), np.ones((2, 3)), {1, 2}],
    ids=["str", "int", "float", "None", "tuple", "empty-tuple", "namedtuple", "array", "set"],
)
def test_single_elements_are_valid(element):
    assert validate_min_diff_structure(element) is None


def test_flat_dicts_are_valid():
    validate_min_diff_structure({})
    validate_min_diff_structure({"a": "element", "b": 3, "c": ("x", "y")})
    validate_min_diff_structure({"a": (1, [2, 3])})  # a tuple is one element, whatever it holds


def test_single_element_type_check():
    validate_min_diff_structure("element", element_type=str)
    validate_min_diff_structure(3, element_type=int)
    validate_min_diff_structure(("a", "b"), element_type=tuple)
    with pytest.raises(TypeError, match="struct"):
        validate_min_diff_structure("element", element_type=int)
    with pytest.raises(TypeError, match="my_arg"):
        validate_min_diff_structure(3, struct_name="my_arg", element_type=str)


def test_element_type_must_be_a_class():
    with pytest.raises(TypeError, match="element_type"):
        validate_min_diff_structure("element", element_type="a")
    with pytest.raises(TypeError, match="element_type"):
        validate_min_diff_structure({"a": 1}, element_type=3)


@pytest.mark.parametrize("struct", [[1, 2, 3], ["a"], []], ids=["list", "list-of-str", "empty-list"])
def test_non_dict_collections_raise_type_error(struct):
    with pytest.raises(TypeError, match="my_struct"):
        validate_min_diff_structure(struct, struct_name="my_struct")


def test_nested_dict_raises_value_error():
    with pytest.raises(ValueError, match="name"):
        validate_min_diff_structure({"a": "e", "b": {"d": "e"}, "c": "e"}, struct_name="name")
    with pytest.raises(ValueError, match="name"):
        validate_min_diff_structure({"a": "e", "b": ["e"]}, struct_name="name")


def test_dict_with_non_string_keys_raises_value_error():
    with pytest.raises(ValueError, match=r"\['a', 3, 'c'\]"):
        validate_min_diff_structure({"a": 1, 3: 2, "c": 3}, struct_name="name")


def test_dict_element_type_check_raises_value_error():
    validate_min_diff_structure({"a": "x", "b": "y"}, element_type=str)
    with pytest.raises(ValueError, match="name"):
        validate_min_diff_structure({"a": "x", "b": 2, "c": "z"}, struct_name="name", element_type=str)
    with pytest.raises(ValueError, match="name"):
        validate_min_diff_structure({"a": 1, "b": 2}, struct_name="name", element_type=str)


def test_datasets_as_elements():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.range(3)
    validate_min_diff_structure(dataset, element_type=tf.data.Dataset)
    validate_min_diff_structure({"a": dataset, "b": dataset}, element_type=tf.data.Dataset)
    with pytest.raises(ValueError, match="min_diff_dataset"):
        validate_min_diff_structure(
            {"a": dataset, "b": [dataset]}, "min_diff_dataset", element_type=tf.data.Dataset
        )
    with pytest.raises(TypeError, match="min_diff_dataset"):
        validate_min_diff_structure([dataset], "min_diff_dataset", element_type=tf.data.Dataset)


def test_struct_name_is_positional_second():
    with pytest.raises(TypeError, match="second_positional"):
        validate_min_diff_structure([1], "second_positional")


# ---------------------------------------------------------------------------------------------
# Serialisation helpers (built on keras.saving).


def test_serialize_round_trips_a_layer():
    layer = keras.layers.Dense(3, activation="relu", name="my_dense")
    config = serialize_keras_object(layer)
    assert isinstance(config, dict)
    assert config["class_name"] == "Dense"
    restored = deserialize_keras_object(config)
    assert isinstance(restored, keras.layers.Dense)
    assert restored.units == 3 and restored.name == "my_dense"


def test_serialize_none_and_deserialize_none():
    assert serialize_keras_object(None) is None
    assert deserialize_keras_object(None) is None


def test_deserialize_with_custom_objects_positional_order():
    class _Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    config = serialize_keras_object(_Scale(3.0))
    # TF Model Remediation's order: (config, module_objects, custom_objects, printable_module_name)
    restored = deserialize_keras_object(config, None, {"_Scale": _Scale}, "layer")
    assert isinstance(restored, _Scale) and restored.factor == 3.0
    restored = deserialize_keras_object(config, custom_objects={"_Scale": _Scale})
    assert restored.factor == 3.0


def test_deserialize_with_module_objects():
    class _Thing:
        def __init__(self, value=0):
            self.value = value

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    restored = deserialize_keras_object(
        {"class_name": "_Thing", "config": {"value": 7}}, module_objects={"_Thing": _Thing}
    )
    assert isinstance(restored, _Thing) and restored.value == 7


def test_deserialize_unknown_class_raises():
    with pytest.raises((TypeError, ValueError)):
        deserialize_keras_object({"class_name": "NoSuchThing", "config": {}})


def test_deserialize_layer_both_formats():
    config = serialize_keras_object(keras.layers.Dense(4, name="d"))
    layer = deserialize_layer(config)
    assert isinstance(layer, keras.layers.Dense) and layer.units == 4
    # The legacy (tf.keras 2) form, {"class_name", "config"}, as TF Model Remediation saved it.
    legacy = {"class_name": "Dense", "config": {"units": 5, "name": "legacy"}}
    layer = deserialize_layer(legacy, use_legacy_format=True)
    assert isinstance(layer, keras.layers.Dense) and layer.units == 5 and layer.name == "legacy"
    assert deserialize_layer(legacy).units == 5


def test_deserialize_layer_of_a_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="seq")
    restored = deserialize_layer(serialize_keras_object(model))
    assert isinstance(restored, keras.Sequential) and restored.name == "seq"
    x = np.ones((1, 3), "float32")
    assert tuple(restored(x).shape) == (1, 2)


def test_deserialize_a_legacy_name_with_module_objects():
    def my_activation(x):
        return x

    assert deserialize_keras_object("my_activation", {"my_activation": my_activation}) is my_activation
    with pytest.raises(ValueError):
        deserialize_keras_object("not_there", {"my_activation": my_activation}, None, "activation")


def test_deserialize_layer_of_a_non_layer_raises():
    config = {"class_name": "Custom", "config": {}}

    class Custom:
        @classmethod
        def from_config(cls, config):
            return cls()

    with pytest.raises(ValueError, match="layer"):
        deserialize_layer(config, custom_objects={"Custom": Custom})
