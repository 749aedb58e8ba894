"""Loss scaling under `tf.distribute` strategies (Keras 3 on TensorFlow), for extra losses.

Under a `tf.distribute` strategy (e.g. `MirroredStrategy`), Keras 3 on TensorFlow runs the
step once per replica on that replica's rows, divides each replica's loss by the number of
replicas in sync, and sums the replicas' gradients. Keras scales its compiled loss and the
`add_loss` losses itself; a loss term that a model adds to `compute_loss`'s result must be
scaled the same way, and a metric reading that result must unscale it. On JAX and PyTorch, and
on TensorFlow without a strategy, both functions return their input unchanged.
"""

import keras


def num_replicas_in_sync():
    """The number of replicas of the current `tf.distribute` strategy (TensorFlow), else 1."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_replicas(value):
    """`value / num_replicas_in_sync()`: a replica's share of a loss, as Keras scales its own."""
    replicas = num_replicas_in_sync()
    if replicas == 1:
        return value
    return keras.ops.multiply(value, keras.ops.cast(1.0 / replicas, value.dtype))


def unscale_for_replicas(value):
    """`value * num_replicas_in_sync()`: the loss of a replica's rows, for logging."""
    replicas = num_replicas_in_sync()
    if replicas == 1:
        return value
    return keras.ops.multiply(value, keras.ops.cast(replicas, value.dtype))
