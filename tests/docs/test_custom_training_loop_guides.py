"""The guides of `docs/custom_training_loops/` run, and their models train like MinDiffModel.

Each guide (`tensorflow.md`, `jax.md`, `torch.md`) is executed on its own backend only (the
others are skipped, from `keras.backend.backend()`): its ```python blocks run in order in one
namespace, as a reader would run them. The guides end with their own comparisons; these tests
then check the namespace independently against a `MinDiffModel` trained here with `fit` from the
guide's initial weights, data and SGD optimizer.

What the tests read from a guide's namespace (the guides define these names):
    SEED, EPOCHS, LEARNING_RATE, MIN_DIFF_WEIGHT, BATCH_SIZE, x_train, y_train, sensitive_x,
    train_with_min_diff_ds (packed, shuffle=False), get_model(model_class=...),
    initial_weights, plain_model (trained without MinDiff), CustomModelWithMinDiff,
    custom_model/custom_history (packed-input train_step with fit),
    ReshapedCustomModelWithMinDiff, reshaped_model/reshaped_history (reshaped batches),
    loop_model/loop_history (fully custom loop), min_diff_loss_fn, and on JAX and PyTorch
    build_compiled_loss_and_metrics(model).
The guide-independent checks (files, code blocks, links) run on every backend.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import keras

from guide_runner_testlib import run_blocks
from keras_remediation.min_diff.keras import MinDiffModel
from keras_remediation.min_diff.keras.utils import MinDiffPackedInputs
from keras_remediation.min_diff.losses import MMDLoss

GUIDE_DIR = Path(__file__).resolve().parents[2] / "docs" / "custom_training_loops"
GUIDES = {"tensorflow": "tensorflow.md", "jax": "jax.md", "torch": "torch.md"}
BACKEND = keras.backend.backend()

# APIs each guide must show (the per-backend recipe).
REQUIRED_SNIPPETS = {
    "tensorflow": [
        "tf.GradientTape()", "tape.gradient(", "self.optimizer.apply(", "self.compute_loss(",
    ],
    "jax": [
        "jax.value_and_grad(", "self.stateless_call(", "optimizer.stateless_apply(",
        "stateless_update_state(", "stateless_result(", "def train_step(self, state, data)",
        "jax.jit",
    ],
    "torch": ["loss.backward()", "self.optimizer.apply(", "torch.no_grad()", "self.zero_grad()"],
}
COMMON_SNIPPETS = [
    "pack_min_diff_data(", "unpack_original_inputs(", "unpack_min_diff_data(",
    "unpack_x_y_sample_weight(", '"original_data"', '"min_diff_data"',
    'keras.metrics.Mean(name="min_diff_loss")', "MinDiffModel(",
]


def code_blocks(path):
    """The ```python fenced blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


# ---------------------------------------------------------------------------------------------
# Every backend: the files and their code.


def test_index_links_every_guide():
    index = (GUIDE_DIR / "README.md").read_text(encoding="utf-8")
    for name in GUIDES.values():
        assert f"({name})" in index
    assert "loss(membership, predictions" in index


@pytest.mark.parametrize("backend", sorted(GUIDES))
def test_guide_code_is_complete_python(backend):
    path = GUIDE_DIR / GUIDES[backend]
    blocks = code_blocks(path)
    assert len(blocks) >= 8
    for index, block in enumerate(blocks):
        compile(block, f"{path.name}:block{index + 1}", "exec")  # Syntax only.
    code = "\n".join(blocks)
    assert f'os.environ["KERAS_BACKEND"] = "{backend}"' in blocks[0]
    for snippet in REQUIRED_SNIPPETS[backend] + COMMON_SNIPPETS:
        assert snippet in code, snippet
    # The losses are called membership first, never as in TF Model Remediation's guide.
    assert "min_diff_loss_fn(min_diff_predictions" not in code
    assert "min_diff_loss_fn(\n                membership, min_diff_predictions" in code or (
        "min_diff_loss_fn(\n        membership, min_diff_predictions" in code
    )
    assert "shuffle=False" in code


# ---------------------------------------------------------------------------------------------
# The guide of the current backend, executed.


@pytest.fixture(scope="module")
def guide():
    """The namespace left by running every code block of the current backend's guide."""
    if BACKEND not in GUIDES:
        pytest.skip(f"no guide for the {BACKEND} backend")
    path = GUIDE_DIR / GUIDES[BACKEND]
    return run_blocks(code_blocks(path), str(path), f"custom_training_loop_guide_{BACKEND}")


@pytest.fixture(scope="module")
def reference(guide):
    """`MinDiffModel.fit` from the guide's initial weights, batches (in order) and optimizer."""
    keras.utils.set_random_seed(guide["SEED"])
    model = MinDiffModel(guide["get_model"](), MMDLoss(), loss_weight=guide["MIN_DIFF_WEIGHT"])
    model.original_model.set_weights(guide["initial_weights"])
    model.compile(
        optimizer=keras.optimizers.SGD(guide["LEARNING_RATE"]), loss="binary_crossentropy"
    )
    history = model.fit(
        guide["train_with_min_diff_ds"], epochs=guide["EPOCHS"], shuffle=False, verbose=0
    )
    return model, history.history


def assert_trains_like(model, logs, reference):
    reference_model, reference_logs = reference
    ours, theirs = model.get_weights(), reference_model.original_model.get_weights()
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for name in ("loss", "min_diff_loss"):
        assert len(logs[name]) == len(reference_logs[name])
        np.testing.assert_allclose(logs[name], reference_logs[name], rtol=1e-4, atol=1e-6)


def test_packed_train_step_matches_min_diff_model_fit(guide, reference):
    model = guide["custom_model"]
    assert type(model) is guide["CustomModelWithMinDiff"]
    assert "train_step" in vars(guide["CustomModelWithMinDiff"])
    assert_trains_like(model, guide["custom_history"].history, reference)


def test_reshaped_train_step_matches_min_diff_model_fit(guide, reference):
    model = guide["reshaped_model"]
    assert type(model) is guide["ReshapedCustomModelWithMinDiff"]
    assert_trains_like(model, guide["reshaped_history"].history, reference)


def test_custom_loop_matches_min_diff_model_fit(guide, reference):
    model = guide["loop_model"]
    assert type(model).train_step is keras.Model.train_step  # Trained without fit.
    assert_trains_like(model, guide["loop_history"], reference)


def test_min_diff_changes_training_and_is_reported(guide, reference):
    """Sanity: the MinDiff term is not a no-op (else a no-op on both sides would match)."""
    history = guide["custom_history"].history
    assert set(history) == {"loss", "min_diff_loss"}
    assert all(value > 1e-3 for value in history["min_diff_loss"])
    assert all(np.isfinite(history["loss"]))
    differences = [
        np.max(np.abs(a - b))
        for a, b in zip(guide["custom_model"].get_weights(), guide["plain_model"].get_weights())
    ]
    assert max(differences) > 1e-3
    # The weighted MinDiff loss is part of the reported loss.
    assert history["loss"][0] > history["min_diff_loss"][0]


class _OneBadBatch(keras.utils.PyDataset):
    """One packed batch whose MinDiff membership is 0.5: built by hand, past the packers."""

    def __init__(self, guide):
        super().__init__()
        x = guide["x_train"][: guide["BATCH_SIZE"]]
        y = guide["y_train"][: guide["BATCH_SIZE"]]
        min_diff_x = guide["sensitive_x"][:8]
        membership = np.full((8, 1), 0.5, "float32")
        weight = np.ones((8, 1), "float32")
        self.batch = (MinDiffPackedInputs(x, (min_diff_x, membership, weight)), y)

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.batch


def _bad_membership_model(guide, run_eagerly):
    model = guide["get_model"](model_class=guide["CustomModelWithMinDiff"])
    model.compile(optimizer="sgd", loss="binary_crossentropy", run_eagerly=run_eagerly)
    if "build_compiled_loss_and_metrics" in guide:
        guide["build_compiled_loss_and_metrics"](model)
    return model


def test_bad_membership_inside_fit_behaves_as_the_guides_say(guide):
    """Eager steps raise ValueError; compiled ones: TF graph assertion, nothing under JAX jit."""
    eager = _bad_membership_model(guide, run_eagerly=True)
    with pytest.raises(ValueError, match="membership"):
        eager.fit(_OneBadBatch(guide), epochs=1, verbose=0)

    compiled = _bad_membership_model(guide, run_eagerly=False)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with pytest.raises(tf.errors.InvalidArgumentError, match="membership"):
            compiled.fit(_OneBadBatch(guide), epochs=1, verbose=0)
    elif BACKEND == "jax":
        history = compiled.fit(_OneBadBatch(guide), epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][0])  # No check can raise under jit.
    else:  # PyTorch's fit runs eagerly by default.
        with pytest.raises(ValueError, match="membership"):
            compiled.fit(_OneBadBatch(guide), epochs=1, verbose=0)


def test_packed_model_with_compiled_metrics_fits_after_the_guides_build_step(guide):
    """With `metrics=[...]`, the guide's build step must build the metrics too (JAX, PyTorch)."""
    model = guide["get_model"](model_class=guide["CustomModelWithMinDiff"])
    model.set_weights(guide["initial_weights"])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    if "build_compiled_loss_and_metrics" in guide:
        guide["build_compiled_loss_and_metrics"](model)
    history = model.fit(guide["train_with_min_diff_ds"], epochs=1, verbose=0, shuffle=False)
    assert 0.0 <= history.history["accuracy"][0] <= 1.0
    assert history.history["min_diff_loss"][0] > 0
