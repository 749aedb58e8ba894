"""`keras-remediation demo compatibility`: a short digits run and its argument errors."""

import json

import pytest
import keras

from keras_remediation import cli
from keras_remediation.demos import digits_compatibility
from keras_remediation.demos import settings
from html_testlib import rendered_dom
from html_testlib import rendered_image_widths
from html_testlib import require_chromium


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
    require_chromium()
    dom = rendered_dom(output_dir / "report.html")
    assert "backward-compatible update over λ_c" in dom and "bec_h1_errors" in dom
    assert "BEC = examples both get wrong / examples h2 gets wrong" in dom
    assert len(rendered_image_widths(dom)) == 2 and min(rendered_image_widths(dom)) > 100


def test_tradeoff_axes_span_at_least_a_tenth_and_name_the_denominators(tmp_path):
    import pandas as pd

    # Two λ_c whose scores differ by 1-2 of 540 test examples must not fill the axes.
    table = pd.DataFrame({"lambda_c": [0.0, 2.0], "accuracy": [0.900, 0.9019],
                          "btc": [0.950, 0.9537], "bec": [0.600, 0.6019]})
    table.attrs["h1_accuracy"] = 0.85
    figure = digits_compatibility._plot_tradeoff(table, tmp_path / "t.png", 540, "t")
    btc_axis, bec_axis = figure.axes[:2]
    for axis in (btc_axis, bec_axis):
        low, high = axis.get_xlim()
        assert high - low >= digits_compatibility.MIN_AXIS_SPAN - 1e-9
        assert axis.get_ylim()[0] <= 0.85 <= axis.get_ylim()[1]  # h1's accuracy in view
    assert btc_axis.get_xlim()[1] <= 1.005
    assert "h1 right: 459 examples" in btc_axis.get_xlabel()
    assert bec_axis.get_xlabel().startswith("BEC = both wrong / h2 wrong (h2 wrong: 53-54")
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


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


# --- Fashion-MNIST (`--dataset fashion_mnist`) -------------------------------------------------


def _write_idx_gz(path, array):
    import gzip

    import numpy as np

    codes = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    array = np.asarray(array)
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_read_idx_reads_generated_gz_files(tmp_path):
    import numpy as np

    from keras_remediation.datasets.fashion_mnist import read_idx

    images = np.arange(3 * 4 * 5, dtype="u1").reshape(3, 4, 5)
    labels = np.array([7, 0, 9], "u1")
    floats = np.array([[1.5, -2.0], [0.25, 3.0]], ">f4")
    for name, array in (("img.gz", images), ("lab.gz", labels), ("f.gz", floats)):
        _write_idx_gz(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz"), labels)
    out = read_idx(tmp_path / "f.gz")
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, floats)

    import gzip

    with gzip.open(tmp_path / "short.gz", "wb") as f:  # header says 3x4x5, 10 bytes follow
        f.write(bytes([0, 0, 8, 3]) + np.asarray((3, 4, 5), ">u4").tobytes() + bytes(10))
    with pytest.raises(ValueError, match="shape"):
        read_idx(tmp_path / "short.gz")
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")


def _fake_fashion_dir(directory, train=30, test=10):
    import numpy as np

    from keras_remediation.datasets import fashion_mnist

    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    arrays = (
        rng.integers(0, 256, (train, 28, 28)).astype("u1"), (np.arange(train) % 10).astype("u1"),
        rng.integers(0, 256, (test, 28, 28)).astype("u1"), (np.arange(test) % 10).astype("u1"),
    )
    for name, array in zip(fashion_mnist.FILES, arrays):
        _write_idx_gz(directory / name, array)
    return arrays


def test_fashion_mnist_loader_reads_the_debian_directory_and_names_both_places(
    tmp_path, monkeypatch
):
    import numpy as np

    from keras_remediation.datasets import fashion_mnist

    cache, debian = tmp_path / "keras-cache", tmp_path / "debian"
    monkeypatch.setattr(fashion_mnist, "keras_cache_dir", lambda: str(cache))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(debian))
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert str(cache) in message and str(debian) in message
    assert "apt-get install dataset-fashion-mnist" in message

    arrays = _fake_fashion_dir(debian)
    assert fashion_mnist.find_data_dir() == ("debian", str(debian))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    for got, expected in zip((x_train, y_train, x_test, y_test), arrays):
        np.testing.assert_array_equal(got, expected)


def test_fashion_mnist_missing_exits_2_with_the_message(tmp_path, monkeypatch, capsys):
    from keras_remediation.datasets import fashion_mnist

    monkeypatch.setattr(fashion_mnist, "keras_cache_dir", lambda: str(tmp_path / "cache"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "compatibility", "--dataset", "fashion_mnist", "--quiet",
                  "--output-dir", str(tmp_path / "report")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--dataset fashion_mnist" in err and "apt-get install dataset-fashion-mnist" in err
    assert not (tmp_path / "report").exists()


def test_dataset_option_defaults_to_digits_and_is_refused_elsewhere(monkeypatch, capsys):
    from keras_remediation.demos import digits_compatibility

    calls = []
    monkeypatch.setattr(digits_compatibility, "run", lambda **kwargs: calls.append(kwargs))
    assert cli.main(["demo", "compatibility"]) == 0
    assert cli.main(["demo", "compatibility", "--dataset", "fashion_mnist"]) == 0
    assert [call["dataset"] for call in calls] == ["digits", "fashion_mnist"]
    for argv, message in ((["demo", "--dataset", "digits"], "--dataset applies only"),
                          (["demo", "compatibility", "--dataset", "mnist"], "invalid choice")):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_fashion_mnist_demo_short_run(tmp_path, monkeypatch):
    from keras_remediation.datasets import fashion_mnist
    from keras_remediation.demos import digits_compatibility

    try:
        fashion_mnist.find_data_dir()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST not available offline (apt-get install dataset-fashion-mnist)")
    monkeypatch.setitem(settings.DIGITS_COMPATIBILITY, "fashion_mnist_train_rows", 2000)
    monkeypatch.setitem(settings.DIGITS_COMPATIBILITY, "fashion_mnist_test_rows", 500)
    lines = []
    report = digits_compatibility.run(
        epochs=1, lambdas=(0.0, 2.0), seed=2, output_dir=str(tmp_path), batch_size=64,
        dataset="fashion_mnist", log=lines.append,
    )
    used = report["settings"]
    assert used["dataset"] == "fashion_mnist"
    assert used["train_rows"] == 2000 and used["test_rows"] == 500 and used["h1_rows"] == 400
    assert used["noisy_rows"] > 0
    assert [row["lambda_c"] for row in report["results"]] == [0.0, 2.0]
    for row in report["results"]:
        assert 0 <= row["btc"] <= 1 and 0 <= row["bec"] <= 1 and row["new_errors"] >= 0
    assert 0.1 < report["h1_accuracy"] <= 1  # better than chance even after 2 short epochs
    assert any(line.startswith("Fashion-MNIST test subsample (500 rows)") for line in lines)
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
