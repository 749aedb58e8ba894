"""Issue #14 (MinDiff data): the packers validate membership and weights on every batch, not
only on the first one, for tf.data (an assertion in the input pipeline, on every Keras
backend), PyDatasets and arrays."""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras.models import MinDiffModel
from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from data_testlib import StructuredBatches
from data_testlib import iterate
from data_testlib import tf_module
from data_testlib import unknown_cardinality

ROWS, BATCH = 64, 8  # 8 batches; row 20 is in the third.
BAD_ROW = 20


def _original(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    if kind == "tf.data":
        return tf_module().data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    if kind == "pydataset":
        return StructuredBatches((x, y), BATCH)
    return (x, y)


def _min_diff_arrays(membership_bad=None, weight_bad=None):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(ROWS, 3)).astype("float32")
    membership = (np.arange(ROWS) % 2).astype("float32").reshape(-1, 1)
    weight = np.ones((ROWS, 1), "float32")
    if membership_bad is not None:
        membership[BAD_ROW] = membership_bad
    if weight_bad is not None:
        weight[BAD_ROW] = weight_bad
    return x, membership, weight


def _as_kind(data, kind):
    if kind == "tf.data":
        return tf_module().data.Dataset.from_tensor_slices(data).batch(BATCH)
    if kind == "pydataset":
        return StructuredBatches(data, BATCH)
    return data


def _raises_while_iterating(kind):
    if kind == "tf.data":
        return pytest.raises(tf_module().errors.InvalidArgumentError)
    return pytest.raises(ValueError)


BAD_VALUES = [
    ({"membership_bad": 2.0}, "`min_diff_dataset membership` must contain only 0.0"),
    ({"weight_bad": -1.0}, "`min_diff_dataset sample_weight` must be non-negative"),
    ({"weight_bad": np.nan}, "`min_diff_dataset sample_weight` must be finite"),
]


@pytest.mark.parametrize("unknown", [False, True], ids=["known", "unknown-cardinality"])
@pytest.mark.parametrize("bad, message", BAD_VALUES, ids=["membership-2", "weight-neg", "weight-nan"])
def test_tf_min_diff_dataset_third_batch_raises_while_iterating(bad, message, unknown):
    min_diff = _as_kind(_min_diff_arrays(**bad), "tf.data")
    if unknown:
        min_diff = unknown_cardinality(min_diff)
    packed = pack_min_diff_data(_original("tf.data"), min_diff_dataset=min_diff)  # 1st batch ok
    iterator = iter(packed)
    next(iterator), next(iterator)  # the first two batches are fine
    with pytest.raises(tf_module().errors.InvalidArgumentError, match=message):
        next(iterator)


@pytest.mark.parametrize("kind", ["pydataset", "tf.data"])
def test_bad_membership_in_a_later_batch_raises_in_fit(kind):
    """On JAX a tf.data batch with membership 2.0 used to train silently (no value check in jit)."""
    min_diff = _as_kind(_min_diff_arrays(membership_bad=2.0), kind)
    packed = pack_min_diff_data(
        _original(kind), min_diff_dataset=min_diff, shuffle=False
    )
    original = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model = MinDiffModel(original, "mmd")
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    # tf.data raises from its pipeline; on TensorFlow, Keras reads a PyDataset through tf.data
    # too, which re-raises the ValueError as an InvalidArgumentError carrying its message.
    tf_reads = kind == "tf.data" or keras.backend.backend() == "tensorflow"
    with pytest.raises(
        tf_module().errors.InvalidArgumentError if tf_reads else ValueError,
        match="membership` must contain only 0.0",
    ):
        model.fit(packed, epochs=1, verbose=0)


def test_tf_dict_of_min_diff_datasets_names_the_key():
    good = _as_kind(_min_diff_arrays(), "tf.data")
    bad = _as_kind(_min_diff_arrays(membership_bad=2.0), "tf.data")
    packed = pack_min_diff_data(_original("tf.data"), min_diff_dataset={"a": good, "b": bad})
    with pytest.raises(
        tf_module().errors.InvalidArgumentError,
        match=r"`min_diff_dataset\[b\] membership` must contain only",
    ):
        iterate(packed)


def test_tf_dataset_of_dicts_names_the_key():
    tf = tf_module()
    good = _as_kind(_min_diff_arrays(), "tf.data")
    bad = _as_kind(_min_diff_arrays(weight_bad=-3.0), "tf.data")
    min_diff = tf.data.Dataset.zip({"a": good, "b": bad})
    packed = pack_min_diff_data(_original("tf.data"), min_diff_dataset=min_diff)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"`min_diff_dataset\[b\] sample_weight` must be non-negative",
    ):
        iterate(packed)


def _groups(kind, bad_weight, bad_group="sensitive"):
    rng = np.random.default_rng(2)
    groups = {}
    for name in ("sensitive", "nonsensitive"):
        x = rng.normal(size=(ROWS, 3)).astype("float32")
        w = np.ones(ROWS, "float32")
        if name == bad_group:
            w[BAD_ROW] = bad_weight
        groups[name] = _as_kind((x, None, w) if kind == "pydataset" else (x, np.zeros(ROWS), w), kind)
    return groups["sensitive"], groups["nonsensitive"]


@pytest.mark.parametrize("bad_group", ["sensitive", "nonsensitive"])
@pytest.mark.parametrize("bad_weight, message", [(-1.0, "non-negative"), (np.inf, "finite")])
@pytest.mark.parametrize("builder", ["build", "pack"])
def test_tf_group_weights_checked_on_every_batch(builder, bad_weight, message, bad_group):
    sensitive, nonsensitive = _groups("tf.data", bad_weight, bad_group)
    if builder == "build":
        dataset = build_min_diff_dataset(sensitive, nonsensitive)
    else:
        dataset = pack_min_diff_data(
            _original("tf.data"),
            sensitive_group_dataset=sensitive,
            nonsensitive_group_dataset=nonsensitive,
        )
    iterator = iter(dataset)
    next(iterator), next(iterator)
    with pytest.raises(
        tf_module().errors.InvalidArgumentError,
        match=f"`{bad_group}_group_dataset sample_weight` must be {message}",
    ):
        next(iterator)


@pytest.mark.parametrize("kind", ["arrays", "pydataset"])
@pytest.mark.parametrize("builder", ["build", "pack"])
def test_array_and_pydataset_group_weights_checked_on_every_batch(kind, builder):
    sensitive, nonsensitive = _groups(kind, -1.0)
    if builder == "build":
        dataset = build_min_diff_dataset(sensitive, nonsensitive, batch_size=BATCH, shuffle=False)
    else:
        dataset = pack_min_diff_data(
            _original(kind), sensitive_group_dataset=sensitive,
            nonsensitive_group_dataset=nonsensitive, batch_size=BATCH, shuffle=False,
        )
    dataset[0], dataset[1]
    with pytest.raises(ValueError, match="sample_weight` must be non-negative"):
        dataset[2]


@pytest.mark.parametrize("bad, message", BAD_VALUES, ids=["membership-2", "weight-neg", "weight-nan"])
def test_pydataset_min_diff_third_batch_raises_when_read(bad, message):
    packed = pack_min_diff_data(
        _original("pydataset"), min_diff_dataset=_as_kind(_min_diff_arrays(**bad), "pydataset"),
        shuffle=False,
    )
    packed[0], packed[1]
    with pytest.raises(ValueError, match=message):
        packed[2]


@pytest.mark.parametrize("bad, message", BAD_VALUES, ids=["membership-2", "weight-neg", "weight-nan"])
def test_array_min_diff_data_raises_at_packing_time(bad, message):
    with pytest.raises(ValueError, match=message):
        pack_min_diff_data(_original("arrays"), min_diff_dataset=_min_diff_arrays(**bad))


def test_valid_tf_data_iterates_unchanged():
    data = _min_diff_arrays()
    packed = pack_min_diff_data(_original("tf.data"), min_diff_dataset=_as_kind(data, "tf.data"),
                                repeat_min_diff_data=False)
    batches = iterate(packed)
    assert len(batches) == ROWS // BATCH
    membership = np.concatenate([np.asarray(b[0].min_diff_data[1]) for b in batches])
    np.testing.assert_array_equal(membership, data[1])
