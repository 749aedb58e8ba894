"""The ClientApp: local training and evaluation of the app's model on the node's partition."""

from keras_remediation.federated import flower

from adult_federated_app.task import data_fn
from adult_federated_app.task import model_fn

app = flower.client_app(model_fn, data_fn)
