"""min_diff.sweep: a tiny weight sweep shrinks the FPR gap; the summary, Pareto front, plot."""

import numpy as np
import pandas as pd
import pytest

import keras

pytest.importorskip("fairlearn")

from keras_remediation.min_diff import sweep  # noqa: E402


def _data(n, seed):
    # Label-0 rows of group 1 score high on the second feature: the plain model gives them a
    # much larger false-positive rate than group 0.
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    y = (z + 1.5 * group + rng.normal(0, 0.5, n) > 0.75).astype("float32")
    x = np.stack([z, group + rng.normal(0, 0.1, n)], axis=1).astype("float32")
    return x, y[:, None], np.where(group == 1, "b", "a")


def _build():
    return keras.Sequential([
        keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def test_tiny_sweep_reduces_the_fpr_gap_and_tabulates_every_run():
    x, y, groups = _data(1200, 0)
    x_test, y_test, test_groups = _data(1000, 1)
    label_0 = y[:, 0] == 0
    lines = []
    table = sweep.min_diff_weight_sweep(
        _build, (x, y), x[label_0 & (groups == "b")], x[label_0 & (groups == "a")],
        (x_test, y_test), test_groups, weights=[0.0, 6.0], seeds=[1], epochs=3,
        batch_size=64, min_diff_batch_size=64,
        optimizer=lambda: keras.optimizers.Adam(0.02), log=lines.append,
    )
    assert list(table.columns) == list(sweep.SWEEP_COLUMNS)
    assert table[["weight", "seed"]].values.tolist() == [[0, 1], [6, 1]]
    assert len(lines) == 2 and lines[1].startswith("  [2/2] weight 6, seed 1: AUC")
    assert table.attrs == {"threshold": 0.5, "epochs": 3, "test_examples": 1000}
    plain, remediated = table[table.weight == 0], table[table.weight == 6]
    assert (plain.min_diff_loss == 0).all() and (remediated.min_diff_loss > 0).all()
    # Measured: 0.2x (JAX), 0.3x (PyTorch), 0.6x (TensorFlow) of the plain model's gap.
    assert remediated.fpr_gap.mean() < 0.7 * plain.fpr_gap.mean()
    assert (table.auc > 0.6).all()


def _table():
    # Weight 1 halves the FPR gap at a small AUC cost; weight 4 is dominated by weight 2.
    rows = []
    for weight, auc, fpr_gap, fnr_gap in (
        (0.0, 0.90, 0.10, 0.05), (1.0, 0.89, 0.05, 0.06), (2.0, 0.88, 0.03, 0.08),
        (4.0, 0.87, 0.04, 0.09),
    ):
        for seed, delta in ((1, -0.002), (2, 0.002)):
            rows.append({"weight": weight, "seed": seed, "auc": auc + delta,
                         "accuracy": 0.8, "fpr_gap": fpr_gap + delta, "fnr_gap": fnr_gap})
    return pd.DataFrame(rows)


def test_summary_averages_seeds_and_marks_the_pareto_front():
    summary = sweep.summarize_weight_sweep(_table())
    assert summary.weight.tolist() == [0.0, 1.0, 2.0, 4.0]
    assert summary.seeds.tolist() == [2, 2, 2, 2]
    assert summary.auc_mean.tolist() == pytest.approx([0.90, 0.89, 0.88, 0.87])
    assert summary.fpr_gap_std.iloc[0] == pytest.approx(np.std([0.098, 0.102], ddof=1))
    assert summary.pareto_fpr.tolist() == [True, True, True, False]
    # The FNR gap only grows with the weight: only the plain model is on that front.
    assert summary.pareto_fnr.tolist() == [True, False, False, False]


def test_halving_weight_picks_the_smallest_auc_cost():
    summary = sweep.summarize_weight_sweep(_table())
    found = sweep.halving_weight(summary)
    assert found["weight"] == 1.0 and found["reference_weight"] == 0.0
    assert found["auc_cost"] == pytest.approx(0.01)
    assert found["gap_mean"] == pytest.approx(0.05)
    assert sweep.halving_weight(summary, gap="fnr_gap") is None
    assert sweep.halving_weight(summary, reduction=0.7)["weight"] == 2.0
    with pytest.raises(ValueError, match="`gap` must be"):
        sweep.halving_weight(summary, gap="auc")
    with pytest.raises(ValueError, match="`reduction` must be"):
        sweep.halving_weight(summary, reduction=0)


def test_plot_writes_two_panels_with_the_front(tmp_path):
    path = tmp_path / "sweep" / "sweep.png"
    figure = sweep.plot_weight_sweep(_table(), path, title="t")
    assert path.read_bytes().startswith(b"\x89PNG")
    axes = figure.axes
    assert len(axes) == 2
    assert axes[0].get_ylabel().startswith("FPR gap") and axes[1].get_ylabel().startswith("FNR")
    front = [line for line in axes[0].get_lines() if line.get_color() == "tab:red"]
    assert len(front) == 1 and len(front[0].get_xdata()) == 3
    assert {t.get_text() for t in axes[0].texts} == {"w=0", "w=1", "w=2", "w=4"}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"weights": []}, ValueError, "`weights` must be a non-empty"),
        ({"weights": [0, -1]}, ValueError, "`weights` must hold finite numbers >= 0"),
        ({"weights": [1, 1]}, ValueError, "must not repeat"),
        ({"weights": "0,1"}, TypeError, "`weights` must be a non-empty sequence"),
        ({"seeds": [1.5]}, TypeError, "`seeds` must hold ints"),
        ({"epochs": 0}, ValueError, "`epochs` must be a positive int"),
        ({"batch_size": 2.0}, TypeError, "`batch_size` must be a positive int"),
        ({"loss": "mmd"}, TypeError, "`loss` must be None"),
        ({"training_data": "xy"}, ValueError, "`training_data` must be a pair"),
        ({"testing_data": (1, 2, 3)}, ValueError, "`testing_data` must be a pair .* length 3"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, message):
    x, y, groups = _data(20, 0)
    arguments = {"training_data": (x, y), "testing_data": (x, y)}
    arguments.update({k: kwargs.pop(k) for k in list(kwargs) if k in arguments})
    with pytest.raises(error, match=message):
        sweep.min_diff_weight_sweep(
            _build, arguments["training_data"], x[:4], x[4:8], arguments["testing_data"],
            groups, **kwargs
        )


def test_summary_rejects_other_tables():
    with pytest.raises(ValueError, match="missing columns"):
        sweep.summarize_weight_sweep(pd.DataFrame({"weight": [0.0]}))
