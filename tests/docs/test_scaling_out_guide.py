"""The recipes of `docs/scaling_out.md` run as written.

The guide has one section per backend (`## JAX`, `## TensorFlow`, `## PyTorch`); the
```python blocks of a section form one script, which sets `KERAS_BACKEND` and the device
setup before importing JAX or TensorFlow (virtual devices must be configured before they
start). Each section therefore runs as a script in a subprocess, on its own backend's test
pass only (the other sections are skipped); the blocks end with their own comparisons (1 vs
N devices to 1e-5, save/load, MinDiff groups per replica). The checks on the text run on
every backend.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import keras

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "scaling_out.md"
SECTIONS = {"jax": "## JAX", "tensorflow": "## TensorFlow", "torch": "## PyTorch"}
EXPECTED_OUTPUT = {
    "jax": "4 devices:",
    "tensorflow": "replica 1: membership values [0.0, 1.0]",
    "torch": "2 DDP processes train like one process on the global batch.",
}


def section_blocks(backend):
    """The ```python blocks of the backend's section, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(SECTIONS[backend] + ":")
    end = text.find("\n## ", start + 1)
    section = text[start:] if end == -1 else text[start:end]
    return re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)


@pytest.mark.parametrize("backend", sorted(SECTIONS))
def test_section_is_a_complete_script_for_its_backend(backend):
    blocks = section_blocks(backend)
    assert blocks
    assert f'os.environ["KERAS_BACKEND"] = "{backend}"' in blocks[0]
    for index, block in enumerate(blocks):
        compile(block, f"scaling_out.md:{backend}:block{index + 1}", "exec")


def test_guide_states_the_semantics_and_links():
    text = GUIDE.read_text(encoding="utf-8")
    for phrase in ("global batch", "per replica", "global_batch_size",
                   "MultiWorkerMirroredStrategy", "distribute_datasets_from_function",
                   "all_gather", "IndivisibleError", "benchmarks/data_parallel_step.py"):
        assert phrase in text, phrase
    assert (GUIDE.parent / "custom_training_loops" / "torch.md").exists()


def test_current_backend_section_runs(tmp_path):
    backend = keras.backend.backend()
    if backend not in SECTIONS:
        pytest.skip(f"no section for {backend}")
    script = tmp_path / f"scaling_out_{backend}.py"
    script.write_text("\n\n".join(section_blocks(backend)), encoding="utf-8")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert EXPECTED_OUTPUT[backend] in result.stdout, result.stdout[-3000:]
