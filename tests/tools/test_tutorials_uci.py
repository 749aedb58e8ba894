"""UCI tutorial helpers: data, preprocessing, datasets and model, on the current Keras backend."""

import json
import math

import keras
import numpy as np
import pytest

from keras_remediation.tools.tutorials_utils import uci as tutorials_utils

FEATURE_COLUMNS = [
    "age", "workclass", "education", "education-num", "marital-status", "occupation",
    "relationship", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
]


@pytest.fixture(scope="module")
def train_df():
    return tutorials_utils.get_uci_data("train")


@pytest.fixture(scope="module")
def test_df():
    return tutorials_utils.get_uci_data("test")


# ---------------------------------------------------------------------------------------------
# get_uci_data


@pytest.mark.parametrize("split, rows", [("train", 32561), ("test", 16281)])
def test_get_uci_data_columns_and_target(split, rows, train_df, test_df):
    df = train_df if split == "train" else test_df
    assert list(df.columns) == FEATURE_COLUMNS + ["target"]
    assert len(df) == rows
    assert "fnlwgt" not in df and "race" not in df and "income" not in df
    assert df["target"].dtype == np.float32
    assert set(np.unique(df["target"])) == {0.0, 1.0}
    positives = {"train": 7841, "test": 3846}[split]
    assert int(df["target"].sum()) == positives
    assert str(df["age"].dtype) == "int64"


def test_target_matches_income():
    from keras_remediation.datasets import load_adult

    raw = load_adult("test")
    df = tutorials_utils.get_uci_data("test")
    np.testing.assert_array_equal(df["target"].to_numpy(), (raw["income"] == ">50K").to_numpy())


def test_sample_is_seeded_fraction_without_replacement(train_df):
    a = tutorials_utils.get_uci_data("train", sample=0.3)
    b = tutorials_utils.get_uci_data("train", sample=0.3)
    assert len(a) == round(0.3 * 32561) == 9768
    assert a.index.equals(b.index)
    assert a.index.is_unique and a.index.isin(train_df.index).all()
    assert a.equals(train_df.loc[a.index])
    full = tutorials_utils.get_uci_data("train", sample=1)
    assert len(full) == 32561 and full.index.is_unique


@pytest.mark.parametrize("sample", [0, -0.1, 1.5, math.nan, math.inf, True, "0.3", [0.3]])
def test_bad_sample(sample):
    with pytest.raises(ValueError) as info:
        tutorials_utils.get_uci_data("train", sample=sample)
    assert "`sample`" in str(info.value) and "(0, 1]" in str(info.value)
    assert repr(sample) in str(info.value)


@pytest.mark.parametrize("split", ["valid", None, "Train"])
def test_bad_split(split):
    with pytest.raises(ValueError, match="`split` must be one of"):
        tutorials_utils.get_uci_data(split)


# ---------------------------------------------------------------------------------------------
# Preprocessing


def test_preprocessor_shape_and_names():
    pre = tutorials_utils.get_uci_preprocessor()
    assert pre is tutorials_utils.get_uci_preprocessor()  # fitted once
    assert pre.num_features == len(pre.feature_names) == 116
    assert len(set(pre.feature_names)) == pre.num_features
    assert pre.feature_names[:4] == tutorials_utils.NUMERIC_FEATURES
    assert "sex=Female" in pre.feature_names and "workclass=<missing>" in pre.feature_names


def test_train_statistics(train_df):
    x = tutorials_utils.preprocess(train_df)
    assert x.dtype == np.float32 and x.shape == (32561, 116)
    np.testing.assert_allclose(x[:, :4].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x[:, :4].std(axis=0), 1.0, atol=1e-4)
    one_hot = x[:, 4:]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    # One age bucket and one slot per categorical feature, per row.
    ones_per_row = 1 + len(tutorials_utils.CATEGORICAL_FEATURES)
    np.testing.assert_array_equal(one_hot.sum(axis=1), ones_per_row)


def test_train_and_test_encode_identically(train_df, test_df):
    # A row encodes the same whether it comes with the full split, a sample or alone.
    x_full = tutorials_utils.preprocess(train_df)
    sample = tutorials_utils.get_uci_data("train", sample=0.05)
    x_sample = tutorials_utils.preprocess(sample)
    np.testing.assert_array_equal(x_sample, x_full[train_df.index.get_indexer(sample.index)])
    # The test split uses the training vocabulary and statistics.
    x_test = tutorials_utils.preprocess(test_df)
    assert x_test.shape == (16281, 116)
    refit = tutorials_utils.UCIPreprocessor.fit(test_df)
    assert refit.get_config() != tutorials_utils.get_uci_preprocessor().get_config()
    # Identical rows in both splits get identical features.
    probe = test_df.iloc[[0]].copy()
    as_train = tutorials_utils.preprocess(probe)
    np.testing.assert_array_equal(as_train[0], x_test[0])
    # Missing and unseen values share the missing slot.
    pre = tutorials_utils.get_uci_preprocessor()
    probe.loc[:, "native-country"] = "Atlantis"
    unseen = tutorials_utils.preprocess(probe)[0]
    assert unseen[pre.feature_names.index("native-country=<missing>")] == 1.0
    missing_rows = test_df["workclass"].isna().to_numpy()
    column = pre.feature_names.index("workclass=<missing>")
    np.testing.assert_array_equal(x_test[:, column] == 1.0, missing_rows)


def test_preprocessor_is_deterministic_and_round_trips(train_df):
    config = tutorials_utils.get_uci_preprocessor().get_config()
    assert tutorials_utils.UCIPreprocessor.fit(train_df).get_config() == config
    rebuilt = tutorials_utils.UCIPreprocessor.from_config(json.loads(json.dumps(config)))
    rows = train_df.iloc[:50]
    np.testing.assert_array_equal(rebuilt.transform(rows), tutorials_utils.preprocess(rows))


def test_preprocess_errors(train_df):
    with pytest.raises(ValueError, match="lacks the columns"):
        tutorials_utils.preprocess(train_df.drop(columns=["sex"]))
    bad = train_df.iloc[:3].copy()
    bad["hours-per-week"] = [1.0, math.nan, 3.0]
    with pytest.raises(ValueError, match="hours-per-week"):
        tutorials_utils.preprocess(bad)
    bad = train_df.iloc[:2].copy()
    bad["capital-loss"] = [0, -5]
    with pytest.raises(ValueError, match="capital-loss.*negative"):
        tutorials_utils.preprocess(bad)


# ---------------------------------------------------------------------------------------------
# Arrays and datasets


def test_df_to_arrays(train_df):
    small = train_df.iloc[:10]
    x, y = tutorials_utils.df_to_arrays(small)
    assert x.shape == (10, 116) and x.dtype == np.float32
    assert y.shape == (10, 1) and y.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], small["target"].to_numpy())
    with pytest.raises(ValueError, match="`target` column"):
        tutorials_utils.df_to_arrays(small.drop(columns=["target"]))


def test_df_to_dataset(train_df):
    df = train_df.iloc[:300]
    ds = tutorials_utils.df_to_dataset(df, batch_size=128)
    x_spec, y_spec = ds.element_spec
    assert tuple(x_spec.shape) == (None, 116) and x_spec.dtype.name == "float32"
    assert tuple(y_spec.shape) == (None, 1) and y_spec.dtype.name == "float32"
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [128, 128, 44]
    x_all = np.concatenate([x.numpy() for x, _ in ds])
    np.testing.assert_array_equal(x_all, tutorials_utils.preprocess(df))  # no shuffle: in order
    unbatched = tutorials_utils.df_to_dataset(df, batch_size=None)
    assert tuple(unbatched.element_spec[0].shape) == (116,)
    with pytest.raises(ValueError, match="batch_size"):
        tutorials_utils.df_to_dataset(df, batch_size=0)


def test_df_to_dataset_shuffle_is_seeded(train_df):
    df = train_df.iloc[:200]

    def order(seed):
        ds = tutorials_utils.df_to_dataset(df, shuffle=True, batch_size=200, seed=seed)
        return next(iter(ds))[0].numpy()

    first = order(7)
    np.testing.assert_array_equal(first, order(7))
    assert not np.array_equal(first, tutorials_utils.preprocess(df))


def test_missing_tensorflow_gives_clear_error(monkeypatch, train_df):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="df_to_arrays"):
        tutorials_utils.df_to_dataset(train_df.iloc[:5])


def test_min_diff_datasets(train_df):
    original, male, female = tutorials_utils.get_uci_min_diff_datasets("train", sample=0.3)
    pre = tutorials_utils.get_uci_preprocessor()
    female_col = pre.feature_names.index("sex=Female")
    for ds, is_female in ((male, 0.0), (female, 1.0)):
        assert tuple(ds.element_spec.shape) == (32, 116)
        batch = next(iter(ds)).numpy()
        np.testing.assert_array_equal(batch[:, female_col], is_female)
    expected_female = int(((train_df["sex"] == "Female") & (train_df["target"] == 0)).sum())
    assert sum(1 for _ in female) == expected_female // 32  # from the full split
    assert sum(1 for _ in original) == math.ceil(9768 / 128)
    with pytest.raises(ValueError, match="`label`"):
        tutorials_utils.get_uci_min_diff_datasets(label=2)


def test_get_uci_with_min_diff_dataset():
    from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
    from keras_remediation.min_diff.keras.utils import unpack_min_diff_data
    from keras_remediation.min_diff.keras.utils import unpack_original_inputs

    ds = tutorials_utils.get_uci_with_min_diff_dataset(split="train", sample=0.3)
    assert sum(1 for _ in ds) == 77  # every original batch, as in the guide's 77/77
    x, y = next(iter(ds))
    assert isinstance(x, MinDiffPackedInputs)
    assert tuple(unpack_original_inputs(x).shape) == (128, 116) and tuple(y.shape) == (128, 1)
    min_diff_x, membership, weight = unpack_min_diff_data(x)
    assert tuple(min_diff_x.shape) == (64, 116)
    np.testing.assert_array_equal(membership.numpy()[:, 0], [1.0] * 32 + [0.0] * 32)
    np.testing.assert_array_equal(weight.numpy(), 1.0)
    female_col = tutorials_utils.get_uci_preprocessor().feature_names.index("sex=Female")
    np.testing.assert_array_equal(min_diff_x.numpy()[:, female_col], membership.numpy()[:, 0])


# ---------------------------------------------------------------------------------------------
# Model


class CustomModel(keras.Model):
    pass


@pytest.mark.parametrize("bad", [keras.Sequential, dict, "Model", keras.Model()])
def test_get_uci_model_rejects_bad_classes(bad):
    with pytest.raises(TypeError, match="`model_class`"):
        tutorials_utils.get_uci_model(model_class=bad)


def test_get_uci_model_builds_and_trains(train_df):
    keras.utils.set_random_seed(0)
    model = tutorials_utils.get_uci_model(model_class=CustomModel)
    assert isinstance(model, CustomModel)
    assert tuple(model.inputs[0].shape) == (None, 116)
    assert tuple(model.outputs[0].shape) == (None, 1)
    layer_types = [type(layer).__name__ for layer in model.layers[1:]]
    assert layer_types == ["Dense"] * 4 + ["Dropout", "Dense"]
    x, y = tutorials_utils.df_to_arrays(train_df.iloc[:256])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    scores = model.predict(x[:5], verbose=0)
    assert scores.shape == (5, 1) and np.all((scores >= 0) & (scores <= 1))
    # The tf.data pipeline feeds the same model on every backend.
    ds = tutorials_utils.df_to_dataset(train_df.iloc[:256], batch_size=128)
    assert np.isfinite(model.fit(ds, epochs=1, verbose=0, shuffle=False).history["loss"][0])


def test_min_diff_model_trains_on_packed_uci_data():
    from keras_remediation import min_diff

    keras.utils.set_random_seed(0)
    ds = tutorials_utils.get_uci_with_min_diff_dataset(split="train", sample=0.3).take(2)
    model = min_diff.keras.MinDiffModel(
        tutorials_utils.get_uci_model(), min_diff.losses.MMDLoss(), 1.0
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    logs = model.fit(ds, epochs=1, verbose=0, shuffle=False).history
    assert np.isfinite(logs["loss"][0]) and logs["min_diff_loss"][0] > 0
