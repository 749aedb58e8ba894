"""Technique structures: one element, or a flat dict of elements keyed by application name.

Several MinDiff applications or counterfactual objectives are given at once as a flat dict with
string keys (losses, weights, data); a single one as the element itself. Unlike `keras.tree`,
a tuple (e.g. a `(x, membership, weight)` batch) is one element and is never looked into.
"""

import collections.abc
import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60


def short_repr(value):
    """`repr(value)` for messages, shortened (a few levels, long strings and reprs cut)."""
    return _SHORT.repr(value)


def is_element(obj, element_type=None):
    """True if `obj` is one element (of `element_type`, when given): not a list or a mapping.

    Raises:
        TypeError: if `element_type` is given and is not a class.
    """
    if element_type is not None:
        if not isinstance(element_type, type):
            raise TypeError(
                "`element_type` must be a class (the expected type of the elements) or None; "
                f"an object instance was given: {element_type!r}."
            )
        if not isinstance(obj, element_type):
            return False
    return isinstance(obj, tuple) or not isinstance(obj, (list, collections.abc.Mapping))


def validate_structure(struct, struct_name, element_type, kind, unit):
    """Raises unless `struct` is one element or a flat dict of elements with string keys.

    Args:
        struct: the structure to check.
        struct_name: its name in messages (e.g. the argument name `'loss'`).
        element_type: a class every element must be an instance of, or None.
        kind: the technique's name for the structure, e.g. `'MinDiff'`.
        unit: what one dict entry stands for, e.g. `'MinDiff application'`.

    Raises:
        TypeError: if `element_type` is not a class; if `struct` is neither an element (of
            `element_type`) nor a dict, e.g. a list.
        ValueError: if `struct` is a dict with a non-string key, or with a value that is not
            an element (a list or a dict, or not of `element_type`).
    """
    if is_element(struct, element_type):
        return
    of_type = "" if element_type is None else f" of type {element_type.__name__}"
    prefix = f"`{struct_name}` is not a recognized {kind} structure:"
    if not isinstance(struct, collections.abc.Mapping):
        raise TypeError(
            f"{prefix} it should have a type of either a single unnested element{of_type} (a "
            "tuple counts as one element) or a dict of such elements. Given: "
            f"{short_repr(struct)} of type {type(struct).__name__}."
        )
    if any(not isinstance(key, str) for key in struct):
        raise ValueError(
            f"{prefix} as a dict it must contain only string keys; received keys {list(struct)}."
        )
    bad = {
        key: type(value).__name__
        for key, value in struct.items()
        if not is_element(value, element_type)
    }
    if bad:
        raise ValueError(
            f"{prefix} it is a dict, so it must be unnested and contain only elements{of_type}, "
            f"one per {unit} (tuples count as one element, lists and dicts do not); received "
            f"values of type {bad} under the keys {sorted(struct)}. Given: {short_repr(struct)}"
        )


def flatten_structure(struct):
    """The elements of a structure as a list: `[struct]`, or a dict's values in key order."""
    if isinstance(struct, collections.abc.Mapping):
        return [struct[key] for key in sorted(struct)]
    return [struct]
