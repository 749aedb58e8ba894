"""`demos.adult_federated`: the partition, and a tiny end-to-end run (report, JSON, PNG)."""

import json

import numpy as np
import pytest

pytest.importorskip("flwr")
pytest.importorskip("fairlearn")

from keras_remediation.demos import adult_federated  # noqa: E402
from html_testlib import rendered_dom  # noqa: E402
from html_testlib import rendered_image_widths  # noqa: E402
from html_testlib import require_chromium  # noqa: E402


def test_partition_by_column_deals_out_whole_values_greedily():
    values = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2 + ["e"])
    parts = adult_federated.partition_by_column(values, 3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(values)))
    assert [sorted(set(values[p])) for p in parts] == [["a"], ["b", "e"], ["c", "d"]]
    with pytest.raises(ValueError, match="distinct values"):
        adult_federated.partition_by_column(values, 6)
    iid = adult_federated.iid_partition(10, 3)
    assert sorted(np.concatenate(iid).tolist()) == list(range(10))


def test_tiny_run_writes_the_report(tmp_path):
    lines = []
    result = adult_federated.run(
        num_clients=2, rounds=1, batch_size=256, min_diff_batch_size=64, train_sample=0.03,
        output_dir=str(tmp_path), log=lines.append, n_boot=10,
    )
    for name in ("baseline", "min_diff"):
        assert 0.0 <= result[name]["accuracy"] <= 1.0
        rounds = result["history"][name]["rounds"]
        assert [r["round"] for r in rounds] == [0, 1]
        assert rounds[1]["train_clients"] == 2 and rounds[1]["train_failures"] == 0
    assert result["history"]["min_diff"]["rounds"][1]["train"]["min_diff_loss"] >= 0.0
    assert any("[min_diff] round 1/1" in line for line in lines)
    # The headline names the FNR gap as well as the FPR gap, each with intervals.
    assert any(line.strip().startswith("FPR gap") and "CIs" in line for line in lines)
    assert any(line.strip().startswith("FNR gap") and "CIs" in line for line in lines)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["settings"]["num_clients"] == 2
    for name in ("baseline", "min_diff"):
        assert len(saved[name]["fpr_gap_ci"]) == 2 and len(saved[name]["fnr_gap_ci"]) == 2
    assert (tmp_path / "report.png").stat().st_size > 0
    assert (tmp_path / "convergence.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="engine"):
        adult_federated.run(engine="threads", output_dir=str(tmp_path))
    require_chromium()
    dom = rendered_dom(tmp_path / "report.html")
    assert "FedAvg + MinDiff: per group" in dom and "Gaps at each threshold" in dom
    assert len(rendered_image_widths(dom)) == 2 and min(rendered_image_widths(dom)) > 100
