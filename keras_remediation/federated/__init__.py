"""Federated training of Keras models (plain, MinDiff, backward-compatible) on Flower.

`from_keras_model(keras_model, loss, input_spec, loss_weights=None, metrics=None)` follows
TFF's `tff.learning.from_keras_model` and returns a `FederatedModel`: the weights exchange,
one round of local training, evaluation, example counts, and raw metric state that the server
sums over clients and finalises once. `federated.flower` (imported on first use, so importing
this package imports neither Flower nor Ray) builds Flower `ClientApp`s and `ServerApp`s from
it and runs simulations.

Modules:
    model: `from_keras_model`, `FederatedModel`, `FederatedResult`.
    input_spec: normalising and checking `input_spec`.
    losses: checking `loss` / `loss_weights` against the model's outputs.
    metric_state: raw metric state: read, sum, finalise.
    min_diff_data: `pack_client_min_diff_data`, a client's MinDiff packing that tolerates a
        missing group.
    flower: the Flower integration (`client_app`, `server_app`, `run_simulation`, ...).
"""

import importlib

from keras_remediation.federated import input_spec
from keras_remediation.federated import losses
from keras_remediation.federated import metric_state
from keras_remediation.federated import min_diff_data
from keras_remediation.federated import model
from keras_remediation.federated.min_diff_data import pack_client_min_diff_data
from keras_remediation.federated.model import FederatedModel
from keras_remediation.federated.model import FederatedResult
from keras_remediation.federated.model import from_keras_model

__all__ = [
    "FederatedModel",
    "FederatedResult",
    "flower",
    "from_keras_model",
    "input_spec",
    "losses",
    "metric_state",
    "min_diff_data",
    "model",
    "pack_client_min_diff_data",
]


def __getattr__(name):
    # `federated.flower` imports Flower: only when asked for.
    if name == "flower":
        module = importlib.import_module("keras_remediation.federated.flower")
        globals()["flower"] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
