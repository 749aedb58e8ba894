"""The UCI Adult ("Census Income") data set, bundled so that it loads without a network.

Becker, B. & Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning Repository.
https://doi.org/10.24432/C5XW20 (https://archive.ics.uci.edu/dataset/2/adult), licensed CC BY 4.0.

The package ships the two original files, gzip-compressed and otherwise unmodified, in
`keras_remediation/datasets/data/` (`adult.data.gz`: 32,561 training records;
`adult.test.gz`: 16,281 test records), next to a `NOTICE` with the attribution, the licence and
how the copy was obtained, and a `SHA256SUMS` with the SHA-256 digests of the two `.gz` files.

`load_adult` checks the digest of the compressed file (constants in this module, equal to
`SHA256SUMS`) every time it reads a file, before decompressing it; a corrupt or truncated file
raises `DatasetChecksumError` rather than yielding a silently smaller data set. Parsed frames are
cached in memory per digest, so a repeated load costs one file read, one hash and a copy (a few
tens of milliseconds; the first load of a split parses it, well under a second).

Example:
    >>> from keras_remediation.datasets import load_adult
    >>> train = load_adult("train")   # 32,561 rows x 15 columns
    >>> test = load_adult("test")     # 16,281 rows x 15 columns
    >>> train["income"].unique()      # ['<=50K', '>50K'] (no trailing '.', also for 'test')
    >>> load_adult("train", raw=True)["sex"].unique()   # [' Male', ' Female'], as in the file

The file is parsed once per split and digest, as `pandas.read_csv(names=..., header=None)`
reads it; `raw=True` returns that frame as is (the values TF Model Remediation's tutorial
utilities see, which `keras_remediation.tools.tutorials_utils.uci.get_uci_data` reproduces),
and the default, cleaned frame is derived from it.

pandas is imported only when data is loaded, so importing this module stays light.
"""

import gzip
import hashlib
import io
import os
from importlib import resources

__all__ = [
    "ADULT_COLUMNS",
    "ADULT_NUMERIC_COLUMNS",
    "ADULT_CATEGORICAL_COLUMNS",
    "ADULT_SPLITS",
    "DatasetChecksumError",
    "adult_file_path",
    "load_adult",
]

# The 15 attributes, in file order, named as in the UCI documentation (`adult.names`).
ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
# Integer-valued attributes (int64 in the returned frame; none has missing values).
ADULT_NUMERIC_COLUMNS = (
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)
# String-valued attributes, `income` (the label) included.
ADULT_CATEGORICAL_COLUMNS = tuple(c for c in ADULT_COLUMNS if c not in ADULT_NUMERIC_COLUMNS)

ADULT_SPLITS = ("train", "test")


class _SplitFile:
    def __init__(self, file_name, gz_sha256, rows, header_lines):
        self.file_name = file_name
        self.gz_sha256 = gz_sha256
        self.rows = rows
        self.header_lines = header_lines


# SHA-256 of the bundled .gz files (the same lines as data/SHA256SUMS).
_FILES = {
    "train": _SplitFile(
        "adult.data.gz",
        "c7a2b4716a97f930123e0baf879188d701e798172631a654fc703d4b082907f3",
        rows=32561,
        header_lines=0,
    ),
    "test": _SplitFile(
        "adult.test.gz",
        "8a2c1bffa6e7ce5abfa43881ae5e87c4311ebc2b3cd526c9c40a43f19f06f799",
        rows=16281,
        header_lines=1,  # "|1x3 Cross validator"
    ),
}

# Parsed frames, keyed by (split, digest of the file bytes, raw); callers always get a copy.
_CACHE = {}


class DatasetChecksumError(ValueError):
    """A bundled data file does not have the SHA-256 digest it should have.

    Raised instead of loading a corrupt, truncated or substituted file. The message names the
    file, the expected and the actual digest; the same values are available as the attributes
    `path` (str), `expected` (hex str) and `actual` (hex str).
    """

    def __init__(self, path, expected, actual):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Checksum mismatch for data file {self.path!r}: expected SHA-256 {expected}, got "
            f"{actual}. The file is corrupt, truncated or not the bundled UCI Adult file; "
            "reinstall keras-remediation (or restore the file) to get the original data."
        )

    def __reduce__(self):  # picklable (e.g. across multiprocessing workers)
        return (type(self), (self.path, self.expected, self.actual))


def _check_split(split):
    if not isinstance(split, str) or split not in ADULT_SPLITS:
        raise ValueError(
            f"`split` must be one of {list(ADULT_SPLITS)}; received {split!r}."
        )
    return split


def adult_file_path(split="train", data_dir=None):
    """Returns the path of the compressed UCI Adult file of a split.

    Args:
        split: `"train"` (`adult.data.gz`) or `"test"` (`adult.test.gz`). Default `"train"`.
        data_dir: directory to look in (str or path-like). Default None: the copy bundled in
            `keras_remediation/datasets/data/`.

    Returns:
        The file's path, a `str` (the file may not exist when `data_dir` is given).

    Raises:
        ValueError: if `split` is not `"train"` or `"test"`.
    """
    name = _FILES[_check_split(split)].file_name
    if data_dir is None:
        return str(resources.files("keras_remediation.datasets").joinpath("data", name))
    return os.path.join(os.fspath(data_dir), name)


def _read_verified(split, data_dir):
    spec = _FILES[split]
    path = adult_file_path(split, data_dir)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"UCI Adult {split!r} file not found at {path!r}. The package ships it in "
            "keras_remediation/datasets/data/; reinstall keras-remediation, or pass a "
            "`data_dir` that holds adult.data.gz and adult.test.gz."
        ) from err
    actual = hashlib.sha256(raw).hexdigest()
    if actual != spec.gz_sha256:
        raise DatasetChecksumError(path, spec.gz_sha256, actual)
    return path, actual, raw


def _parse_raw(raw):
    """The file as pandas reads it with only column names given: no cleaning at all."""
    import pandas as pd

    text = gzip.decompress(raw).decode("ascii")
    return pd.read_csv(io.StringIO(text), names=list(ADULT_COLUMNS), header=None)


def _clean(split, path, raw_frame):
    """The cleaned frame, derived from the raw one (so both views come from one parse)."""
    spec = _FILES[split]
    frame = raw_frame.iloc[spec.header_lines :].reset_index(drop=True)
    for column in ADULT_CATEGORICAL_COLUMNS:
        values = frame[column].str.strip()  # every value after a comma starts with one space
        frame[column] = values.where(values != "?")  # only '?' means missing
    # adult.test writes its labels as '>50K.' and '<=50K.'.
    frame["income"] = frame["income"].str.rstrip(".")
    if len(frame) != spec.rows:  # cannot happen with a verified file; never return a short set
        raise ValueError(
            f"Parsed {len(frame)} records from {path!r}; the UCI Adult {split!r} split has "
            f"{spec.rows}."
        )
    for column in ADULT_NUMERIC_COLUMNS:
        if frame[column].isna().any():
            raise ValueError(f"Column {column!r} of {path!r} has missing values.")
        frame[column] = frame[column].astype("int64")
    labels = set(frame["income"].unique())
    if labels != {"<=50K", ">50K"}:
        raise ValueError(f"Unexpected income labels {sorted(labels)} in {path!r}.")
    return frame


def load_adult(split="train", *, data_dir=None, raw=False):
    """Loads one split of the UCI Adult data set from the bundled copy, without a network.

    Every call reads the compressed file and checks its SHA-256 digest before anything is
    parsed; a file whose digest differs raises `DatasetChecksumError`, so a corrupt or truncated
    file never yields a smaller data set.

    The file is parsed once, as `pandas.read_csv(file, names=ADULT_COLUMNS, header=None)` reads
    it (the call TF Model Remediation's tutorial utilities make); `raw=True` returns that frame
    untouched, and the default, cleaned frame is derived from it.

    Cleaning applied by default (nothing else; no record is dropped):
      - surrounding whitespace is stripped from every string value;
      - `"?"` (the UCI marker of an unknown value, found in `workclass`, `occupation` and
        `native-country`) becomes missing (NaN);
      - the test file's first line (`|1x3 Cross validator`) is skipped, and its labels lose
        their trailing period, so both splits use `"<=50K"` and `">50K"`.

    Args:
        split: `"train"` for `adult.data` or `"test"` for `adult.test`. Default `"train"`.
        data_dir: keyword-only; a directory holding `adult.data.gz` and `adult.test.gz` to read
            instead of the bundled copy (str or path-like). They must be byte-identical to the
            bundled files: the same digests are checked. Default None (the bundled copy).
        raw: keyword-only bool, default False. True returns the file as pandas reads it, with
            no cleaning: string values keep the space that follows each comma (`" Female"`,
            `" ?"` for unknown values), the test labels keep their period (`" >50K."`), and
            the test file's first line is row 0 (`age` `"|1x3 Cross validator"`, every other
            column NaN), which makes the test split's `age` column strings and its other
            numeric columns float64. Row counts 32,561 (`"train"`) and 16,282 (`"test"`).

    Returns:
        A new `pandas.DataFrame` (a fresh copy on every call) with a `RangeIndex` and the 15
        columns of `ADULT_COLUMNS`, in this order: `age`, `workclass`, `fnlwgt`, `education`,
        `education-num`, `marital-status`, `occupation`, `relationship`, `race`, `sex`,
        `capital-gain`, `capital-loss`, `hours-per-week`, `native-country`, `income`.
        Cleaned (default): shape `(32561, 15)` for `"train"`, `(16281, 15)` for `"test"`; the
        six columns of `ADULT_NUMERIC_COLUMNS` are int64; the others hold strings (pandas'
        default string dtype: `str` under pandas 3, `object` under pandas 2), missing values as
        NaN. With `raw=True`, as described under `raw`.

    Raises:
        ValueError: if `split` is not `"train"` or `"test"`, or `raw` is not a bool.
        DatasetChecksumError: (a `ValueError`) if the file's SHA-256 digest is not the expected
            one; the message names the file and both digests.
        FileNotFoundError: if the file is missing.

    Source:
        Becker & Kohavi (1996), UCI Machine Learning Repository, doi:10.24432/C5XW20, CC BY 4.0;
        see `keras_remediation/datasets/data/NOTICE`.
    """
    split = _check_split(split)
    if not isinstance(raw, bool):
        raise ValueError(f"`raw` must be True or False; received {raw!r}.")
    path, digest, data = _read_verified(split, data_dir)
    raw_key = (split, digest, True)
    if raw_key not in _CACHE:
        _CACHE[raw_key] = _parse_raw(data)
    if raw:
        return _CACHE[raw_key].copy()
    key = (split, digest, False)
    if key not in _CACHE:
        _CACHE[key] = _clean(split, path, _CACHE[raw_key])
    return _CACHE[key].copy()
