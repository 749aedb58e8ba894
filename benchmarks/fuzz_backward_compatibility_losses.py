"""Fuzz of the backward-compatibility losses and scores: random, often bad, inputs.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/fuzz_backward_compatibility_losses.py --cases 1000

Three cases in four draw one of the eight loss objects (new error: `BCCrossEntropyLoss`,
`BCBinaryCrossEntropyLoss`, `BCNLLLoss`, `BCKLDivLoss`; strict imitation: their
`BCStrictImitation*` twins), built with a fuzzed `lambda_c` and `from_logits`, and evaluate
`loss_and_dissonance(y, h2_output, h1_output, sample_weight)` (the total), the entry point of
`helpers.bc_fit` and of custom steps that have run both models. The other cases draw
`trust_compatibility_score` or `error_compatibility_score` (with fuzzed `threshold`,
`zero_division`, `normalize_by`).

Inputs mix valid and bad values: outputs with NaN, ±inf, 1e30 and other special values,
negative probabilities, probabilities not summing to 1, float16/32/64 and int32 dtypes, empty
batches, h1/h2 shapes that differ, labels out of range, fractional, NaN or of another length,
weights negative, NaN, infinite, zero, scalar or of a wrong shape, `lambda_c` negative, NaN,
infinite or a string, and arguments of a non-numeric type (None, strings, dicts, objects).
Eagerly the call must either return a finite value (for the losses with a finite gradient
w.r.t. `h2_output`) or raise ValueError/TypeError naming an argument ("`arg` must …"); see
`fuzz_lib` for the failure kinds reported.

With `--compiled` only the loss cases run, inside `tf.function` / `jax.jit` (PyTorch skipped):
non-finite `h2_output` must give NaN/inf or an error; NaN/inf in `h1_output`, the labels or the
weights, and negative weights, are not checkable there (counted apart); any other NaN/inf loss
is a finding.
"""

import sys

import numpy as np
import keras

from fuzz_lib import SPECIAL
from fuzz_lib import Case
from fuzz_lib import Compiled
from fuzz_lib import draw_weights
from fuzz_lib import main
from fuzz_lib import non_finite
from keras_remediation.backward_compatibility import losses
from keras_remediation.backward_compatibility import scores

LOSSES = {
    "ce": losses.BCCrossEntropyLoss,
    "bce": losses.BCBinaryCrossEntropyLoss,
    "nll": losses.BCNLLLoss,
    "kl": losses.BCKLDivLoss,
    "si_ce": losses.BCStrictImitationCrossEntropyLoss,
    "si_bce": losses.BCStrictImitationBinaryCrossEntropyLoss,
    "si_nll": losses.BCStrictImitationNLLLoss,
    "si_kl": losses.BCStrictImitationKLDivLoss,
}
# The loss objects only need h2 to be a keras.Model and h1 a callable: the fuzz passes outputs.
_H2 = keras.Sequential([keras.layers.Identity()])


def _h1(x, training=False):
    return x


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{value.shape}"
    return type(value).__name__


def _outputs(rng, shape, dtype, from_logits, binary, notes, name):
    """Probabilities (softmax/sigmoid), or logits, of `shape`, often with a bad value."""
    logits = rng.normal(size=shape) * rng.choice([1.0, 1.0, 5.0, 1e3])
    with np.errstate(over="ignore"):
        sigmoid = 1.0 / (1.0 + np.exp(-logits))
    if from_logits:
        values = logits
    elif binary:
        values = sigmoid
    else:
        values = np.exp(logits - logits.max(axis=-1, keepdims=True)) if logits.size else logits
        values = values / values.sum(axis=-1, keepdims=True) if values.size else values
    kind = rng.random()
    if values.size and kind < 0.1 and not from_logits:
        values = rng.uniform(0, 2, size=shape)
        notes.append(f"{name} not summing to 1")
    elif values.size and kind < 0.15 and not from_logits:
        values.flat[rng.integers(values.size)] = -0.3
        notes.append(f"{name} negative probability")
    if values.size and rng.random() < 0.25:
        value = SPECIAL[rng.integers(len(SPECIAL))]
        values.flat[rng.integers(values.size)] = value
        notes.append(f"{name} {value}")
    if dtype == "int32":
        values = np.clip(np.nan_to_num(np.round(values)), -2e9, 2e9)
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(dtype)


def _labels(rng, n, classes, binary, notes, name="y"):
    """Labels for `n` examples: class indices `[n]`/`[n, 1]`, one-hot, or binary; often bad."""
    if binary:
        labels = rng.integers(0, 2, size=(n, classes)).astype("float32")
    else:
        form = rng.random()
        labels = rng.integers(0, classes, size=n)
        if form < 0.3:
            labels = np.eye(classes, dtype="float32")[labels]
        elif form < 0.45:
            labels = labels.reshape(-1, 1)
        labels = labels.astype(str(rng.choice(["int32", "int64", "float32"])))
    kind = rng.random()
    if labels.size and kind < 0.25:
        labels = labels.astype("float32")
        value = rng.choice([np.nan, np.inf, -1.0, float(classes), 0.5, 7.0, 1e30])
        labels.flat[rng.integers(labels.size)] = value
        notes.append(f"{name} {value}")
    elif kind < 0.3:
        labels = np.concatenate([labels, labels[:1] if len(labels) else labels]) \
            if len(labels) else np.zeros((1,) + labels.shape[1:], labels.dtype)
        notes.append(f"{name} length differs")
    return labels


def _garbage(rng, n, like):
    options = [None, "0.5", {"p": like}, object(), np.array(["a"] * max(n, 1)),
               [[1.0, 2.0], [3.0]]]
    return options[rng.integers(len(options))]


def _draw_loss(rng):
    name = str(rng.choice(list(LOSSES)))
    binary = name.endswith("bce")
    n = int(rng.choice([0, 1, 2, 3, 5, 8]))
    classes = int(rng.choice([1, 1, 2])) if binary else int(rng.choice([2, 3, 4]))
    from_logits = bool(rng.random() < 0.25)
    dtype = str(rng.choice(["float32", "float32", "float64", "float16", "int32"]))
    notes = []
    h2_output = _outputs(rng, (n, classes), dtype, from_logits, binary, notes, "h2_output")
    h1_shape = (n, classes)
    if rng.random() < 0.08:
        h1_shape = (n + 1, classes) if rng.random() < 0.5 else (n, classes + 1)
        notes.append("h1/h2 shapes differ")
    h1_output = _outputs(rng, h1_shape, dtype, from_logits, binary, notes, "h1_output")
    labels = _labels(rng, n, classes, binary, notes)
    weights = draw_weights(rng, n, ["float32", "float64"], notes, column=0.2)
    lambda_c = rng.choice([0.0, 0.5, 1.0, 3.0])
    if rng.random() < 0.08:
        lambda_c = [-1.0, np.nan, np.inf, "1", None, True][rng.integers(6)]
        notes.append(f"lambda_c {lambda_c!r}")
    args = [h2_output, h1_output, labels, weights]
    if rng.random() < 0.08:
        target = int(rng.integers(4))
        args[target] = _garbage(rng, n, args[0])
        notes.append(f"{('h2_output', 'h1_output', 'y', 'sample_weight')[target]} "
                     f"{type(args[target]).__name__}")
    loss_class = LOSSES[name]

    def loss(h2, h1, y, w):
        bc_loss = loss_class(_h1, _H2, lambda_c, from_logits=from_logits)
        return bc_loss.loss_and_dissonance(y, h2, h1, w)[0]

    description = (f"h2 {_describe(args[0])} h1 {_describe(args[1])} y {_describe(args[2])} "
                   f"w {_describe(args[3])} lambda_c={lambda_c!r} from_logits={from_logits} "
                   f"{'; '.join(notes)}")
    return Case(label=f"{name}: {description}", loss=loss, args=tuple(args), wrt=0)


def _draw_score(rng):
    name = str(rng.choice(["trust", "error"]))
    n = int(rng.choice([0, 1, 2, 3, 5, 8]))
    classes = int(rng.choice([1, 2, 3]))
    notes = []

    def output(arg_name):
        form = rng.random()
        if form < 0.3:
            values = rng.integers(0, max(classes, 2), size=n)
        elif classes == 1 or form < 0.5:
            values = rng.random(size=(n, 1))
        else:
            values = rng.random(size=(n, classes))
        values = values.astype(str(rng.choice(["float32", "float64", "float16", "int32"])))
        if values.size and rng.random() < 0.2:
            values = values.astype("float64")
            value = rng.choice([np.nan, np.inf, -np.inf, 1e30, -0.3, 0.5])
            values.flat[rng.integers(values.size)] = value
            notes.append(f"{arg_name} {value}")
        return values

    h1, h2 = output("h1_output"), output("h2_output")
    y = _labels(rng, n, max(classes, 2), False, notes, "expected_labels")
    if rng.random() < 0.05:
        y = np.array(["cat", "dog"] * n)[:n]
        notes.append("string labels")
    kwargs = {}
    if rng.random() < 0.2:
        kwargs["threshold"] = [0.0, 0.5, np.nan, np.inf, "0.5", None, True][rng.integers(7)]
    if rng.random() < 0.2:
        kwargs["zero_division"] = [0.0, 1.0, np.nan, "0", None][rng.integers(5)]
    if name == "error" and rng.random() < 0.3:
        kwargs["normalize_by"] = ["h1_errors", "h2_errors", "bogus", None][rng.integers(4)]
    args = [h1, h2, y]
    if rng.random() < 0.08:
        target = int(rng.integers(3))
        args[target] = _garbage(rng, n, args[0])
        notes.append(f"{('h1_output', 'h2_output', 'expected_labels')[target]} "
                     f"{type(args[target]).__name__}")
    function = (scores.trust_compatibility_score if name == "trust"
                else scores.error_compatibility_score)

    def score(h1_output, h2_output, expected_labels, _unused):
        return function(h1_output, h2_output, expected_labels, **kwargs)

    description = (f"h1 {_describe(args[0])} h2 {_describe(args[1])} y {_describe(args[2])} "
                   f"{kwargs} {'; '.join(notes)}")
    # The last argument stands in for the weights; the "gradient" w.r.t. it (None) is skipped.
    return Case(label=f"{name} score: {description}", loss=score, args=(*args, None), wrt=3)


def _draw(rng):
    """One random case: a loss object (3 in 4) or a score; losses only with `--compiled`."""
    if "--compiled" in sys.argv or rng.random() < 0.75:
        return _draw_loss(rng)
    return _draw_score(rng)


def _unchecked(args):
    h1_output, labels, weights = args[1], args[2], args[3]
    return non_finite(h1_output, labels, weights) or (
        weights is not None and np.any(np.asarray(weights) < 0)
    )


COMPILED = Compiled(
    must_fail=lambda args: non_finite(args[0]),
    must_fail_count="non-finite h2_output gave NaN/inf",
    unchecked=_unchecked,
    unchecked_count="NaN/inf h1_output, labels or weights, or negative weights, gave NaN/inf "
                    "(not checkable under jit)",
    overflow_count="overflow: finite inputs gave NaN/inf",
    findings="findings",
)


if __name__ == "__main__":
    main(__doc__, _draw, COMPILED)
