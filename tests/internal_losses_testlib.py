"""Models that add losses of their own, shared by the MinDiff and backward-compatibility tests.

The models of the custom-models chapter of the seed guides, in Keras 3:
  - `ReconstructingRegressor`: a subclassed model that adds a reconstruction loss from its
    hidden layers with `self.add_loss` (it creates its reconstruction layer in `build`); a
    regressor by default, a classifier with `activation="softmax"`;
  - `NoisyClassifier`: a subclassed classifier with a `training` argument (GaussianNoise and
    Dropout active in training only), an L2 kernel regulariser and an `add_loss` activity
    penalty;
  - `residual_model`: a Functional model with several residual blocks joined by `layers.Add`,
    with L2 kernel regularisers, with or without an activity regulariser.

Each comes with the hand computation (NumPy) of its own losses in inference mode.

Keras 3 note (not a keras-remediation issue): a subclassed model whose `build()` creates a
layer and then calls `super().build(...)`, as the book's `ReconstructingRegressor` does, leaves
its sublayers unbuilt after `build_from_config`, and `load_model` then silently restores random
weights — even for the model alone, without any wrapper. Building the sublayers in `build()`,
as below, makes the round trip exact.
"""

import numpy as np
import keras
from keras import layers
from keras import ops

N_FEATURES = 4


def np_(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def float_(value):
    return float(np_(value))


# ---------------------------------------------------------------------------------------------
# Models.


@keras.saving.register_keras_serializable(package="keras_remediation_tests")
class ReconstructingRegressor(keras.Model):
    """Regressor with an auxiliary reconstruction loss from its hidden layers (seed 004).

    `activation` (default None: a regressor) is that of the output layer: with "softmax" the
    model is a classifier.
    """

    def __init__(
        self, output_dim, units=30, n_hidden=5, reconstruction_weight=0.05, activation=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.activation = activation
        self.units = units
        self.n_hidden = n_hidden
        self.reconstruction_weight = reconstruction_weight
        self.hidden = [
            layers.Dense(units, activation="selu", kernel_initializer="lecun_normal")
            for _ in range(n_hidden)
        ]
        self.out = layers.Dense(output_dim, activation=activation)  # e.g. "softmax"

    def build(self, batch_input_shape):
        n_inputs = batch_input_shape[-1]
        self.reconstruct = layers.Dense(n_inputs)  # Its size is known only now.
        shape = batch_input_shape
        for layer in self.hidden:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.reconstruct.build(shape)
        self.out.build(shape)
        self.built = True

    def call(self, inputs):
        z = inputs
        for layer in self.hidden:
            z = layer(z)
        reconstruction = self.reconstruct(z)
        reconstruction_loss = ops.mean(ops.square(reconstruction - inputs))
        self.add_loss(self.reconstruction_weight * reconstruction_loss)
        return self.out(z)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "units": self.units,
            "n_hidden": self.n_hidden,
            "reconstruction_weight": self.reconstruction_weight,
            "activation": self.activation,
        }

    def own_losses_by_hand(self, x, training=False):
        x = ops.convert_to_tensor(x)
        z = x
        for layer in self.hidden:
            z = layer(z)
        reconstruction = self.reconstruct(z)
        return self.reconstruction_weight * float_(ops.mean(ops.square(reconstruction - x)))


@keras.saving.register_keras_serializable(package="keras_remediation_tests")
class NoisyClassifier(keras.Model):
    """Classifier with a `training` argument: noise and dropout in training only.

    Own losses: an L2 kernel regulariser on the hidden layer, and an activity penalty on the
    hidden activations (before the noise, so it does not depend on the random draws) added
    with `add_loss`.
    """

    def __init__(
        self, units=16, noise_stddev=0.3, dropout_rate=0.3, l2=0.01, activity_weight=0.05,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.noise_stddev = noise_stddev
        self.dropout_rate = dropout_rate
        self.l2 = l2
        self.activity_weight = activity_weight
        self.hidden = layers.Dense(
            units, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)
        )
        self.noise = layers.GaussianNoise(noise_stddev)
        self.dropout = layers.Dropout(dropout_rate)
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs, training=None):
        z = self.hidden(inputs)
        self.add_loss(self.activity_weight * ops.mean(ops.square(z)))
        z = self.noise(z, training=training)
        z = self.dropout(z, training=training)
        return self.out(z)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "noise_stddev": self.noise_stddev,
            "dropout_rate": self.dropout_rate,
            "l2": self.l2,
            "activity_weight": self.activity_weight,
        }

    def own_losses_by_hand(self, x, training=False):
        kernel = np_(self.hidden.kernel)
        activations = np_(self.hidden(ops.convert_to_tensor(x)))
        return self.l2 * np.sum(kernel**2) + self.activity_weight * np.mean(activations**2)


def residual_model(n_blocks=3, units=16, l2=1e-3, activity_l2=None):
    """Functional classifier: stem, `n_blocks` residual blocks (`layers.Add`), sigmoid head."""
    regularizer = keras.regularizers.L2(l2)
    inputs = keras.Input((N_FEATURES,), name="features")
    h = layers.Dense(units, activation="relu", kernel_regularizer=regularizer, name="stem")(inputs)
    for i in range(n_blocks):
        z = layers.Dense(
            units, activation="relu", kernel_regularizer=regularizer, name=f"block{i}_a"
        )(h)
        z = layers.Dense(
            units,
            kernel_regularizer=regularizer,
            activity_regularizer=(
                keras.regularizers.L2(activity_l2)
                if activity_l2 is not None and i == n_blocks - 1
                else None
            ),
            name=f"block{i}_b",
        )(z)
        h = layers.Add(name=f"block{i}_add")([h, z])
        h = layers.Activation("relu", name=f"block{i}_relu")(h)
    outputs = layers.Dense(1, activation="sigmoid", kernel_regularizer=regularizer, name="head")(h)
    model = keras.Model(inputs, outputs, name="residual_classifier")
    model.l2, model.activity_l2, model.n_blocks = l2, activity_l2, n_blocks
    return model


def residual_own_losses_by_hand(model, x):
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    total = sum(model.l2 * np.sum(np_(layer.kernel) ** 2) for layer in dense)
    if model.activity_l2 is not None:
        last = model.get_layer(f"block{model.n_blocks - 1}_b")
        activations = np_(keras.Model(model.input, last.output)(x))
        total += model.activity_l2 * np.sum(activations**2) / len(x)
    return total
