"""The ServerApp: FedAvg weighted by example count, metrics pooled from raw state, failures
counted per round, the global model evaluated on the test split after each round."""

from keras_remediation.federated import flower

from adult_federated_app.task import model_fn
from adult_federated_app.task import test_data

app = flower.server_app(model_fn, central_data_fn=test_data, fraction_evaluate=0.0)
