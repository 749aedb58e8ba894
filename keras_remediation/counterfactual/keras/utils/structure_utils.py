"""Counterfactual structures: one element (a tuple counts as one) or a flat dict of them.

A multi-objective `CounterfactualModel` takes a dict of losses, of loss weights and of
counterfactual data with the same string keys; a single-objective one takes single elements.
Unlike `keras.tree`, a tuple (e.g. `(original_x, counterfactual_x, weight)`) is one element.
"""

import keras

__all__ = ["validate_counterfactual_structure"]


def _is_element(value, element_type=None):
    if element_type is not None:
        if not isinstance(element_type, type):
            raise TypeError(
                "`element_type` should be a class corresponding to the expected type; an "
                f"object instance was given instead: {element_type!r}"
            )
        if not isinstance(value, element_type):
            return False
    return isinstance(value, tuple) or not keras.tree.is_nested(value)


def validate_counterfactual_structure(struct, struct_name="struct", element_type=None):
    """Checks that `struct` is one element (a tuple counts as one) or a flat dict of elements.

    Args:
        struct: the structure to check.
        struct_name: its name, for error messages.
        element_type: if given, the class every element must be an instance of.

    Raises:
        TypeError: if `struct` is neither an element (of `element_type`, if given) nor a dict;
            if `element_type` is not a class.
        ValueError: if `struct` is a dict with non-string keys, or with values that are not
            elements (nested structures, or of the wrong type).
    """
    if _is_element(struct, element_type):
        return
    message = f"`{struct_name}` is not a recognized Counterfactual structure."
    if not isinstance(struct, dict):
        accepted = "a single unnested element (or tuple)"
        if element_type is not None:
            accepted += f" of type {element_type}"
        raise TypeError(
            f"{message} It should have a type of one of: {accepted}, or a dict. "
            f"Given: {type(struct)}"
        )
    keys = list(struct.keys())
    if not all(isinstance(key, str) for key in keys):
        raise ValueError(
            f"{message} If `{struct_name}` is a dict, it must contain only string keys, given "
            f"keys: {keys}"
        )
    if not all(_is_element(value, element_type) for value in struct.values()):
        requirement = "must be unnested"
        if element_type is not None:
            requirement += f" and contain only elements of type {element_type}"
        raise ValueError(
            f"{message} If `{struct_name}` is a dict, it {requirement}. Given: {struct}"
        )


def _flatten_counterfactual_structure(struct, run_validation=False):
    """`[struct]` for one element, the values in sorted-key order for a dict."""
    if run_validation:
        validate_counterfactual_structure(struct)
    if isinstance(struct, dict):
        return [struct[key] for key in sorted(struct)]
    return [struct]
