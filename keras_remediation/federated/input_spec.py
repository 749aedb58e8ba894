"""`input_spec` of `from_keras_model`: the type of a client's batches, `(inputs, labels)`.

TFF took a value convertible to a `tff.Type`; here each part of the pair is a structure (dicts,
lists, tuples, named tuples such as `MinDiffPackedInputs`) whose leaves are either

- shape-and-dtype specs: any object with `.shape` and `.dtype`, such as `keras.KerasTensor`
  (`keras.Input(...)`), `tf.TensorSpec`, `jax.ShapeDtypeStruct` or `keras.InputSpec`-like
  objects; or
- an example batch: NumPy arrays (or anything `np.asarray` accepts, such as Python lists); the
  first dimension of each array is taken as the batch dimension.

As in TFF, the spec is a type, not a batch shape: it gives the structure and the dtypes. Its
batch dimension is never a constraint (TFF's own tests declare `TensorSpec([1, d])` and feed
batches of 2, or inputs and labels of different declared batch sizes), and its rank is not
either (labels declared `[None]` are fed `[n, 1]`; Keras's losses squeeze or expand them). Only
where a batch has the spec's rank are its fixed feature dimensions (all but the first) checked.

String specs (`dtype` `"string"`, `tf.string`) need the TensorFlow backend, the only Keras
backend with string tensors; `from_keras_model` raises TypeError for them on JAX and PyTorch.

The spec is normalised to a structure of `TensorSpec`s (`FederatedModel.normalized_input_spec`;
`FederatedModel.input_spec` is the value given). It builds the model (so its weights exist
before any client data is seen), builds the compiled loss and metrics (so the server can
finalise metric state without data) and checks each client's data on arrival: the structure
and the fixed feature dimensions must match; dtypes are left to Keras's conversion.
"""

import collections

import numpy as np
import keras


class TensorSpec:
    """A normalised leaf of `input_spec`: `shape` a tuple of ints or None, `dtype` a str.

    Not a tuple, so that `keras.tree` treats it as a leaf.
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = dtype

    def __eq__(self, other):
        return (
            isinstance(other, TensorSpec)
            and self.shape == other.shape
            and self.dtype == other.dtype
        )

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r})"

    @property
    def is_string(self):
        return self.dtype == "string"

    def zeros(self, batch_size=1):
        """A NumPy array of zeros (empty strings) of this spec.

        The batch dimension is `batch_size` whatever the spec declares (the spec is a type);
        free feature dimensions are 1.
        """
        shape = [
            batch_size if i == 0 else (1 if dim is None else dim)
            for i, dim in enumerate(self.shape)
        ]
        if self.is_string:
            return np.full(shape, "", dtype=object)
        return np.zeros(shape, dtype=self.dtype)

    def is_compatible_with(self, shape):
        """False only if a concrete `shape` has this spec's rank and differs in a fixed feature
        dimension (the batch dimension and a different rank are not constraints)."""
        shape = tuple(shape)
        if len(shape) != len(self.shape):
            return True
        return all(
            dim is None or dim == int(actual)
            for dim, actual in zip(self.shape[1:], shape[1:])
        )


class InputSpec(collections.namedtuple("InputSpec", ["x", "y"])):
    """The normalised `input_spec`: `x` and `y`, each a structure of `TensorSpec`s."""


def _dimension(dim):
    if dim is None:
        return None
    value = getattr(dim, "value", dim)  # a TF1-style Dimension
    return None if value is None else int(value)


def _standard_dtype(dtype):
    if getattr(dtype, "name", None) == "string" or dtype in (str, bytes, "str", "bytes"):
        return "string"
    if isinstance(dtype, np.dtype) and dtype.kind in ("U", "S"):
        return "string"
    try:
        return keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        name = getattr(dtype, "name", None)
        return keras.backend.standardize_dtype(name) if name is not None else str(dtype)


def _is_spec(leaf):
    return (
        not isinstance(leaf, np.ndarray)
        and hasattr(leaf, "shape")
        and hasattr(leaf, "dtype")
        and leaf.shape is not None
        and not _is_concrete_array(leaf)
    )


def _is_concrete_array(leaf):
    """True for a value with data (a NumPy/backend array), as opposed to a spec."""
    if isinstance(leaf, (np.ndarray, np.generic)):
        return True
    if isinstance(leaf, keras.KerasTensor):
        return False
    module = type(leaf).__module__.split(".")[0]
    if module in ("jax", "jaxlib"):
        return type(leaf).__name__ != "ShapeDtypeStruct"
    if module == "torch":
        return True
    if module == "tensorflow":
        return type(leaf).__name__ not in ("TensorSpec", "RaggedTensorSpec", "SparseTensorSpec")
    return False


def _leaf_spec(leaf, path):
    if leaf is None:
        raise TypeError(
            f"`input_spec` has None at {path or 'its root'}; every leaf must be a spec with "
            "`.shape` and `.dtype` or an example array."
        )
    if _is_spec(leaf):
        return TensorSpec(tuple(_dimension(d) for d in leaf.shape), _standard_dtype(leaf.dtype))
    try:
        array = np.asarray(keras.ops.convert_to_numpy(leaf) if _is_concrete_array(leaf) else leaf)
    except Exception as error:  # noqa: BLE001 - report the leaf that could not be read
        raise TypeError(
            f"`input_spec` leaf at {path or 'its root'} is neither a spec (an object with "
            f"`.shape` and `.dtype`) nor an array: {leaf!r}."
        ) from error
    if array.dtype == object and not (
        array.size and all(isinstance(v, (str, bytes)) for v in array.reshape(-1))
    ):
        raise TypeError(
            f"`input_spec` leaf at {path or 'its root'} is neither a spec (an object with "
            f"`.shape` and `.dtype`) nor a numeric or string array: {leaf!r}."
        )
    if array.ndim == 0:
        # TFF raises TypeError for a leaf that is not a spec (e.g. a constant).
        raise TypeError(
            "Expected input spec member to be of type TensorSpec (or any object with `.shape` "
            f"and `.dtype`), or an example batch with a batch dimension; `input_spec` "
            f"{path or 'root'} is a scalar: {leaf!r}."
        )
    if array.dtype == object:
        return TensorSpec((None,) + tuple(int(d) for d in array.shape[1:]), "string")
    return TensorSpec((None,) + tuple(int(d) for d in array.shape[1:]), _standard_dtype(array.dtype))


def _normalize_part(part, name):
    paths_and_leaves = keras.tree.flatten_with_path(part)
    if not paths_and_leaves:
        raise ValueError(f"`input_spec` {name} is empty.")
    specs = [_leaf_spec(leaf, _path_str(name, path)) for path, leaf in paths_and_leaves]
    return keras.tree.pack_sequence_as(part, specs)


def _path_str(name, path):
    return name + "".join(f"[{p!r}]" for p in path)


def _pair(input_spec):
    if isinstance(input_spec, InputSpec):
        return input_spec.x, input_spec.y
    if isinstance(input_spec, dict):
        if set(input_spec) == {"x", "y"}:
            return input_spec["x"], input_spec["y"]
        raise ValueError(
            "`input_spec` must have two elements, (inputs spec, labels spec); a dict needs "
            f"exactly the keys 'x' and 'y', received keys {sorted(map(str, input_spec))}."
        )
    if isinstance(input_spec, (tuple, list)) and not hasattr(input_spec, "_fields"):
        if len(input_spec) != 2:
            raise ValueError(
                "`input_spec` must have two elements, (inputs spec, labels spec); received "
                f"{len(input_spec)} elements."
            )
        return input_spec[0], input_spec[1]
    if isinstance(input_spec, tuple) and len(input_spec) == 2:  # a named pair
        return input_spec[0], input_spec[1]
    raise ValueError(
        "`input_spec` must have two elements, (inputs spec, labels spec), e.g. "
        "`(keras.Input((4,)), keras.KerasTensor((None, 1)))` or an example batch `(x, y)`; "
        f"received {type(input_spec).__name__}."
    )


def normalize_input_spec(input_spec):
    """Returns `input_spec` as an `InputSpec(x, y)` of `TensorSpec` structures.

    Args:
        input_spec: a pair `(x_spec, y_spec)` (tuple, list, `InputSpec` or a dict with keys
            `'x'` and `'y'`), each part a structure of specs or of example arrays (see the
            module docstring).

    Raises:
        ValueError: if `input_spec` does not have two elements, or a part is empty.
        TypeError: if a leaf is neither a spec nor a numeric or string array (a scalar
            included, as in TFF).
    """
    x, y = _pair(input_spec)
    return InputSpec(_normalize_part(x, "x"), _normalize_part(y, "y"))


def zeros_like_spec(spec_structure, batch_size=1):
    """A structure of NumPy zeros matching `spec_structure` (batch dimension `batch_size`,
    free feature dimensions 1; empty strings for string specs)."""
    return _map_specs(lambda spec: spec.zeros(batch_size), spec_structure)


def _map_specs(fn, structure):
    paths_and_leaves = keras.tree.flatten_with_path(structure)
    return keras.tree.pack_sequence_as(structure, [fn(leaf) for _, leaf in paths_and_leaves])


def check_against_spec(data, spec_structure, name):
    """Raises ValueError if a concrete batch `data` does not match `spec_structure`.

    The structures must have the same paths (dict keys, sequence positions; list vs tuple is
    not distinguished); an array of the spec's rank must have its fixed feature dimensions.
    The batch dimension is never checked and a different rank is left to Keras (TFF's specs
    are types: labels declared `[None]` are fed `[n, 1]`).
    """
    spec_items = keras.tree.flatten_with_path(spec_structure)
    try:
        data_items = keras.tree.flatten_with_path(data)
    except Exception:  # noqa: BLE001 - an unusual container: leave it to Keras
        return
    spec_paths = [path for path, _ in spec_items]
    data_paths = [path for path, _ in data_items]
    if spec_paths != data_paths:
        raise ValueError(
            f"The client data's {name} does not match `input_spec`: its structure has leaves at "
            f"{_paths(data_paths)}, the spec at {_paths(spec_paths)}."
        )
    for (path, spec), (_, leaf) in zip(spec_items, data_items):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            shape = np.shape(leaf)
        if not spec.is_compatible_with(shape):
            raise ValueError(
                f"The client data's {_path_str(name, path)} has shape {tuple(shape)}, which "
                f"does not match `input_spec` shape {spec.shape} (None: any size; the batch "
                "dimension is not checked)."
            )


def _paths(paths):
    return [("root" if not path else "".join(f"[{p!r}]" for p in path)) for path in paths]


def string_paths(spec_structure, name):
    """The paths (as in error messages) of the string leaves of a normalised spec structure."""
    return [
        _path_str(name, path)
        for path, spec in keras.tree.flatten_with_path(spec_structure)
        if spec.is_string
    ]
