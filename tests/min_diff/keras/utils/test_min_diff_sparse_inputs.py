"""SparseTensor and RaggedTensor features in the tf.data packers, as TF Model Remediation
supports them: sparse features of the two groups are concatenated with `tf.sparse.concat`
after aligning their dense shapes; ragged ones with `tf.concat`.

The packing is tf.data, so it is tested under every backend. Feeding a SparseTensor to a model
is tested on the TensorFlow backend only: Keras does not feed `tf.SparseTensor`s to JAX or
PyTorch models.
"""

import numpy as np
import pytest
import keras

from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.keras.utils import build_min_diff_dataset
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from data_testlib import iterate
from data_testlib import np_
from data_testlib import tf_module

tf = tf_module()


def _sparse(dense):
    """A SparseTensor of the non-zero entries of `dense`."""
    return tf.sparse.from_dense(tf.constant(dense))


def _features(rows, offset, sparse_width=2):
    dense = np.arange(offset, offset + 3 * rows, dtype="float32").reshape(rows, 3)
    tokens = np.arange(offset, offset + sparse_width * rows, dtype="float32").reshape(rows, -1)
    tokens[::2, 0] = 0.0  # some structural zeros
    return dense, tokens


def _group_dataset(rows, offset, batch_size, sparse_width=2, weight=None):
    dense, tokens = _features(rows, offset, sparse_width)
    x = {"dense": dense, "tokens": _sparse(tokens)}
    data = (x, None, weight) if weight is not None else x
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size), dense, tokens


def test_build_concatenates_sparse_features_of_different_widths():
    sensitive, s_dense, s_tokens = _group_dataset(15, 300, batch_size=3, sparse_width=2)
    nonsensitive, n_dense, n_tokens = _group_dataset(10, 400, batch_size=2, sparse_width=5)
    batches = iterate(build_min_diff_dataset(sensitive, nonsensitive))
    assert len(batches) == 5
    for i, (md_x, membership) in enumerate(batches):  # no weights given: none
        tokens = md_x["tokens"]
        assert isinstance(tokens, tf.SparseTensor)
        np.testing.assert_array_equal(np_(tokens.dense_shape), [5, 5])
        expected = np.zeros((5, 5), "float32")
        expected[:3, :2] = s_tokens[3 * i : 3 * i + 3]
        expected[3:, :5] = n_tokens[2 * i : 2 * i + 2]
        np.testing.assert_array_equal(np_(tf.sparse.to_dense(tokens)), expected)
        np.testing.assert_array_equal(
            np_(md_x["dense"]), np.concatenate([s_dense[3 * i : 3 * i + 3], n_dense[2 * i : 2 * i + 2]])
        )
        np.testing.assert_array_equal(np_(membership)[:, 0], [1.0] * 3 + [0.0] * 2)


def test_build_with_a_single_sparse_feature_and_weights():
    s_tokens = np.eye(6, 4, dtype="float32")
    n_tokens = 2 * np.eye(4, 4, dtype="float32")
    sensitive = tf.data.Dataset.from_tensor_slices(
        (_sparse(s_tokens), None, np.full((6, 1), 3.0, "float32"))
    ).batch(2)
    nonsensitive = tf.data.Dataset.from_tensor_slices(_sparse(n_tokens)).batch(2)
    batches = iterate(build_min_diff_dataset(sensitive, nonsensitive, repeat=True))
    assert len(batches) == 3
    md_x, membership, weight = batches[2]
    np.testing.assert_array_equal(
        np_(tf.sparse.to_dense(md_x)), np.concatenate([s_tokens[4:6], n_tokens[0:2]])
    )
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(np_(weight)[:, 0], [3.0, 3.0, 1.0, 1.0])


def test_pack_with_sparse_features():
    original, o_dense, o_tokens = _group_dataset(20, 100, batch_size=4)
    labels = tf.data.Dataset.from_tensor_slices(np.ones((20, 1), "float32")).batch(4)
    original = tf.data.Dataset.zip((original, labels))
    sensitive, s_dense, _ = _group_dataset(6, 300, batch_size=2)
    nonsensitive, n_dense, _ = _group_dataset(8, 400, batch_size=2, sparse_width=3)
    batches = iterate(pack_min_diff_data(original, sensitive, nonsensitive))
    assert len(batches) == 5  # every original batch; the MinDiff data is repeated
    packed, y = batches[4]
    assert isinstance(packed, MinDiffPackedInputs)
    np.testing.assert_array_equal(
        np_(tf.sparse.to_dense(packed.original_inputs["tokens"])), o_tokens[16:20]
    )
    md_x, membership = packed.min_diff_data
    assert isinstance(md_x["tokens"], tf.SparseTensor)
    np.testing.assert_array_equal(np_(md_x["tokens"].dense_shape), [4, 3])
    # Batch 4 uses sensitive batch 4 % 3 = 1 and non-sensitive batch 4 % 4 = 0.
    np.testing.assert_array_equal(np_(md_x["dense"]), np.concatenate([s_dense[2:4], n_dense[0:2]]))
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0, 1.0, 0.0, 0.0])
    shorter = iterate(pack_min_diff_data(original, sensitive, nonsensitive, repeat_min_diff_data=False))
    assert len(shorter) == 3


def test_build_concatenates_ragged_features():
    s_values = tf.ragged.constant([[1, 2], [3], [4, 5, 6], [7]], dtype=tf.int32)
    n_values = tf.ragged.constant([[10], [11, 12, 13], [14, 15]], dtype=tf.int32)
    sensitive = tf.data.Dataset.from_tensor_slices({"ids": s_values}).batch(2)
    nonsensitive = tf.data.Dataset.from_tensor_slices({"ids": n_values}).batch(2)
    batches = iterate(build_min_diff_dataset(sensitive, nonsensitive))
    assert len(batches) == 2
    md_x, membership = batches[0]
    assert isinstance(md_x["ids"], tf.RaggedTensor)
    assert md_x["ids"].to_list() == [[1, 2], [3], [10], [11, 12, 13]]
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0, 1.0, 0.0, 0.0])
    md_x, membership = batches[1]
    assert md_x["ids"].to_list() == [[4, 5, 6], [7], [14, 15]]
    np.testing.assert_array_equal(np_(membership)[:, 0], [1.0, 1.0, 0.0])


def test_sparse_in_one_group_and_dense_in_the_other_raises_at_build_time():
    sensitive, _, _ = _group_dataset(6, 300, batch_size=2)
    dense, tokens = _features(6, 400)
    nonsensitive = tf.data.Dataset.from_tensor_slices({"dense": dense, "tokens": tokens}).batch(2)
    with pytest.raises(TypeError, match="nonsensitive_group_dataset"):
        build_min_diff_dataset(sensitive, nonsensitive)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="Keras feeds tf.SparseTensor inputs to models on the TensorFlow backend only.",
)
def test_min_diff_model_trains_on_sparse_features():
    from keras_remediation import min_diff

    rng = np.random.default_rng(3)

    def sparse_dataset(rows, batch_size, labels=False):
        tokens = (rng.uniform(size=(rows, 6)) > 0.6).astype("float32")
        x = _sparse(tokens)
        data = (x, (tokens[:, :1] > 0).astype("float32")) if labels else x
        return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)

    dataset = pack_min_diff_data(
        sparse_dataset(64, 16, labels=True), sparse_dataset(20, 8), sparse_dataset(30, 8)
    )
    inputs = keras.Input((6,), sparse=True)
    outputs = keras.layers.Dense(1, activation="sigmoid")(inputs)
    model = min_diff.keras.MinDiffModel(keras.Model(inputs, outputs), min_diff.losses.MMDLoss())
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(history.history["min_diff_loss"][0])
