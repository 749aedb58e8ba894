"""`bc_fit`: the custom backward-compatibility training loop, on every backend."""

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import bc_fit
from keras_remediation.backward_compatibility import losses

from bc_testlib import classifier
from bc_testlib import to_numpy


@pytest.fixture
def h2():
    return classifier(kernel_regularizer=keras.regularizers.L2(1e-3))


def test_bc_fit_reduces_the_loss_and_reports_progress(trained_h1, h2, blobs, capsys):
    x, y = blobs
    bc_loss = losses.BCCrossEntropyLoss(trained_h1, h2, 1.0)
    h1_before = [to_numpy(v).copy() for v in trained_h1.weights]
    start = float(to_numpy(bc_loss(x, y)))
    history = bc_fit(
        h2, training_set=(x, y), testing_set=(x, y), epochs=4, bc_loss=bc_loss,
        optimizer=keras.optimizers.Adam(0.02), batch_size=16,
    )
    assert set(history) == {"loss", "dissonance", "val_loss", "val_dissonance", "val_accuracy"}
    assert all(len(values) == 4 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert float(to_numpy(bc_loss(x, y))) < start
    assert 0.0 <= history["val_accuracy"][-1] <= 1.0
    for before, after in zip(h1_before, trained_h1.weights):
        np.testing.assert_array_equal(before, to_numpy(after))
    printed = capsys.readouterr().out
    assert "Epoch 1/4" in printed and "Epoch 4/4" in printed and "dissonance" in printed


def test_bc_fit_evaluation_is_the_total_loss_with_regularisation(trained_h1, h2, blobs):
    x, y = blobs
    bc_loss = losses.BCStrictImitationCrossEntropyLoss(trained_h1, h2, 2.0)
    history = bc_fit(h2, (x, y), (x, y), epochs=1, bc_loss=bc_loss,
                     optimizer=keras.optimizers.SGD(0.0), batch_size=len(x), verbose=0)
    expected = float(to_numpy(bc_loss(x, y, training=False))) + sum(
        float(to_numpy(loss)) for loss in h2.losses
    )
    np.testing.assert_allclose(history["val_loss"][0], expected, rtol=1e-5)
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-5)  # learning rate 0
    accuracy = np.mean(to_numpy(h2(x)).argmax(-1) == y)
    np.testing.assert_allclose(history["val_accuracy"][0], accuracy, rtol=1e-6)


def test_bc_fit_takes_batch_iterables_and_py_datasets(trained_h1, h2, blobs):
    x, y = blobs
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, len(x), 32)]

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, index):
            return batches[index]

    bc_loss = losses.BCNLLLoss(trained_h1, h2, 0.5)
    for data in (batches, Batches()):
        history = bc_fit(h2, data, epochs=2, bc_loss=bc_loss, verbose=0)
        assert set(history) == {"loss", "dissonance"} and np.all(np.isfinite(history["loss"]))


def test_bc_fit_with_sample_weights_and_binary_outputs(blobs):
    x, y = blobs
    y = (y == 0).astype("float32")[:, None]
    weights = np.linspace(0.5, 1.5, len(x)).astype("float32")
    h1, h2 = classifier(1, activation="sigmoid"), classifier(1, activation="sigmoid")
    bc_loss = losses.BCBinaryCrossEntropyLoss(h1, h2, 1.0)
    history = bc_fit(h2, (x, y, weights), (x, y), epochs=3, bc_loss=bc_loss,
                     optimizer=keras.optimizers.Adam(0.05), verbose=0)
    assert history["loss"][-1] < history["loss"][0]


def test_bc_fit_argument_errors(trained_h1, h2, blobs):
    x, y = blobs
    bc_loss = losses.BCCrossEntropyLoss(trained_h1, h2, 1.0)
    with pytest.raises(ValueError, match="bc_loss"):
        bc_fit(h2, (x, y), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        bc_fit(h2, (x, y), epochs=0, bc_loss=bc_loss)
    with pytest.raises(ValueError, match="training_set"):
        bc_fit(h2, epochs=1, bc_loss=bc_loss)
    with pytest.raises(ValueError, match="another h2"):
        bc_fit(classifier(), (x, y), epochs=1, bc_loss=bc_loss)
    with pytest.raises(TypeError, match="BCLoss"):
        bc_fit(h2, (x, y), epochs=1, bc_loss=keras.losses.MeanSquaredError())
    with pytest.raises(ValueError, match="same number of rows"):
        bc_fit(h2, (x, y[:10]), epochs=1, bc_loss=bc_loss, verbose=0)
    with pytest.raises(ValueError, match=r"batches `\(x, y\)`"):
        bc_fit(h2, [x], epochs=1, bc_loss=bc_loss, verbose=0)


def test_bc_fit_takes_a_tf_data_dataset_on_every_backend(trained_h1, h2, blobs):
    tf = pytest.importorskip("tensorflow")
    x, y = blobs
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    bc_loss = losses.BCCrossEntropyLoss(trained_h1, h2, 1.0)
    history = bc_fit(h2, dataset, dataset, epochs=2, bc_loss=bc_loss, verbose=0)
    assert len(history["val_loss"]) == 2 and np.all(np.isfinite(history["loss"]))


# Issue #13 (10): one training path (the models' fit), one new-error dissonance.


def test_bc_fit_trains_through_the_bc_models_fit(trained_h1, h2, blobs, monkeypatch):
    from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel

    calls = []
    original_fit = BCNewErrorCompatibilityModel.fit

    def recording_fit(self, *args, **kwargs):
        calls.append(kwargs.get("epochs"))
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(BCNewErrorCompatibilityModel, "fit", recording_fit)
    x, y = blobs
    bc_fit(h2, (x, y), epochs=2, bc_loss=losses.BCCrossEntropyLoss(trained_h1, h2, 1.0),
           verbose=0)
    assert calls == [2]


def test_loss_objects_and_models_share_one_new_error_dissonance(trained_h1, blobs, monkeypatch):
    from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel

    calls = []
    shared = losses.new_error_dissonance

    def recording(*args, **kwargs):
        calls.append(1)
        return shared(*args, **kwargs)

    monkeypatch.setattr(losses, "new_error_dissonance", recording)
    x, y = blobs
    h2 = classifier()
    losses.BCNLLLoss(trained_h1, h2, 1.0).dissonance(h2(x), y, trained_h1(x))
    assert len(calls) == 1
    model = BCNewErrorCompatibilityModel(classifier(), h1=trained_h1, lambda_c=1.0)
    model.dissonance(h2(x), y, "sparse_categorical_crossentropy", h1_output=trained_h1(x))
    assert len(calls) == 2


def test_bc_fit_trains_like_the_model_with_the_same_loss(trained_h1, blobs):
    """bc_fit(BCCrossEntropyLoss) and the model compiled with the same base loss and optimizer."""
    from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel

    x, y = blobs
    h2, reference = classifier(), classifier()
    reference.set_weights(h2.get_weights())
    history = bc_fit(h2, (x, y), epochs=2, bc_loss=losses.BCCrossEntropyLoss(trained_h1, h2, 2.0),
                     optimizer=keras.optimizers.SGD(0.1), batch_size=32, verbose=0)
    model = BCNewErrorCompatibilityModel(reference, h1=trained_h1, lambda_c=2.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    expected = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    for got, want in zip(h2.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-4)
    np.testing.assert_allclose(history["dissonance"], expected["dissonance"], rtol=1e-4)
