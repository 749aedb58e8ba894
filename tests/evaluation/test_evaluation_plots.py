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


def _svg_text(tmp_path, name, **kwargs):
    import matplotlib

    reports, scores = _reports_and_scores()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text
        plot_remediation_report(reports, scores, tmp_path / name, **kwargs)
    return (tmp_path / name).read_text()


def test_score_panels_are_cdfs_by_default_with_the_share_above_threshold(tmp_path):
    reports, scores = _reports_and_scores()
    svg = _svg_text(tmp_path, "cdf.svg")
    assert "baseline: score CDF" in svg and "MinDiff: score CDF" in svg
    assert "share of examples with score ≤ x" in svg
    # The legend states each group's share above the threshold: its FPR on label-0 scores.
    female = scores["baseline"][0][scores["baseline"][1] == "Female"]
    assert f"&gt; 0.5: {np.mean(female > 0.5):.3f}" in svg
    histogram = _svg_text(tmp_path, "hist.svg", score_plot="histogram", threshold=0.4)
    assert "baseline: score histogram" in histogram and "density" in histogram
    assert f"&gt; 0.4: {np.mean(female > 0.4):.3f}" in histogram


@pytest.mark.parametrize(
    "kwargs, match",
    [({"score_plot": "kde"}, "`score_plot`"), ({"threshold": 1.0}, "`threshold`")],
)
def test_score_plot_options_are_validated(tmp_path, kwargs, match):
    reports, scores = _reports_and_scores()
    with pytest.raises(ValueError, match=match):
        plot_remediation_report(reports, scores, tmp_path / "x.png", **kwargs)
