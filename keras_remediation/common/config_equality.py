"""`EqualByConfig`: equality by class and `get_config()`, for losses and kernels."""


class EqualByConfig:
    """Mixin: two objects are equal when they have the same class and the same config.

    The hash depends on the class only, so equal objects hash alike; subclasses must define
    `get_config()`.
    """

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))
