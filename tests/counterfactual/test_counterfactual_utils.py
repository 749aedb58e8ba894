"""Packing counterfactual data (arrays, PyDataset, tf.data) and building counterfactuals."""

import keras
import numpy as np
import pandas as pd
import pytest

from array_batches_testlib import ArrayBatches
from counterfactual_testlib import make_model
from counterfactual_testlib import synthetic_data
from keras_remediation.counterfactual.keras import CounterfactualModel
from keras_remediation.counterfactual.keras import utils


def _check_packed_batch(batch, rows, cf_rows, with_weight):
    packed, y = batch[0], batch[1]
    assert isinstance(packed, utils.CounterfactualPackedInputs)
    assert np.shape(packed.original_inputs)[0] == rows and np.shape(y)[0] == rows
    data = packed.counterfactual_data
    assert len(data) == (3 if with_weight else 2)
    assert np.shape(data[0]) == np.shape(data[1]) and np.shape(data[0])[0] == cf_rows
    assert utils.unpack_original_inputs(packed) is packed.original_inputs
    assert utils.unpack_counterfactual_data(packed) is data


def _fit_one_epoch(data):
    model = CounterfactualModel(make_model())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model.fit(data, epochs=1, verbose=0).history


def test_pack_arrays_repeats_the_smaller_counterfactual_data():
    x, y, x_cf = synthetic_data(100)
    w = np.ones(30, "float32")
    data = utils.pack_counterfactual_data(
        (x, y), (x[:30], x_cf[:30], w), batch_size=25, counterfactual_batch_size=10, seed=1
    )
    assert isinstance(data, keras.utils.PyDataset) and len(data) == 4
    for i in range(4):
        _check_packed_batch(data[i], 25, 10, True)
    short = utils.pack_counterfactual_data(
        (x, y), (x[:30], x_cf[:30]), batch_size=25, counterfactual_batch_size=20,
        repeat_counterfactual_data=False,
    )
    assert len(short) == 2
    assert "counterfactual_loss" in _fit_one_epoch(data)


def test_pack_unlabelled_and_dict_inputs():
    x, _, x_cf = synthetic_data(20)
    data = utils.pack_counterfactual_data(x, (x, x_cf), batch_size=10, shuffle=False)
    (packed,) = data[0]
    np.testing.assert_array_equal(packed.original_inputs, x[:10])
    np.testing.assert_array_equal(packed.counterfactual_data[1], x_cf[:10])
    dict_data = utils.pack_counterfactual_data(
        {"a": x}, ({"a": x}, {"a": x_cf}), batch_size=10, shuffle=False
    )
    assert set(dict_data[1][0].counterfactual_data[1]) == {"a"}


def test_pack_pydataset():
    x, y, x_cf = synthetic_data(64)
    data = utils.pack_counterfactual_data(
        ArrayBatches((x, y), 16), ArrayBatches((x[:24], x_cf[:24]), 8)
    )
    assert isinstance(data, keras.utils.PyDataset) and len(data) == 4
    for i in range(4):
        _check_packed_batch(data[i], 16, 8, False)
    assert "counterfactual_loss" in _fit_one_epoch(data)


def test_pack_tf_data():
    tf = pytest.importorskip("tensorflow")
    x, y, x_cf = synthetic_data(64)
    original = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    pairs = tf.data.Dataset.from_tensor_slices((x[:20], x_cf[:20], np.ones(20, "float32"))).batch(8)
    data = utils.pack_counterfactual_data(original, pairs)
    assert isinstance(data, tf.data.Dataset)
    batches = list(data)
    assert len(batches) == 4
    packed = batches[0][0]
    assert isinstance(packed, utils.CounterfactualPackedInputs)
    assert tuple(packed.counterfactual_data[1].shape) == (8, 4)
    assert "counterfactual_loss" in _fit_one_epoch(data)


def test_pack_errors():
    x, y, x_cf = synthetic_data(16)
    with pytest.raises(ValueError, match="one kind"):
        utils.pack_counterfactual_data((x, y), ArrayBatches((x, x_cf), 4))
    with pytest.raises(ValueError, match="same shapes"):
        utils.pack_counterfactual_data((x, y), (x, x_cf[:, :2]))
    with pytest.raises(ValueError, match="non-negative"):
        data = utils.pack_counterfactual_data((x, y), (x, x_cf, -np.ones(16)))
        data[0]
    with pytest.raises(ValueError, match=r"\(original_x, counterfactual_x\)"):
        utils.pack_counterfactual_data((x, y), (x,))
    with pytest.raises(ValueError, match="None"):
        utils.pack_counterfactual_data((x, y), None)


def test_build_text_swaps_whole_words_both_ways():
    texts = np.array(
        ["He said she was late", "Nothing to see", "the theme of HER work", "shepherd hero"]
    )
    originals, counterfactuals = utils.build_counterfactual_data(
        texts, {"he": "she", "she": "he", "her": "his"}
    )
    assert originals.tolist() == ["He said she was late", "the theme of HER work"]
    assert counterfactuals.tolist() == ["She said he was late", "the theme of HIS work"]
    removed, _ = utils.build_counterfactual_data(["a he b", "x"], ["he"])
    assert removed.tolist() == ["a he b"]
    _, exact = utils.build_counterfactual_data(["He he"], {"he": "she"}, case_sensitive=True)
    assert exact.tolist() == ["He she"]


def test_build_categorical_dataframe_and_dict():
    frame = pd.DataFrame(
        {"sex": ["Male", "Female", "Other", "Male"], "age": [30, 40, 50, 60]}, index=[5, 6, 7, 8]
    )
    swap = {"Male": "Female", "Female": "Male"}
    originals, counterfactuals = utils.build_counterfactual_data(
        frame, swap, feature="sex", mode="categorical"
    )
    assert originals.index.tolist() == [5, 6, 8]
    assert counterfactuals["sex"].tolist() == ["Female", "Male", "Female"]
    assert counterfactuals["age"].tolist() == [30, 40, 60]
    assert frame["sex"].tolist()[0] == "Male"  # input untouched

    data = {"group": np.array([0, 1, 2, 1]), "v": np.arange(4.0)}
    originals, counterfactuals = utils.build_counterfactual_data(data, {1: 0}, feature="group")
    np.testing.assert_array_equal(originals["v"], [1.0, 3.0])
    np.testing.assert_array_equal(counterfactuals["group"], [0, 0])

    custom_o, custom_c = utils.build_counterfactual_data(
        frame, custom_counterfactual_function=lambda age: age + 1 if age > 45 else age,
        feature="age",
    )
    assert custom_c["age"].tolist() == [51, 61]


def test_build_errors():
    frame = pd.DataFrame({"sex": ["Male"]})
    with pytest.raises(ValueError, match="exactly one"):
        utils.build_counterfactual_data(frame, feature="sex")
    with pytest.raises(ValueError, match="exactly one"):
        utils.build_counterfactual_data(
            frame, {"a": "b"}, custom_counterfactual_function=str, feature="sex"
        )
    with pytest.raises(ValueError, match="`feature`"):
        utils.build_counterfactual_data(frame, {"Male": "Female"}, feature="race")
    with pytest.raises(ValueError, match="`mode`"):
        utils.build_counterfactual_data(frame, {"Male": "Female"}, feature="sex", mode="x")
