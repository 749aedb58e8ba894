"""Data-parallel training of every technique on each engine, against one device (issue 16).

Each engine's checks run in one subprocess of the current `KERAS_BACKEND` (device counts must
be set before JAX or TensorFlow start): `jax_data_parallel_check.py` (DataParallel on 4 virtual
CPU devices), `tf_mirrored_check.py` (MirroredStrategy on 2 logical CPUs) and
`torch_ddp_check.py` (DistributedDataParallel, 2 `gloo` processes). The other backends' tests
are skipped.

Semantics checked:
- JAX (GSPMD): the step is the one-device step on the global batch; MinDiff's kernel spans
  all devices' rows.
- TensorFlow (MirroredStrategy): each replica computes the losses on its rows; Keras divides
  each by the number of replicas and sums the gradients. Per-row mean losses (plain, CLP) equal
  one device; MinDiff (the kernel of each replica's MinDiff rows) and backward compatibility
  (the mean over the rows h1 gets right, per replica) equal the documented per-replica
  reference, and differ from one device.
- PyTorch (DDP custom loop): the MinDiff rows are all-gathered, so the loss is the global one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import keras

HERE = Path(__file__).resolve().parent
BACKEND = keras.backend.backend()
TOLERANCE = 1e-5


def _run_check(script, backend):
    if BACKEND != backend:
        pytest.skip(f"runs under KERAS_BACKEND={backend}")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, str(HERE / script)], capture_output=True, text=True, timeout=300,
        env=env, cwd=HERE.parents[1],
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-5000:]
    return json.loads(lines[-1][len("RESULTS "):])


@pytest.fixture(scope="module")
def jax_results():
    return _run_check("jax_data_parallel_check.py", "jax")


@pytest.fixture(scope="module")
def tf_results():
    return _run_check("tf_mirrored_check.py", "tensorflow")


@pytest.fixture(scope="module")
def torch_results():
    return _run_check("torch_ddp_check.py", "torch")


def _assert_logs_close(a, b):
    assert set(a) == set(b)
    for name in a:
        assert abs(a[name][0] - b[name][0]) <= TOLERANCE, (name, a[name], b[name])


# JAX ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "min_diff", "backward_compatibility",
                                  "counterfactual"])
def test_jax_four_devices_train_like_one(jax_results, name):
    result = jax_results[name]
    assert jax_results["devices"] == 4
    assert result["kernel_devices"] == 4  # the variables really live on the 4-device mesh
    assert result["max_weight_difference"] <= TOLERANCE
    _assert_logs_close(result["logs_1"], result["logs_4"])
    assert all(value[0] > 0 for value in result["logs_4"].values())


def test_jax_tf_data_packed_min_diff_trains_like_one_device(jax_results):
    result = jax_results["min_diff_tf_data"]
    assert result["max_weight_difference"] <= TOLERANCE
    _assert_logs_close(result["logs_1"], result["logs_4"])


def test_jax_model_parallel_layout_of_the_original_model_trains_like_one_device(jax_results):
    result = jax_results["min_diff_model_parallel"]
    assert "model" in result["kernel_spec"]  # the kernel really is split
    assert result["max_weight_difference"] <= TOLERANCE
    _assert_logs_close(result["logs_1"], result["logs_4"])


def test_jax_batch_that_devices_cannot_split_is_an_error(jax_results):
    error = jax_results["indivisible_batch_error"]
    assert error is not None and "evenly divide" in error


def test_jax_save_and_load_after_data_parallel_training(jax_results):
    result = jax_results["save_load"]
    assert result["type"] == "MinDiffModel"
    assert result["max_prediction_difference"] == 0.0
    assert result["max_prediction_difference_distributed"] == 0.0
    assert result["trains_after_load"]


# TensorFlow -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "counterfactual"])
def test_tf_mirrored_per_row_losses_train_like_one_device(tf_results, name):
    result = tf_results[name]
    assert tf_results["replicas"] == 2
    assert result["max_weight_difference"] <= TOLERANCE
    _assert_logs_close(result["logs_1"], result["logs_2"])  # incl. CLP's total/original_loss


@pytest.mark.parametrize("name", ["min_diff", "backward_compatibility"])
def test_tf_mirrored_group_losses_are_per_replica_as_documented(tf_results, name):
    result = tf_results[name]
    assert result["max_weight_difference_per_replica_reference"] <= TOLERANCE
    one_device = result.get("max_weight_difference_global_one_device",
                            result.get("max_weight_difference_one_device"))
    assert one_device > 1e-3  # the per-replica loss is not the global one


def test_tf_mirrored_min_diff_replicas_get_both_groups(tf_results):
    result = tf_results["min_diff"]
    assert result["groups_per_replica"] == [[0.0, 1.0], [0.0, 1.0]]
    assert result["weights_moved"] > 1e-2
    assert result["logs"]["min_diff_loss"][0] > 1e-3
    # The logged MinDiff loss is the mean of the replicas' values.
    assert abs(result["logs"]["min_diff_loss"][0] - result["reference_mean_min_diff_loss"]) <= (
        TOLERANCE
    )


def test_tf_mirrored_global_batch_size_is_divided_again_under_fit(tf_results):
    """TF-MR's `global_batch_size` under `fit`: as one device with the weight over replicas."""
    result = tf_results["counterfactual_global_batch_size"]
    assert result["max_weight_difference_weight_over_replicas"] <= TOLERANCE
    assert result["max_weight_difference_one_device"] > 1e-3


def test_tf_save_and_load_after_mirrored_training(tf_results):
    result = tf_results["save_load"]
    assert result["type"] == "MinDiffModel"
    assert result["max_prediction_difference"] == 0.0
    assert result["trains_after_load"]


# PyTorch --------------------------------------------------------------------------------------


def test_torch_ddp_min_diff_step_equals_single_process(torch_results):
    assert torch_results["world_size"] == 2
    assert torch_results["max_weight_difference"] <= TOLERANCE
    assert abs(torch_results["min_diff_loss_ddp"] - torch_results["min_diff_loss_single"]) <= (
        TOLERANCE
    )
    assert torch_results["weights_moved"] > 1e-3
    # Without the all_gather, each rank's kernel sees half the rows: another loss.
    assert torch_results["max_weight_difference_local_kernel"] > 1e-4


def test_torch_save_and_load_after_ddp_training(torch_results):
    assert torch_results["save_load_max_prediction_difference"] == 0.0
