"""Unseeded shuffles of the packers follow `keras.utils.set_random_seed`, like `fit`'s shuffle.

Comparing a multi-device run with a one-device run needs both to see the same batches: with
`seed=None` the packers draw their shuffle seed from NumPy's global generator, which
`keras.utils.set_random_seed` seeds (before, they drew fresh OS entropy, so two seeded runs
trained on different batch orders).
"""

import numpy as np
import keras

from keras_remediation.counterfactual.keras.utils import pack_counterfactual_data
from keras_remediation.min_diff.keras.utils import pack_min_diff_data


def _min_diff_batches(seed):
    keras.utils.set_random_seed(seed)
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20, dtype="float32").reshape(20, 1)
    dataset = pack_min_diff_data((x, y), x[:10], x[10:], batch_size=5)
    return [keras.tree.flatten(dataset[i]) for i in range(len(dataset))]


def test_unseeded_min_diff_packing_follows_keras_seed():
    first, again, other = _min_diff_batches(3), _min_diff_batches(3), _min_diff_batches(4)
    for a, b in zip(first, again):
        for leaf_a, leaf_b in zip(a, b):
            np.testing.assert_array_equal(leaf_a, leaf_b)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))
    # Still shuffled, not in order.
    assert not np.array_equal(first[0][0], np.arange(10, dtype="float32").reshape(5, 2))


def test_unseeded_counterfactual_packing_follows_keras_seed():
    def rows(seed):
        keras.utils.set_random_seed(seed)
        x = np.arange(20, dtype="float32").reshape(20, 1)
        dataset = pack_counterfactual_data((x, x), (x, x + 1), batch_size=5)
        return np.concatenate([keras.tree.flatten(dataset[i])[0] for i in range(len(dataset))])

    np.testing.assert_array_equal(rows(5), rows(5))
    assert not np.array_equal(rows(5), rows(6))
