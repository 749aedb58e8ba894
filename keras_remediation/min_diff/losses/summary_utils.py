"""TensorBoard summaries of a MinDiff loss's inputs, written with `tf.summary` (TensorFlow only).

TF Model Remediation's `MinDiffLoss.__call__` writes, whenever a default summary writer is
set, five scalars (example counts, the average prediction and the loss) and, when
`enable_summary_histogram` is True, three histograms of the predictions. This module writes
the same summaries under the same tags on the Keras TensorFlow backend. It uses the core
`tf.summary.write` op with TensorBoard's metadata, so the `tensorboard` package need not be
installed (`tf.summary.scalar` and `tf.summary.histogram` require it).

Tags, all under `<loss name>_inputs/`:
    `sensitive_group_min_diff_examples_count`, `non-sensitive_group_min_diff_examples_count`,
    `min_diff_examples_count` (examples of non-zero weight), `min_diff_average_prediction`
    (Σ weight · prediction over the examples of non-zero weight, divided by their count),
    `min_diff_loss`; histograms (plugin `histograms`, a `[k, 3]` float64 tensor of left edge,
    right edge and count, 30 equal-width buckets) `min_diff_prediction_histogram` (all
    predictions), `min_diff_sensitive_group_prediction_histogram` and
    `min_diff_non-sensitive_group_prediction_histogram` (predictions of non-zero weight).

As in TF Model Remediation, the summaries describe the inputs given to the loss (before its
`predictions_transform`), and writing with a default writer but no step
(`tf.summary.experimental.set_step` or `writer.as_default(step=...)`) raises ValueError.
"""

import re
import warnings

_BUCKET_COUNT = 30


def _metadata(plugin_name):
    import tensorflow as tf

    return tf.compat.v1.SummaryMetadata(
        plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name=plugin_name)
    )


def _scope(loss_name):
    """`<loss name>_inputs`, with characters TensorFlow does not allow in names replaced by `_`."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", str(loss_name)) + "_inputs"


def _in_xla_context():
    """True while tracing a function compiled with XLA (`jit_compile=True`)."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util

        return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except (ImportError, AttributeError):  # A TensorFlow without this private helper.
        return False


def summaries_requested():
    """True unless no default summary writer is set (or recording is off, when known now)."""
    import tensorflow as tf

    flag = tf.get_static_value(tf.summary.should_record_summaries())
    return flag is None or bool(flag)


def _buckets(values):
    """`[k, 3]` TensorBoard histogram of `values`: left edge, right edge, count per bucket.

    30 equal-width buckets spanning [min, max] (one unit wide around a constant); `[0, 3]` for
    no values.
    """
    import tensorflow as tf

    values = tf.reshape(tf.cast(values, tf.float64), [-1])

    def filled():
        low, high = tf.reduce_min(values), tf.reduce_max(values)
        constant = tf.equal(low, high)
        low = tf.where(constant, low - 0.5, low)
        high = tf.where(constant, high + 0.5, high)
        counts = tf.histogram_fixed_width(values, tf.stack([low, high]), nbins=_BUCKET_COUNT)
        edges = tf.linspace(low, high, _BUCKET_COUNT + 1)
        return tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)

    return tf.cond(tf.size(values) > 0, filled, lambda: tf.zeros([0, 3], tf.float64))


def write_loss_summaries(loss, membership, predictions, sample_weight, value):
    """Writes the summaries of one loss call to the default `tf.summary` writer, if any.

    Args:
        loss: the `MinDiffLoss` (for its `name` and `enable_summary_histogram`).
        membership: the membership given to the loss, `[batch]` or `[batch, 1]`.
        predictions: the predictions given to the loss, `[batch, ...]`.
        sample_weight: the weights given to the loss, or None.
        value: the scalar loss value.

    Does nothing without a default writer. Inside a function compiled with XLA, where
    TensorFlow cannot run summary ops, warns (once per loss) and writes nothing.
    """
    import tensorflow as tf

    if not summaries_requested():
        return
    if _in_xla_context():
        if not getattr(loss, "_warned_summaries_under_xla", False):
            loss._warned_summaries_under_xla = True
            warnings.warn(
                f"MinDiff loss {loss.name!r}: a default tf.summary writer is set but the loss "
                "runs in a function compiled with XLA (jit_compile=True), where TensorFlow "
                "cannot write summaries; its summaries are not written. Compile with "
                "jit_compile=False to write them.",
                UserWarning,
                stacklevel=3,
            )
        return

    scope = _scope(loss.name)
    scalar_metadata = _metadata("scalars")
    with tf.name_scope(scope):
        membership = tf.reshape(tf.cast(membership, tf.float32), [-1, 1])
        predictions = tf.cast(predictions, tf.float32)
        predictions = tf.reshape(predictions, [tf.shape(membership)[0], -1])
        if sample_weight is None:
            weights = tf.ones_like(membership)
        else:
            weights = tf.reshape(tf.cast(sample_weight, tf.float32), [-1, 1])
            weights = weights + tf.zeros_like(membership)

        count = tf.math.count_nonzero(weights)
        sensitive_count = tf.math.count_nonzero(weights * membership)
        scalars = {
            "sensitive_group_min_diff_examples_count": sensitive_count,
            "non-sensitive_group_min_diff_examples_count": count - sensitive_count,
            "min_diff_examples_count": count,
            "min_diff_average_prediction": tf.math.divide_no_nan(
                tf.reduce_sum(weights * predictions), tf.cast(count, tf.float32)
            ),
        }
        for name, scalar in scalars.items():
            tf.summary.write(
                f"{scope}/{name}", tf.cast(scalar, tf.float32), metadata=scalar_metadata
            )

        if loss.enable_summary_histogram:
            histogram_metadata = _metadata("histograms")
            weighted = tf.not_equal(weights[:, 0], 0.0)
            groups = {
                "min_diff_prediction_histogram": predictions,
                "min_diff_sensitive_group_prediction_histogram": tf.boolean_mask(
                    predictions, weighted & tf.equal(membership[:, 0], 1.0)
                ),
                "min_diff_non-sensitive_group_prediction_histogram": tf.boolean_mask(
                    predictions, weighted & tf.equal(membership[:, 0], 0.0)
                ),
            }
            for name, values in groups.items():
                tf.summary.write(
                    f"{scope}/{name}",
                    lambda values=values: _buckets(values),
                    metadata=histogram_metadata,
                )
        tf.summary.write(
            f"{scope}/min_diff_loss", tf.cast(value, tf.float32), metadata=scalar_metadata
        )
