"""plot_remediation_report writes an image file headless, and validates its inputs."""

import numpy as np
import pytest

from keras_remediation.evaluation import group_report
from keras_remediation.evaluation import plot_remediation_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _reports_and_scores():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    groups = np.where(rng.random(n) < 0.4, "Female", "Male")
    before = np.clip(rng.normal(0.3 + 0.4 * y + 0.1 * (groups == "Male"), 0.15), 0, 1)
    after = np.clip(before - 0.1 * (groups == "Male"), 0, 1)
    reports = {
        "baseline": group_report(y, before, groups),
        "MinDiff": group_report(y, after, groups),
    }
    negatives = y == 0
    scores = {
        "baseline": (before[negatives], groups[negatives]),
        "MinDiff": (after[negatives], groups[negatives]),
    }
    return reports, scores


def test_writes_png(tmp_path):
    reports, scores = _reports_and_scores()
    path = tmp_path / "nested" / "report.png"
    written = plot_remediation_report(reports, scores, path, title="UCI Adult")
    assert written == str(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_bars_only_and_other_metrics(tmp_path):
    reports, _ = _reports_and_scores()
    path = plot_remediation_report(reports, None, tmp_path / "bars.png", metrics=["fpr"])
    assert (tmp_path / "bars.png").read_bytes().startswith(PNG_MAGIC)
    # Undefined rates (None) are drawn as missing bars.
    odd = {"one": group_report([1, 1, 0], [0.9, 0.2, 0.4], ["a", "a", "b"])}
    plot_remediation_report(odd, None, tmp_path / "odd.svg", metrics=("fpr", "fnr", "auc"))
    assert (tmp_path / "odd.svg").read_text().lstrip().startswith("<?xml")
    assert path.endswith("bars.png")


def test_does_not_touch_pyplot_state(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    reports, scores = _reports_and_scores()
    plot_remediation_report(reports, scores, tmp_path / "r.png")
    assert matplotlib.get_backend() == backend


@pytest.mark.parametrize(
    "reports, scores, kwargs, match",
    [
        ({}, None, {}, "`reports`"),
        ({"a": {"accuracy": 1}}, None, {}, "group_report"),
        ("ok", {"a": ([0.1, 0.2], ["x"])}, {}, "groups has 1"),
        ("ok", {"a": ([1.5], ["x"])}, {}, r"\[0, 1\]"),
        ("ok", {"a": [0.1, 0.2]}, {}, "pair"),
        ("ok", None, {"metrics": ["precision"]}, "`metrics`"),
        ("ok", None, {"metrics": "fpr"}, "`metrics`"),
        ("ok", None, {"bins": 0}, "`bins`"),
    ],
)
def test_validation(tmp_path, reports, scores, kwargs, match):
    if reports == "ok":
        reports = _reports_and_scores()[0]
    with pytest.raises(ValueError, match=match):
        plot_remediation_report(reports, scores, tmp_path / "x.png", **kwargs)
    assert not (tmp_path / "x.png").exists()
