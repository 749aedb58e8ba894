"""The `keras-remediation` command: a short run of the MinDiff demo and its argument errors."""

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_remediation import cli
from html_testlib import rendered_dom
from html_testlib import rendered_image_widths
from html_testlib import require_chromium

GROUP_KEYS = {"count", "positives", "negatives", "accuracy", "auc", "fpr", "fnr"}


def test_demo_short_run_prints_tables_and_writes_report(tmp_path, capsys):
    output_dir = tmp_path / "report"
    code = cli.main([
        "demo", "--train-sample", "0.1", "--epochs", "2", "--quiet", "--seed", "2",
        "--min-diff-weight", "2.5", "--output-dir", str(output_dir), "--n-boot", "20",
    ])
    assert code == 0

    report = json.loads((output_dir / "report.json").read_text())
    assert set(report) == {"baseline", "min_diff", "intervals", "gap_changes", "settings"}
    for name in ("baseline", "min_diff"):
        model_report = report[name]
        assert {"accuracy", "auc", "fpr_gap", "fnr_gap", "groups"} <= set(model_report)
        # Every gap has its bootstrap interval, here and per threshold.
        for gap in ("fpr", "fnr"):
            low, high = model_report[f"{gap}_gap_ci"]
            assert low <= model_report[f"{gap}_gap"] + 1e-9 and high >= low
        intervals = report["intervals"][name]
        assert intervals["n_boot"] == 20 and set(intervals["thresholds"]) == {"0.3", "0.5", "0.7"}
        for by_metric in intervals["thresholds"].values():
            for metric in ("fpr", "fnr", "tpr", "selection_rate", "auc"):
                assert by_metric[metric]["gap"]["ci_low"] is not None
        assert set(model_report["groups"]) == {"Female", "Male"}
        for group in model_report["groups"].values():
            assert GROUP_KEYS <= set(group)
            assert 0.0 <= group["fpr"] <= 1.0 and 0.0 <= group["fnr"] <= 1.0
        female, male = model_report["groups"]["Female"], model_report["groups"]["Male"]
        assert model_report["fpr_gap"] == pytest.approx(abs(female["fpr"] - male["fpr"]))
        # Two epochs on 10% of the rows already rank incomes far better than chance.
        assert model_report["auc"] > 0.75
        assert female["count"] + male["count"] == 16281
    settings = report["settings"]
    assert settings["backend"] == keras.backend.backend()
    assert settings["epochs"] == 2 and settings["seed"] == 2 and settings["min_diff_weight"] == 2.5
    assert settings["test_rows"] == 16281
    # MinDiff had both groups (the guides' frames spell them " Female"/" Male").
    assert set(settings["min_diff_rows"]) == {"Female", "Male"}
    assert min(settings["min_diff_rows"].values()) > 0

    assert (output_dir / "report.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    printed = capsys.readouterr().out
    assert "Baseline" in printed and "MinDiff" in printed
    assert "Female" in printed and "Male" in printed
    # The headline names both gaps, whichever way they moved, with their intervals.
    assert report["gap_changes"][0].startswith("FPR gap ")
    assert report["gap_changes"][1].startswith("FNR gap ")
    for line in report["gap_changes"][:2]:
        assert line in printed and "95% CIs" in line and "[" in line

    require_chromium()
    dom = rendered_dom(output_dir / "report.html")
    assert "UCI Adult test split: baseline vs MinDiff" in dom
    assert report["gap_changes"][1].replace(">", "&gt;") in dom
    assert "Gaps at each threshold" in dom and "selection_rate" in dom
    assert "<th>Female</th>" in dom
    assert rendered_image_widths(dom) and min(rendered_image_widths(dom)) > 100


def test_sweep_tiny_run_prints_and_writes_the_pareto_table_and_plot(tmp_path, capsys):
    output_dir = tmp_path / "sweep"
    code = cli.main([
        "demo", "--sweep", "--sweep-weights", "0,4", "--sweep-seeds", "1", "--epochs", "1",
        "--train-sample", "0.05", "--output-dir", str(output_dir),
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "[1/2] weight 0, seed 1: AUC" in printed and "[2/2] weight 4, seed 1" in printed
    assert "pareto_fpr" in printed
    report = json.loads((output_dir / "report.json").read_text())
    assert [(r["weight"], r["seed"]) for r in report["runs"]] == [(0.0, 1), (4.0, 1)]
    assert [row["weight"] for row in report["summary"]] == [0.0, 4.0]
    assert report["settings"]["seeds"] == [1] and report["settings"]["epochs"] == 1
    for name in ("sweep.csv", "summary.csv"):
        assert (output_dir / name).read_text().startswith("weight,")
    assert (output_dir / "sweep.png").read_bytes().startswith(b"\x89PNG")
    require_chromium()
    dom = rendered_dom(output_dir / "report.html")
    assert "MinDiff weight sweep" in dom and "pareto_fpr" in dom
    assert ("halves the FPR gap" in dom) or ("No weight halves" in dom)
    assert len(rendered_image_widths(dom)) == 1 and rendered_image_widths(dom)[0] > 100


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--epochs", "0"], "--epochs"),
        (["demo", "--batch-size", "many"], "--batch-size"),
        (["demo", "--min-diff-weight", "-1"], "--min-diff-weight"),
        (["demo", "--kernel", "cosine"], "--kernel"),
        (["demo", "--backend", "mxnet"], "--backend"),
        (["demo", "--train-sample", "1.5"], "--train-sample"),
        (["demo", "--no-such-option"], "--no-such-option"),
        (["demo", "--rounds", "3"], "--rounds applies only to the federated demo"),
        (["demo", "compatibility", "--kernel", "gaussian"], "adult and federated demos"),
        (["demo", "federated", "--epochs", "3"], "--rounds and --local-epochs"),
        (["demo", "federated", "--lambdas", "0,1"], "--lambdas"),
        (["demo", "federated", "--clients", "40"], "fewer than the 40 clients"),
        (["demo", "federated", "--partition-column", "zip"], "not a column of UCI Adult"),
        (["demo", "federated", "--engine", "spark"], "--engine"),
        (["demo", "other"], "invalid choice"),
        (["demo", "compatibility", "--sweep"], "--sweep applies only to the adult demo"),
        (["demo", "--sweep-weights", "0,1"], "--sweep-weights applies only with --sweep"),
        (["demo", "--sweep", "--min-diff-weight", "2"], "use --sweep-weights"),
        (["demo", "--sweep", "--seed", "2"], "use --sweep-seeds"),
        (["demo", "--sweep", "--sweep-seeds", "1,1"], "distinct comma-separated integers"),
        (["demo", "--sweep", "--sweep-weights", "0,-1"], "non-negative numbers"),
        (["demo", "--n-boot", "-1"], "--n-boot"),
        ([], "COMMAND"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_other_backend_than_the_imported_one_exits_2(capsys):
    other = next(b for b in cli.BACKENDS if b != keras.backend.backend())
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--backend", other])
    assert info.value.code == 2
    assert "already imported" in capsys.readouterr().err


def test_console_script_is_installed_and_rejects_bad_options():
    script = os.path.join(os.path.dirname(sys.executable), "keras-remediation")
    assert os.path.exists(script)
    completed = subprocess.run(
        [script, "demo", "--epochs", "-3"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 2
    assert "--epochs" in completed.stderr and "positive integer" in completed.stderr
