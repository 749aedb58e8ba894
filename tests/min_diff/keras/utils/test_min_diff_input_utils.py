"""MinDiff data utilities: MinDiffPackedInputs, unpacking, pack_min_diff_data and
build_min_diff_dataset, for arrays, tf.data and keras.utils.PyDataset, on every backend.

tf.data tests are skipped only when TensorFlow is not installed (tf.data is an input pipeline
for every backend).
"""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras import utils
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.keras.utils import unpack_min_diff_data
from keras_remediation.min_diff.keras.utils import unpack_original_inputs
from keras_remediation.min_diff.keras.utils import unpack_x_y_sample_weight
from array_batches_testlib import ArrayBatches

BACKEND = keras.backend.backend()


def _tf():
    return pytest.importorskip("tensorflow")


def tf_batched(arrays, batch_size):
    tf = _tf()
    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)


def np_(value):
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return np.asarray(value)


def _iterate(dataset):
    """The batches of a packed dataset of any kind, as a list."""
    if isinstance(dataset, keras.utils.PyDataset):
        return [dataset[i] for i in range(len(dataset))]
    return list(dataset)


# ---------------------------------------------------------------------------------------------
# MinDiffPackedInputs and unpacking.


def test_packed_inputs_fields():
    packed = MinDiffPackedInputs(original_inputs="x", min_diff_data=("md_x", "m"))
    assert MinDiffPackedInputs._fields == ("original_inputs", "min_diff_data")
    assert packed.original_inputs == "x"
    assert packed.min_diff_data == ("md_x", "m")
    assert isinstance(packed, tuple)
    assert packed == MinDiffPackedInputs("x", ("md_x", "m"))


def test_unpack_unpacked_inputs():
    assert unpack_min_diff_data([1, 2, 3]) is None
    assert unpack_original_inputs([1, 2, 3]) == [1, 2, 3]
    x = np.ones((2, 3))
    assert unpack_original_inputs(x) is x
    assert unpack_min_diff_data(x) is None
    features = {"a": x, "b": x}
    assert unpack_original_inputs(features) is features
    assert unpack_min_diff_data(features) is None


def test_unpack_packed_inputs():
    x, md = np.ones((2, 3)), (np.zeros((4, 3)), np.ones((4, 1)))
    packed = MinDiffPackedInputs(x, md)
    assert unpack_original_inputs(packed) is x
    assert unpack_min_diff_data(packed) is md


def test_unpack_dict_form_packed_inputs():
    x, md = {"feature": np.ones((2, 3))}, {"a": (np.zeros((4, 3)), np.ones((4, 1)))}
    packed = {"original_inputs": x, "min_diff_data": md}
    assert unpack_original_inputs(packed) is x
    assert unpack_min_diff_data(packed) is md
    # A dict with other keys is plain input features.
    other = {"original_inputs": x, "something_else": md}
    assert unpack_original_inputs(other) is other
    assert unpack_min_diff_data(other) is None


def test_unpack_x_y_sample_weight_keeps_packed_inputs_as_x():
    packed = MinDiffPackedInputs(np.ones((2, 3)), (np.zeros((4, 3)), np.ones((4, 1))))
    x, y, w = unpack_x_y_sample_weight(packed)
    assert x is packed and y is None and w is None
    x, y, w = unpack_x_y_sample_weight((packed, "y"))
    assert x is packed and y == "y" and w is None
    x, y, w = unpack_x_y_sample_weight((packed, "y", "w"))
    assert (x, y, w) == (packed, "y", "w")
    assert unpack_x_y_sample_weight(("x", "y")) == ("x", "y", None)


def test_utils_exports():
    for name in (
        "MinDiffPackedInputs",
        "build_min_diff_dataset",
        "pack_min_diff_data",
        "unpack_min_diff_data",
        "unpack_original_inputs",
    ):
        assert hasattr(utils, name)


# ---------------------------------------------------------------------------------------------
# pack_min_diff_data: argument errors.


def test_pack_without_min_diff_data_raises(arrays):
    with pytest.raises(ValueError):
        pack_min_diff_data((arrays["x"], arrays["y"]))


def test_pack_with_both_ways_raises(arrays):
    md = (arrays["x"][:20], np.ones((20, 1), "float32"))
    with pytest.raises(ValueError):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]), arrays["sensitive"], arrays["nonsensitive"], min_diff_dataset=md
        )
    with pytest.raises(ValueError):
        pack_min_diff_data((arrays["x"], arrays["y"]), arrays["sensitive"], min_diff_dataset=md)


def test_pack_with_one_group_raises(arrays):
    with pytest.raises(ValueError, match="nonsensitive"):
        pack_min_diff_data((arrays["x"], arrays["y"]), sensitive_group_dataset=arrays["sensitive"])
    with pytest.raises(ValueError):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]), nonsensitive_group_dataset=arrays["nonsensitive"]
        )


def test_pack_with_mixed_kinds_raises(arrays):
    with pytest.raises(ValueError):
        pack_min_diff_data(
            ArrayBatches((arrays["x"], arrays["y"]), 32), arrays["sensitive"], arrays["nonsensitive"]
        )
    with pytest.raises(ValueError):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            ArrayBatches(arrays["sensitive"], 32),
            arrays["nonsensitive"],
        )


def test_pack_with_mixed_tf_data_and_arrays_raises(arrays):
    with pytest.raises(ValueError):
        pack_min_diff_data(
            tf_batched((arrays["x"], arrays["y"]), 32), arrays["sensitive"], arrays["nonsensitive"]
        )
    with pytest.raises(ValueError):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            min_diff_dataset=tf_batched((arrays["x"][:20], np.ones((20, 1), "float32")), 8),
        )


def test_pack_with_unequal_row_counts_raises(arrays):
    with pytest.raises(ValueError, match="rows"):
        pack_min_diff_data((arrays["x"], arrays["y"][:300]), arrays["sensitive"], arrays["nonsensitive"])
    with pytest.raises(ValueError, match="rows"):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            (arrays["sensitive"], np.ones((39, 1))),
            arrays["nonsensitive"],
        )
    with pytest.raises(ValueError, match="rows"):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            min_diff_dataset=(arrays["x"][:20], np.ones((19, 1), "float32")),
        )


def test_pack_with_mismatched_group_dict_keys_raises(arrays):
    with pytest.raises(ValueError):
        pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            {"a": (arrays["sensitive"],)},
            {"b": (arrays["nonsensitive"],)},
        )


def test_pack_with_malformed_min_diff_dataset_raises(arrays):
    with pytest.raises(ValueError):
        pack_min_diff_data((arrays["x"], arrays["y"]), min_diff_dataset=arrays["x"])
    with pytest.raises(ValueError):
        pack_min_diff_data((arrays["x"], arrays["y"]), min_diff_dataset=(arrays["x"],))


@pytest.mark.parametrize("bad", [2.0, -1.0, 0.5])
def test_pack_with_bad_membership_arrays_raises(arrays, bad):
    membership = (np.arange(64) % 2).reshape(-1, 1).astype("float32")
    membership[5] = bad
    with pytest.raises(ValueError, match="membership"):
        dataset = pack_min_diff_data(
            (arrays["x"], arrays["y"]), min_diff_dataset=(arrays["x"][:64], membership), batch_size=32
        )
        _iterate(dataset)


def test_pack_with_bad_membership_pydataset_raises(arrays):
    membership = np.full((64, 1), 3.0, "float32")
    with pytest.raises(ValueError, match="membership"):
        dataset = pack_min_diff_data(
            ArrayBatches((arrays["x"], arrays["y"]), 32),
            min_diff_dataset=ArrayBatches((arrays["x"][:64], membership), 32),
        )
        _iterate(dataset)


def test_pack_with_bad_membership_tf_data_raises(arrays):
    membership = np.full((64, 1), 2.0, "float32")
    with pytest.raises(ValueError, match="membership"):
        pack_min_diff_data(
            tf_batched((arrays["x"], arrays["y"]), 32),
            min_diff_dataset=tf_batched((arrays["x"][:64], membership), 32),
        )


def test_pack_with_negative_min_diff_weights_arrays_raises(arrays):
    membership = (np.arange(64) % 2).reshape(-1, 1).astype("float32")
    weight = np.ones((64, 1), "float32")
    weight[3] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        dataset = pack_min_diff_data(
            (arrays["x"], arrays["y"]),
            min_diff_dataset=(arrays["x"][:64], membership, weight),
            batch_size=32,
            shuffle=False,
        )
        _iterate(dataset)


def test_pack_with_negative_min_diff_weights_tf_data_raises(arrays):
    membership = (np.arange(64) % 2).reshape(-1, 1).astype("float32")
    weight = -np.ones((64, 1), "float32")
    with pytest.raises(ValueError, match="non-negative"):
        pack_min_diff_data(
            tf_batched((arrays["x"], arrays["y"]), 32),
            min_diff_dataset=tf_batched((arrays["x"][:64], membership, weight), 32),
        )


def test_pack_with_negative_group_weights_arrays_raises(arrays):
    sensitive = (arrays["sensitive"], np.zeros((40, 1)), -np.ones((40, 1), "float32"))
    with pytest.raises(ValueError, match="non-negative"):
        dataset = pack_min_diff_data(
            (arrays["x"], arrays["y"]), sensitive, (arrays["nonsensitive"],), batch_size=32
        )
        _iterate(dataset)


def test_pack_with_negative_group_weights_tf_data_raises(arrays):
    sensitive = (arrays["sensitive"], np.zeros((40, 1), "float32"), -np.ones((40,), "float32"))
    with pytest.raises(ValueError, match="non-negative"):
        dataset = pack_min_diff_data(
            tf_batched((arrays["x"], arrays["y"]), 32),
            tf_batched(sensitive, 16),
            tf_batched(arrays["nonsensitive"], 16),
        )
        _iterate(dataset)


def test_pack_with_bad_batch_size_raises(arrays):
    for batch_size, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="`batch_size` must be a positive int"):
            pack_min_diff_data(
                (arrays["x"], arrays["y"]), arrays["sensitive"], arrays["nonsensitive"],
                batch_size=batch_size,
            )


# ---------------------------------------------------------------------------------------------
# pack_min_diff_data: structure of the batches.


def test_pack_arrays_batch_structure(arrays):
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"]),
        arrays["sensitive"],
        arrays["nonsensitive"],
        batch_size=32,
        min_diff_batch_size=8,
        shuffle=False,
    )
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == 10
    batch = dataset[0]
    assert len(batch) == 2
    packed, y = batch
    assert isinstance(packed, MinDiffPackedInputs)
    np.testing.assert_array_equal(packed.original_inputs, arrays["x"][:32])
    np.testing.assert_array_equal(y, arrays["y"][:32])
    md_x, membership = packed.min_diff_data[:2]
    assert md_x.shape == (16, 4)
    assert membership.shape == (16, 1)
    np.testing.assert_array_equal(md_x[:8], arrays["sensitive"][:8])
    np.testing.assert_array_equal(md_x[8:], arrays["nonsensitive"][:8])
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 8)


def test_pack_arrays_with_sample_weight(arrays):
    weight = np.linspace(0.1, 1.0, 320).astype("float32")
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"], weight),
        arrays["sensitive"],
        arrays["nonsensitive"],
        batch_size=32,
        shuffle=False,
    )
    packed, y, w = dataset[1]
    assert isinstance(packed, MinDiffPackedInputs)
    np.testing.assert_array_equal(w, weight[32:64])


def test_pack_unlabelled_arrays(arrays):
    dataset = pack_min_diff_data(
        arrays["x"], arrays["sensitive"], arrays["nonsensitive"], batch_size=32, shuffle=False
    )
    batch = dataset[0]
    x, y, w = unpack_x_y_sample_weight(batch)
    assert isinstance(x, MinDiffPackedInputs) and y is None and w is None
    np.testing.assert_array_equal(x.original_inputs, arrays["x"][:32])


def test_pack_dict_features(arrays):
    features = {"a": arrays["x"][:, :2], "b": arrays["x"][:, 2:]}
    sensitive = {"a": arrays["sensitive"][:, :2], "b": arrays["sensitive"][:, 2:]}
    nonsensitive = {"a": arrays["nonsensitive"][:, :2], "b": arrays["nonsensitive"][:, 2:]}
    dataset = pack_min_diff_data(
        (features, arrays["y"]), sensitive, nonsensitive, batch_size=32, shuffle=False
    )
    packed, _ = dataset[0]
    assert set(packed.original_inputs) == {"a", "b"}
    md_x, membership = packed.min_diff_data[:2]
    assert set(md_x) == {"a", "b"}
    assert md_x["a"].shape == (64, 2)
    assert membership.shape == (64, 1)


def test_pack_min_diff_dataset_dict_of_applications(arrays):
    a = (arrays["x"][:64], (np.arange(64) % 2).reshape(-1, 1).astype("float32"))
    b = (arrays["x"][64:160], (np.arange(96) < 40).reshape(-1, 1).astype("float32"))
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"]), min_diff_dataset={"a": a, "b": b}, batch_size=32, shuffle=False
    )
    packed, _ = dataset[0]
    assert set(packed.min_diff_data) == {"a", "b"}
    np.testing.assert_array_equal(packed.min_diff_data["a"][0], a[0][:32])
    np.testing.assert_array_equal(packed.min_diff_data["b"][1], b[1][:32])


def test_pack_group_dicts_of_applications(arrays):
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"]),
        {"a": (arrays["sensitive"],), "b": (arrays["sensitive"][:20],)},
        {"a": (arrays["nonsensitive"],), "b": (arrays["nonsensitive"][:20],)},
        batch_size=32,
        min_diff_batch_size=10,
        shuffle=False,
    )
    packed, _ = dataset[0]
    assert set(packed.min_diff_data) == {"a", "b"}
    for key in ("a", "b"):
        md_x, membership = packed.min_diff_data[key][:2]
        assert md_x.shape == (20, 4)
        np.testing.assert_array_equal(membership[:, 0], [1.0] * 10 + [0.0] * 10)


def test_pack_tf_data_batch_structure(arrays):
    tf = _tf()
    dataset = pack_min_diff_data(
        tf_batched((arrays["x"], arrays["y"]), 32),
        tf_batched(arrays["sensitive"], 8),
        tf_batched(arrays["nonsensitive"], 8),
    )
    assert isinstance(dataset, tf.data.Dataset)
    packed, y = next(iter(dataset))
    assert isinstance(packed, MinDiffPackedInputs)
    np.testing.assert_array_equal(np_(packed.original_inputs), arrays["x"][:32])
    np.testing.assert_array_equal(np_(y), arrays["y"][:32])
    md_x, membership = packed.min_diff_data[:2]
    np.testing.assert_array_equal(np_(md_x)[:8], arrays["sensitive"][:8])
    np.testing.assert_array_equal(np_(md_x)[8:], arrays["nonsensitive"][:8])
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0] * 8 + [0.0] * 8)


def test_pack_pydataset(arrays):
    dataset = pack_min_diff_data(
        ArrayBatches((arrays["x"], arrays["y"]), 32),
        ArrayBatches(arrays["sensitive"], 8),
        ArrayBatches(arrays["nonsensitive"], 8),
    )
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == 10
    packed, y = dataset[9]
    np.testing.assert_array_equal(packed.original_inputs, arrays["x"][288:])
    md_x, membership = packed.min_diff_data[:2]
    # Batch 9 cycles the 5 sensitive batches (9 % 5 = 4) and uses non-sensitive batch 9.
    np.testing.assert_array_equal(md_x[:8], arrays["sensitive"][32:40])
    np.testing.assert_array_equal(md_x[8:], arrays["nonsensitive"][72:80])
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 8)


# ---------------------------------------------------------------------------------------------
# repeat_min_diff_data.


def test_repeat_min_diff_dataset_arrays(arrays):
    md = (arrays["x"][:64], (np.arange(64) % 2).reshape(-1, 1).astype("float32"))
    repeated = pack_min_diff_data(
        (arrays["x"], arrays["y"]), min_diff_dataset=md, batch_size=32, shuffle=False
    )
    assert len(repeated) == 10  # every original batch
    assert len(_iterate(repeated)) == 10
    np.testing.assert_array_equal(repeated[2][0].min_diff_data[0], md[0][:32])  # cycled
    shorter = pack_min_diff_data(
        (arrays["x"], arrays["y"]),
        min_diff_dataset=md,
        batch_size=32,
        shuffle=False,
        repeat_min_diff_data=False,
    )
    assert len(shorter) == 2
    assert len(_iterate(shorter)) == 2


def test_repeat_groups_arrays(arrays):
    # 10 original batches; 40 sensitive rows → 2 batches of 20, 100 non-sensitive → 5.
    repeated = pack_min_diff_data(
        (arrays["x"], arrays["y"]),
        arrays["sensitive"],
        arrays["nonsensitive"],
        batch_size=32,
        min_diff_batch_size=20,
    )
    assert len(repeated) == 10
    for packed, _ in _iterate(repeated):
        membership = packed.min_diff_data[1]
        np.testing.assert_array_equal(membership[:, 0], [1.0] * 20 + [0.0] * 20)


def test_no_repeat_groups_arrays_stops_at_shorter_group(arrays):
    shorter = pack_min_diff_data(
        (arrays["x"], arrays["y"]),
        arrays["sensitive"],
        arrays["nonsensitive"],
        batch_size=32,
        min_diff_batch_size=20,
        repeat_min_diff_data=False,
    )
    assert len(shorter) == 2


def test_repeat_tf_data(arrays):
    original = tf_batched((arrays["x"], arrays["y"]), 32)
    sensitive, nonsensitive = tf_batched(arrays["sensitive"], 20), tf_batched(arrays["nonsensitive"], 20)
    repeated = pack_min_diff_data(original, sensitive, nonsensitive)
    assert len(_iterate(repeated)) == 10
    shorter = pack_min_diff_data(original, sensitive, nonsensitive, repeat_min_diff_data=False)
    assert len(_iterate(shorter)) == 2

    md = tf_batched((arrays["x"][:64], (np.arange(64) % 2).reshape(-1, 1).astype("float32")), 32)
    assert len(_iterate(pack_min_diff_data(original, min_diff_dataset=md))) == 10
    assert len(_iterate(pack_min_diff_data(original, min_diff_dataset=md, repeat_min_diff_data=False))) == 2


def test_repeat_pydataset(arrays):
    original = ArrayBatches((arrays["x"], arrays["y"]), 32)
    md = ArrayBatches((arrays["x"][:64], (np.arange(64) % 2).reshape(-1, 1).astype("float32")), 32)
    assert len(pack_min_diff_data(original, min_diff_dataset=md)) == 10
    assert len(pack_min_diff_data(original, min_diff_dataset=md, repeat_min_diff_data=False)) == 2


def test_original_data_shorter_than_min_diff_data(arrays):
    md = (arrays["x"], (np.arange(320) % 2).reshape(-1, 1).astype("float32"))
    for repeat in (True, False):
        dataset = pack_min_diff_data(
            (arrays["x"][:64], arrays["y"][:64]),
            min_diff_dataset=md,
            batch_size=32,
            repeat_min_diff_data=repeat,
        )
        assert len(dataset) == 2


# ---------------------------------------------------------------------------------------------
# Shuffling.


def test_shuffle_with_seed_is_reproducible(arrays):
    def first_batches(seed):
        dataset = pack_min_diff_data(
            (arrays["x"], arrays["y"]), arrays["sensitive"], arrays["nonsensitive"],
            batch_size=32, min_diff_batch_size=8, seed=seed,
        )
        packed, y = dataset[0]
        return packed.original_inputs, packed.min_diff_data[0], y

    a, b, c = first_batches(3), first_batches(3), first_batches(4)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[0], c[0])
    # Shuffled rows stay aligned with their labels.
    x, _, y = a
    rows = [int(np.flatnonzero((arrays["x"] == row).all(axis=1))[0]) for row in x]
    np.testing.assert_array_equal(y, arrays["y"][rows])
    assert rows != list(range(32))


def test_no_shuffle_keeps_order(arrays):
    dataset = pack_min_diff_data(
        (arrays["x"], arrays["y"]), arrays["sensitive"], arrays["nonsensitive"],
        batch_size=32, shuffle=False,
    )
    np.testing.assert_array_equal(
        np.concatenate([dataset[i][0].original_inputs for i in range(len(dataset))]), arrays["x"]
    )


def test_build_shuffle_with_seed_is_reproducible(arrays):
    def batches(seed):
        dataset = build_min_diff_dataset(
            arrays["sensitive"], arrays["nonsensitive"], batch_size=10, seed=seed
        )
        return [dataset[i][0] for i in range(len(dataset))]

    first, second = batches(11), batches(11)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, batches(12)))


# ---------------------------------------------------------------------------------------------
# build_min_diff_dataset.


def test_build_arrays_membership_and_order(arrays):
    dataset = build_min_diff_dataset(
        arrays["sensitive"], arrays["nonsensitive"], batch_size=8, shuffle=False, repeat=True
    )
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == 13  # ceil(100 / 8); the sensitive group is cycled
    batch = dataset[0]
    md_x, membership = batch[0], batch[1]
    np.testing.assert_array_equal(md_x[:8], arrays["sensitive"][:8])
    np.testing.assert_array_equal(md_x[8:], arrays["nonsensitive"][:8])
    assert membership.shape == (16, 1)
    assert membership.dtype == np.float32
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 8)
    # Last batch: non-sensitive rows 96..99; sensitive batch 12 % 5 = 2 (rows 16..23).
    md_x, membership = dataset[12][:2]
    np.testing.assert_array_equal(md_x[:8], arrays["sensitive"][16:24])
    np.testing.assert_array_equal(md_x[8:], arrays["nonsensitive"][96:])
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 4)
    assert len(build_min_diff_dataset(arrays["sensitive"], arrays["nonsensitive"], batch_size=8)) == 5


def test_build_arrays_without_weights_has_no_weights(arrays):
    # The reference's contract: `min_diff_sample_weight` is None when neither group has any.
    dataset = build_min_diff_dataset(
        arrays["sensitive"], arrays["nonsensitive"], batch_size=8, shuffle=False
    )
    batch = dataset[0]
    assert len(batch) == 2
    assert unpack_x_y_sample_weight(batch)[2] is None


def test_build_arrays_weights_default_to_one_for_the_other_group(arrays):
    sensitive = (arrays["sensitive"], np.zeros((40, 1)), np.full((40,), 2.0, "float32"))
    dataset = build_min_diff_dataset(sensitive, arrays["nonsensitive"], batch_size=8, shuffle=False)
    md_x, membership, weight = dataset[0]
    assert weight.shape == (16, 1)
    np.testing.assert_array_equal(weight[:, 0], [2.0] * 8 + [1.0] * 8)
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 8)


def test_build_tf_data_membership_and_weights(arrays):
    tf = _tf()
    dataset = build_min_diff_dataset(
        tf_batched(arrays["sensitive"], 8), tf_batched(arrays["nonsensitive"], 8)
    )
    assert isinstance(dataset, tf.data.Dataset)
    assert len(dataset.element_spec) == 2  # No weights in either group: none in the batches.
    md_x, membership = next(iter(dataset))
    np.testing.assert_array_equal(np_(md_x)[:8], arrays["sensitive"][:8])
    np.testing.assert_array_equal(np_(md_x)[8:], arrays["nonsensitive"][:8])
    assert membership.dtype == tf.float32 and tuple(membership.shape) == (16, 1)
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0] * 8 + [0.0] * 8)
    # With weights in one group (and labels, which are ignored).
    sensitive = (arrays["sensitive"], np.zeros((40, 1), "float32"), np.full((40,), 3.0, "float32"))
    dataset = build_min_diff_dataset(
        tf_batched(sensitive, 8), tf_batched(arrays["nonsensitive"], 8), repeat=False
    )
    batches = list(dataset)
    assert len(batches) == 5
    np.testing.assert_array_equal(np_(batches[0][2])[:, 0], [3.0] * 8 + [1.0] * 8)


def test_build_pydataset(arrays):
    dataset = build_min_diff_dataset(
        ArrayBatches(arrays["sensitive"], 8), ArrayBatches(arrays["nonsensitive"], 8), repeat=True
    )
    assert len(dataset) == 13
    md_x, membership = dataset[6][:2]
    np.testing.assert_array_equal(md_x[:8], arrays["sensitive"][8:16])  # 6 % 5 = 1
    np.testing.assert_array_equal(membership[:, 0], [1.0] * 8 + [0.0] * 8)


def test_build_dict_of_applications(arrays):
    built = build_min_diff_dataset(
        {"a": (arrays["sensitive"],), "b": (arrays["sensitive"][:16],)},
        {"a": (arrays["nonsensitive"],), "b": (arrays["nonsensitive"][:16],)},
        batch_size=8,
        shuffle=False,
    )
    assert isinstance(built, keras.utils.PyDataset)  # one dataset of dicts, as in TF-MR
    assert len(built) == 2  # ends with the shortest group
    assert set(built[0]) == {"a", "b"}


def test_build_with_mismatched_groups_raises(arrays):
    with pytest.raises(ValueError):
        build_min_diff_dataset({"a": (arrays["sensitive"],)}, arrays["nonsensitive"])
    with pytest.raises(ValueError):
        build_min_diff_dataset(ArrayBatches(arrays["sensitive"], 8), arrays["nonsensitive"])


def test_built_dataset_feeds_pack(arrays):
    md = build_min_diff_dataset(
        ArrayBatches(arrays["sensitive"], 8), ArrayBatches(arrays["nonsensitive"], 8)
    )
    dataset = pack_min_diff_data(ArrayBatches((arrays["x"], arrays["y"]), 32), min_diff_dataset=md)
    assert len(dataset) == 10
    packed, _ = dataset[0]
    np.testing.assert_array_equal(packed.min_diff_data[1][:, 0], [1.0] * 8 + [0.0] * 8)
