"""The contract of TF Model Remediation's `pack_min_diff_data`, `build_min_diff_dataset`,
`MinDiffPackedInputs` and unpack functions, checked on our packers (behaviour, not wording):
argument names, batch layouts that keep the original batch's length, structure checks at
packing time, MinDiff structures of datasets, unpacking arbitrary inputs."""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.keras.utils import unpack_min_diff_data
from keras_remediation.min_diff.keras.utils import unpack_original_inputs
from data_testlib import StructuredBatches
from data_testlib import iterate
from data_testlib import np_
from data_testlib import tf_batched
from data_testlib import tf_module


def _membership(rows):
    return (np.arange(rows) % 2).reshape(-1, 1).astype("float32")


# ---------------------------------------------------------------------------------------------
# Arguments.


def test_pack_argument_names_and_order(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    sensitive, nonsensitive = tf_batched(arrays["sensitive"], 8), tf_batched(arrays["nonsensitive"], 8)
    by_keyword = pack_min_diff_data(
        original_dataset=original,
        sensitive_group_dataset=sensitive,
        nonsensitive_group_dataset=nonsensitive,
    )
    by_position = pack_min_diff_data(original, sensitive, nonsensitive)
    md = tf_batched((arrays["x"][:64], _membership(64)), 32)
    by_min_diff = pack_min_diff_data(original, None, None, md)
    for dataset in (by_keyword, by_position, by_min_diff):
        assert len(iterate(dataset)) == 10


# ---------------------------------------------------------------------------------------------
# Packed batches keep the length of the original batch.


def test_tf_data_batches_keep_the_original_batch_length(arrays):
    tf = tf_module()
    x, y = arrays["x"][:64], arrays["y"][:64]
    w = np.linspace(0.5, 1.0, 64).astype("float32")
    sensitive, nonsensitive = tf_batched(arrays["sensitive"], 8), tf_batched(arrays["nonsensitive"], 8)

    def first(original):
        return next(iter(pack_min_diff_data(tf_batched(original, 32), sensitive, nonsensitive)))

    batch = first((x, y, None))
    assert isinstance(batch, tuple) and len(batch) == 3 and batch[2] is None
    batch = first((x, None, w))
    assert len(batch) == 3 and batch[1] is None
    np.testing.assert_array_equal(np_(batch[2]), w[:32])
    batch = first((x, y))
    assert len(batch) == 2
    batch = first(x)
    assert isinstance(batch, MinDiffPackedInputs)
    assert isinstance(batch.original_inputs, tf.Tensor)


def test_array_batches_keep_sample_weight_without_labels(arrays):
    w = np.linspace(0.5, 1.0, 320).astype("float32")
    dataset = pack_min_diff_data(
        (arrays["x"], None, w), arrays["sensitive"], arrays["nonsensitive"], batch_size=32,
        shuffle=False,
    )
    packed, y, weight = dataset[1]
    assert isinstance(packed, MinDiffPackedInputs) and y is None
    np.testing.assert_array_equal(weight, w[32:64])
    # (x, y, None): the trailing None is dropped (Keras cannot read None from a PyDataset).
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"], None), arrays["sensitive"], arrays["nonsensitive"],
        batch_size=32,
    )
    assert len(dataset[0]) == 2


# ---------------------------------------------------------------------------------------------
# Structure checks at packing time.


def test_min_diff_x_structure_must_match_the_original_x_tf_data(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    as_dict = lambda rows: {"f": rows}  # noqa: E731
    with pytest.raises(ValueError, match="original_dataset"):
        pack_min_diff_data(
            original,
            tf_batched(as_dict(arrays["sensitive"]), 8),
            tf_batched(as_dict(arrays["nonsensitive"]), 8),
        )
    with pytest.raises(ValueError, match="min_diff_dataset"):
        pack_min_diff_data(
            original,
            min_diff_dataset=tf_batched((as_dict(arrays["x"][:64]), _membership(64)), 32),
        )
    with pytest.raises(ValueError, match=r"min_diff_dataset\['b'\]"):
        pack_min_diff_data(
            original,
            min_diff_dataset={
                "a": tf_batched((arrays["x"][:64], _membership(64)), 32),
                "b": tf_batched((as_dict(arrays["x"][:64]), _membership(64)), 32),
            },
        )


@pytest.mark.parametrize("kind", ["arrays", "pydataset"])
def test_min_diff_x_structure_must_match_the_original_x(arrays, kind):
    wrap = (lambda data, n: data) if kind == "arrays" else StructuredBatches
    original = wrap((arrays["x"], arrays["y"]), 32)
    sensitive = {"f": arrays["sensitive"]}
    nonsensitive = {"f": arrays["nonsensitive"]}
    if kind == "pydataset":
        sensitive, nonsensitive = StructuredBatches(sensitive, 8), StructuredBatches(nonsensitive, 8)
    with pytest.raises(ValueError, match="original_dataset"):
        pack_min_diff_data(original, sensitive, nonsensitive)  # raises before any iteration


@pytest.mark.parametrize("kind", ["tf.data", "arrays", "pydataset"])
def test_group_x_structures_must_match(arrays, kind):
    sensitive = {"f": arrays["sensitive"]}
    nonsensitive = arrays["nonsensitive"]
    if kind == "tf.data":
        sensitive, nonsensitive = tf_batched(sensitive, 8), tf_batched(nonsensitive, 8)
    elif kind == "pydataset":
        sensitive, nonsensitive = StructuredBatches(sensitive, 8), StructuredBatches(nonsensitive, 8)
    with pytest.raises(ValueError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset(sensitive, nonsensitive)


# ---------------------------------------------------------------------------------------------
# MinDiff structures of datasets (a dataset, or a flat dict of datasets).


def test_dicts_of_tf_datasets_are_accepted(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    md = tf_batched((arrays["x"][:64], _membership(64)), 32)
    groups = {"a": tf_batched(arrays["sensitive"], 8), "b": tf_batched(arrays["sensitive"], 8)}
    others = {"a": tf_batched(arrays["nonsensitive"], 8), "b": tf_batched(arrays["nonsensitive"], 8)}
    packed, _ = next(iter(pack_min_diff_data(original, min_diff_dataset={"a": md, "b": md})))
    assert set(packed.min_diff_data) == {"a", "b"}
    packed, _ = next(iter(pack_min_diff_data(original, groups, others)))
    assert set(packed.min_diff_data) == {"a", "b"}


def test_nested_dicts_of_tf_datasets_raise_value_error(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    ds = tf_batched(arrays["sensitive"], 8)
    good = {"a": ds, "b": ds}
    bad = {"a": ds, "b": [ds]}
    with pytest.raises(ValueError, match="min_diff_dataset"):
        pack_min_diff_data(original, min_diff_dataset=bad)
    with pytest.raises(ValueError, match="^`sensitive_group_dataset`"):
        pack_min_diff_data(original, bad, good)
    with pytest.raises(ValueError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset(good, bad)
    with pytest.raises(ValueError, match="sensitive_group_dataset"):
        build_min_diff_dataset({"a": ds, 3: ds}, {"a": ds, 3: ds})


def test_lists_of_datasets_raise_type_error(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    ds = tf_batched(arrays["sensitive"], 8)
    with pytest.raises(TypeError, match="min_diff_dataset"):
        pack_min_diff_data(original, min_diff_dataset=[ds, ds])
    with pytest.raises(TypeError, match="sensitive_group_dataset"):
        build_min_diff_dataset([ds], ds)
    with pytest.raises(TypeError, match="sensitive_group_dataset"):
        build_min_diff_dataset(StructuredBatches(arrays["sensitive"], 8), [StructuredBatches(arrays["nonsensitive"], 8)])


def test_groups_with_different_keys_raise_value_error(arrays):
    ds = tf_batched(arrays["sensitive"], 8)
    with pytest.raises(ValueError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset({"a": ds, "b": ds}, {"a": ds, "c": ds})
    with pytest.raises(ValueError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset({"a": ds}, ds)


# ---------------------------------------------------------------------------------------------
# Group weights.


def test_group_weights_are_concatenated(arrays):
    w_s = np.linspace(1.0, 2.0, 40).reshape(-1, 1).astype("float32")
    w_n = np.linspace(3.0, 4.0, 100).reshape(-1, 1).astype("float32")
    for kind in ("tf.data", "arrays"):
        if kind == "tf.data":
            dataset = build_min_diff_dataset(
                tf_batched((arrays["sensitive"], None, w_s), 8),
                tf_batched((arrays["nonsensitive"], None, w_n), 8),
            )
        else:
            dataset = build_min_diff_dataset(
                (arrays["sensitive"], None, w_s), (arrays["nonsensitive"], None, w_n),
                batch_size=8, shuffle=False,
            )
        _, _, weight = iterate(dataset)[2]
        np.testing.assert_allclose(np_(weight), np.concatenate([w_s[16:24], w_n[16:24]]))


def test_group_weights_with_more_values_than_rows_raise(arrays):
    w_s = np.ones((40, 2), "float32")
    with pytest.raises(ValueError, match="sensitive_group_dataset"):
        build_min_diff_dataset(
            (arrays["sensitive"], None, w_s), arrays["nonsensitive"], batch_size=8
        )
    with pytest.raises(ValueError, match="sensitive_group_dataset"):
        build_min_diff_dataset(
            tf_batched((arrays["sensitive"], None, w_s), 8), tf_batched(arrays["nonsensitive"], 8)
        )


# ---------------------------------------------------------------------------------------------
# MinDiffPackedInputs and unpacking arbitrary inputs.


def test_packed_inputs_hold_anything():
    obj = {"a", "b"}
    for original, min_diff in ((obj, None), (None, obj), (None, None), ((1, None, 2), "x")):
        packed = MinDiffPackedInputs(original, min_diff)
        assert unpack_original_inputs(packed) is original
        assert unpack_min_diff_data(packed) is min_diff
        assert packed == MinDiffPackedInputs(original_inputs=original, min_diff_data=min_diff)


@pytest.mark.parametrize(
    "inputs",
    [{"a", "b"}, None, 3, "text", (np.ones((2, 2)), None, np.ones((2, 1))), {"f1": np.ones(2)}],
    ids=["set", "None", "int", "str", "tuple", "dict"],
)
def test_unpack_arbitrary_inputs(inputs):
    assert unpack_original_inputs(inputs) is inputs
    assert unpack_min_diff_data(inputs) is None
