"""Clear errors at packing time, naming the argument: `(x, None, sample_weight)` groups work,
string groups, feature-shape mismatches between the groups and empty groups raise (ValueError
for values, TypeError for types) when `pack_min_diff_data` / `build_min_diff_dataset` is
called, not while iterating."""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from data_testlib import StructuredBatches
from data_testlib import iterate
from data_testlib import np_
from data_testlib import tf_batched
from data_testlib import tf_module
from data_testlib import unknown_cardinality


def _wrap(kind, data, batch_size):
    if kind == "tf.data":
        return tf_batched(data, batch_size)
    if kind == "pydataset":
        return StructuredBatches(data, batch_size)
    return data


def _original(kind, arrays):
    return _wrap(kind, (arrays["x"], arrays["y"]), 32)


KINDS = ["tf.data", "pydataset", "arrays"]


# ---------------------------------------------------------------------------------------------
# (x, None, sample_weight) groups.


@pytest.mark.parametrize("kind", KINDS)
def test_groups_with_no_labels_and_weights(arrays, kind):
    w_s = np.full((40,), 2.0, "float32")
    sensitive = _wrap(kind, (arrays["sensitive"], None, w_s), 8)
    nonsensitive = _wrap(kind, (arrays["nonsensitive"], None, np.full((100,), 3.0, "float32")), 8)
    kwargs = {"batch_size": 32, "min_diff_batch_size": 8} if kind == "arrays" else {}
    batches = iterate(pack_min_diff_data(_original(kind, arrays), sensitive, nonsensitive, **kwargs))
    assert len(batches) == 10
    md_x, membership, weight = batches[0][0].min_diff_data
    assert np_(md_x).shape == (16, 4)
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0] * 8 + [0.0] * 8)
    np.testing.assert_array_equal(np_(weight)[:, 0], [2.0] * 8 + [3.0] * 8)


# ---------------------------------------------------------------------------------------------
# String groups.


@pytest.mark.parametrize(
    "group", [["a", "b", "c"], "abc", b"abc", 3.0], ids=["list-of-str", "str", "bytes", "float"]
)
def test_groups_that_are_not_arrays_raise_type_error(arrays, group):
    with pytest.raises(TypeError, match="^`sensitive_group_dataset` must"):
        pack_min_diff_data((arrays["x"], arrays["y"]), group, arrays["nonsensitive"])
    with pytest.raises(TypeError, match="^`nonsensitive_group_dataset` must"):
        build_min_diff_dataset(arrays["sensitive"], group)


def test_zero_dimensional_array_group_raises_value_error(arrays):
    with pytest.raises(ValueError, match="^`sensitive_group_dataset` must"):
        pack_min_diff_data((arrays["x"], arrays["y"]), np.array(3.0), arrays["nonsensitive"])


def test_string_array_groups_are_packed(arrays):
    text = np.array([f"t{i}" for i in range(64)])
    dataset = pack_min_diff_data(
        (text, arrays["y"][:64]), np.array(["s"] * 20), np.array(["n"] * 30), batch_size=16,
        shuffle=False,
    )
    md_x, membership = dataset[0][0].min_diff_data
    assert list(md_x) == ["s"] * 16 + ["n"] * 16
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 16 + [0.0] * 16)
    tf = tf_module()
    dataset = pack_min_diff_data(
        tf_batched((text, arrays["y"][:64]), 16),
        tf_batched(np.array(["s"] * 20), 8),
        tf_batched(np.array(["n"] * 30), 8),
    )
    md_x, membership = next(iter(dataset))[0].min_diff_data
    assert md_x.dtype == tf.string and list(np_(md_x)) == [b"s"] * 8 + [b"n"] * 8


# ---------------------------------------------------------------------------------------------
# Feature-shape mismatches between the groups.


@pytest.mark.parametrize("kind", KINDS)
def test_feature_count_mismatch_raises_at_packing_time(arrays, kind):
    sensitive = _wrap(kind, arrays["sensitive"], 8)
    nonsensitive = _wrap(kind, arrays["nonsensitive"][:, :3], 8)
    with pytest.raises(ValueError, match="nonsensitive_group_dataset") as error:
        pack_min_diff_data(_original(kind, arrays), sensitive, nonsensitive)
    assert "sensitive_group_dataset" in str(error.value)
    assert "concatenat" not in str(error.value).split("must")[0]  # ours, not NumPy's / TF's
    with pytest.raises(ValueError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset(sensitive, nonsensitive)


def test_feature_count_mismatch_in_a_dict_feature_names_it(arrays):
    sensitive = {"a": arrays["sensitive"], "b": arrays["sensitive"][:, :2]}
    nonsensitive = {"a": arrays["nonsensitive"], "b": arrays["nonsensitive"][:, :3]}
    for wrap in (lambda d: d, lambda d: tf_batched(d, 8)):
        with pytest.raises(ValueError, match="'b'"):
            build_min_diff_dataset(wrap(sensitive), wrap(nonsensitive))


def test_dtype_mismatch_between_tf_groups_raises_type_error(arrays):
    with pytest.raises(TypeError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset(
            tf_batched(arrays["sensitive"], 8),
            tf_batched(arrays["nonsensitive"].astype("float64"), 8),
        )


# ---------------------------------------------------------------------------------------------
# Empty groups.


def _empty(kind, rows):
    if kind == "tf.data":
        return tf_batched(rows, 8).take(0)
    if kind == "tf.data-unknown-cardinality":
        return tf_batched(rows, 8).filter(lambda _: False)
    if kind == "pydataset":
        return StructuredBatches(rows[:0], 8)
    return rows[:0]


EMPTY_KINDS = ["tf.data", "tf.data-unknown-cardinality", "pydataset", "arrays"]


@pytest.mark.parametrize("kind", EMPTY_KINDS)
@pytest.mark.parametrize("repeat", [True, False])
def test_empty_sensitive_group_raises_at_packing_time(arrays, kind, repeat):
    base = "tf.data" if kind.startswith("tf.data") else kind
    original = _original(base, arrays)
    nonsensitive = _wrap(base, arrays["nonsensitive"], 8)
    with pytest.raises(ValueError, match="^`sensitive_group_dataset` must"):
        pack_min_diff_data(
            original, _empty(kind, arrays["sensitive"]), nonsensitive, repeat_min_diff_data=repeat
        )
    with pytest.raises(ValueError, match="^`sensitive_group_dataset` must"):
        build_min_diff_dataset(_empty(kind, arrays["sensitive"]), nonsensitive, repeat=repeat)


@pytest.mark.parametrize("kind", EMPTY_KINDS)
def test_empty_nonsensitive_group_raises_at_packing_time(arrays, kind):
    base = "tf.data" if kind.startswith("tf.data") else kind
    with pytest.raises(ValueError, match="^`nonsensitive_group_dataset` must"):
        pack_min_diff_data(
            _original(base, arrays),
            _wrap(base, arrays["sensitive"], 8),
            _empty(kind, arrays["nonsensitive"]),
        )


def test_empty_group_in_a_dict_names_the_key(arrays):
    sensitive = {"a": tf_batched(arrays["sensitive"], 8), "b": tf_batched(arrays["sensitive"], 8).take(0)}
    nonsensitive = {"a": tf_batched(arrays["nonsensitive"], 8), "b": tf_batched(arrays["nonsensitive"], 8)}
    with pytest.raises(ValueError, match=r"^`sensitive_group_dataset\['b'\]` must"):
        build_min_diff_dataset(sensitive, nonsensitive)


@pytest.mark.parametrize("kind", ["tf.data", "tf.data-unknown-cardinality", "pydataset"])
def test_empty_min_diff_dataset_raises(arrays, kind):
    base = "tf.data" if kind.startswith("tf.data") else kind
    md = (arrays["x"][:64], (np.arange(64) % 2).reshape(-1, 1).astype("float32"))
    if kind == "pydataset":
        empty = StructuredBatches((md[0][:0], md[1][:0]), 8)
    elif kind == "tf.data":
        empty = tf_batched(md, 8).take(0)
    else:
        empty = unknown_cardinality(tf_batched(md, 8).take(0))
    with pytest.raises(ValueError, match="^`min_diff_dataset` must"):
        pack_min_diff_data(_original(base, arrays), min_diff_dataset=empty)
