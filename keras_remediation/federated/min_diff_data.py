"""Packing one client's MinDiff data, including for a client that lacks one of the groups.

In federated MinDiff each client packs its own data: its original examples with MinDiff
batches of its own sensitive and non-sensitive examples (`pack_min_diff_data`). A client may
hold no example of one group (a partition by country, occupation or education easily leaves a
client without women, say). `pack_min_diff_data` refuses an empty group, and an MMD computed on
one group alone is not zero (it is that group's mean kernel value, whose gradient spreads the
group's predictions). `pack_client_min_diff_data` then packs the examples of the group it has
with zero MinDiff weights: the client trains on its original loss, its MinDiff loss is exactly
0, and its batches keep the same packed structure as every other client's.
"""

import numpy as np
import keras

from keras_remediation.common.validation import check_finite_leaves
from keras_remediation.min_diff.keras.utils import input_utils


def _group_x(data, arg_name, like_x):
    """The inputs of a group given as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` arrays,
    checked: arrays with a batch dimension, float values finite, rows shaped like `like_x`'s.

    Raises:
        TypeError: if a leaf of `data` is not an array with a batch dimension.
        ValueError: for NaN or infinite float values, or rows of another shape.
    """
    if data is None:
        return None
    if isinstance(data, list):
        data = tuple(data)
    x, _, _ = input_utils.unpack_x_y_sample_weight(data)
    leaves = keras.tree.flatten(x)
    if not leaves or any(len(getattr(leaf, "shape", ())) == 0 for leaf in leaves):
        raise TypeError(
            f"`{arg_name}` must hold arrays with a batch dimension, as `x`, `(x,)`, `(x, y)` "
            f"or `(x, y, sample_weight)`; received {type(data).__name__} {data!r:.60}."
        )
    check_finite_leaves(x, f"{arg_name} x")
    if like_x is not None and keras.tree.is_nested(x) == keras.tree.is_nested(like_x):
        for leaf, like in zip(leaves, keras.tree.flatten(like_x)):
            if tuple(leaf.shape[1:]) != tuple(like.shape[1:]):
                raise ValueError(
                    f"`{arg_name} x` must have rows of shape {tuple(like.shape[1:])} like the "
                    f"x of `original_dataset`; received {tuple(leaf.shape[1:])}."
                )
    return x


def _as_tuple(data):
    return tuple(data) if isinstance(data, list) else data


def _rows(x):
    if x is None:
        return 0
    leaves = keras.tree.flatten(x)
    return int(np.shape(leaves[0])[0]) if leaves else 0


def pack_client_min_diff_data(original_dataset, sensitive_group_dataset,
                              nonsensitive_group_dataset, **pack_kwargs):
    """`pack_min_diff_data` for one client's in-memory arrays, tolerating an empty group.

    Args:
        original_dataset: the client's training arrays, `(x, y)` or `(x, y, sample_weight)`.
        sensitive_group_dataset: the client's sensitive-group examples (`x`, `(x,)`, `(x, y)`
            or `(x, y, sample_weight)` arrays), possibly with 0 rows, or None.
        nonsensitive_group_dataset: the same for the non-sensitive group.
        **pack_kwargs: passed to `pack_min_diff_data` (`batch_size`, `min_diff_batch_size`,
            `shuffle`, `seed`, `repeat_min_diff_data`).

    Returns:
        A `keras.utils.PyDataset` of packed batches. With both groups present it is exactly
        `pack_min_diff_data(original, sensitive, nonsensitive, **pack_kwargs)`; with a group
        missing, its MinDiff batches hold the other group's examples (or, with both missing,
        the client's own inputs) with weight 0, so the MinDiff loss is 0.

    Raises:
        TypeError: if a group is not arrays with a batch dimension.
        ValueError: if float inputs of the original data or of a group are NaN or infinite,
            or a group's rows are not shaped like the original inputs' rows; and what
            `pack_min_diff_data` raises (e.g. an empty `original_dataset`).
    """
    original_x, _, _ = input_utils.unpack_x_y_sample_weight(_as_tuple(original_dataset))
    if original_x is not None and not isinstance(original_x, (str, bytes)):
        check_finite_leaves(original_x, "original_dataset x")
    sensitive_x = _group_x(sensitive_group_dataset, "sensitive_group_dataset", original_x)
    nonsensitive_x = _group_x(nonsensitive_group_dataset, "nonsensitive_group_dataset", original_x)
    n_sensitive, n_nonsensitive = _rows(sensitive_x), _rows(nonsensitive_x)
    if n_sensitive and n_nonsensitive:
        return input_utils.pack_min_diff_data(
            original_dataset,
            sensitive_group_dataset=sensitive_group_dataset,
            nonsensitive_group_dataset=nonsensitive_group_dataset,
            **pack_kwargs,
        )
    if n_sensitive:
        x, membership_value = sensitive_x, 1.0
    elif n_nonsensitive:
        x, membership_value = nonsensitive_x, 0.0
    else:
        x, _, _ = input_utils.unpack_x_y_sample_weight(tuple(original_dataset))
        membership_value = 0.0
    rows = _rows(x)
    min_diff_dataset = (
        x,
        np.full((rows, 1), membership_value, dtype="float32"),
        np.zeros((rows, 1), dtype="float32"),
    )
    return input_utils.pack_min_diff_data(
        original_dataset, min_diff_dataset=min_diff_dataset, **pack_kwargs
    )
