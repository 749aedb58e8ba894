"""MinDiff in a custom loop with torch DistributedDataParallel, 2 `gloo` CPU processes.

Run as a script (the test starts it in a subprocess); it spawns the two ranks. Each rank takes
its half of every global batch (original rows and MinDiff rows: with the packer's layout, rank
0 gets the sensitive rows and rank 1 the others). The MinDiff predictions, membership and
weights are all-gathered, so the kernel spans both ranks' rows (global semantics); DDP
averages the gradients. The result is compared with one process training on the global batches,
and with the same DDP loop without the all-gather (each rank's own rows: another loss).
Prints one JSON line `RESULTS {...}`.
"""

import json
import os
import socket
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.distributed.nn.functional as dist_functional  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402
import keras  # noqa: E402

import scenarios_testlib as scenarios  # noqa: E402
from keras_remediation.min_diff.keras.utils import unpack_min_diff_data  # noqa: E402
from keras_remediation.min_diff.keras.utils import unpack_original_inputs  # noqa: E402
from keras_remediation.min_diff.keras.utils import unpack_x_y_sample_weight  # noqa: E402
from keras_remediation.min_diff.losses import MMDLoss  # noqa: E402

WORLD_SIZE = 2
MIN_DIFF_WEIGHT = 2.0


def global_batches():
    """The packed batches `(x, y, min_diff_x, membership, min_diff_weight)`, in order."""
    keras.utils.set_random_seed(scenarios.SEED)
    dataset = scenarios.min_diff_data()
    batches = []
    for index in range(len(dataset)):
        inputs, y = unpack_x_y_sample_weight(dataset[index])[:2]
        min_diff_x, membership, weight = unpack_x_y_sample_weight(unpack_min_diff_data(inputs))
        weight = np.ones_like(membership) if weight is None else weight
        batches.append((unpack_original_inputs(inputs), y, min_diff_x, membership, weight))
    return batches


def initial_model():
    keras.utils.set_random_seed(scenarios.SEED)
    return scenarios.binary_model()


def train(model, batches, rank=0, world_size=1, gather=True):
    """SGD on `batches`; with `world_size > 1`, this rank's rows of each, through DDP."""
    forward = DistributedDataParallel(model) if world_size > 1 else model
    optimizer = keras.optimizers.SGD(scenarios.LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    loss_fn, min_diff_loss_fn = keras.losses.BinaryCrossentropy(), MMDLoss("gaussian")
    min_diff_losses = []
    for batch in batches:
        x, y, min_diff_x, membership, weight = [
            torch.as_tensor(np.array_split(part, world_size)[rank]) for part in batch
        ]
        model.zero_grad()
        # One forward pass on original and MinDiff rows together (DDP expects one per step).
        predictions = forward(torch.cat([x, min_diff_x]), training=True)
        y_pred, min_diff_predictions = predictions[: len(x)], predictions[len(x):]
        loss = loss_fn(y, y_pred)  # mean over this rank's rows; DDP averages the gradients
        if world_size > 1 and gather:
            # Autograd-aware gather: its backward sums the ranks' gradients, which DDP's
            # average then divides back, so the kernel's gradient is the global one.
            min_diff_predictions = torch.cat(dist_functional.all_gather(min_diff_predictions))
            membership, weight = (torch.cat(dist_functional.all_gather(t))
                                  for t in (membership, weight))
        min_diff_loss = MIN_DIFF_WEIGHT * min_diff_loss_fn(
            membership, min_diff_predictions, weight)
        (loss + min_diff_loss).backward()
        gradients = [variable.value.grad for variable in model.trainable_variables]
        with torch.no_grad():
            optimizer.apply(gradients, model.trainable_variables)
        min_diff_losses.append(float(min_diff_loss.detach()))
    return min_diff_losses


def worker(rank, port, directory):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        results = {}
        for gather in (True, False):
            model = initial_model()
            min_diff_losses = train(model, global_batches(), rank, WORLD_SIZE, gather)
            results[gather] = (model, min_diff_losses)
        if rank == 0:
            model, min_diff_losses = results[True]
            model.save(os.path.join(directory, "ddp.keras"))
            np.savez(os.path.join(directory, "ddp.npz"),
                     *[np.asarray(w) for w in model.get_weights()])
            np.savez(os.path.join(directory, "local.npz"),
                     *[np.asarray(w) for w in results[False][0].get_weights()])
            with open(os.path.join(directory, "ddp.json"), "w") as file:
                json.dump({"min_diff_losses": min_diff_losses}, file)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _weights(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def main():
    with tempfile.TemporaryDirectory() as directory:
        mp.spawn(worker, args=(_free_port(), directory), nprocs=WORLD_SIZE, join=True)
        ddp, local = _weights(f"{directory}/ddp.npz"), _weights(f"{directory}/local.npz")
        with open(f"{directory}/ddp.json") as file:
            ddp_losses = json.load(file)["min_diff_losses"]
        loaded = keras.saving.load_model(f"{directory}/ddp.keras")

    single_model = initial_model()
    initial = [np.asarray(w) for w in single_model.get_weights()]
    single_losses = train(single_model, global_batches())
    single = [np.asarray(w) for w in single_model.get_weights()]
    x = scenarios.arrays()[0]
    reference = scenarios.binary_model()
    reference.set_weights(ddp)
    print("RESULTS " + json.dumps({
        "world_size": WORLD_SIZE,
        "max_weight_difference": scenarios.max_difference(ddp, single),
        "max_weight_difference_local_kernel": scenarios.max_difference(local, single),
        "min_diff_loss_ddp": float(np.mean(ddp_losses)),
        "min_diff_loss_single": float(np.mean(single_losses)),
        "weights_moved": scenarios.max_difference(single, initial),
        "save_load_max_prediction_difference": float(np.max(np.abs(
            np.asarray(loaded.predict(x, verbose=0)) - np.asarray(reference.predict(x, verbose=0))
        ))),
    }))


if __name__ == "__main__":
    main()
