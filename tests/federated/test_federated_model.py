"""`FederatedModel`: weights exchange, local training equal to plain Keras, MinDiff and BC."""

import numpy as np
import pytest
import keras

import federated_testlib as lib
from keras_remediation import federated
from keras_remediation import min_diff


def _reference_fit(initial_weights, x, y, epochs, batch_size):
    model = lib.dense_model(seed=7)
    model.set_weights(initial_weights)
    model.compile(optimizer=keras.optimizers.SGD(lib.LEARNING_RATE), loss="binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return model.get_weights()


def test_weights_round_trip_and_checks():
    model = lib.model_fn()
    weights = model.get_weights()
    assert model.weight_names == ["0000.kernel", "0001.bias", "0002.kernel", "0003.bias"]
    assert [w.shape for w in weights] == [(5, 8), (8,), (8, 1), (1,)]
    doubled = [2 * w for w in weights]
    model.set_weights(doubled)
    for got, want in zip(model.get_weights(), doubled):
        np.testing.assert_array_equal(got, want)
    model.set_weights(dict(zip(model.weight_names, weights)))
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])
    with pytest.raises(ValueError, match=r"`weights` must hold 4 arrays .*; received 3\."):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([w.T for w in weights])


def test_train_equals_plain_local_training_and_restarts_the_optimizer():
    model = lib.model_fn()
    initial = model.get_weights()
    x, y = lib.X[:96], lib.Y[:96]
    for _ in range(2):  # the second round starts from the same weights: same result
        model.set_weights(initial)
        result = model.train((x, y), epochs=2, batch_size=16, shuffle=False)
        expected = _reference_fit(initial, x, y, epochs=2, batch_size=16)
        for got, want in zip(model.get_weights(), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert result.num_examples == 96
    assert set(result.metrics) >= {"loss", "accuracy", "auc"}
    assert np.isfinite(result.metrics["loss"])


def test_train_metric_state_covers_every_epoch():
    model = lib.model_fn()
    result = model.train((lib.X[:64], lib.Y[:64]), epochs=3, batch_size=16)
    loss_count = [v for k, v in result.metric_state.items() if k.endswith("count")][0]
    assert float(loss_count) == 3 * 64
    assert result.num_examples == 64


def test_train_rejects_bad_arguments_and_data():
    model = lib.model_fn()
    with pytest.raises(ValueError, match="epochs"):
        model.train((lib.X, lib.Y), epochs=0)
    with pytest.raises(ValueError, match="input_spec"):
        model.train((lib.X[:, :3], lib.Y))


def test_pydataset_data_and_sample_weights():
    model = lib.model_fn()
    weights = np.ones((len(lib.X),), "float32")
    result = model.train((lib.X, lib.Y, weights), batch_size=32)
    assert result.num_examples == len(lib.X)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return lib.X[i * 20:(i + 1) * 20], lib.Y[i * 20:(i + 1) * 20]

    assert model.train(Batches()).num_examples == 60
    assert model.evaluate(Batches()).num_examples == 60


def test_min_diff_model_trains_and_reports_min_diff_loss():
    model = lib.min_diff_model_fn()
    # Only the original model's weights are exchanged.
    assert len(model.get_weights()) == 4
    packed = lib.min_diff_data_fn(0, 3)
    result = model.train(packed)
    assert result.num_examples == len(lib.PARTITIONS[0])
    assert result.metrics["min_diff_loss"] > 0
    assert np.isfinite(result.metrics["loss"])
    evaluation = model.evaluate((lib.X, lib.Y))
    assert evaluation.metrics["min_diff_loss"] == 0.0


def test_min_diff_packed_input_spec_is_accepted():
    packed_batch = lib.min_diff_data_fn(0, 3)[0]
    model = min_diff.keras.MinDiffModel(lib.dense_model(), "mmd")
    fm = federated.from_keras_model(model, "binary_crossentropy", packed_batch[:2])
    assert np.isfinite(fm.train(lib.min_diff_data_fn(1, 3)).metrics["loss"])


def test_backward_compatibility_model_exchanges_only_h2():
    bc = pytest.importorskip("keras_remediation.backward_compatibility")
    h1 = lib.dense_model(seed=3)
    h2 = lib.dense_model(seed=4)
    model = bc.BCNewErrorCompatibilityModel(h2, h1=h1, lambda_c=1.0)
    fm = federated.from_keras_model(
        model, "binary_crossentropy", (lib.X[:2], lib.Y[:2]), metrics=["accuracy"],
        optimizer=lambda: keras.optimizers.SGD(0.1),
    )
    assert len(fm.get_weights()) == len(h2.weights)
    h1_before = [w.copy() for w in h1.get_weights()]
    result = fm.train((lib.X, lib.Y), batch_size=32)
    assert np.isfinite(result.metrics["loss"])
    assert "dissonance" in result.metrics
    for got, want in zip(h1.get_weights(), h1_before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "make_data, error, message",
    [
        (lambda x, y: (x * np.nan, y), ValueError, r"`data x` must be finite; received 320 NaN"),
        (lambda x, y: (x, y * np.inf), ValueError, r"`data y` must be finite"),
        (lambda x, y: (x, y, np.full(len(x), np.nan)), ValueError,
         r"`data sample_weight` must be finite"),
        (lambda x, y: (x, y, -np.ones(len(x))), ValueError,
         r"`data sample_weight` must be non-negative"),
        (lambda x, y: (x, y[:10]), ValueError, r"`data` must have the same number of rows in x, "
         r"y and sample_weight; received \[10, 64\]"),
        (lambda x, y: (x[:0], y[:0]), ValueError, r"`data` must have at least one row"),
        (lambda x, y: x, TypeError, r"`data` must be `\(x, y\)` or `\(x, y, sample_weight\)`"),
        (lambda x, y: (x,), TypeError, r"`data` must be `\(x, y\)`"),
        (lambda x, y: None, TypeError, r"`data` must be `\(x, y\)`"),
        (lambda x, y: "data", TypeError, r"`data` must be `\(x, y\)`"),
        (lambda x, y: {"x": x, "y": y}, TypeError, r"`data` must be `\(x, y\)`"),
    ],
)
def test_bad_client_data_raises_a_named_error_before_training(make_data, error, message):
    model = lib.model_fn()
    before = model.get_weights()
    with pytest.raises(error, match=message):
        model.train(make_data(lib.X[:64], lib.Y[:64]))
    with pytest.raises(error, match=message):
        model.evaluate(make_data(lib.X[:64], lib.Y[:64]))
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(model.train((lib.X[:64], lib.Y[:64])).metrics["loss"])


def test_non_finite_first_batch_of_a_pydataset_raises():
    from array_batches_testlib import ArrayBatches

    model = lib.model_fn()
    with pytest.raises(ValueError, match=r"`data x` must be finite"):
        model.train(ArrayBatches((lib.X * np.nan, lib.Y), 16))


def test_epochs_of_a_wrong_type_is_a_type_error():
    model = lib.model_fn()
    with pytest.raises(TypeError, match=r"`epochs` must be a positive int; received 1.0"):
        model.train((lib.X, lib.Y), epochs=1.0)


def test_set_weights_checks_every_array_before_assigning_any():
    model = lib.model_fn()
    before = model.get_weights()
    bad_shape = [2 * w for w in before[:-1]] + [np.zeros((3,), "float32")]
    with pytest.raises(ValueError, match=r"shape"):
        model.set_weights(bad_shape)
    non_finite = [2 * w for w in before[:-1]] + [np.full_like(before[-1], np.nan)]
    with pytest.raises(ValueError, match=r"`weights\['0003.bias'\]` must be finite"):
        model.set_weights(non_finite)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)
