"""Fuzz of the MinDiff losses: random, often bad, inputs; nothing may pass silently.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/fuzz_min_diff_losses.py --cases 1000

Each case draws one loss (MMD or adjusted MMD with a Gaussian or Laplacian kernel, or the
absolute correlation; `empty_group` 'reference' or 'zero') and one input batch, mixing valid
and bad values: membership outside {0, 1} or NaN, predictions with NaN, ±inf, huge or tiny
values, float16/32/64 and integer dtypes, weights negative, NaN, infinite, zero, huge or
scalar, mismatched shapes and ranks, and swapped arguments. Eagerly (values known) the loss
must either return a finite value with a finite gradient, or raise ValueError/TypeError whose
message names an argument in backticks ("`arg` must …; received …").

Reported per backend: cases, finite results, named errors, and the failures:
    silent non-finite value: a NaN or infinite loss returned without an error;
    silent non-finite gradient: a finite loss whose gradient w.r.t. the predictions is not;
    unnamed error: an error of another type, or a message that names no argument.
The first few failures of each kind are printed with their inputs.

With `--compiled` the loss runs inside `tf.function` (TensorFlow) or `jax.jit` (JAX), where
values are not known (PyTorch has no such mode here and is skipped; inputs of a non-numeric
type are left out). There, a batch with NaN or infinite predictions must raise
`InvalidArgumentError` (TensorFlow's graph assertions) or give a NaN loss (JAX); a finite loss
is reported as "non-finite predictions gave a finite loss".
"""

import numpy as np

from fuzz_lib import SPECIAL
from fuzz_lib import Case
from fuzz_lib import Compiled
from fuzz_lib import draw_weights
from fuzz_lib import main
from fuzz_lib import non_finite
from fuzz_lib import replace_one_with_garbage
from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import MMDLoss

LOSSES = {
    "mmd-gaussian": lambda eg: MMDLoss("gaussian", empty_group=eg),
    "mmd-laplacian": lambda eg: MMDLoss("laplacian", empty_group=eg),
    "adjusted-gaussian": lambda eg: AdjustedMMDLoss("gaussian", empty_group=eg),
    "adjusted-laplacian": lambda eg: AdjustedMMDLoss("laplacian", empty_group=eg),
    "abs-corr": lambda eg: AbsoluteCorrelationLoss(empty_group=eg),
}


def _draw(rng):
    """One random case: a loss of `LOSSES` on `(membership, predictions, weights)`."""
    name = str(rng.choice(list(LOSSES)))
    empty_group = str(rng.choice(["reference", "zero"]))
    n = int(rng.choice([0, 1, 2, 3, 5, 8, 16]))
    d = rng.choice([None, 1, 2, 3])
    dtype = rng.choice(["float32", "float32", "float64", "float16", "int32"])
    shape = (n,) if d is None else (n, int(d))
    scale = rng.choice([1.0, 1.0, 10.0, 1e4, 1e-4])
    predictions = rng.normal(size=shape) * scale
    notes = []
    if n and rng.random() < 0.3:
        value = SPECIAL[rng.integers(len(SPECIAL))]
        predictions.flat[rng.integers(predictions.size)] = value
        notes.append(f"prediction {value}")
    if dtype == "int32":
        predictions = np.clip(np.nan_to_num(predictions), -2e9, 2e9)
    with np.errstate(over="ignore", invalid="ignore"):
        predictions = predictions.astype(dtype)

    membership = rng.integers(0, 2, size=n).astype(rng.choice(["float32", "int64", "bool"]))
    if n and rng.random() < 0.15:
        membership = membership.astype("float32")
        membership[rng.integers(n)] = rng.choice([2.0, -1.0, 0.5, np.nan])
        notes.append("bad membership")
    if rng.random() < 0.1:
        membership = membership.reshape(-1, 1)
    if rng.random() < 0.05:
        membership = np.append(membership.reshape(-1), 1).astype("float32")
        notes.append("membership longer")

    weights = draw_weights(rng, n, ["float32", "float64", "float16"], notes)
    if rng.random() < 0.03:
        membership, predictions = predictions, membership
        notes.append("swapped")
    if rng.random() < 0.05:
        garbage = [np.array(["a"] * max(n, 1)), {"p": predictions}, "0.5", object()]
        predictions, membership, weights = replace_one_with_garbage(
            rng, [("predictions", predictions), ("membership", membership), ("weights", weights)],
            garbage, notes,
        )
    description = (
        f"n={n} pred {getattr(predictions, 'dtype', '?')}{np.shape(predictions)} membership "
        f"{getattr(membership, 'dtype', '?')}{np.shape(membership)} weights "
        f"{None if weights is None else (getattr(weights, 'dtype', type(weights).__name__))} "
        f"{'; '.join(notes)}"
    )
    return Case(label=f"{name} empty_group={empty_group}: {description}",
                loss=LOSSES[name](empty_group), args=(membership, predictions, weights), wrt=1)


def _unchecked(args):
    """NaN/inf membership or NaN/inf/negative weights: not checkable under `jax.jit`."""
    membership, _, weights = args
    return any(
        a is not None and not np.all(np.isfinite(a.astype(np.float64)))
        for a in (membership, weights)
    ) or (weights is not None and np.any(weights < 0))


COMPILED = Compiled(
    must_fail=lambda args: non_finite(args[1]),
    must_fail_count="non-finite predictions gave NaN/inf",
    unchecked=_unchecked,
    unchecked_count="NaN/inf membership or NaN/inf/negative weights gave NaN/inf",
    overflow_count="NON-FINITE from finite inputs",
    findings="findings (finite loss from non-finite predictions, non-finite loss from finite "
             "inputs, unnamed error)",
)


if __name__ == "__main__":
    main(__doc__, _draw, COMPILED)
