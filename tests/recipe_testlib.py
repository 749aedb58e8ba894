"""A user's model class for the mixin recipe `class C(Wrapper, CountingSequential)`."""

import keras


class CountingSequential(keras.Sequential):
    """A Sequential subclass whose `train_step` counts its calls (once per batch when eager)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_step_count = 0

    def train_step(self, *args):  # JAX: (state, data); the other backends: (data)
        self.train_step_count += 1
        return super().train_step(*args)
