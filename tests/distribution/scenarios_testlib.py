"""Tiny seeded training runs of every technique, shared by the per-engine distribution checks.

Each scenario builds its model and its data (arrays packed by the technique's packer, whose
rows are shuffled with `seed=None`, so the shuffle follows `keras.utils.set_random_seed`),
trains one epoch with SGD and returns the trained wrapper and its history. Packed batches are
fitted with `shuffle=False`: Keras's `fit` would otherwise also shuffle the order of a
PyDataset's batches with Python's `random`, whose state the engines' setup may consume
differently (seen with TensorFlow's MirroredStrategy). The engine scripts run a scenario on one
device and on several and compare.
"""

import numpy as np
import keras

from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from keras_remediation.counterfactual.keras import CounterfactualModel
from keras_remediation.counterfactual.keras.utils import pack_counterfactual_data
from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import pack_min_diff_data
from keras_remediation.min_diff.losses import MMDLoss

SEED = 7
ROWS, FEATURES = 64, 4
BATCH_SIZE = 16  # divisible by 1, 2 and 4 devices
LEARNING_RATE = 0.2


def arrays():
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(ROWS, FEATURES)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(ROWS, 1)) > 0).astype("float32")
    sensitive = rng.normal(0.8, 1.0, size=(32, FEATURES)).astype("float32")
    nonsensitive = rng.normal(-0.2, 1.0, size=(32, FEATURES)).astype("float32")
    return x, y, sensitive, nonsensitive


def binary_model(hidden=8):
    return keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Dense(hidden, activation="relu", name="hidden"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])


def _compile(model):
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="binary_crossentropy")
    return model


def plain():
    x, y, _, _ = arrays()
    model = _compile(binary_model())
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    return model, history.history


def min_diff_data(batch_size=BATCH_SIZE, min_diff_batch_size=8):
    x, y, sensitive, nonsensitive = arrays()
    return pack_min_diff_data(
        (x, y), sensitive, nonsensitive, batch_size=batch_size,
        min_diff_batch_size=min_diff_batch_size,
    )


def min_diff(data=None, hidden=8):
    model = _compile(MinDiffModel(binary_model(hidden), MMDLoss("gaussian"), loss_weight=2.0))
    data = min_diff_data() if data is None else data
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    return model, history.history


def bc_h1():
    """A fixed deployed model h1 (right on some rows, wrong on others)."""
    h1 = binary_model(hidden=4)
    h1.set_weights([np.full_like(w, 0.1) for w in h1.get_weights()])
    return h1


def backward_compatibility():
    """BC on batches in order (`shuffle=False`), so a reference can replay them."""
    x, y, _, _ = arrays()
    h1 = bc_h1()
    model = _compile(BCNewErrorCompatibilityModel(binary_model(), h1=h1, lambda_c=1.0))
    history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0, shuffle=False)
    return model, history.history


def counterfactual():
    x, y, _, _ = arrays()
    counterfactual_x = x.copy()
    counterfactual_x[:, 0] = -counterfactual_x[:, 0]
    data = pack_counterfactual_data((x, y), (x, counterfactual_x), batch_size=BATCH_SIZE)
    model = _compile(CounterfactualModel(binary_model(), loss="pairwise_mse_loss", loss_weight=2.0))
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    return model, history.history


SCENARIOS = {
    "plain": plain,
    "min_diff": min_diff,
    "backward_compatibility": backward_compatibility,
    "counterfactual": counterfactual,
}


def run(name, context, **kwargs):
    """`(model, weights, history)` of scenario `name`, seeded, built and trained in `context`.

    `weights` are the trained (original) model's, as NumPy arrays.
    """
    keras.utils.set_random_seed(SEED)
    with context:
        model, history = SCENARIOS[name](**kwargs)
    trained = getattr(model, "original_model", model)
    return model, [np.asarray(w) for w in trained.get_weights()], history


def max_difference(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))
