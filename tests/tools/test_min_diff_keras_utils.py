"""`tutorials_utils.min_diff_keras_utils`: TF Model Remediation's Civil Comments helpers, offline
(downloads replaced by local files, TF Hub by a small deterministic stand-in module)."""

import inspect
import sys
import types

import keras
import numpy as np
import pandas as pd
import pytest

from keras_remediation.tools import tutorials_utils
from keras_remediation.tools.tutorials_utils import min_diff_keras_utils

URL = "https://storage.googleapis.com/civil_comments_dataset/"
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"


def test_exported_like_the_reference():
    assert tutorials_utils.min_diff_keras_utils is min_diff_keras_utils
    assert min_diff_keras_utils.TEXT_FEATURE == "comment_text"
    assert min_diff_keras_utils.LABEL == "toxicity"
    parameters = inspect.signature(min_diff_keras_utils.create_keras_sequential_model).parameters
    assert {name: (p.default if isinstance(p.default, str) else list(p.default))
            for name, p in parameters.items()} == {
        "hub_url": "https://tfhub.dev/google/tf2-preview/nnlm-en-dim128/1",
        "cnn_filter_sizes": [128, 128, 128],
        "cnn_kernel_sizes": [5, 5, 5],
        "cnn_pooling_sizes": [5, 5, 40],
    }
    assert not inspect.signature(
        min_diff_keras_utils.download_and_process_civil_comments_data
    ).parameters


def test_download_and_process_civil_comments_data(monkeypatch, tmp_path):
    train = pd.DataFrame({"comment_text": ["fine", 12, "awful"], "toxicity": [0, 0, 1]})
    validate = pd.DataFrame({"comment_text": ["ok", "bad"], "toxicity": [0.0, 1.0]})
    train.to_csv(tmp_path / "train_df_processed.csv", index=False)
    validate.to_csv(tmp_path / "validate_df_processed.csv", index=False)
    (tmp_path / "validate_tf_processed.tfrecord").write_bytes(b"")
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin))
        return str(tmp_path / fname)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    data_train, data_validate, tfrecord, labels_train, labels_validate = (
        min_diff_keras_utils.download_and_process_civil_comments_data()
    )
    assert calls == [
        ("train_df_processed.csv", URL + "train_df_processed.csv"),
        ("validate_df_processed.csv", URL + "validate_df_processed.csv"),
        ("validate_tf_processed.tfrecord", URL + "validate_tf_processed.tfrecord"),
    ]
    assert tfrecord == str(tmp_path / "validate_tf_processed.tfrecord")
    assert data_train["comment_text"].tolist() == ["fine", "12", "awful"]  # all strings
    assert len(data_validate) == 2
    assert labels_train.shape == (3, 1) and labels_train.dtype == np.float64
    np.testing.assert_array_equal(labels_train[:, 0], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(labels_validate[:, 0], [0.0, 1.0])


@pytest.mark.skipif(ON_TENSORFLOW, reason="string inputs exist on TensorFlow")
def test_text_model_needs_the_tensorflow_backend():
    with pytest.raises(RuntimeError, match="TensorFlow backend.*" + keras.backend.backend()):
        min_diff_keras_utils.create_keras_sequential_model()


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the text model runs only on TensorFlow")
def test_text_model_needs_tensorflow_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_hub", None)
    with pytest.raises(ImportError, match="tensorflow_hub"):
        min_diff_keras_utils.create_keras_sequential_model()


@pytest.mark.skipif(not ON_TENSORFLOW, reason="the text model runs only on TensorFlow")
def test_text_model_structure_and_training(monkeypatch):
    import tensorflow as tf

    loaded = []

    def load(url):  # stands in for a 128-wide text-embedding module
        loaded.append(url)
        return lambda texts: tf.one_hot(tf.strings.to_hash_bucket_fast(texts, 128), 128)

    monkeypatch.setitem(sys.modules, "tensorflow_hub", types.SimpleNamespace(load=load))
    keras.utils.set_random_seed(0)
    model = min_diff_keras_utils.create_keras_sequential_model(
        hub_url="fake://embedding", cnn_filter_sizes=[8, 8], cnn_kernel_sizes=[3, 3],
        cnn_pooling_sizes=[2, 2],
    )
    assert loaded == ["fake://embedding"]
    names = [type(layer).__name__ for layer in model.layers]
    assert names == [
        "HubTextEmbedding", "Reshape", "Conv1D", "MaxPooling1D", "Conv1D", "MaxPooling1D",
        "Flatten", "Dense", "Dense",
    ]
    assert not model.layers[0].trainable
    frame = pd.DataFrame({"comment_text": ["a kind word", "a cruel word", "hello", "go away"] * 8})
    texts = frame[min_diff_keras_utils.TEXT_FEATURE].to_numpy(dtype=object)  # not a Series
    labels = np.array([0.0, 1.0, 0.0, 1.0] * 8).reshape(-1, 1)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(texts, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.predict(texts[:3], verbose=0).shape == (3, 1)
