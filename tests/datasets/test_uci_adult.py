"""The bundled UCI Adult data: contents, cleaning, checksum verification, argument errors."""

import gzip
import hashlib
import pickle
import shutil
from pathlib import Path

import pytest

from keras_remediation import datasets
from keras_remediation.datasets import DatasetChecksumError
from keras_remediation.datasets import load_adult
from keras_remediation.datasets import uci_adult

DATA_DIR = Path(uci_adult.__file__).parent / "data"


@pytest.mark.parametrize("split, rows", [("train", 32561), ("test", 16281)])
def test_rows_and_columns(split, rows):
    frame = load_adult(split)
    assert frame.shape == (rows, 15)
    assert list(frame.columns) == list(datasets.ADULT_COLUMNS)
    assert list(frame.columns) == [
        "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
        "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
        "hours-per-week", "native-country", "income",
    ]
    for column in datasets.ADULT_NUMERIC_COLUMNS:
        assert str(frame[column].dtype) == "int64", column
        assert frame[column].notna().all()
    assert frame.index.equals(__import__("pandas").RangeIndex(rows))


@pytest.mark.parametrize("split", ["train", "test"])
def test_cleaning(split):
    frame = load_adult(split)
    assert set(frame["income"]) == {"<=50K", ">50K"}  # no trailing '.' in the test split
    assert set(frame["sex"]) == {"Female", "Male"}
    for column in datasets.ADULT_CATEGORICAL_COLUMNS:
        values = frame[column].dropna()
        assert not values.str.contains(r"^\s|\s$").any(), column
        assert not (values == "?").any(), column
    # '?' is missing exactly in these three columns.
    with_missing = {c for c in frame.columns if frame[c].isna().any()}
    assert with_missing == {"workclass", "occupation", "native-country"}


def test_known_values():
    train, test = load_adult("train"), load_adult("test")
    # Counts published with the data set.
    assert (train["income"] == ">50K").sum() == 7841
    assert (test["income"] == ">50K").sum() == 3846
    assert train[["workclass", "occupation", "native-country"]].isna().sum().tolist() == [
        1836, 1843, 583,
    ]
    first = test.iloc[0]  # the line after "|1x3 Cross validator"
    assert (first["age"], first["workclass"], first["fnlwgt"]) == (25, "Private", 226802)
    assert train.iloc[0]["education"] == "Bachelors"
    assert train.iloc[-1]["income"] == ">50K"


def test_each_load_is_a_fresh_copy():
    frame = load_adult("train")
    frame.loc[0, "age"] = -1
    frame.drop(columns=["race"], inplace=True)
    again = load_adult("train")
    assert again.loc[0, "age"] == 39 and "race" in again.columns


def test_sha256sums_file_matches_code_and_files():
    lines = (DATA_DIR / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split()) for line in lines)
    for split in ("train", "test"):
        spec = uci_adult._FILES[split]
        assert listed[spec.file_name] == spec.gz_sha256
        digest = hashlib.sha256((DATA_DIR / spec.file_name).read_bytes()).hexdigest()
        assert digest == spec.gz_sha256
    notice = (DATA_DIR / "NOTICE").read_text()
    for needle in ("CC BY 4.0", "10.24432/C5XW20", "Becker", "Kohavi", "archive.ics.uci.edu"):
        assert needle in notice


def _copy_data(tmp_path):
    for name in ("adult.data.gz", "adult.test.gz"):
        shutil.copyfile(DATA_DIR / name, tmp_path / name)
    return tmp_path


def test_intact_copy_loads_from_data_dir(tmp_path):
    frame = load_adult("test", data_dir=_copy_data(tmp_path))
    assert frame.shape == (16281, 15)


@pytest.mark.parametrize(
    "damage",
    ["flip_byte", "truncate", "valid_gzip_fewer_rows"],
)
def test_corrupt_file_raises_checksum_error(tmp_path, damage):
    data_dir = _copy_data(tmp_path)
    target = data_dir / "adult.data.gz"
    raw = bytearray(target.read_bytes())
    if damage == "flip_byte":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 3]
    else:  # a well-formed gzip file holding fewer records: never a silently smaller data set
        lines = gzip.decompress(bytes(raw)).splitlines(keepends=True)
        raw = gzip.compress(b"".join(lines[:1000]))
    target.write_bytes(bytes(raw))
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    expected = uci_adult._FILES["train"].gz_sha256
    with pytest.raises(DatasetChecksumError) as info:
        load_adult("train", data_dir=data_dir)
    message = str(info.value)
    assert str(target) in message and expected in message and actual in message
    assert info.value.expected == expected and info.value.actual == actual
    assert isinstance(info.value, ValueError)
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.path, clone.expected, clone.actual, str(clone)) == (
        info.value.path, expected, actual, message,
    )
    # The other, intact file still loads.
    assert len(load_adult("test", data_dir=data_dir)) == 16281


def test_corrupt_bundled_file_is_detected(monkeypatch, tmp_path):
    # The default location, as resolved by adult_file_path, pointed at a damaged copy.
    damaged = tmp_path / "adult.test.gz"
    damaged.write_bytes((DATA_DIR / "adult.test.gz").read_bytes()[:-10])
    real = uci_adult.adult_file_path
    monkeypatch.setattr(
        uci_adult,
        "adult_file_path",
        lambda split="train", data_dir=None: str(damaged) if split == "test" else real(split),
    )
    with pytest.raises(DatasetChecksumError, match="adult.test.gz"):
        load_adult("test")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="adult.data.gz"):
        load_adult("train", data_dir=tmp_path)


@pytest.mark.parametrize("split", ["validation", "TRAIN", "", None, 0, ("train",)])
def test_bad_split(split):
    with pytest.raises(ValueError) as info:
        load_adult(split)
    message = str(info.value)
    assert "`split`" in message and "'train'" in message and "'test'" in message
    assert repr(split) in message


def test_file_paths():
    assert uci_adult.adult_file_path("train").endswith("adult.data.gz")
    assert uci_adult.adult_file_path("test", data_dir="/x").endswith("/x/adult.test.gz")


@pytest.mark.parametrize("split, rows", [("train", 32561), ("test", 16282)])
def test_raw_is_the_file_as_pandas_reads_it(split, rows):
    import io

    import pandas as pd

    text = gzip.decompress((DATA_DIR / uci_adult._FILES[split].file_name).read_bytes())
    expected = pd.read_csv(
        io.StringIO(text.decode("ascii")), names=list(datasets.ADULT_COLUMNS), header=None
    )
    raw = load_adult(split, raw=True)
    pd.testing.assert_frame_equal(raw, expected, check_exact=True)
    assert raw.shape == (rows, 15)
    assert set(raw["sex"].dropna()) == {" Female", " Male"}
    assert (raw["workclass"] == " ?").any()
    if split == "test":
        assert raw.iloc[0]["age"] == "|1x3 Cross validator" and raw.iloc[0].isna().sum() == 14
        assert set(raw["income"].dropna()) == {" <=50K.", " >50K."}
    # The cleaned frame is the raw one cleaned: same records, in the same order.
    clean = load_adult(split)
    offset = rows - len(clean)
    assert offset == (1 if split == "test" else 0)
    assert (raw["sex"].iloc[offset:].str.strip().to_numpy() == clean["sex"].to_numpy()).all()
    # Fresh copies, like the cleaned frames.
    raw.loc[offset, "sex"] = "changed"
    assert load_adult(split, raw=True).loc[offset, "sex"] != "changed"


@pytest.mark.parametrize("raw", [1, "yes", None])
def test_bad_raw(raw):
    with pytest.raises(ValueError, match="`raw`"):
        load_adult("train", raw=raw)
