"""The `keras-remediation` command: a short run of the MinDiff demo and its argument errors."""

import json
import os
import subprocess
import sys

import keras
import pytest

from keras_remediation import cli

GROUP_KEYS = {"count", "positives", "negatives", "accuracy", "auc", "fpr", "fnr"}


def test_demo_short_run_prints_tables_and_writes_report(tmp_path, capsys):
    output_dir = tmp_path / "report"
    code = cli.main([
        "demo", "--train-sample", "0.1", "--epochs", "2", "--quiet", "--seed", "2",
        "--min-diff-weight", "2.5", "--output-dir", str(output_dir),
    ])
    assert code == 0

    report = json.loads((output_dir / "report.json").read_text())
    assert set(report) == {"baseline", "min_diff", "settings"}
    for name in ("baseline", "min_diff"):
        model_report = report[name]
        assert {"accuracy", "auc", "fpr_gap", "fnr_gap", "groups"} <= set(model_report)
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
    assert "Female" in printed and "Male" in printed and "FPR gap" in printed


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
