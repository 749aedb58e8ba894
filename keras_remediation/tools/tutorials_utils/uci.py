"""UCI Adult helpers for the MinDiff guides, after TF Model Remediation's `tutorials_utils.uci`.

Replaces `tensorflow_model_remediation.tools.tutorials_utils.uci`; guide code migrates by import:

    from keras_remediation import min_diff
    from keras_remediation.tools.tutorials_utils import uci as tutorials_utils

    train_df = tutorials_utils.get_uci_data(split="train", sample=0.3)
    train_ds = tutorials_utils.df_to_dataset(train_df, batch_size=128)
    female_pos = train_df[(train_df["sex"] == " Female") & (train_df["target"] == 1)]
    female_ds = tutorials_utils.df_to_dataset(female_pos, shuffle=True).batch(
        32, drop_remainder=True)
    train_with_min_diff_ds = tutorials_utils.get_uci_with_min_diff_dataset(
        split="train", sample=0.3)
    model = tutorials_utils.get_uci_model(model_class=CustomModel)

What matches the reference exactly: the names, signatures and defaults of `get_uci_data`,
`df_to_dataset`, `get_uci_min_diff_datasets`, `get_uci_with_min_diff_dataset` and
`get_uci_model`; the frames of `get_uci_data` (same rows, index, values and dtypes: string
values keep the file's leading space, `" Female"`, `" ?"`; `target` is int64; `sample` draws
with replacement with `random_state=1`); `df_to_dataset` returns an unbatched dataset unless
`batch_size` is given; the MinDiff datasets hold positively labelled women (from the full
split) and men (from the sample), as `(features, target)` batches.

The data is the UCI Adult set bundled with the package (`keras_remediation.datasets.load_adult`,
Becker & Kohavi 1996, doi:10.24432/C5XW20, CC BY 4.0), read as the reference reads its copy
(`load_adult(split, raw=True)`): nothing is downloaded.

What differs, because it must (feature format): the reference's datasets yield a dict of raw
columns, strings included, and its model encodes them with `StringLookup`, `Discretization` and
`HashedCrossing` layers. Keras 3 has string tensors only on TensorFlow, so that model cannot run
on JAX or PyTorch. Here preprocessing is a separate, documented step, the same on every backend
(TensorFlow included, so one pipeline and one model work everywhere): a `UCIPreprocessor`,
fitted once on the full training split (so train, test and any sample encode identically,
deterministically), turns a frame into one float32 matrix `[N, F]`
(`F = get_uci_preprocessor().num_features`, 116); `df_to_dataset` yields its rows as the
features and `get_uci_model` takes that matrix. Consequences: the dataset's features are a
`[F]` float32 vector, not a dict, so filters written on the dict (`x["sex"] == b" Male"`) must
be written on the frame instead; the model has one input named `"features"`, not twelve; a
frame given to `df_to_dataset` needs the UCI feature columns (any other columns are ignored).
Features (in this order):

  - numeric, standardised with the training split's mean and standard deviation (ddof 0):
    `education-num`, `capital-gain`, `capital-loss`, `hours-per-week`; the two heavy-tailed
    capital columns pass through `log1p` first;
  - `age`, one-hot over 11 buckets with edges 18, 25, 30, …, 65 (as the reference's
    `Discretization(bins=[18, 25, 30, 35, 40, 45, 50, 55, 60, 65])`);
  - `sex`, `native-country`, `workclass`, `occupation`, `marital-status`, `relationship`,
    `education`: one-hot over the training split's sorted values (surrounding whitespace
    stripped, so `" Female"` and `"Female"` are the same value), plus one last slot for an
    unknown (`"?"` in the files), missing or unseen value (the reference's OOV token).
The reference's hashed crosses (education × occupation, × age) are left out.

Other differences, all additions: keyword-only arguments `seed` (shuffles are seeded,
`SHUFFLE_SEED = 1`, so datasets are reproducible; the reference's were not), `preprocessor`
and `label` (`label=0` gives MinDiff data of negative examples, for the false-positive-rate
gap); `sample` and batch sizes are validated (the reference passed anything on to pandas or
tf.data). `df_to_arrays` and `preprocess` give NumPy arrays for any backend.

pandas is imported when data is loaded and TensorFlow only by the functions that build
`tf.data` datasets (the datasets feed `fit` on every backend).
"""

import math
import numbers

import keras
import numpy as np

from keras_remediation.datasets.uci_adult import load_adult

__all__ = [
    "AGE_BUCKET_BOUNDARIES",
    "CATEGORICAL_FEATURES",
    "NUMERIC_FEATURES",
    "SAMPLE_SEED",
    "SHUFFLE_SEED",
    "UCIPreprocessor",
    "df_to_arrays",
    "df_to_dataset",
    "get_uci_data",
    "get_uci_min_diff_datasets",
    "get_uci_model",
    "get_uci_preprocessor",
    "get_uci_with_min_diff_dataset",
    "preprocess",
]

#: `random_state` of `DataFrame.sample` in `get_uci_data` (the reference's value).
SAMPLE_SEED = 1
#: Default seed of every `tf.data` shuffle made here.
SHUFFLE_SEED = 1

#: Standardised numeric features (`capital-*` through `log1p` first).
NUMERIC_FEATURES = ("education-num", "capital-gain", "capital-loss", "hours-per-week")
_LOG1P_FEATURES = ("capital-gain", "capital-loss")
#: Bucket edges of `age` (bucket i holds edges[i-1] <= age < edges[i]; 11 buckets).
AGE_BUCKET_BOUNDARIES = (18, 25, 30, 35, 40, 45, 50, 55, 60, 65)
#: One-hot encoded features, in the reference's order.
CATEGORICAL_FEATURES = (
    "sex",
    "native-country",
    "workclass",
    "occupation",
    "marital-status",
    "relationship",
    "education",
)
_MISSING = "<missing>"

_SPLITS = ("train", "test")


# ---------------------------------------------------------------------------------------------
# Data.


def _check_split(split):
    if not isinstance(split, str) or split not in _SPLITS:
        raise ValueError(f"split must be one of 'train' or 'test', given: {split!r}.")
    return split


def _check_sample(sample):
    if sample is None:
        return None
    if (
        isinstance(sample, bool)
        or not isinstance(sample, numbers.Real)
        or not math.isfinite(sample)
        or not sample > 0
    ):
        raise ValueError(
            "`sample` must be None (all rows) or a positive number, the fraction of rows to "
            f"draw with replacement; received {sample!r}."
        )
    return float(sample)


def get_uci_data(split="train", sample=None):
    """Returns the UCI Adult data as a DataFrame for the MinDiff guides, as the reference does.

    The same frame as TF Model Remediation's `get_uci_data` (same rows, index, values and
    dtypes), from the bundled files read as the reference reads its copy
    (`keras_remediation.datasets.load_adult(split, raw=True)`: checksum-verified, no network):
      - if `sample` is given, `round(sample * rows)` rows are drawn *with replacement*
        (`DataFrame.sample(frac=sample, replace=True, random_state=SAMPLE_SEED)`, seed 1), so
        rows can repeat and the same call gives the same rows;
      - rows without `education` are removed: none in `"train"`; in `"test"`, the file's first
        line (`|1x3 Cross validator`), read as a row of missing values (so the test frame's
        index runs from 1 to 16,281);
      - `age` becomes int64;
      - `income` is replaced by `target`: 1 if income is `>50K` (`>50K.` in the test file),
        else 0;
      - `fnlwgt` and `race` are removed.
    String values are not cleaned: each keeps the space that follows a comma in the file
    (`" Female"`, `" Male"`, `" Private"`) and unknown values are the string `" ?"`, so filters
    must use them (`df["sex"] == " Female"`). `preprocess` accepts these values (and clean ones).
    For cleaned values use `keras_remediation.datasets.load_adult(split)`.

    Args:
        split: `"train"` (`adult.data`, 32,561 rows) or `"test"` (`adult.test`, 16,281 rows).
            Default `"train"`.
        sample: None (default, all rows in file order) or a positive number: the fraction of
            the rows to draw with replacement (above 1 draws more rows than the split has).

    Returns:
        A `pandas.DataFrame` with 13 columns, in this order: `age` (int64), `workclass`,
        `education`, `education-num`, `marital-status`, `occupation`, `relationship`, `sex`,
        `capital-gain`, `capital-loss`, `hours-per-week`, `native-country`, `target` (int64,
        0 or 1). The string columns hold pandas' default string dtype (`str` under pandas 3,
        `object` under pandas 2), with no missing values. `education-num`, `capital-gain`,
        `capital-loss` and `hours-per-week` are int64 in `"train"` and float64 in `"test"`
        (pandas reads that file's first line as missing values; the reference's frames have
        the same dtypes). The index is the row's position in the file as pandas read it.

    Raises:
        ValueError: if `split` is not `"train"` or `"test"` (message `split must be one of
            'train' or 'test', given: ...`, as the reference's), or `sample` is not None or a
            finite number > 0 (booleans, NaN, 0 and negatives are refused: the reference
            returned an empty frame for 0).
        DatasetChecksumError: if the bundled file is corrupt (see `load_adult`).
    """
    split = _check_split(split)
    sample = _check_sample(sample)
    data = load_adult(split, raw=True)
    if sample is not None:
        data = data.sample(frac=sample, replace=True, random_state=SAMPLE_SEED)
    data = data[data["education"].notnull()].copy()
    data["age"] = data["age"].astype("int64")
    data["target"] = data["income"].str.contains(" >50K", regex=False).astype("int64")
    return data.drop(columns=["income", "fnlwgt", "race"])


# ---------------------------------------------------------------------------------------------
# Preprocessing.


class UCIPreprocessor:
    """Encodes UCI Adult frames as one float32 feature matrix (see the module docstring).

    Build one with `UCIPreprocessor.fit(frame)`, or take the shared one fitted on the full
    training split with `get_uci_preprocessor()` (what the other helpers here use). Instances
    are immutable in use; `get_config`/`from_config` give a JSON-serialisable round trip.

    Attributes:
        numeric_stats: dict feature -> (mean, std) of the (log1p-transformed) training values.
        vocabularies: dict feature -> tuple of the known values (sorted strings, without
            surrounding whitespace); index `len(vocabulary)` is the missing-or-unseen slot.
        feature_names: tuple of `num_features` str, the name of each output column
            (e.g. `"hours-per-week"`, `"age[25,30)"`, `"sex=Female"`, `"workclass=<missing>"`).
        num_features: int, the width F of `transform`'s output (116 for the UCI training split).
    """

    def __init__(self, numeric_stats, vocabularies):
        """Creates a preprocessor from fitted statistics (prefer `fit` or `from_config`).

        Args:
            numeric_stats: mapping of each name in `NUMERIC_FEATURES` to `(mean, std)`;
                `std` must be positive.
            vocabularies: mapping of each name in `CATEGORICAL_FEATURES` to a sequence of
                distinct strings.

        Raises:
            ValueError: if a feature is missing, a std is not positive, or a vocabulary has
                duplicates.
        """
        missing = [f for f in NUMERIC_FEATURES if f not in numeric_stats]
        missing += [f for f in CATEGORICAL_FEATURES if f not in vocabularies]
        if missing:
            raise ValueError(f"UCIPreprocessor statistics lack the features {missing}.")
        self.numeric_stats = {}
        for name in NUMERIC_FEATURES:
            mean, std = (float(v) for v in numeric_stats[name])
            if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                raise ValueError(
                    f"`numeric_stats[{name!r}]` must be a finite (mean, std) with std > 0; "
                    f"received {numeric_stats[name]!r}."
                )
            self.numeric_stats[name] = (mean, std)
        self.vocabularies = {}
        for name in CATEGORICAL_FEATURES:
            vocabulary = tuple(str(v) for v in vocabularies[name])
            if len(set(vocabulary)) != len(vocabulary):
                raise ValueError(f"`vocabularies[{name!r}]` has duplicate values.")
            self.vocabularies[name] = vocabulary
        names = list(NUMERIC_FEATURES)
        edges = AGE_BUCKET_BOUNDARIES
        names.append(f"age<{edges[0]}")
        names += [f"age[{lo},{hi})" for lo, hi in zip(edges[:-1], edges[1:])]
        names.append(f"age>={edges[-1]}")
        for name in CATEGORICAL_FEATURES:
            names += [f"{name}={value}" for value in self.vocabularies[name]]
            names.append(f"{name}={_MISSING}")
        self.feature_names = tuple(names)
        self.num_features = len(names)

    @staticmethod
    def _numeric_values(frame, name):
        values = frame[name].to_numpy(dtype="float64", na_value=np.nan)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"Column {name!r} has missing or non-finite values.")
        if name in _LOG1P_FEATURES:
            if np.any(values < 0):
                raise ValueError(f"Column {name!r} has negative values; it must be >= 0.")
            return np.log1p(values)
        return values

    @staticmethod
    def _categorical_values(frame, name):
        """The column with surrounding whitespace stripped and `"?"` (unknown) made missing."""
        values = frame[name]
        try:
            stripped = values.str.strip()
        except AttributeError:  # not a string column: its values are all unseen
            return values
        return stripped.where(stripped != "?")

    @staticmethod
    def _check_columns(frame):
        if not hasattr(frame, "columns"):
            raise ValueError(
                f"Expected a pandas DataFrame from `get_uci_data`; received {type(frame).__name__}."
            )
        needed = list(NUMERIC_FEATURES) + ["age"] + list(CATEGORICAL_FEATURES)
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise ValueError(
                f"The DataFrame lacks the columns {absent}, needed to compute the UCI features "
                f"(it has {list(frame.columns)})."
            )

    @classmethod
    def fit(cls, frame):
        """Fits the statistics on a frame with the columns of `get_uci_data`.

        Args:
            frame: `pandas.DataFrame` with at least the columns of `NUMERIC_FEATURES`, `age`
                and `CATEGORICAL_FEATURES` (other columns, such as `target`, are ignored).

        Returns:
            A new `UCIPreprocessor`: numeric means and standard deviations (ddof 0) of the
            frame, and the sorted distinct known values of each categorical column, with
            surrounding whitespace stripped (a raw `" Female"` and a clean `"Female"` give
            `"Female"`; missing values and `"?"` are left out).

        Raises:
            ValueError: if a column is absent, a numeric column has missing values or is
                constant.
        """
        cls._check_columns(frame)
        stats = {}
        for name in NUMERIC_FEATURES:
            values = cls._numeric_values(frame, name)
            stats[name] = (float(values.mean()), float(values.std()))
        vocabularies = {
            name: tuple(
                sorted(str(v) for v in cls._categorical_values(frame, name).dropna().unique())
            )
            for name in CATEGORICAL_FEATURES
        }
        return cls(stats, vocabularies)

    def transform(self, frame):
        """Encodes a frame as a float32 feature matrix.

        Args:
            frame: `pandas.DataFrame` with at least the columns of `NUMERIC_FEATURES`, `age`
                and `CATEGORICAL_FEATURES` (extra columns are ignored), e.g. from
                `get_uci_data` (raw values, `" Female"`) or `load_adult` (clean values,
                `"Female"`): categorical values are compared with surrounding whitespace
                stripped, so both encode identically. Values that are missing, unknown (`"?"`)
                or were not seen by `fit` go to the feature's `<missing>` slot.

        Returns:
            `numpy.ndarray` of float32, shape `[len(frame), num_features]`, rows in the
            frame's order, columns as `feature_names`.

        Raises:
            ValueError: if a needed column is absent, a numeric column (or `age`) has missing
                values, or `capital-gain`/`capital-loss` is negative.
        """
        import pandas as pd

        self._check_columns(frame)
        rows = len(frame)
        blocks = []
        for name in NUMERIC_FEATURES:
            mean, std = self.numeric_stats[name]
            blocks.append(((self._numeric_values(frame, name) - mean) / std)[:, None])
        age = frame["age"].to_numpy(dtype="float64", na_value=np.nan)
        if not np.all(np.isfinite(age)):
            raise ValueError("Column 'age' has missing or non-finite values.")
        buckets = np.digitize(age, AGE_BUCKET_BOUNDARIES)
        blocks.append(_one_hot(buckets, len(AGE_BUCKET_BOUNDARIES) + 1))
        for name in CATEGORICAL_FEATURES:
            vocabulary = self.vocabularies[name]
            values = self._categorical_values(frame, name)
            codes = pd.Categorical(values, categories=list(vocabulary)).codes.astype("int64")
            codes[codes < 0] = len(vocabulary)  # missing or unseen
            blocks.append(_one_hot(codes, len(vocabulary) + 1))
        features = np.concatenate(blocks, axis=1) if rows else np.zeros((0, self.num_features))
        return np.ascontiguousarray(features, dtype=np.float32)

    def get_config(self):
        """Returns the fitted statistics as a JSON-serialisable dict (for `from_config`)."""
        return {
            "numeric_stats": {k: list(v) for k, v in self.numeric_stats.items()},
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds a preprocessor from `get_config()`'s dict.

        Raises:
            ValueError: as `__init__`.
        """
        return cls(config["numeric_stats"], config["vocabularies"])

    def __repr__(self):
        return f"UCIPreprocessor(num_features={self.num_features})"


def _one_hot(codes, depth):
    out = np.zeros((len(codes), depth), dtype=np.float32)
    out[np.arange(len(codes)), codes] = 1.0
    return out


_PREPROCESSOR = None


def get_uci_preprocessor():
    """Returns the shared `UCIPreprocessor`, fitted on the full UCI training split.

    Fitted once per process on `get_uci_data("train")` (all 32,561 rows, whatever sample a
    caller uses elsewhere), so every split and sample encodes identically. Deterministic: the
    same statistics and vocabularies on every run and backend.

    Returns:
        A `UCIPreprocessor` with `num_features == 116`. Do not mutate it.

    Raises:
        DatasetChecksumError: if the bundled data is corrupt.
    """
    global _PREPROCESSOR
    if _PREPROCESSOR is None:
        _PREPROCESSOR = UCIPreprocessor.fit(get_uci_data("train"))
    return _PREPROCESSOR


def preprocess(df, preprocessor=None):
    """Encodes a `get_uci_data` frame as the model's float32 input matrix.

    Args:
        df: `pandas.DataFrame` with the feature columns of `get_uci_data` (`target` and other
            extra columns are ignored); raw values (`" Female"`, `" ?"`, from `get_uci_data`)
            and clean ones (`"Female"`, NaN, from `load_adult`) encode identically.
        preprocessor: a `UCIPreprocessor`; default None: `get_uci_preprocessor()` (fitted on
            the training split).

    Returns:
        `numpy.ndarray`, float32, shape `[len(df), F]` with `F = preprocessor.num_features`
        (116 by default).

    Raises:
        ValueError: as `UCIPreprocessor.transform`: a needed column is absent, a numeric
            column has missing values, or a capital column is negative.
    """
    if preprocessor is None:
        preprocessor = get_uci_preprocessor()
    return preprocessor.transform(df)


def _check_target(frame, name):
    if not hasattr(frame, "columns") or "target" not in frame.columns:
        received = (
            f"columns {list(frame.columns)}" if hasattr(frame, "columns")
            else type(frame).__name__
        )
        raise ValueError(
            f"`{name}` must be a DataFrame with a `target` column (see `get_uci_data`); "
            f"received {received}."
        )


def df_to_arrays(df, preprocessor=None):
    """Converts a `get_uci_data` frame to NumPy `(x, y)`, for any backend.

    Args:
        df: `pandas.DataFrame` from `get_uci_data` (needs the `target` column).
        preprocessor: a `UCIPreprocessor`; default None: `get_uci_preprocessor()`.

    Returns:
        `(x, y)`: `x` float32 `[N, F]` from `preprocess` (F = 116 by default), `y` float32
        `[N, 1]`, the `target` column (0/1) as floats. Rows in the frame's order. Feed them to
        `model.fit(x, y, batch_size=...)` on TensorFlow, JAX or PyTorch.

    Raises:
        ValueError: if `df` has no `target` column, or as `preprocess`.
    """
    _check_target(df, "df")
    x = preprocess(df, preprocessor)
    y = df["target"].to_numpy(dtype="float32").reshape(-1, 1)
    return x, y


def _tensorflow(function_name):
    try:
        import tensorflow as tf
    except ImportError as err:
        raise ImportError(
            f"`{function_name}` builds a `tf.data.Dataset` and needs TensorFlow, which is not "
            "installed. Install it with `pip install 'keras-remediation[tensorflow]'` (or "
            "`pip install tensorflow-cpu`), or use `df_to_arrays`, which returns NumPy arrays "
            "for any backend."
        ) from err
    return tf


def _check_batch_size(batch_size, name="batch_size", allow_none=True):
    if batch_size is None and allow_none:
        return None
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            f"`{name}` must be a positive integer{' or None' if allow_none else ''}; received "
            f"{batch_size!r}."
        )
    return int(batch_size)


def df_to_dataset(
    dataframe, shuffle=False, batch_size=None, *, seed=SHUFFLE_SEED, preprocessor=None
):
    """Converts a UCI frame to a `tf.data.Dataset` of `(features, target)`, as the reference.

    Unbatched unless `batch_size` is given, as TF Model Remediation's `df_to_dataset`, so its
    guides' pattern `df_to_dataset(df, shuffle=True).batch(32, drop_remainder=True)` works.
    Needs TensorFlow (for `tf.data`); the dataset feeds `fit` on every Keras backend.

    Feature format (differs from the reference's on every backend, see the module docstring):
    the reference yields a dict of the frame's raw columns, strings included, which only
    TensorFlow could feed to a model; here `features` is the row's float32 vector from
    `preprocess`, which `get_uci_model` takes on TensorFlow, JAX and PyTorch alike.

    Args:
        dataframe: `pandas.DataFrame` with the UCI feature columns and `target`, e.g. from
            `get_uci_data` or a filtered part of one (raw `" Female"` or clean `"Female"`
            values both work). Not modified.
        shuffle: bool, default False: shuffle the rows (buffer 5,000, as the reference; a new
            order each epoch, reproducible through `seed`).
        batch_size: None (default): an unbatched dataset; or a positive int: batches of that
            many rows (the last one may be smaller).
        seed: keyword-only int or None, the shuffle's seed. Default `SHUFFLE_SEED` (1).
        preprocessor: keyword-only `UCIPreprocessor`; default `get_uci_preprocessor()`.

    Returns:
        A `tf.data.Dataset` of `(features, target)`, rows in the frame's order unless shuffled.
        Unbatched: `features` float32 `[F]` (F = 116 by default, see `preprocess`) and
        `target` a scalar of the `target` column's dtype (int64 from `get_uci_data`), as the
        reference's label. Batched: `features` `[batch, F]`, `target` `[batch]`.

    Raises:
        ImportError: if TensorFlow is not installed (the message points to `df_to_arrays`).
        ValueError: if `batch_size` is not None or a positive int (0 is refused; the reference
            read it as None), `dataframe` has no `target` column, or as `preprocess` (a
            feature column is absent, a numeric column has missing values).
    """
    batch_size = _check_batch_size(batch_size)
    tf = _tensorflow("df_to_dataset")
    _check_target(dataframe, "dataframe")
    x = preprocess(dataframe, preprocessor)
    labels = dataframe["target"].to_numpy()
    dataset = tf.data.Dataset.from_tensor_slices((x, labels))
    if shuffle:
        dataset = dataset.shuffle(buffer_size=5000, seed=seed, reshuffle_each_iteration=True)
    if batch_size:
        dataset = dataset.batch(batch_size)
    return dataset


def _min_diff_group_dataset(frame, group, batch_size, seed, preprocessor):
    if len(frame) < batch_size:
        raise ValueError(
            f"The MinDiff group {group} has {len(frame)} rows, fewer than "
            f"`min_diff_batch_size` ({batch_size}), so it would give no batch and MinDiff "
            "would not train; use a larger `sample` or a smaller `min_diff_batch_size`."
        )
    dataset = df_to_dataset(frame, shuffle=True, seed=seed, preprocessor=preprocessor)
    return dataset.batch(batch_size, drop_remainder=True)


def get_uci_min_diff_datasets(
    split="train",
    sample=None,
    original_batch_size=128,
    min_diff_batch_size=32,
    *,
    label=1,
    seed=SHUFFLE_SEED,
):
    """Creates the three UCI datasets that MinDiff training packs together, as the reference.

    As TF Model Remediation's helper of the same name, with women as the sensitive group and
    the false-negative-rate gap as the target (positively labelled examples, by default):
      - original: `get_uci_data(split, sample)` through `df_to_dataset`, shuffled, batches of
        `original_batch_size`;
      - MinDiff male (non-sensitive group): the rows of that same (sampled) frame with
        `sex == " Male"` and `target == label`;
      - MinDiff female (sensitive group): the rows of the full split (whatever `sample` is,
        for more examples of the smaller group) with `sex == " Female"` and `target == label`.
    Each MinDiff dataset is `df_to_dataset(rows, shuffle=True)` in batches of exactly
    `min_diff_batch_size` rows (the remainder is dropped).

    Args:
        split: `"train"` or `"test"`. Default `"train"`.
        sample: None or a positive fraction of the rows for the original and male data (see
            `get_uci_data`). Default None.
        original_batch_size: positive int, default 128.
        min_diff_batch_size: positive int, default 32.
        label: keyword-only, 1 (default, the reference's: positive examples, false-negative-rate
            gap) or 0 (negative examples: the false-positive-rate gap).
        seed: keyword-only int or None, seed of the shuffles (original `seed`, male `seed + 1`,
            female `seed + 2`). Default `SHUFFLE_SEED` (1).

    Returns:
        `(original_ds, min_diff_male_ds, min_diff_female_ds)`: `tf.data.Dataset`s of
        `(features, target)` (see `df_to_dataset`); `original_ds` has batches of up to
        `original_batch_size` rows, the other two of exactly `min_diff_batch_size` rows
        (features float32 `[min_diff_batch_size, F]`, target int64 `[min_diff_batch_size]`).

    Raises:
        ImportError: if TensorFlow is not installed.
        ValueError: if `split`, `sample`, a batch size or `label` is invalid, or a MinDiff
            group has fewer rows than `min_diff_batch_size` (it would give no batch).
    """
    if isinstance(label, bool) or label not in (0, 1):
        raise ValueError(f"`label` must be 0 or 1; received {label!r}.")
    original_batch_size = _check_batch_size(original_batch_size, "original_batch_size", False)
    min_diff_batch_size = _check_batch_size(min_diff_batch_size, "min_diff_batch_size", False)
    _tensorflow("get_uci_min_diff_datasets")
    preprocessor = get_uci_preprocessor()
    sampled = get_uci_data(split=split, sample=sample)
    full = get_uci_data(split=split) if sample is not None else sampled
    male = sampled[(sampled["sex"] == " Male") & (sampled["target"] == label)]
    female = full[(full["sex"] == " Female") & (full["target"] == label)]
    original_ds = df_to_dataset(
        sampled,
        shuffle=True,
        batch_size=original_batch_size,
        seed=seed,
        preprocessor=preprocessor,
    )
    male_seed = None if seed is None else seed + 1
    female_seed = None if seed is None else seed + 2
    min_diff_male_ds = _min_diff_group_dataset(
        male, f"' Male' (target {label})", min_diff_batch_size, male_seed, preprocessor
    )
    min_diff_female_ds = _min_diff_group_dataset(
        female, f"' Female' (target {label})", min_diff_batch_size, female_seed, preprocessor
    )
    return original_ds, min_diff_male_ds, min_diff_female_ds


def get_uci_with_min_diff_dataset(split="train", sample=None, *, label=1, seed=SHUFFLE_SEED):
    """Creates one dataset of UCI batches with MinDiff data packed in, for `MinDiffModel`.

    As the reference: takes the datasets of `get_uci_min_diff_datasets(split, sample)`
    (original batches of 128; MinDiff batches of 32 women and 32 men with `target == label`,
    positive by default) and packs them with
    `keras_remediation.min_diff.keras.utils.pack_min_diff_data(original_dataset,
    sensitive_group_dataset=female, nonsensitive_group_dataset=male)`, whose default cycles the
    MinDiff data so every original batch gets a MinDiff batch.

    Args:
        split: `"train"` or `"test"`. Default `"train"`.
        sample: None or a positive fraction (see `get_uci_data`). Default None.
        label: keyword-only, 1 (default, the reference's: false-negative-rate gap) or 0
            (false-positive-rate gap): the label of the MinDiff examples.
        seed: keyword-only int or None, seed of the shuffles. Default `SHUFFLE_SEED` (1).

    Returns:
        A `tf.data.Dataset` of `(MinDiffPackedInputs(original_inputs, min_diff_data),
        target)`: `original_inputs` float32 `[≤128, F]`, `target` int64 `[≤128]`,
        `min_diff_data` = `(min_diff_x [64, F], membership [64, 1], min_diff_sample_weight
        [64, 1])` with membership 1.0 for the 32 women, 0.0 for the 32 men. One element per
        original batch.

    Raises:
        ImportError: if TensorFlow is not installed.
        ValueError: as `get_uci_min_diff_datasets`.
    """
    from keras_remediation.min_diff.keras.utils import pack_min_diff_data

    original_ds, min_diff_male_ds, min_diff_female_ds = get_uci_min_diff_datasets(
        split=split, sample=sample, label=label, seed=seed
    )
    return pack_min_diff_data(
        original_dataset=original_ds,
        sensitive_group_dataset=min_diff_female_ds,
        nonsensitive_group_dataset=min_diff_male_ds,
    )


# ---------------------------------------------------------------------------------------------
# Model.


def get_uci_model(model_class=keras.Model):
    """Creates the model the MinDiff guides train on UCI income data.

    A Functional-API model built by calling `model_class(inputs, outputs)`, so
    `get_uci_model(model_class=CustomModel)` gives a `CustomModel` instance (with its
    `train_step` and other overrides). Its layers, as the reference's: four
    `Dense(64, relu)`, `Dropout(0.1)`, `Dense(1, sigmoid)`. Works on TensorFlow, JAX and
    PyTorch. Weights are initialised from Keras's global seed
    (`keras.utils.set_random_seed` makes them reproducible).

    Args:
        model_class: default `keras.Model`. A subclass of `keras.Model` that supports the
            Functional API (constructed as `model_class(inputs, outputs)`), not a
            `keras.Sequential`.

    Input format (differs from the reference's, see the module docstring): the reference's
    model takes a dict of twelve raw columns, strings included, and encodes them in the model
    (`StringLookup`, `Discretization`, `HashedCrossing`), which only TensorFlow can run. This
    one takes the preprocessed float32 matrix, on every backend; the encoding is
    `preprocess`, outside the model.

    Returns:
        An uncompiled `model_class` instance. Input: one float32 tensor `[batch, F]` named
        `"features"` (F = 116, the output of `preprocess` / `df_to_arrays` /
        `df_to_dataset`). Output: float32 `[batch, 1]`, the probability that income is
        `>50K`.

    Raises:
        TypeError: if `model_class` is not a class, not a subclass of `keras.Model`, or a
            subclass of `keras.Sequential` (messages as the reference's: `... must be a class,
            given: ...`, `... must be a subclass of ...keras.Model..., given: ...`, `... must
            support the Functional API, so it cannot be a subclass of ...Sequential...,
            given: ...`).
    """
    if not isinstance(model_class, type):
        raise TypeError(f"`model_class` must be a class, given: {model_class!r}.")
    if not issubclass(model_class, keras.Model):
        raise TypeError(
            f"`model_class` must be a subclass of `keras.Model`, given: {model_class!r}."
        )
    if issubclass(model_class, keras.Sequential):
        raise TypeError(
            "`model_class` must support the Functional API, so it cannot be a subclass of "
            f"`keras.Sequential`, given: {model_class!r}."
        )
    num_features = get_uci_preprocessor().num_features
    inputs = keras.Input(shape=(num_features,), dtype="float32", name="features")
    x = inputs
    for _ in range(4):
        x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dropout(0.1)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return model_class(inputs, outputs)
