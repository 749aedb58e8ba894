"""`enable_summary_histogram` (TensorBoard summaries on TensorFlow) and kernels' `tile_input`."""

import glob
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import GaussianKernel
from keras_remediation.min_diff.losses import LaplacianKernel
from keras_remediation.min_diff.losses import MinDiffKernel
from keras_remediation.min_diff.losses import MinDiffLoss
from keras_remediation.min_diff.losses import MMDLoss
from min_diff_losses_testlib import BACKEND
from min_diff_losses_testlib import kernel_ref
from min_diff_losses_testlib import mmd_ref
from min_diff_losses_testlib import random_inputs
from min_diff_losses_testlib import to_numpy


class _KernelMeanLoss(MinDiffLoss):
    """Mean of the predictions kernel matrix, via `_preprocess_inputs` and `_apply_kernels`."""

    def call(self, membership, predictions, sample_weight=None):
        membership, predictions, weights = self._preprocess_inputs(
            membership, predictions, sample_weight
        )
        membership, predictions = self._apply_kernels(membership, predictions)
        return ops.mean(predictions)


# ---------------------------------------------------------------------------------------------
# 3. enable_summary_histogram and tile_input.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [MMDLoss, AdjustedMMDLoss, AbsoluteCorrelationLoss])
def test_enable_summary_histogram_attribute(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # The default never warns.
        loss = cls()
    # TF-MR's default is True; summaries exist only on the TensorFlow backend.
    assert loss.enable_summary_histogram is (BACKEND == "tensorflow")
    assert cls(enable_summary_histogram=False).enable_summary_histogram is False
    with pytest.raises(TypeError, match="`enable_summary_histogram` must be a bool"):
        cls(enable_summary_histogram="yes")


@pytest.mark.skipif(BACKEND == "tensorflow", reason="summaries are written on TensorFlow")
def test_enable_summary_histogram_warns_off_tensorflow():
    with pytest.warns(UserWarning, match=f"enable_summary_histogram.*{BACKEND}") as record:
        loss = AdjustedMMDLoss(enable_summary_histogram=True)
    assert loss.enable_summary_histogram is False
    assert record[0].filename == __file__  # Points at the line that built the loss.
    loss = MMDLoss(enable_summary_histogram=False)
    membership, predictions, weights = random_inputs(8)
    np.testing.assert_allclose(
        to_numpy(loss(membership, predictions, weights)),
        mmd_ref(membership, predictions, weights),
        rtol=1e-5,
    )


def _events(logdir):
    import tensorflow as tf

    found = {}
    for path in glob.glob(f"{logdir}/events.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found[value.tag] = (
                    event.step,
                    value.metadata.plugin_data.plugin_name,
                    tf.make_ndarray(value.tensor),
                )
    return found


_SCALAR_TAGS = [
    "sensitive_group_min_diff_examples_count",
    "non-sensitive_group_min_diff_examples_count",
    "min_diff_examples_count",
    "min_diff_average_prediction",
    "min_diff_loss",
]
_HISTOGRAM_TAGS = [
    "min_diff_prediction_histogram",
    "min_diff_sensitive_group_prediction_histogram",
    "min_diff_non-sensitive_group_prediction_histogram",
]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.summary exists on TensorFlow only")
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("histograms", [True, False])
def test_summaries_are_written_to_the_default_writer(tmp_path, compiled, histograms):
    import tensorflow as tf

    membership = np.array([1, 0, 1, 0, 0, 1], np.float32)
    predictions = np.array([0.1, 0.5, 0.3, 0.9, 0.6, 0.2], np.float32)
    weights = np.array([1.0, 2.0, 0.0, 1.0, 1.0, 1.0], np.float32)
    loss = MMDLoss(enable_summary_histogram=histograms)
    call = tf.function(loss) if compiled else loss
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=7):
        value = call(membership, predictions, weights)
    writer.flush()
    found = _events(tmp_path)
    expected_tags = _SCALAR_TAGS + (_HISTOGRAM_TAGS if histograms else [])
    assert sorted(found) == sorted(f"mmd_loss_inputs/{tag}" for tag in expected_tags)

    def scalar(tag):
        step, plugin, data = found[f"mmd_loss_inputs/{tag}"]
        assert step == 7 and plugin == "scalars"
        return float(data)

    assert scalar("min_diff_examples_count") == 5
    assert scalar("sensitive_group_min_diff_examples_count") == 2
    assert scalar("non-sensitive_group_min_diff_examples_count") == 3
    np.testing.assert_allclose(
        scalar("min_diff_average_prediction"), np.sum(weights * predictions) / 5, rtol=1e-6
    )
    np.testing.assert_allclose(scalar("min_diff_loss"), to_numpy(value), rtol=1e-6)
    if histograms:
        for tag, count in zip(_HISTOGRAM_TAGS, [6, 2, 3]):
            step, plugin, data = found[f"mmd_loss_inputs/{tag}"]
            assert plugin == "histograms" and data.shape[1] == 3
            assert data[:, 2].sum() == count
        sensitive = found["mmd_loss_inputs/min_diff_sensitive_group_prediction_histogram"][2]
        np.testing.assert_allclose([sensitive[0, 0], sensitive[-1, 1]], [0.1, 0.2], rtol=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.summary exists on TensorFlow only")
def test_summaries_do_not_change_the_value(tmp_path):
    import tensorflow as tf

    membership, predictions, weights = random_inputs(9)
    loss = MMDLoss()
    expected = to_numpy(loss(membership, predictions, weights))
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=1):
        np.testing.assert_allclose(to_numpy(loss(membership, predictions, weights)), expected)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.summary exists on TensorFlow only")
def test_no_summary_op_is_traced_without_a_writer():
    import tensorflow as tf

    membership, predictions, weights = random_inputs(9)
    graph = tf.function(MMDLoss()).get_concrete_function(
        tf.constant(membership), tf.constant(predictions), tf.constant(weights)
    ).graph
    op_types = {op.type for op in graph.get_operations()}
    assert not op_types & {"WriteSummary", "HistogramFixedWidth", "Where"}, op_types


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.summary exists on TensorFlow only")
def test_summaries_are_skipped_with_a_warning_under_xla(tmp_path):
    import tensorflow as tf

    membership, predictions, weights = random_inputs(10)
    loss = MMDLoss()
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(step=1):
        with pytest.warns(UserWarning, match="XLA"):
            value = tf.function(loss, jit_compile=True)(membership, predictions, weights)
    np.testing.assert_allclose(
        to_numpy(value), mmd_ref(membership, predictions, weights), rtol=1e-5
    )


class _TiledSquaredDistanceKernel(MinDiffKernel):
    """TF-MR's documented example kernel: `call` gets `[N, 1, D]` and `[1, M, D]` tensors."""

    def call(self, x, y):
        return ops.exp(-ops.sum(ops.square(x - y), axis=2) / 0.01)


def test_custom_kernel_receives_tiled_inputs():
    rng = np.random.default_rng(11)
    x = rng.uniform(size=(5, 2)).astype(np.float32)
    y = rng.uniform(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(
        to_numpy(_TiledSquaredDistanceKernel()(x, y)), kernel_ref(x, y, "gaussian", 0.1),
        rtol=1e-5, atol=1e-7,
    )
    assert to_numpy(_TiledSquaredDistanceKernel()(x)).shape == (5, 5)


@pytest.mark.parametrize("cls, name", [(GaussianKernel, "gaussian"),
                                       (LaplacianKernel, "laplacian")])
def test_tile_input_false_takes_pretiled_inputs(cls, name):
    rng = np.random.default_rng(12)
    x = rng.uniform(size=(5, 2)).astype(np.float32)
    y = rng.uniform(size=(4, 2)).astype(np.float32)
    pairs_x = np.broadcast_to(x[:, None, :], (5, 4, 2))
    pairs_y = np.broadcast_to(y[None, :, :], (5, 4, 2))
    untiled = cls(0.3, tile_input=False)
    assert untiled.tile_input is False and cls(0.3).tile_input is True
    np.testing.assert_allclose(
        to_numpy(untiled(pairs_x, pairs_y)), to_numpy(cls(0.3)(x, y)), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(
        to_numpy(untiled(pairs_x, pairs_y)), kernel_ref(x, y, name, 0.3), rtol=1e-5, atol=1e-7
    )
    with pytest.raises(ValueError, match="tile_input"):
        untiled(x, y)


def test_untiled_custom_kernel_gets_inputs_as_given():
    # As TF-MR's base_loss_test `CustomKernel`: `tile_input=False`, any input rank.
    class AddKernel(MinDiffKernel):
        def __init__(self, num):
            super().__init__(tile_input=False)
            self.num = num

        def call(self, x, y):
            return x + self.num

    np.testing.assert_allclose(to_numpy(AddKernel(3)(1.0)), 4.0)
    loss = _KernelMeanLoss(membership_kernel=AddKernel(3), predictions_kernel=AddKernel(7))
    m, p = loss._apply_kernels(np.float32(1.0), np.float32(2.0))
    np.testing.assert_allclose([to_numpy(m), to_numpy(p)], [4.0, 9.0])


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_tile_input_must_be_bool(bad):
    with pytest.raises(TypeError, match="`tile_input` must be a bool"):
        GaussianKernel(tile_input=bad)


