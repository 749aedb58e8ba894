"""Importing `keras_remediation.federated` imports neither Flower nor Ray (until `.flower`)."""

import subprocess
import sys

import pytest

pytest.importorskip("flwr")


def test_import_does_not_pull_in_flower_or_ray():
    code = (
        "import sys, keras_remediation, keras_remediation.federated as f;"
        "before = [m for m in ('flwr', 'ray') if m in sys.modules];"
        "print(','.join(before) or '-');"
        "f.flower;"
        "print('flwr' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["-", "True"]
