"""UCI tutorial helpers on the current Keras backend: TF Model Remediation's
`tutorials_utils.uci` contract (frames, sampling, datasets, defaults, messages), the numeric
preprocessing, the model, and the guides' MinDiff flow end to end."""

import gzip
import inspect
import io
import json
import math

import keras
import numpy as np
import pandas as pd
import pytest

from keras_remediation.datasets import ADULT_COLUMNS
from keras_remediation.datasets import adult_file_path
from keras_remediation.datasets import load_adult
from keras_remediation.tools.tutorials_utils import uci as tutorials_utils

FEATURE_COLUMNS = [
    "age", "workclass", "education", "education-num", "marital-status", "occupation",
    "relationship", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
]


def _read_as_reference_does(split):
    """The bundled file read with the reference's pandas call (names given, nothing else)."""
    with gzip.open(adult_file_path(split), "rt", encoding="ascii") as f:
        text = f.read()
    return pd.read_csv(io.StringIO(text), names=list(ADULT_COLUMNS), header=None)


def _expected_uci_data(split, sample=None):
    """What the reference's `get_uci_data` returns for the bundled data, written out here."""
    frame = _read_as_reference_does(split)
    if sample is not None:
        frame = frame.sample(frac=sample, replace=True, random_state=1)
    frame = frame[frame["education"].notnull()].copy()
    frame["age"] = frame["age"].astype("int64")
    frame["target"] = frame["income"].str.contains(" >50K").astype("int64")
    return frame.drop(columns=["income", "fnlwgt", "race"])


@pytest.fixture(scope="module")
def train_df():
    return tutorials_utils.get_uci_data("train")


@pytest.fixture(scope="module")
def test_df():
    return tutorials_utils.get_uci_data("test")


# ---------------------------------------------------------------------------------------------
# get_uci_data: the reference's frame, row for row.


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("sample", [None, 0.3, 0.05])
def test_get_uci_data_is_the_references_frame(split, sample):
    df = tutorials_utils.get_uci_data(split=split, sample=sample)
    pd.testing.assert_frame_equal(df, _expected_uci_data(split, sample), check_exact=True)


@pytest.mark.parametrize("split, rows, positives", [("train", 32561, 7841), ("test", 16281, 3846)])
def test_get_uci_data_columns_values_and_dtypes(split, rows, positives, train_df, test_df):
    df = train_df if split == "train" else test_df
    assert list(df.columns) == FEATURE_COLUMNS + ["target"]
    assert len(df) == rows
    assert str(df["target"].dtype) == "int64" and str(df["age"].dtype) == "int64"
    assert set(df["target"]) == {0, 1} and int(df["target"].sum()) == positives
    # Values as in the file: the space after each comma is kept, '?' stays a value.
    assert set(df["sex"]) == {" Female", " Male"}
    assert (df["workclass"] == " ?").sum() == {"train": 1836, "test": 963}[split]
    assert df[FEATURE_COLUMNS].notna().all().all()
    if split == "train":
        assert df.index.equals(pd.RangeIndex(rows))
        for column in ("education-num", "capital-gain", "capital-loss", "hours-per-week"):
            assert str(df[column].dtype) == "int64"
    else:
        # The test file's first line is read as a row of missing values, then dropped.
        assert df.index.equals(pd.RangeIndex(1, rows + 1))
        for column in ("education-num", "capital-gain", "capital-loss", "hours-per-week"):
            assert str(df[column].dtype) == "float64"


def test_references_group_filters_select_rows(train_df):
    # The reference's own filters, verbatim.
    female_pos = train_df[(train_df["sex"] == " Female") & (train_df["target"] == 1)]
    male_pos = train_df[(train_df["sex"] == " Male") & (train_df["target"] == 1)]
    assert (len(female_pos), len(male_pos)) == (1179, 6662)


def test_target_matches_income():
    clean = load_adult("test")
    df = tutorials_utils.get_uci_data("test")
    np.testing.assert_array_equal(df["target"].to_numpy(), (clean["income"] == ">50K").to_numpy())


def test_sample_draws_with_replacement_seeded(train_df):
    a = tutorials_utils.get_uci_data("train", sample=0.3)
    b = tutorials_utils.get_uci_data("train", sample=0.3)
    assert len(a) == round(0.3 * 32561) == 9768
    assert a.equals(b) and a.index.equals(b.index)
    assert not a.index.is_unique  # drawn with replacement
    assert a.equals(train_df.loc[a.index])
    full = tutorials_utils.get_uci_data("train", sample=1)
    assert len(full) == 32561 and not full.index.is_unique
    assert len(tutorials_utils.get_uci_data("train", sample=1.5)) == round(1.5 * 32561)


@pytest.mark.parametrize("sample", [0, -0.1, math.nan, math.inf, True, "0.3", [0.3]])
def test_bad_sample(sample):
    with pytest.raises(ValueError) as info:
        tutorials_utils.get_uci_data("train", sample=sample)
    assert "sample" in str(info.value) and repr(sample) in str(info.value)


@pytest.mark.parametrize("split", ["valid", None, "Train", "bad_split"])
def test_bad_split(split):
    # The reference's message, as its own tests match it.
    with pytest.raises(ValueError, match=f"split must be.*train.*test.*given.*{split}"):
        tutorials_utils.get_uci_data(split)


def test_signatures_and_defaults_are_the_references():
    def defaults(function):
        return {
            name: p.default
            for name, p in inspect.signature(function).parameters.items()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        }

    assert defaults(tutorials_utils.get_uci_data) == {"split": "train", "sample": None}
    assert defaults(tutorials_utils.df_to_dataset) == {
        "dataframe": inspect.Parameter.empty, "shuffle": False, "batch_size": None,
    }
    assert defaults(tutorials_utils.get_uci_min_diff_datasets) == {
        "split": "train", "sample": None, "original_batch_size": 128, "min_diff_batch_size": 32,
    }
    assert defaults(tutorials_utils.get_uci_with_min_diff_dataset) == {
        "split": "train", "sample": None,
    }
    assert defaults(tutorials_utils.get_uci_model) == {"model_class": keras.Model}


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


@pytest.mark.parametrize("split", ["train", "test"])
def test_raw_and_clean_values_encode_identically(split, train_df, test_df):
    raw = train_df if split == "train" else test_df
    clean = load_adult(split)
    x_raw, x_clean = tutorials_utils.preprocess(raw), tutorials_utils.preprocess(clean)
    np.testing.assert_array_equal(x_raw, x_clean)
    # The vocabularies are the clean values, whichever kind the preprocessor was fitted on.
    assert tutorials_utils.UCIPreprocessor.fit(clean).get_config() == (
        tutorials_utils.UCIPreprocessor.fit(raw).get_config()
    )


def test_train_and_test_encode_identically(train_df, test_df):
    # A row encodes the same whether it comes with the full split, a sample or alone.
    x_full = tutorials_utils.preprocess(train_df)
    sample = tutorials_utils.get_uci_data("train", sample=0.05)
    x_sample = tutorials_utils.preprocess(sample)
    np.testing.assert_array_equal(x_sample, x_full[sample.index.to_numpy()])
    # The test split uses the training vocabulary and statistics.
    x_test = tutorials_utils.preprocess(test_df)
    assert x_test.shape == (16281, 116)
    refit = tutorials_utils.UCIPreprocessor.fit(test_df)
    assert refit.get_config() != tutorials_utils.get_uci_preprocessor().get_config()
    probe = test_df.iloc[[0]].copy()
    np.testing.assert_array_equal(tutorials_utils.preprocess(probe)[0], x_test[0])
    # Unknown (' ?'), missing and unseen values share the missing slot.
    pre = tutorials_utils.get_uci_preprocessor()
    probe.loc[:, "native-country"] = " Atlantis"
    unseen = tutorials_utils.preprocess(probe)[0]
    assert unseen[pre.feature_names.index("native-country=<missing>")] == 1.0
    unknown_rows = (test_df["workclass"] == " ?").to_numpy()
    column = pre.feature_names.index("workclass=<missing>")
    np.testing.assert_array_equal(x_test[:, column] == 1.0, unknown_rows)
    probe.loc[:, "workclass"] = np.nan
    missing = tutorials_utils.preprocess(probe)[0]
    assert missing[column] == 1.0


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


def test_df_to_dataset_is_unbatched_by_default(train_df):
    df = train_df.iloc[:100]
    ds = tutorials_utils.df_to_dataset(df)
    x_spec, y_spec = ds.element_spec
    assert tuple(x_spec.shape) == (116,) and x_spec.dtype.name == "float32"
    assert tuple(y_spec.shape) == () and y_spec.dtype.name == "int64"  # the `target` column
    # The reference's pattern: batch the unbatched dataset yourself.
    batched = tutorials_utils.df_to_dataset(df, shuffle=True).batch(32, drop_remainder=True)
    assert [tuple(x.shape) for x, _ in batched] == [(32, 116)] * 3
    labels = np.stack([y.numpy() for _, y in tutorials_utils.df_to_dataset(df)])
    np.testing.assert_array_equal(labels, df["target"].to_numpy())


def test_df_to_dataset_batched(train_df):
    df = train_df.iloc[:300]
    ds = tutorials_utils.df_to_dataset(df, batch_size=128)
    x_spec, y_spec = ds.element_spec
    assert tuple(x_spec.shape) == (None, 116) and tuple(y_spec.shape) == (None,)
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [128, 128, 44]
    x_all = np.concatenate([x.numpy() for x, _ in ds])
    np.testing.assert_array_equal(x_all, tutorials_utils.preprocess(df))  # no shuffle: in order
    with pytest.raises(ValueError, match="batch_size"):
        tutorials_utils.df_to_dataset(df, batch_size=-1)


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


def test_min_diff_datasets_default_to_positive_examples(train_df):
    original, male, female = tutorials_utils.get_uci_min_diff_datasets("train", sample=0.3)
    pre = tutorials_utils.get_uci_preprocessor()
    female_col = pre.feature_names.index("sex=Female")
    for ds, is_female in ((male, 0.0), (female, 1.0)):
        x_spec, y_spec = ds.element_spec  # (features, target) batches, as the reference's
        assert tuple(x_spec.shape) == (32, 116) and tuple(y_spec.shape) == (32,)
        x, y = next(iter(ds))
        np.testing.assert_array_equal(x.numpy()[:, female_col], is_female)
        np.testing.assert_array_equal(y.numpy(), 1)  # positively labelled (the FNR gap)
    # Women come from the full split, men from the sample.
    female_pos = int(((train_df["sex"] == " Female") & (train_df["target"] == 1)).sum())
    assert sum(1 for _ in female) == female_pos // 32
    sampled = tutorials_utils.get_uci_data("train", sample=0.3)
    male_pos = int(((sampled["sex"] == " Male") & (sampled["target"] == 1)).sum())
    assert sum(1 for _ in male) == male_pos // 32
    assert sum(1 for _ in original) == math.ceil(9768 / 128)
    _, _, female_neg = tutorials_utils.get_uci_min_diff_datasets("train", sample=0.3, label=0)
    np.testing.assert_array_equal(next(iter(female_neg))[1].numpy(), 0)
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
    assert tuple(unpack_original_inputs(x).shape) == (128, 116) and tuple(y.shape) == (128,)
    min_diff_x, membership = unpack_min_diff_data(x)  # no weights: none, as in TF-MR
    assert tuple(min_diff_x.shape) == (64, 116)
    np.testing.assert_array_equal(membership.numpy()[:, 0], [1.0] * 32 + [0.0] * 32)
    female_col = tutorials_utils.get_uci_preprocessor().feature_names.index("sex=Female")
    np.testing.assert_array_equal(min_diff_x.numpy()[:, female_col], membership.numpy()[:, 0])


# ---------------------------------------------------------------------------------------------
# Model


class CustomModel(keras.Model):
    pass


@pytest.mark.parametrize(
    "bad, message",
    [
        ("not_a_class", "must be a class.*given.*not_a_class"),
        (keras.Model(), "must be a class.*given"),
        (dict, "must be a subclass of.*keras.Model.*given.*dict"),
        (
            keras.Sequential,
            "must support the Functional API.*cannot be a subclass of.*Sequential.*given.*"
            "Sequential",
        ),
    ],
)
def test_get_uci_model_rejects_bad_classes(bad, message):
    with pytest.raises(TypeError, match=message):
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
    # The tf.data pipeline (scalar int64 labels) feeds the same model on every backend.
    ds = tutorials_utils.df_to_dataset(train_df.iloc[:256], batch_size=128)
    assert np.isfinite(model.fit(ds, epochs=1, verbose=0, shuffle=False).history["loss"][0])


# ---------------------------------------------------------------------------------------------
# The guides' flow, import-swapped, on every backend.


def test_reference_min_diff_flow_trains_on_every_backend():
    from keras_remediation import min_diff

    keras.utils.set_random_seed(1)
    train_df = tutorials_utils.get_uci_data(split="train", sample=0.05)
    # The reference guide's filters and dataset calls, unchanged.
    female_pos = train_df[(train_df["sex"] == " Female") & (train_df["target"] == 1)]
    male_pos = train_df[(train_df["sex"] == " Male") & (train_df["target"] == 1)]
    assert len(female_pos) >= 32 and len(male_pos) >= 32
    original_ds = tutorials_utils.df_to_dataset(train_df, shuffle=True, batch_size=128)
    min_diff_female_ds = tutorials_utils.df_to_dataset(female_pos, shuffle=True).batch(
        32, drop_remainder=True
    )
    min_diff_male_ds = tutorials_utils.df_to_dataset(male_pos, shuffle=True).batch(
        32, drop_remainder=True
    )
    packed = min_diff.keras.utils.pack_min_diff_data(
        original_dataset=original_ds,
        sensitive_group_dataset=min_diff_female_ds,
        nonsensitive_group_dataset=min_diff_male_ds,
    )
    original_model = tutorials_utils.get_uci_model()
    model = min_diff.keras.MinDiffModel(original_model, min_diff.losses.MMDLoss(), 1.5)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in original_model.get_weights()]
    history = model.fit(packed, epochs=1, verbose=0)
    steps = math.ceil(len(train_df) / 128)
    assert model.optimizer.iterations.numpy() == steps
    logs = history.history
    assert np.isfinite(logs["loss"][0]) and logs["min_diff_loss"][0] > 0
    moved = [not np.array_equal(a, b) for a, b in zip(before, original_model.get_weights())]
    assert all(moved)
    scores = model.predict(tutorials_utils.df_to_dataset(train_df.iloc[:64], batch_size=64),
                           verbose=0)
    assert scores.shape == (64, 1)
