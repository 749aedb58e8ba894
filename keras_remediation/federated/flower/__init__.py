"""Flower integration (imports `flwr`; `keras_remediation.federated` imports it only on use).

Build the apps of a Flower project from a `FederatedModel` factory and a partition function:

    from keras_remediation import federated
    from keras_remediation.federated import flower

    def model_fn():
        return federated.from_keras_model(build_model(), loss="binary_crossentropy",
                                          input_spec=(x[:1], y[:1]), metrics=["accuracy"])

    def data_fn(partition_id, num_partitions):
        return x_parts[partition_id], y_parts[partition_id]

    clientapp = flower.client_app(model_fn, data_fn, local_epochs=1, batch_size=32)
    serverapp = flower.server_app(model_fn, num_rounds=5)       # FedAvg by example count
    flower.run_simulation(serverapp, clientapp, num_clients=10)  # Ray; or engine="inprocess"

Modules:
    client: `client_app`, `ClientData`.
    server: `server_app`, `FederatedRun`.
    strategy: `FederatedStrategy` (raw-state metrics, failure counts), `FederatedHistory`,
        `RoundRecord`, `ClientFailureError`.
    simulation: `run_simulation` (Ray or in-process), `InProcessGrid`, `run_on_grid`.
    records: weights and results as Flower `ArrayRecord`s and `MetricRecord`s.
"""

from keras_remediation.federated.flower import client
from keras_remediation.federated.flower import records
from keras_remediation.federated.flower import server
from keras_remediation.federated.flower import simulation
from keras_remediation.federated.flower import strategy
from keras_remediation.federated.flower.client import ClientData
from keras_remediation.federated.flower.client import client_app
from keras_remediation.federated.flower.server import FederatedRun
from keras_remediation.federated.flower.server import server_app
from keras_remediation.federated.flower.simulation import InProcessGrid
from keras_remediation.federated.flower.simulation import run_on_grid
from keras_remediation.federated.flower.simulation import run_simulation
from keras_remediation.federated.flower.strategy import ClientFailureError
from keras_remediation.federated.flower.strategy import FederatedHistory
from keras_remediation.federated.flower.strategy import FederatedStrategy
from keras_remediation.federated.flower.strategy import RoundRecord

__all__ = [
    "ClientData",
    "ClientFailureError",
    "FederatedHistory",
    "FederatedRun",
    "FederatedStrategy",
    "InProcessGrid",
    "RoundRecord",
    "client",
    "client_app",
    "records",
    "run_on_grid",
    "run_simulation",
    "server",
    "server_app",
    "simulation",
    "strategy",
]
