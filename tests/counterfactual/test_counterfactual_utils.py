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
    # TF Model Remediation's form: the batch is the packed object, holding the whole original
    # batch `(x, y[, w])` and the counterfactual data.
    assert isinstance(batch, utils.CounterfactualPackedInputs)
    x, y, _ = keras.utils.unpack_x_y_sample_weight(batch.original_input)
    assert np.shape(x)[0] == rows and np.shape(y)[0] == rows
    data = batch.counterfactual_data
    assert len(data) == (3 if with_weight else 2)
    assert np.shape(data[0])[0] == np.shape(data[1])[0] == cf_rows
    assert utils.unpack_original_inputs(batch) is x
    assert utils.unpack_counterfactual_data(batch) is data


def _fit_one_epoch(data, **kwargs):
    model = CounterfactualModel(make_model(), **kwargs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model.fit(data, epochs=1, verbose=0).history


def test_pack_arrays_truncates_by_default_and_repeats_on_request():
    x, y, x_cf = synthetic_data(100)
    w = np.ones(30, "float32")
    short = utils.pack_counterfactual_data(
        (x, y), (x[:30], x_cf[:30], w), batch_size=25, counterfactual_batch_size=10, seed=1
    )
    assert isinstance(short, keras.utils.PyDataset) and len(short) == 3  # min(4, 3)
    for i in range(3):
        _check_packed_batch(short[i], 25, 10, True)
    repeated = utils.pack_counterfactual_data(
        (x, y), (x[:30], x_cf[:30], w), batch_size=25, counterfactual_batch_size=10, seed=1,
        repeat_counterfactual_data=True,
    )
    assert len(repeated) == 4
    for i in range(4):
        _check_packed_batch(repeated[i], 25, 10, True)
    assert "counterfactual_loss" in _fit_one_epoch(repeated)


def test_pack_unlabelled_and_dict_inputs():
    x, _, x_cf = synthetic_data(20)
    data = utils.pack_counterfactual_data(x, (x, x_cf), batch_size=10, shuffle=False)
    packed = data[0]
    np.testing.assert_array_equal(packed.original_input, x[:10])
    np.testing.assert_array_equal(packed.counterfactual_data[1], x_cf[:10])
    dict_data = utils.pack_counterfactual_data(
        {"a": x}, ({"a": x}, {"a": x_cf}), batch_size=10, shuffle=False
    )
    assert set(dict_data[1].counterfactual_data[1]) == {"a"}


def test_counterfactual_x_may_hold_only_the_changed_feature():
    # TF Model Remediation's input_utils_test packs `(original_x_dict, changed_feature, w)`.
    x = {"f1": np.arange(8.0).reshape(4, 2), "f2": np.ones((4, 1))}
    changed = np.arange(8.0).reshape(4, 2) + 1
    data = utils.pack_counterfactual_data(
        (x, np.zeros((4, 1))), (x, changed, np.ones(4)), batch_size=2, shuffle=False
    )
    assert len(data) == 2
    np.testing.assert_array_equal(data[1].counterfactual_data[1], changed[2:])
    with pytest.raises(ValueError, match="same number of rows"):
        utils.pack_counterfactual_data((x, np.zeros((4, 1))), (x, changed[:3]))


def test_pack_multi_objective_dict():
    x, y, x_cf = synthetic_data(40)
    data = utils.pack_counterfactual_data(
        (x, y), {"a": (x, x_cf), "b": (x[:20], x_cf[:20], np.ones(20))}, batch_size=10,
        seed=0,
    )
    assert len(data) == 2  # "b" has 2 batches of 10
    batch = data[0]
    assert set(batch.counterfactual_data) == {"a", "b"}
    assert len(batch.counterfactual_data["b"]) == 3
    logs = _fit_one_epoch(data, loss={"a": "pairwise_mse", "b": "pairwise_absolute_difference"})
    assert {"a_counterfactual_loss", "b_counterfactual_loss"} <= set(logs)
    with pytest.raises(ValueError, match="unnested"):
        utils.pack_counterfactual_data((x, y), {"a": {"b": (x, x_cf)}})


def test_pack_pydataset():
    x, y, x_cf = synthetic_data(64)
    data = utils.pack_counterfactual_data(
        ArrayBatches((x, y), 16), ArrayBatches((x[:24], x_cf[:24]), 8),
        repeat_counterfactual_data=True,
    )
    assert isinstance(data, keras.utils.PyDataset) and len(data) == 4
    for i in range(4):
        _check_packed_batch(data[i], 16, 8, False)
    assert "counterfactual_loss" in _fit_one_epoch(data)


def test_pack_tf_data_yields_packed_inputs_and_truncates():
    tf = pytest.importorskip("tensorflow")
    x, y, x_cf = synthetic_data(64)
    original = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    pairs = tf.data.Dataset.from_tensor_slices((x[:20], x_cf[:20], np.ones(20, "float32"))).batch(8)
    data = utils.pack_counterfactual_data(original, pairs)
    assert isinstance(data, tf.data.Dataset)
    batches = list(data)
    assert len(batches) == 3  # TF Model Remediation's zip: the shorter dataset
    assert isinstance(batches[0], utils.CounterfactualPackedInputs)
    assert tuple(batches[0].original_input[0].shape) == (16, 4)
    assert tuple(batches[0].counterfactual_data[1].shape) == (8, 4)
    repeated = utils.pack_counterfactual_data(original, pairs, repeat_counterfactual_data=True)
    assert len(list(repeated)) == 4
    assert "counterfactual_loss" in _fit_one_epoch(repeated)


def test_pack_errors():
    x, y, x_cf = synthetic_data(16)
    with pytest.raises(ValueError, match="one kind"):
        utils.pack_counterfactual_data((x, y), ArrayBatches((x, x_cf), 4))
    with pytest.raises(ValueError, match="non-negative"):
        data = utils.pack_counterfactual_data((x, y), (x, x_cf, -np.ones(16)))
        data[0]
    with pytest.raises(ValueError, match=r"\(original_x, counterfactual_x\)"):
        utils.pack_counterfactual_data((x, y), (x,))
    with pytest.raises(ValueError, match="None"):
        utils.pack_counterfactual_data((x, y), None)
    with pytest.raises(TypeError, match="not a recognized Counterfactual structure"):
        utils.pack_counterfactual_data((x, y), [x, x_cf])


def test_validate_counterfactual_structure():
    utils.validate_counterfactual_structure(("a", "b"))
    utils.validate_counterfactual_structure({"k": ("a", "b")}, element_type=tuple)
    with pytest.raises(TypeError, match="not a recognized Counterfactual structure"):
        utils.validate_counterfactual_structure(["a"], struct_name="loss")
    with pytest.raises(ValueError, match="must be unnested"):
        utils.validate_counterfactual_structure({"a": {"b": 1}})
    with pytest.raises(ValueError, match="string keys"):
        utils.validate_counterfactual_structure({1: "a"})
    with pytest.raises(TypeError, match="element_type"):
        utils.validate_counterfactual_structure("a", element_type="a")


def test_build_tf_data_removes_terms_and_keeps_matching_rows():
    tf = pytest.importorskip("tensorflow")
    texts = ["He said so", "nothing here", "ask her and he", "shepherd"]
    dataset = tf.data.Dataset.from_tensor_slices((tf.constant(texts), tf.zeros(4)))
    built = utils.build_counterfactual_data(dataset, sensitive_terms_to_remove=["he", "He"])
    assert isinstance(built, tf.data.Dataset)
    rows = [tuple(part.numpy() for part in row) for row in built]
    assert [r[0] for r in rows] == [b"He said so", b"ask her and he"]
    assert [r[1] for r in rows] == [b" said so", b"ask her and "]
    assert [float(r[2]) for r in rows] == [1.0, 1.0]

    def swap(batch):  # TF Model Remediation's contract: the element, as one argument
        original_x, y = batch
        return original_x, tf.strings.regex_replace(original_x, "\\bhe\\b", "she"), y + 2.0

    custom = utils.build_counterfactual_data(dataset, custom_counterfactual_function=swap)
    rows = [tuple(part.numpy() for part in row) for row in custom]
    assert len(rows) == 4 and rows[2][1] == b"ask her and she" and float(rows[0][2]) == 2.0
    with pytest.raises(ValueError, match="Either `custom_counterfactual_function`"):
        utils.build_counterfactual_data(dataset)


def test_build_dispatches_non_tf_data_to_build_counterfactual_pairs():
    frame = pd.DataFrame({"sex": ["Male", "Female"], "age": [30, 40]})
    a = utils.build_counterfactual_data(frame, {"Male": "Female"}, feature="sex")
    b = utils.build_counterfactual_pairs(frame, {"Male": "Female"}, feature="sex")
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[1]["sex"].tolist() == ["Female"]


def test_build_text_swaps_whole_words_both_ways():
    texts = np.array(
        ["He said she was late", "Nothing to see", "the theme of HER work", "shepherd hero"]
    )
    originals, counterfactuals = utils.build_counterfactual_pairs(
        texts, {"he": "she", "she": "he", "her": "his"}
    )
    assert originals.tolist() == ["He said she was late", "the theme of HER work"]
    assert counterfactuals.tolist() == ["She said he was late", "the theme of HIS work"]
    removed, _ = utils.build_counterfactual_pairs(["a he b", "x"], ["he"])
    assert removed.tolist() == ["a he b"]
    _, exact = utils.build_counterfactual_pairs(["He he"], {"he": "she"}, case_sensitive=True)
    assert exact.tolist() == ["He she"]


def test_build_categorical_dataframe_and_dict():
    frame = pd.DataFrame(
        {"sex": ["Male", "Female", "Other", "Male"], "age": [30, 40, 50, 60]}, index=[5, 6, 7, 8]
    )
    swap = {"Male": "Female", "Female": "Male"}
    originals, counterfactuals = utils.build_counterfactual_pairs(
        frame, swap, feature="sex", mode="categorical"
    )
    assert originals.index.tolist() == [5, 6, 8]
    assert counterfactuals["sex"].tolist() == ["Female", "Male", "Female"]
    assert counterfactuals["age"].tolist() == [30, 40, 60]
    assert frame["sex"].tolist()[0] == "Male"  # input untouched

    data = {"group": np.array([0, 1, 2, 1]), "v": np.arange(4.0)}
    originals, counterfactuals = utils.build_counterfactual_pairs(data, {1: 0}, feature="group")
    np.testing.assert_array_equal(originals["v"], [1.0, 3.0])
    np.testing.assert_array_equal(counterfactuals["group"], [0, 0])

    custom_o, custom_c = utils.build_counterfactual_pairs(
        frame, custom_counterfactual_function=lambda age: age + 1 if age > 45 else age,
        feature="age",
    )
    assert custom_c["age"].tolist() == [51, 61]


def test_build_errors():
    frame = pd.DataFrame({"sex": ["Male"]})
    with pytest.raises(ValueError, match="exactly one"):
        utils.build_counterfactual_pairs(frame, feature="sex")
    with pytest.raises(ValueError, match="exactly one"):
        utils.build_counterfactual_pairs(
            frame, {"a": "b"}, custom_counterfactual_function=str, feature="sex"
        )
    with pytest.raises(ValueError, match="`feature`"):
        utils.build_counterfactual_pairs(frame, {"Male": "Female"}, feature="race")
    with pytest.raises(ValueError, match="`mode`"):
        utils.build_counterfactual_pairs(frame, {"Male": "Female"}, feature="sex", mode="x")
