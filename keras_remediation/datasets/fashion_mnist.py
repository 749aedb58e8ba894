"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando SE, MIT licence), loaded offline.

`load_data()` returns `((x_train, y_train), (x_test, y_test))` as `keras.datasets.fashion_mnist`
does: uint8 images `[60000, 28, 28]` / `[10000, 28, 28]` and uint8 labels. It never downloads;
it looks, in this order, in

1. the Keras cache, `$KERAS_HOME/datasets/fashion-mnist/` (default `~/.keras/datasets/
   fashion-mnist/`, `/tmp/.keras/...` where that is not writable, as Keras does): when the four
   files are there, `keras.datasets.fashion_mnist.load_data()` reads them (it would download
   them otherwise, so it is only called then);
2. Debian's `dataset-fashion-mnist` package, `/usr/share/datasets/fashion-mnist/`
   (`apt-get install dataset-fashion-mnist`), read with `read_idx`.

Neither: `FashionMnistNotFoundError` (a `FileNotFoundError`) naming both places and the apt
command. `read_idx` parses any (gzip-compressed or plain) IDX file with NumPy.
"""

import gzip
import os

import numpy as np

__all__ = [
    "DEBIAN_DIR",
    "FILES",
    "FashionMnistNotFoundError",
    "find_data_dir",
    "keras_cache_dir",
    "load_data",
    "read_idx",
]

#: Where Debian's `dataset-fashion-mnist` package installs the four files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
#: The four files, in the order `load_data` reads them (names as Keras and Debian use them).
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
APT_COMMAND = "apt-get install dataset-fashion-mnist"

# IDX type codes (third magic byte) -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class FashionMnistNotFoundError(FileNotFoundError):
    """Neither the Keras cache nor Debian's package directory holds the Fashion-MNIST files."""


def read_idx(path):
    """Reads an IDX file (`.gz` or plain) into a NumPy array of its shape and type.

    Raises:
        ValueError: if the header is not IDX, or the payload size does not match it.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {raw[:4]!r})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(
            f"{path}: IDX header gives shape {shape} ({expected} bytes of data), "
            f"found {len(raw) - offset} bytes"
        )
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def keras_cache_dir():
    """The directory `keras.datasets.fashion_mnist.load_data()` keeps its files in."""
    base = os.path.expanduser(
        os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    )
    if not os.access(base, os.W_OK):  # Keras's own fallback (`keras.utils.get_file`)
        base = os.path.join("/tmp", ".keras")
    return os.path.join(base, "datasets", "fashion-mnist")


def _complete(directory):
    return all(os.path.isfile(os.path.join(directory, name)) for name in FILES)


def find_data_dir():
    """`("keras", dir)` or `("debian", dir)`: where the four files are; raises if nowhere."""
    cache = keras_cache_dir()
    if _complete(cache):
        return "keras", cache
    if _complete(DEBIAN_DIR):
        return "debian", DEBIAN_DIR
    raise FashionMnistNotFoundError(
        "Fashion-MNIST is not available offline: the files "
        f"{', '.join(FILES)} are neither in the Keras cache ({cache}) nor in Debian's "
        f"dataset-fashion-mnist directory ({DEBIAN_DIR}). Install them with `{APT_COMMAND}` "
        "(or run keras.datasets.fashion_mnist.load_data() once with network access)."
    )


def load_data():
    """`((x_train, y_train), (x_test, y_test))`, uint8, as `keras.datasets.fashion_mnist`.

    Raises:
        FashionMnistNotFoundError: neither place holds the four files.
    """
    source, directory = find_data_dir()
    if source == "keras":
        import keras

        return keras.datasets.fashion_mnist.load_data()
    x_train, y_train, x_test, y_test = (
        read_idx(os.path.join(directory, name)) for name in FILES
    )
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"{directory}: image and label counts differ")
    return (x_train, y_train), (x_test, y_test)
