"""`build_min_diff_dataset` as in TF Model Remediation: a finite dataset that ends with the
shorter group by default, and ONE dataset whose elements are dicts for a dict of groups; with
`repeat=True` the shorter group is cycled until the longer one ends (still finite). The same
for tf.data, PyDataset and array inputs."""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from array_batches_testlib import ArrayBatches
from data_testlib import iterate
from data_testlib import np_
from data_testlib import tf_batched
from data_testlib import tf_module
from data_testlib import unknown_cardinality

# With batches of 8: 40 sensitive rows are 5 batches, 100 non-sensitive rows are 13.


def _assert_batch(batch, sensitive_rows, nonsensitive_rows):
    # Neither group has weights: `(min_diff_x, membership)`, without weights (the reference's
    # `min_diff_sample_weight` is None then).
    assert len(batch) == 2
    md_x, membership = np_(batch[0]), np_(batch[1])
    n_s, n_n = len(sensitive_rows), len(nonsensitive_rows)
    np.testing.assert_array_equal(md_x[:n_s], sensitive_rows)
    np.testing.assert_array_equal(md_x[n_s:], nonsensitive_rows)
    np.testing.assert_array_equal(membership[:, 0], [1.0] * n_s + [0.0] * n_n)


def _group_sources(kind, arrays, batch_size=8):
    sensitive, nonsensitive = arrays["sensitive"], arrays["nonsensitive"]
    if kind == "tf.data":
        return tf_batched(sensitive, batch_size), tf_batched(nonsensitive, batch_size), {}
    if kind == "tf.data-unknown-cardinality":
        return (
            unknown_cardinality(tf_batched(sensitive, batch_size)),
            unknown_cardinality(tf_batched(nonsensitive, batch_size)),
            {},
        )
    if kind == "pydataset":
        return ArrayBatches(sensitive, batch_size), ArrayBatches(nonsensitive, batch_size), {}
    return sensitive, nonsensitive, {"batch_size": batch_size, "shuffle": False}


KINDS = ["tf.data", "tf.data-unknown-cardinality", "pydataset", "arrays"]


@pytest.mark.parametrize("kind", KINDS)
def test_default_is_finite_and_ends_with_the_shorter_group(arrays, kind):
    sensitive, nonsensitive, kwargs = _group_sources(kind, arrays)
    dataset = build_min_diff_dataset(sensitive, nonsensitive, **kwargs)
    batches = iterate(dataset)  # ends
    assert len(batches) == 5
    for i, batch in enumerate(batches):
        rows = slice(8 * i, 8 * i + 8)
        _assert_batch(batch, arrays["sensitive"][rows], arrays["nonsensitive"][rows])
    if kind == "tf.data":
        assert int(dataset.cardinality()) == 5
    if kind in ("pydataset", "arrays"):
        assert len(dataset) == 5


@pytest.mark.parametrize("kind", KINDS)
def test_repeat_cycles_the_shorter_group_until_the_longer_one_ends(arrays, kind):
    sensitive, nonsensitive, kwargs = _group_sources(kind, arrays)
    dataset = build_min_diff_dataset(sensitive, nonsensitive, repeat=True, **kwargs)
    batches = iterate(dataset)  # ends too
    assert len(batches) == 13
    # Batch 6 uses sensitive batch 6 % 5 = 1; the last one non-sensitive rows 96..99.
    _assert_batch(batches[6], arrays["sensitive"][8:16], arrays["nonsensitive"][48:56])
    _assert_batch(batches[12], arrays["sensitive"][16:24], arrays["nonsensitive"][96:])
    if kind == "tf.data":
        assert int(dataset.cardinality()) == 13


def test_repeat_when_the_sensitive_group_is_the_longer_one(arrays):
    tf_module()
    dataset = build_min_diff_dataset(
        unknown_cardinality(tf_batched(arrays["nonsensitive"], 8)),
        unknown_cardinality(tf_batched(arrays["sensitive"], 8)),
        repeat=True,
    )
    batches = iterate(dataset)
    assert len(batches) == 13
    _assert_batch(batches[5], arrays["nonsensitive"][40:48], arrays["sensitive"][:8])


def test_keyword_arguments_as_in_tf_model_remediation(arrays):
    dataset = build_min_diff_dataset(
        sensitive_group_dataset=tf_batched(arrays["sensitive"], 8),
        nonsensitive_group_dataset=tf_batched(arrays["nonsensitive"], 8),
    )
    assert len(iterate(dataset)) == 5


# ---------------------------------------------------------------------------------------------
# A dict of groups (one per MinDiff application) gives one dataset of dicts.


def _dict_groups(kind, arrays):
    """Application 'a': 5 and 13 batches of 8; application 'b': 2 and 3 batches of 8."""
    s, n = arrays["sensitive"], arrays["nonsensitive"]
    parts = {"a": (s, n), "b": (s[:16], n[:24])}
    if kind == "tf.data":
        return (
            {k: tf_batched(v[0], 8) for k, v in parts.items()},
            {k: tf_batched(v[1], 8) for k, v in parts.items()},
            {},
        )
    if kind == "pydataset":
        return (
            {k: ArrayBatches(v[0], 8) for k, v in parts.items()},
            {k: ArrayBatches(v[1], 8) for k, v in parts.items()},
            {},
        )
    return (
        {k: (v[0],) for k, v in parts.items()},
        {k: (v[1],) for k, v in parts.items()},
        {"batch_size": 8, "shuffle": False},
    )


@pytest.mark.parametrize("kind", ["tf.data", "pydataset", "arrays"])
def test_dict_of_groups_gives_one_dataset_of_dicts(arrays, kind):
    sensitive, nonsensitive, kwargs = _dict_groups(kind, arrays)
    dataset = build_min_diff_dataset(sensitive, nonsensitive, **kwargs)
    assert not isinstance(dataset, dict)
    if kind == "tf.data":
        assert isinstance(dataset, tf_module().data.Dataset)
    else:
        assert isinstance(dataset, keras.utils.PyDataset)
    batches = iterate(dataset)
    assert len(batches) == 2  # the shortest group of all applications
    for i, batch in enumerate(batches):
        assert isinstance(batch, dict) and set(batch) == {"a", "b"}
        rows = slice(8 * i, 8 * i + 8)
        for key in ("a", "b"):
            _assert_batch(batch[key], arrays["sensitive"][rows], arrays["nonsensitive"][rows])


@pytest.mark.parametrize("kind", ["tf.data", "pydataset", "arrays"])
def test_dict_of_groups_with_repeat_ends_with_the_longest_group(arrays, kind):
    sensitive, nonsensitive, kwargs = _dict_groups(kind, arrays)
    batches = iterate(build_min_diff_dataset(sensitive, nonsensitive, repeat=True, **kwargs))
    assert len(batches) == 13
    # Batch 7 of application 'b': sensitive batch 7 % 2 = 1, non-sensitive batch 7 % 3 = 1.
    _assert_batch(batches[7]["b"], arrays["sensitive"][8:16], arrays["nonsensitive"][8:16])
    _assert_batch(batches[7]["a"], arrays["sensitive"][16:24], arrays["nonsensitive"][56:64])


@pytest.mark.parametrize("kind", ["tf.data", "pydataset", "arrays"])
def test_built_dict_dataset_feeds_pack_min_diff_data(arrays, kind):
    sensitive, nonsensitive, kwargs = _dict_groups(kind, arrays)
    min_diff = build_min_diff_dataset(sensitive, nonsensitive, **kwargs)
    # Built from arrays, the MinDiff data is a PyDataset: it is packed with PyDataset data.
    if kind == "tf.data":
        original = tf_batched((arrays["x"], arrays["y"]), 32)
    else:
        original = ArrayBatches((arrays["x"], arrays["y"]), 32)
    packed_kwargs = {}
    batches = iterate(pack_min_diff_data(original, min_diff_dataset=min_diff, **packed_kwargs))
    assert len(batches) == 10  # the MinDiff data is repeated by default
    packed, _ = batches[3]
    assert set(packed.min_diff_data) == {"a", "b"}
    # Original batch 3 gets MinDiff batch 3 % 2 = 1.
    _assert_batch(packed.min_diff_data["a"], arrays["sensitive"][8:16], arrays["nonsensitive"][8:16])
    shorter = iterate(
        pack_min_diff_data(
            original, min_diff_dataset=min_diff, repeat_min_diff_data=False, **packed_kwargs
        )
    )
    assert len(shorter) == 2
