"""Civil Comments helpers of the MinDiff Keras tutorial, after TF Model Remediation's
`tutorials_utils.min_diff_keras_utils`.

Replaces `tensorflow_model_remediation.tools.tutorials_utils.min_diff_keras_utils`; the tutorial
migrates by import:

    from keras_remediation.tools.tutorials_utils import min_diff_keras_utils

    (data_train, data_validate, validate_tfrecord_file, labels_train,
     labels_validate) = min_diff_keras_utils.download_and_process_civil_comments_data()
    model = min_diff_keras_utils.create_keras_sequential_model()

Same names, signatures, defaults and return values as the reference. What differs:
  - `download_and_process_civil_comments_data` downloads with `keras.utils.get_file` (the same
    files, names and URLs; cached in `~/.keras/datasets`), so it runs on every backend. It
    needs a network the first time: nothing is bundled.
  - `create_keras_sequential_model` takes raw strings, like the reference's, so it runs only
    on the TensorFlow backend (Keras 3 has string tensors only there) and needs
    `tensorflow_hub` for the text embedding. TF Hub's `hub.KerasLayer` is a tf-keras layer
    that a Keras 3 model cannot hold, so the module is loaded with `hub.load` and called from
    a Keras 3 layer (`HubTextEmbedding`); as the reference's `KerasLayer`, its weights are not
    trained. The convolution sizes default to tuples (the reference used lists; the values are
    the same).
  - Keras 3's `fit` does not take a pandas Series of strings as `x` (the tutorial's
    `fit(x=data_train[TEXT_FEATURE], ...)` raises `ValueError: Invalid dtype`); pass a NumPy
    object array, `data_train[TEXT_FEATURE].to_numpy(dtype=object)`, or a `tf.data.Dataset`.
"""

import keras

__all__ = [
    "LABEL",
    "TEXT_FEATURE",
    "HubTextEmbedding",
    "create_keras_sequential_model",
    "download_and_process_civil_comments_data",
]

#: Column of the comment text in the Civil Comments frames.
TEXT_FEATURE = "comment_text"
#: Column of the label (toxicity, 0.0 or 1.0) in the Civil Comments frames.
LABEL = "toxicity"

_DATA_URL = "https://storage.googleapis.com/civil_comments_dataset/"
_TRAIN_CSV = "train_df_processed.csv"
_VALIDATE_CSV = "validate_df_processed.csv"
_VALIDATE_TFRECORD = "validate_tf_processed.tfrecord"
_DEFAULT_HUB_URL = "https://tfhub.dev/google/tf2-preview/nnlm-en-dim128/1"
_EMBEDDING_SIZE = 128


def download_and_process_civil_comments_data():
    """Downloads the processed Civil Comments data and returns it as the tutorial expects.

    Fetches (or reuses from the Keras cache) the three files of the reference, with
    `keras.utils.get_file(name, origin)`: `train_df_processed.csv`,
    `validate_df_processed.csv` and `validate_tf_processed.tfrecord`, all from
    `https://storage.googleapis.com/civil_comments_dataset/`.

    Returns:
        `(data_train, data_validate, validate_tfrecord_file, labels_train, labels_validate)`:
        the two CSV files as `pandas.DataFrame`s (read with `pandas.read_csv` defaults, the
        `comment_text` column converted to strings), the local path (str) of the TFRecord
        file, and the `toxicity` column of each frame as a float64 array of shape `[N, 1]`.

    Raises:
        Exception: whatever `keras.utils.get_file` raises when a file cannot be downloaded
            (e.g. without a network), or `pandas.read_csv` on a malformed file.
        KeyError: if a CSV file lacks the `comment_text` or `toxicity` column.
    """
    import pandas as pd

    train_csv = keras.utils.get_file(_TRAIN_CSV, _DATA_URL + _TRAIN_CSV)
    validate_csv = keras.utils.get_file(_VALIDATE_CSV, _DATA_URL + _VALIDATE_CSV)
    validate_tfrecord_file = keras.utils.get_file(
        _VALIDATE_TFRECORD, _DATA_URL + _VALIDATE_TFRECORD
    )
    data_train = pd.read_csv(train_csv)
    data_validate = pd.read_csv(validate_csv)
    for frame in (data_train, data_validate):
        frame[TEXT_FEATURE] = frame[TEXT_FEATURE].astype(str)
    labels_train = data_train[LABEL].to_numpy().reshape(-1, 1) * 1.0
    labels_validate = data_validate[LABEL].to_numpy().reshape(-1, 1) * 1.0
    return data_train, data_validate, validate_tfrecord_file, labels_train, labels_validate


def _require_tensorflow_backend(function_name):
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"`{function_name}` builds a model whose input is raw text (string tensors), which "
            f"Keras 3 supports only on the TensorFlow backend; the current backend is "
            f"{backend!r}. Set KERAS_BACKEND=tensorflow, or embed the text outside the model "
            "and feed the vectors to a model of your own."
        )


def _import_hub(function_name):
    try:
        import tensorflow_hub as hub
    except ImportError as err:
        raise ImportError(
            f"`{function_name}` embeds text with a TF Hub module and needs `tensorflow_hub`, "
            "which is not installed; install it with `pip install tensorflow-hub`."
        ) from err
    return hub


class HubTextEmbedding(keras.layers.Layer):
    """A Keras 3 layer that embeds strings with a TF Hub text module (TensorFlow backend).

    The module is loaded once, when the layer is created, with `tensorflow_hub.load(hub_url)`
    (downloaded and cached by TF Hub); its variables are not trained, as with the reference's
    `hub.KerasLayer` default.

    Args:
        hub_url: str, the module's URL or path; it must map a `[batch]` string tensor to a
            `[batch, output_size]` float32 tensor.
        output_size: int, the embedding width. Default 128 (nnlm-en-dim128).
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Call:
        `inputs`: string tensor `[batch]` (or `[batch, 1]`). Returns float32
        `[batch, output_size]`.

    Raises:
        RuntimeError: if the Keras backend is not TensorFlow.
        ImportError: if `tensorflow_hub` is not installed.
    """

    def __init__(self, hub_url, output_size=_EMBEDDING_SIZE, **kwargs):
        _require_tensorflow_backend("HubTextEmbedding")
        hub = _import_hub("HubTextEmbedding")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.hub_url = hub_url
        self.output_size = int(output_size)
        self._module = hub.load(hub_url)

    def call(self, inputs):
        import tensorflow as tf

        return self._module(tf.reshape(inputs, [-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size)

    def get_config(self):
        config = super().get_config()
        config.update({"hub_url": self.hub_url, "output_size": self.output_size})
        return config


def create_keras_sequential_model(
    hub_url=_DEFAULT_HUB_URL,
    cnn_filter_sizes=(128, 128, 128),
    cnn_kernel_sizes=(5, 5, 5),
    cnn_pooling_sizes=(5, 5, 40),
):
    """Creates the tutorial's baseline text classifier, as the reference's (TensorFlow only).

    A `keras.Sequential` model: input a `[batch]` string tensor (the comment text);
    `HubTextEmbedding(hub_url)` (128 floats per text, not trained); `Reshape((1, 128))`; for
    each `(filters, kernel, pool)` of the three sequences, `Conv1D(filters, kernel, relu,
    padding="same")` and `MaxPooling1D(pool, padding="same")`; `Flatten`; `Dense(128, relu)`;
    `Dense(1, sigmoid)`.

    Args:
        hub_url: the TF Hub text-embedding module (128 outputs). Default
            `https://tfhub.dev/google/tf2-preview/nnlm-en-dim128/1`, the reference's.
        cnn_filter_sizes: filters of each `Conv1D`. Default `(128, 128, 128)`.
        cnn_kernel_sizes: kernel size of each `Conv1D`. Default `(5, 5, 5)`.
        cnn_pooling_sizes: pool size of each `MaxPooling1D`. Default `(5, 5, 40)`.
            The three sequences are zipped: the shortest sets the number of blocks.

    Returns:
        An uncompiled `keras.Sequential` taking strings `[batch]` and returning float32
        `[batch, 1]` probabilities (of toxicity). Feed it a NumPy object array of str (e.g.
        `frame[TEXT_FEATURE].to_numpy(dtype=object)`), a string `tf.Tensor` or a
        `tf.data.Dataset`; Keras 3 refuses a pandas Series of strings.

    Raises:
        RuntimeError: if the Keras backend is not TensorFlow (string inputs exist only there).
        ImportError: if `tensorflow_hub` is not installed.
    """
    _require_tensorflow_backend("create_keras_sequential_model")
    model = keras.Sequential()
    model.add(keras.Input(shape=(), dtype="string"))
    model.add(HubTextEmbedding(hub_url, output_size=_EMBEDDING_SIZE))
    model.add(keras.layers.Reshape((1, _EMBEDDING_SIZE)))
    for filters, kernel_size, pool_size in zip(
        cnn_filter_sizes, cnn_kernel_sizes, cnn_pooling_sizes
    ):
        model.add(keras.layers.Conv1D(filters, kernel_size, activation="relu", padding="same"))
        model.add(keras.layers.MaxPooling1D(pool_size, padding="same"))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(128, activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    return model
