"""With `jit_compile=True`, every wrapper's train step compiles during the first steps only.

A step that is traced again for every batch (a guard on a Python value that changes from step
to step, a tensor of the previous step kept as an input) costs a compilation per step:
`torch.compile` recompiled MinDiffModel's step on every batch until its cache limit, then ran
it eagerly. Counted here: JAX and TensorFlow, the Python executions of `train_step` (one per
trace); PyTorch, the graphs Dynamo compiles (`torch._dynamo.utils.counters`), with Dynamo's
`eager` backend so that the test does not wait for Inductor (the guards are the same). The
first two steps may compile (PyTorch guards on gradients being None before the first update,
for the plain model too); the next ones must not.
"""

import numpy as np
import pytest
import keras

from keras_remediation import counterfactual
from keras_remediation import min_diff
from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel
from tiny_model_testlib import tiny_arrays, tiny_model

ROWS, FEATURES, BATCH = 64, 4, 8
WARM_STEPS, MORE_STEPS = 2, 4


def _model(outputs=1, activation="sigmoid"):
    return tiny_model(FEATURES, outputs, activation)


def _arrays():
    return tiny_arrays(ROWS, FEATURES)


def _plain():
    x, y = _arrays()
    return _model(), "binary_crossentropy", (x, y)


def _min_diff():
    x, y = _arrays()
    data = min_diff.keras.utils.pack_min_diff_data(
        (x, y), x[:32], x[32:], batch_size=BATCH, min_diff_batch_size=4, seed=0
    )
    return min_diff.keras.MinDiffModel(_model(), "mmd"), "binary_crossentropy", (data,)


def _counterfactual():
    x, y = _arrays()
    x_cf = x.copy()
    x_cf[:, 0] = -x_cf[:, 0]
    data = counterfactual.keras.utils.pack_counterfactual_data(
        (x, y), (x, x_cf), batch_size=BATCH, seed=0
    )
    model = counterfactual.keras.CounterfactualModel(_model())
    return model, "binary_crossentropy", (data,)


def _backward_compatibility():
    x, _ = _arrays()
    labels = np.random.default_rng(1).integers(0, 3, size=(ROWS,)).astype("int32")
    model = BCNewErrorCompatibilityModel(
        _model(3, "softmax"), h1=_model(3, "softmax"), lambda_c=1.0
    )
    return model, "sparse_categorical_crossentropy", (x, labels)


@pytest.fixture
def compile_counter(monkeypatch):
    """A function returning the number of compilations so far (see the module docstring)."""
    if keras.backend.backend() == "torch":
        import torch
        import torch._dynamo

        compile_ = torch.compile
        monkeypatch.setattr(
            torch, "compile", lambda fn=None, **kwargs: compile_(fn, backend="eager", **kwargs)
        )
        torch._dynamo.reset()
        return lambda model: torch._dynamo.utils.counters["stats"]["unique_graphs"]

    def count(model):
        return model._test_traces

    return count


def _count_traces(model):
    """Counts Python executions of `model.train_step` in `model._test_traces` (JAX, TF)."""
    model._test_traces = 0
    if keras.backend.backend() == "torch":
        return
    step = model.train_step

    def train_step(*args):
        model._test_traces += 1
        return step(*args)

    model.train_step = train_step


@pytest.mark.parametrize(
    "build",
    [_plain, _min_diff, _counterfactual, _backward_compatibility],
    ids=["plain", "MinDiffModel", "CounterfactualModel", "BCNewErrorCompatibilityModel"],
)
def test_train_step_compiles_only_in_the_first_steps(build, compile_counter):
    keras.utils.set_random_seed(0)
    model, loss, data = build()
    model.compile(optimizer="adam", loss=loss, jit_compile=True)
    _count_traces(model)
    kwargs = {"batch_size": BATCH} if len(data) == 2 else {}
    weights = [np.array(w) for w in model.trainable_weights]
    model.fit(*data, epochs=1, steps_per_epoch=WARM_STEPS, verbose=0, **kwargs)
    warm = compile_counter(model)
    assert warm > 0  # the counter sees compilations
    model.fit(*data, epochs=1, steps_per_epoch=MORE_STEPS, verbose=0, **kwargs)
    assert compile_counter(model) == warm
    # The compiled steps trained the model.
    assert any(
        not np.allclose(before, np.array(after))
        for before, after in zip(weights, model.trainable_weights)
    )


def _min_diff_graph_breaks(loss):
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    keras.utils.set_random_seed(0)
    _, _, (data,) = _min_diff()
    model = min_diff.keras.MinDiffModel(_model(), loss)
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=True)
    model.fit(data, epochs=1, steps_per_epoch=WARM_STEPS, verbose=0)
    return sum(torch._dynamo.utils.counters["graph_break"].values())


def test_random_features_estimator_breaks_no_more_graphs_than_the_matrix(compile_counter):
    # Its frequencies, drawn with NumPy, are kept as a tensor by the eager call that Keras
    # makes before compiling: the compiled step reads them and is not split where they are
    # drawn (15 more graph breaks before they were kept).
    if keras.backend.backend() != "torch":
        pytest.skip("graph breaks are a torch.compile notion")
    quadratic = _min_diff_graph_breaks(min_diff.losses.MMDLoss())
    random_features = _min_diff_graph_breaks(
        min_diff.losses.MMDLoss(estimator="random_features", num_features=16)
    )
    assert random_features == quadratic
