"""MinDiff structures (one element or a flat dict of elements) and Keras object (de)serialisers.

A *MinDiff structure* is how several MinDiff applications are given at once: either a single
element (a dataset, a loss, a weight, ... — a tuple counts as one element, as the
`(x, membership, weight)` batches do), or a flat dict with string keys mapping each application
to one element. Unlike `keras.tree`, tuples are never looked into.

`serialize_keras_object`, `deserialize_keras_object` and `deserialize_layer` keep the names and
signatures TF Model Remediation exported from `min_diff.keras.utils`, on top of `keras.saving`.
No TensorFlow is needed.
"""

import keras

from keras_remediation.common import structures

__all__ = [
    "deserialize_keras_object",
    "deserialize_layer",
    "serialize_keras_object",
    "validate_min_diff_structure",
]


def validate_min_diff_structure(struct, struct_name="struct", element_type=None):
    """Checks that `struct` is a valid MinDiff structure, raising otherwise.

    A valid MinDiff structure is a single element, or a dict with string keys whose values are
    single elements (a flat dict). A tuple, namedtuple, array, tensor, dataset, string, number
    or None is one element; a list is not, nor a dict. With `element_type`, every element must
    also be an instance of it.

    Args:
        struct: the structure to check.
        struct_name: str, default `'struct'`: its name in error messages (e.g. the argument
            name `'min_diff_dataset'`).
        element_type: a class (e.g. `tf.data.Dataset`), default None (any type): the type every
            element must have.

    Returns:
        None.

    Raises:
        TypeError: if `element_type` is not a class; if `struct` is neither a single element
            (of `element_type`, when given) nor a dict, e.g. a list.
        ValueError: if `struct` is a dict with a key that is not a string, or with a value that
            is not a single element (a list or a dict, or not of `element_type`).
    """
    structures.validate_structure(
        struct, struct_name, element_type, "MinDiff", "MinDiff application"
    )


# ---------------------------------------------------------------------------------------------
# Keras object (de)serialisation.


def serialize_keras_object(obj):
    """Returns the config of a Keras object (layer, loss, function, ...), for `get_config`.

    Args:
        obj: a Keras-serialisable object, a plain value, or None.

    Returns:
        `keras.saving.serialize_keras_object(obj)`: a JSON-compatible dict (with `class_name`,
        `config`, `module` and `registered_name`) for objects, the value itself for plain
        values, None for None. TF Model Remediation wrote the legacy tf.keras 2 form instead;
        `deserialize_keras_object` reads both.

    Raises:
        Whatever `keras.saving.serialize_keras_object` raises for an object it cannot
        serialise.
    """
    return keras.saving.serialize_keras_object(obj)


def _is_keras3_config(config):
    """True for a config in the Keras 3 form (a dict with a `module` key)."""
    return isinstance(config, dict) and "module" in config


def deserialize_keras_object(
    config,
    module_objects=None,
    custom_objects=None,
    printable_module_name=None,
    *,
    safe_mode=True,
):
    """Rebuilds a Keras object from a config made by `serialize_keras_object`.

    The positional order is TF Model Remediation's (`module_objects` before
    `custom_objects`), which differs from `keras.saving.deserialize_keras_object`'s.

    Args:
        config: a config dict in the Keras 3 form (with a `module` key, as
            `serialize_keras_object` writes it), read with `keras.saving`; or in the legacy
            tf.keras 2 form (`{'class_name', 'config'}`, as TF Model Remediation wrote it), read
            with `keras.legacy.saving`; or a name (a function is returned as is, a class is
            instantiated without arguments); or None.
        module_objects: dict, default None: names to classes or functions that resolve a
            legacy `class_name` or name (e.g. a module's public objects).
        custom_objects: dict, default None: names to user classes or functions.
        printable_module_name: str, default None (`'object'`): what the object is, in the
            legacy reader's error messages.
        safe_mode: bool, default True: for Keras 3 configs, refuse to rebuild lambdas (see
            `keras.saving.deserialize_keras_object`).

    Returns:
        The rebuilt object; None for a None config.

    Raises:
        ValueError: for a name that is neither registered nor in `module_objects` or
            `custom_objects`.
        TypeError or ValueError: as `keras.saving` or `keras.legacy.saving` raise them for a
            config dict, e.g. one naming a class that is neither built in, registered, nor given
            in `module_objects` or `custom_objects`.
    """
    if config is None:
        return None
    if _is_keras3_config(config):
        objects = {**(module_objects or {}), **(custom_objects or {})}
        return keras.saving.deserialize_keras_object(
            config, custom_objects=objects or None, safe_mode=safe_mode
        )
    if isinstance(config, str):
        return _object_by_name(config, module_objects, custom_objects, printable_module_name)
    return keras.legacy.saving.deserialize_keras_object(
        config,
        module_objects=module_objects,
        custom_objects=custom_objects,
        printable_module_name=printable_module_name or "object",
    )


def _object_by_name(name, module_objects, custom_objects, printable_module_name):
    """A legacy name: the named function, or an instance of the named class (no arguments)."""
    obj = keras.saving.get_registered_object(
        name, custom_objects=custom_objects, module_objects=module_objects
    )
    if obj is None:
        raise ValueError(
            f"Unknown {printable_module_name or 'object'} {name!r}: `config` must name an "
            "object given in `module_objects` or `custom_objects`, or registered with "
            "`keras.saving.register_keras_serializable`."
        )
    return obj() if isinstance(obj, type) else obj


def _layer_objects():
    """Public Keras layer and model classes by name, to read legacy layer configs."""
    objects = {
        name: obj
        for name, obj in vars(keras.layers).items()
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer)
    }
    objects.update(Sequential=keras.Sequential, Model=keras.Model, Functional=keras.Model)
    return objects


def deserialize_layer(config, use_legacy_format=False, *, custom_objects=None):
    """Rebuilds a Keras layer (or model) from its config.

    Args:
        config: a layer config dict in the Keras 3 form (as `serialize_keras_object` or
            `keras.layers.serialize` return it), read with `keras.layers.deserialize`; or in
            the legacy `{'class_name', 'config'}` form TF Model Remediation saved, read with
            `keras.legacy.saving` against the public Keras layers.
        use_legacy_format: bool, default False: accepted for compatibility; the form is told
            from the config itself, whatever its value.
        custom_objects: dict, default None: names to custom layer classes.

    Returns:
        A `keras.layers.Layer` instance.

    Raises:
        TypeError or ValueError: as `keras.layers.deserialize` or `keras.legacy.saving` raise
            them, e.g. for an unknown class name; ValueError if the config is not of a layer.
    """
    del use_legacy_format  # The form is told from the config.
    if _is_keras3_config(config):
        return keras.layers.deserialize(config, custom_objects=custom_objects)
    layer = keras.legacy.saving.deserialize_keras_object(
        config,
        module_objects=_layer_objects(),
        custom_objects=custom_objects,
        printable_module_name="layer",
    )
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            f"`config` must describe a Keras layer; received a config of a "
            f"{type(layer).__name__}: {config!r}."
        )
    return layer
