"""Resolving a name or an instance to an instance: the string names of losses and kernels."""


def resolve_name(value, table, base_class, *, suffix, kind, arg_name):
    """Returns `value` if it is a `base_class` instance, else a new instance for its name.

    Names are case-insensitive and may end in `suffix` (e.g. `'mmd'` or `'MMD_loss'`).

    Args:
        value: a `base_class` instance or a name.
        table: dict from lower-case name (without `suffix`) to a class taking no argument.
        base_class: the class instances are accepted of.
        suffix: the optional ending of names, e.g. `'_loss'`.
        kind: what is resolved, for messages, e.g. `'MinDiff loss'`.
        arg_name: the argument's name, for messages.

    Raises:
        ValueError: for an unknown name or a value of another type.
    """
    if isinstance(value, base_class):
        return value
    if isinstance(value, str):
        key = value.lower()
        if key.endswith(suffix):
            key = key[: -len(suffix)]
        if key in table:
            return table[key]()
        raise ValueError(
            f"`{arg_name}` must be one of the supported values "
            f"{sorted(name + suffix for name in table)} "
            f"(case-insensitive, '{suffix}' optional) or a {base_class.__name__} instance; "
            f"received {value!r}."
        )
    raise TypeError(
        f"`{arg_name}` must be a {kind} name or a {base_class.__name__} instance; received "
        f"{value!r} of type {type(value).__name__}."
    )
