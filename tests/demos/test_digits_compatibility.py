"""`keras-remediation demo compatibility`: a short digits run and its argument errors."""

import json

import pytest
import keras

from keras_remediation import cli
from keras_remediation.demos import settings


def test_compatibility_demo_short_run_writes_report(tmp_path, capsys):
    output_dir = tmp_path / "report"
    code = cli.main([
        "demo", "compatibility", "--epochs", "2", "--lambdas", "0,2", "--quiet", "--seed", "3",
        "--output-dir", str(output_dir),
    ])
    assert code == 0
    report = json.loads((output_dir / "report.json").read_text())
    assert set(report) == {"settings", "h1_accuracy", "results"}
    assert [row["lambda_c"] for row in report["results"]] == [0.0, 2.0]
    for row in report["results"]:
        assert {"lambda_c", "accuracy", "btc", "bec", "bec_h1_errors", "new_errors"} <= set(row)
        assert 0 <= row["btc"] <= 1 and 0 <= row["bec"] <= 1 and row["new_errors"] >= 0
    settings_used = report["settings"]
    assert settings_used["backend"] == keras.backend.backend()
    assert settings_used["epochs"] == 2 and settings_used["seed"] == 3
    assert settings_used["label_noise"] == settings.DIGITS_COMPATIBILITY["label_noise"]
    assert settings_used["noisy_rows"] > 0
    for name in ("report.png", "overlap.png"):
        assert (output_dir / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    printed = capsys.readouterr().out
    assert "lambda_c" in printed and "btc" in printed and "new_errors" in printed


def test_demo_without_a_name_still_runs_the_adult_demo_with_its_defaults(monkeypatch):
    from keras_remediation.demos import adult_min_diff

    calls = []
    monkeypatch.setattr(adult_min_diff, "run", lambda **kwargs: calls.append(kwargs))
    assert cli.main(["demo", "--quiet"]) == 0
    assert cli.main(["demo", "adult", "--kernel", "laplacian", "--epochs", "3"]) == 0
    defaults = settings.ADULT_MIN_DIFF
    for key in ("epochs", "batch_size", "min_diff_batch_size", "min_diff_weight", "kernel",
                "seed", "learning_rate"):
        assert calls[0][key] == defaults[key], key
    assert calls[0]["output_dir"] == "remediation-report" and calls[0]["train_sample"] is None
    assert calls[1]["kernel"] == "laplacian" and calls[1]["epochs"] == 3


def test_compatibility_demo_passes_its_options(monkeypatch):
    from keras_remediation.demos import digits_compatibility

    calls = []
    monkeypatch.setattr(digits_compatibility, "run", lambda **kwargs: calls.append(kwargs))
    assert cli.main(["demo", "compatibility", "--lambdas", "0, 1.5,10", "--label-noise", "0.4",
                     "--h1-fraction", "0.1", "--batch-size", "64"]) == 0
    (call,) = calls
    assert call["lambdas"] == (0.0, 1.5, 10.0) and call["label_noise"] == 0.4
    assert call["h1_fraction"] == 0.1 and call["batch_size"] == 64
    assert call["epochs"] == settings.DIGITS_COMPATIBILITY["epochs"]
    assert call["output_dir"] == "compatibility-report"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "compatibility", "--lambdas", "0,-1"], "--lambdas"),
        (["demo", "compatibility", "--lambdas", "0,,1"], "--lambdas"),
        (["demo", "compatibility", "--label-noise", "1.5"], "--label-noise"),
        (["demo", "compatibility", "--h1-fraction", "1"], "--h1-fraction"),
        (["demo", "compatibility", "--epochs", "0"], "--epochs"),
        (["demo", "compatibility", "--kernel", "gaussian"], "--kernel applies only to the adult"),
        (["demo", "--lambdas", "1"], "--lambdas applies only to the compatibility"),
        (["demo", "fashion"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
