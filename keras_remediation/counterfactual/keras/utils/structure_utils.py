"""Counterfactual structures: one element (a tuple counts as one) or a flat dict of them.

A multi-objective `CounterfactualModel` takes a dict of losses, of loss weights and of
counterfactual data with the same string keys; a single-objective one takes single elements.
Unlike `keras.tree`, a tuple (e.g. `(original_x, counterfactual_x, weight)`) is one element.
"""

from keras_remediation.common import structures

__all__ = ["validate_counterfactual_structure"]

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
    structures.validate_structure(
        struct, struct_name, element_type, "Counterfactual", "counterfactual objective"
    )

