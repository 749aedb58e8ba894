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

from keras_remediation.min_diff.keras.utils import input_utils


def _group_x(data):
    """The inputs of a group given as `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` arrays."""
    if data is None:
        return None
    if isinstance(data, list):
        data = tuple(data)
    x, _, _ = input_utils.unpack_x_y_sample_weight(data)
    return x


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
    """
    sensitive_x = _group_x(sensitive_group_dataset)
    nonsensitive_x = _group_x(nonsensitive_group_dataset)
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
