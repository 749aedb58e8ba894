"""Every wrapper's `fit`, `evaluate` and `predict` keep Keras's asynchronous batch dispatch.

Keras 3 (JAX and PyTorch backends) hands `on_*_batch_end` to a worker thread, so the next step
is dispatched without waiting for the device, unless a callback that is not marked
`async_safe` overrides a batch-end hook: then every step ends by pulling its logs to the host.
A callback the library added without `async_safe` would slow every step of every user. The
recorder below is itself `async_safe` and notes on which thread each batch-end hook runs: off
the calling thread means dispatch stayed asynchronous. On TensorFlow, Keras never dispatches
batch-end hooks asynchronously; there the wrappers must behave as the plain model does.
"""

import threading

import numpy as np
import pytest
import keras

from keras_remediation import counterfactual
from keras_remediation import min_diff
from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from tiny_model_testlib import tiny_arrays, tiny_model

ROWS, FEATURES, BATCH = 32, 4, 8

#: Whether Keras dispatches batch-end callbacks asynchronously on this backend.
ASYNC_BACKEND = keras.backend.backend() in ("jax", "torch")


class _ThreadRecorder(keras.callbacks.Callback):
    """Records, per hook, whether each batch-end call ran off the thread that started `fit`."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.caller = threading.get_ident()
        self.off_thread = {"train": [], "test": [], "predict": []}

    def _record(self, kind):
        self.off_thread[kind].append(threading.get_ident() != self.caller)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train")

    def on_test_batch_end(self, batch, logs=None):
        self._record("test")

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict")


def _model(outputs=1, activation="sigmoid"):
    return tiny_model(FEATURES, outputs, activation)


def _arrays():
    return tiny_arrays(ROWS, FEATURES)


def _plain():
    x, y = _arrays()
    model = _model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model, (x, y), x


def _min_diff():
    x, y = _arrays()
    model = min_diff.keras.MinDiffModel(_model(), "mmd")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    data = min_diff.keras.utils.pack_min_diff_data(
        (x, y), x[:16], x[16:], batch_size=BATCH, min_diff_batch_size=4, seed=0
    )
    return model, (data,), x


def _counterfactual():
    x, y = _arrays()
    x_cf = x.copy()
    x_cf[:, 0] = -x_cf[:, 0]
    model = counterfactual.keras.CounterfactualModel(_model())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    data = counterfactual.keras.utils.pack_counterfactual_data(
        (x, y), (x, x_cf), batch_size=BATCH, seed=0
    )
    return model, (data,), x


def _backward_compatibility():
    x, _ = _arrays()
    labels = np.random.default_rng(1).integers(0, 3, size=(ROWS,)).astype("int32")
    h1 = _model(3, "softmax")
    model = BCNewErrorCompatibilityModel(_model(3, "softmax"), h1=h1, lambda_c=1.0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, (x, labels), x


def _dispatch(build):
    keras.utils.set_random_seed(0)
    model, data, x = build()
    recorder = _ThreadRecorder()
    kwargs = {"batch_size": BATCH} if len(data) == 2 else {}
    model.fit(*data, epochs=1, verbose=0, callbacks=[recorder], **kwargs)
    model.evaluate(*data, verbose=0, callbacks=[recorder], **kwargs)
    model.predict(x, batch_size=BATCH, verbose=0, callbacks=[recorder])
    return recorder.off_thread


@pytest.mark.parametrize(
    "build", [_min_diff, _counterfactual, _backward_compatibility],
    ids=["MinDiffModel", "CounterfactualModel", "BCNewErrorCompatibilityModel"],
)
def test_wrapper_keeps_async_dispatch_like_plain_model(build):
    plain = _dispatch(_plain)
    wrapped = _dispatch(build)
    for kind in ("train", "test", "predict"):
        assert len(wrapped[kind]) == ROWS // BATCH, kind
        # Every batch-end hook ran where the plain model's did: off the calling thread on the
        # backends where Keras dispatches asynchronously.
        assert set(wrapped[kind]) == set(plain[kind]) == {ASYNC_BACKEND}, (kind, wrapped, plain)


def test_a_callback_that_is_not_async_safe_is_detected():
    """The recorder can tell: a plain batch-end callback turns async dispatch off."""

    class Blocking(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    model, (x, y), _ = _plain()
    recorder = _ThreadRecorder()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[recorder, Blocking()])
    assert set(recorder.off_thread["train"]) == {False}
