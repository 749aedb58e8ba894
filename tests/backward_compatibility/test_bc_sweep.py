"""λ_c sweeps and their plots: table columns, fresh seeded models, figures."""

import numpy as np
import pytest
import keras

from keras_remediation.backward_compatibility import sweep

from bc_testlib import classifier

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sweep_data(blobs):
    x, y = blobs
    return (x[:64], y[:64]), (x[64:], y[64:])


def test_lambda_sweep_returns_one_row_per_lambda_with_the_columns(trained_h1, sweep_data):
    train, test = sweep_data
    table = sweep.lambda_sweep(classifier, trained_h1, train, test, lambdas=(0, 2), epochs=2,
                               batch_size=16, seed=3)
    assert list(table.columns) == list(sweep.SWEEP_COLUMNS)
    assert {"lambda_c", "accuracy", "btc", "bec", "new_errors"} <= set(table.columns)
    assert table["lambda_c"].tolist() == [0.0, 2.0]
    for column in ("accuracy", "btc", "bec", "bec_h1_errors"):
        assert table[column].between(0, 1).all()
    assert (table["new_errors"] >= 0).all() and table["new_errors"].dtype.kind == "i"
    assert 0 <= table.attrs["h1_accuracy"] <= 1 and table.attrs["test_examples"] == 32
    assert table.attrs["variant"] == "new_error"


def test_each_lambda_starts_from_the_same_seeded_model(trained_h1, sweep_data):
    train, test = sweep_data
    table, models = sweep.lambda_sweep(
        classifier, trained_h1, train, test, lambdas=(0.0, 0.0), epochs=2, batch_size=16,
        seed=5, return_models=True, strict_imitation=True,
    )
    assert table.attrs["variant"] == "strict_imitation" and len(models) == 2
    np.testing.assert_allclose(models[0].predict(test[0], verbose=0),
                               models[1].predict(test[0], verbose=0), rtol=1e-5, atol=1e-6)
    assert table.iloc[0]["accuracy"] == table.iloc[1]["accuracy"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lambdas": (0, -1)}, r"`lambdas\[1\]`.*non-negative"),
        ({"lambdas": ()}, "non-empty"),
        ({"optimizer": keras.optimizers.Adam()}, "fresh optimizer"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_lambda_sweep_argument_errors(trained_h1, sweep_data, kwargs, message):
    train, test = sweep_data
    with pytest.raises(ValueError, match=message):
        sweep.lambda_sweep(classifier, trained_h1, train, test, **kwargs)


def test_plot_tradeoff_returns_a_figure_and_writes_png(tmp_path):
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"lambda_c": [0, 1, 5], "accuracy": [0.9, 0.91, 0.89],
                          "btc": [0.95, 0.98, 0.99], "bec": [0.7, 0.8, 0.9]})
    table.attrs["h1_accuracy"] = 0.85
    path = tmp_path / "plots" / "tradeoff.png"
    figure = sweep.plot_tradeoff(table, path, title="trade-off")
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)
    assert [axis.get_xlabel() for axis in figure.axes[:2]] == [
        "Backward trust compatibility (BTC)", "Backward error compatibility (BEC)"
    ]
    assert path.read_bytes().startswith(PNG)
    # A dict of lists works too; missing columns are reported.
    assert isinstance(sweep.plot_tradeoff({k: list(v) for k, v in table.items()}), Figure)
    with pytest.raises(ValueError, match="bec"):
        sweep.plot_tradeoff({"lambda_c": [0], "accuracy": [1.0], "btc": [1.0]})


def test_plot_error_overlap_stacks_the_four_counts_per_class(tmp_path):
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    h1 = np.array([0, 1, 2, 1, 1, 0, 0, 2])
    h2 = np.array([0, 2, 2, 1, 1, 2, 1, 0])
    path = tmp_path / "overlap.png"
    figure = sweep.plot_error_overlap(h1, h2, y, path, class_names=["a", "b", "c"])
    (axis,) = figure.axes
    heights = np.array([patch.get_height() for patch in axis.patches]).reshape(4, 3)
    np.testing.assert_array_equal(heights.T, [[1, 1, 0, 1], [1, 1, 0, 1], [1, 0, 1, 0]])
    assert [t.get_text() for t in axis.get_xticklabels()] == ["a", "b", "c"]
    assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="class_names"):
        sweep.plot_error_overlap(h1, h2, y, class_names=["a"])
