"""`docs/custom_training_loops/backward_compatibility.md` runs, and trains like the BC wrapper.

The guide is one document for every backend: its plain ```python blocks run on every backend,
its ```python tensorflow / ```python jax / ```python torch blocks only on that backend (from
`keras.backend.backend()`). The blocks selected for the current backend run in order in one
namespace, as a reader would run them; the guide ends with its own comparison against
`BCNewErrorCompatibilityModel.fit`. These tests then check the namespace independently against
a wrapper trained here with `fit` from the guide's initial weights, data order and SGD.

Names read from the guide's namespace: SEED, EPOCHS, LEARNING_RATE, LAMBDA_C, BATCH_SIZE,
BASE_LOSS, x_train, y_train, h1, get_model, initial_weights, CompatibleModel, custom_model,
custom_history.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import keras

from guide_runner_testlib import run_blocks
from keras_remediation.backward_compatibility import BCNewErrorCompatibilityModel

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "custom_training_loops" / (
    "backward_compatibility.md"
)
BACKENDS = ("tensorflow", "jax", "torch")
BACKEND = keras.backend.backend()

REQUIRED_SNIPPETS = {
    "tensorflow": ["tf.GradientTape()", "tape.gradient(", "self.optimizer.apply("],
    "jax": [
        "jax.value_and_grad(", "self.stateless_call(", "optimizer.stateless_apply(",
        "def train_step(self, state, data)", "stateless_update_state(",
    ],
    "torch": ["loss.backward()", "torch.no_grad()", "self.zero_grad()", "self.optimizer.apply("],
}


def code_blocks(path=GUIDE):
    """`(backend or None, code)` of each ```python block, in order; None: every backend."""
    return [
        (tag or None, code)
        for tag, code in re.findall(
            r"^```python(?: (\w+))?\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M
        )
    ]


def blocks_for(backend):
    return [code for tag, code in code_blocks() if tag in (None, backend)]


# ---------------------------------------------------------------------------------------------
# Every backend: the file and its code.


def test_index_links_the_guide():
    index = (GUIDE.parent / "README.md").read_text(encoding="utf-8")
    assert f"({GUIDE.name})" in index


def test_guide_blocks_are_shared_or_per_backend():
    tags = [tag for tag, _ in code_blocks()]
    assert set(tags) <= {None, *BACKENDS}, tags
    for backend in BACKENDS:
        assert tags.count(backend) >= 1, backend
    assert tags[0] is None and tags[-1] is None  # Shared setup, shared check.


@pytest.mark.parametrize("backend", BACKENDS)
def test_guide_code_is_complete_python(backend):
    blocks = blocks_for(backend)
    for index, block in enumerate(blocks):
        compile(block, f"{GUIDE.name}:{backend}:block{index + 1}", "exec")  # Syntax only.
    code = "\n".join(blocks)
    for snippet in REQUIRED_SNIPPETS[backend] + [
        "new_error_dissonance(", "h1(x, training=False)", "ops.stop_gradient(",
        "LAMBDA_C * dissonance", "BCNewErrorCompatibilityModel(get_model(), h1=h1",
        "shuffle=False", 'keras.metrics.Mean(name="dissonance")',
    ]:
        assert snippet in code, snippet
    # The code of the other backends is not part of this backend's run.
    for other in set(BACKENDS) - {backend}:
        for snippet in REQUIRED_SNIPPETS[other]:
            if snippet not in "\n".join(REQUIRED_SNIPPETS[backend]):
                assert snippet not in code, (other, snippet)


# ---------------------------------------------------------------------------------------------
# The guide, executed on the current backend.


@pytest.fixture(scope="module")
def guide():
    """The namespace left by running the guide's shared blocks and the current backend's."""
    if BACKEND not in BACKENDS:
        pytest.skip(f"the guide has no code for the {BACKEND} backend")
    return run_blocks(
        blocks_for(BACKEND), f"{GUIDE}:{BACKEND}", f"backward_compatibility_guide_{BACKEND}"
    )


@pytest.fixture(scope="module")
def reference(guide):
    """`BCNewErrorCompatibilityModel.fit` from the guide's weights, batches (in order) and SGD."""
    keras.utils.set_random_seed(guide["SEED"])
    model = BCNewErrorCompatibilityModel(
        guide["get_model"](), h1=guide["h1"], lambda_c=guide["LAMBDA_C"]
    )
    model.original_model.set_weights(guide["initial_weights"])
    model.compile(optimizer=keras.optimizers.SGD(guide["LEARNING_RATE"]), loss=guide["BASE_LOSS"])
    history = model.fit(
        guide["x_train"], guide["y_train"], batch_size=guide["BATCH_SIZE"],
        epochs=guide["EPOCHS"], shuffle=False, verbose=0,
    )
    return model, history.history


def test_custom_train_step_matches_bc_model_fit(guide, reference):
    model, logs = guide["custom_model"], guide["custom_history"].history
    assert type(model) is guide["CompatibleModel"]
    assert "train_step" in vars(guide["CompatibleModel"])
    reference_model, reference_logs = reference
    ours, theirs = model.get_weights(), reference_model.original_model.get_weights()
    assert len(ours) == len(theirs) == 4  # h1 is not part of the custom model.
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert set(logs) == {"loss", "dissonance"}
    for name in ("loss", "dissonance"):
        assert len(logs[name]) == len(reference_logs[name]) == guide["EPOCHS"]
        np.testing.assert_allclose(logs[name], reference_logs[name], rtol=1e-4, atol=1e-6)


def test_dissonance_changes_training(guide):
    """Sanity: the dissonance term is not a no-op (else a no-op on both sides would match)."""
    h1 = guide["h1"]
    x, y = guide["x_train"], guide["y_train"]
    correct = np.argmax(np.asarray(keras.ops.convert_to_numpy(h1(x, training=False))), -1) == y
    assert 0.2 < correct.mean() < 0.95  # h1 right on some rows, not all.
    logs = guide["custom_history"].history
    assert all(value > 1e-3 for value in logs["dissonance"])

    plain = guide["get_model"]()
    plain.set_weights(guide["initial_weights"])
    plain.compile(optimizer=keras.optimizers.SGD(guide["LEARNING_RATE"]), loss=guide["BASE_LOSS"])
    plain.fit(x, y, batch_size=guide["BATCH_SIZE"], epochs=guide["EPOCHS"], shuffle=False,
              verbose=0)
    differences = [
        np.max(np.abs(a - b))
        for a, b in zip(guide["custom_model"].get_weights(), plain.get_weights())
    ]
    assert max(differences) > 1e-3


def test_h1_is_unchanged_by_the_custom_training(guide):
    """The custom step never updates h1 (only h2's trainable variables get gradients)."""
    h1 = guide["h1"]
    assert not h1.trainable
    assert not any(
        variable is h1_variable
        for variable in guide["custom_model"].trainable_variables
        for h1_variable in h1.variables
    )
