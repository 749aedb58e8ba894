"""Fuzz of the counterfactual (CLP) losses: random, often bad, inputs; nothing may pass silently.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/fuzz_counterfactual_losses.py --cases 1000

Each case draws one loss (pairwise MSE, absolute difference or cosine; reduction
`sum_over_batch_size` or `weighted_mean`, sometimes a `global_batch_size`) and one pair of
output batches, mixing valid and bad values: outputs with NaN, ±inf, huge or tiny values,
float16/32/64 and integer dtypes, rank 1 to 3, empty batches, shapes that differ between
`original` and `counterfactual`, weights negative, NaN, infinite, zero, scalar or of a wrong
shape, None arguments, and arguments of a non-numeric type (strings, dicts, objects, ragged
lists). Eagerly (values known) the loss must either return a finite value with a finite
gradient w.r.t. `original`, or raise ValueError/TypeError whose message names an argument in
backticks ("`arg` must …" or TF Model Remediation's "Argument `original` must not be None" /
"Incompatible shape … `original` and `counterfactual` must have the same shape").

Reported per backend: cases, finite results, named errors, and the failures:
    silent non-finite value: a NaN or infinite loss returned without an error;
    silent non-finite gradient: a finite loss whose gradient is not;
    unnamed error: an error of another type, or a message that names no argument.

With `--compiled` the loss runs inside `tf.function` (TensorFlow) or `jax.jit` (JAX) on the
numeric cases (PyTorch is skipped): NaN or infinite outputs must raise `InvalidArgumentError`
naming the argument (TensorFlow's graph assertions) or give a NaN/inf loss (JAX, where values
cannot be checked); a finite loss from them is a finding.
"""

import numpy as np

from fuzz_lib import SPECIAL
from fuzz_lib import Case
from fuzz_lib import Compiled
from fuzz_lib import draw_weights
from fuzz_lib import main
from fuzz_lib import non_finite
from fuzz_lib import replace_one_with_garbage
from keras_remediation.counterfactual.losses import PairwiseAbsoluteDifferenceLoss
from keras_remediation.counterfactual.losses import PairwiseCosineLoss
from keras_remediation.counterfactual.losses import PairwiseMSELoss

LOSSES = {
    "mse": PairwiseMSELoss,
    "abs": PairwiseAbsoluteDifferenceLoss,
    "cosine": PairwiseCosineLoss,
}


def _outputs(rng, shape, dtype, notes, name):
    values = rng.normal(size=shape) * rng.choice([1.0, 1.0, 10.0, 1e4, 1e-4])
    if values.size and rng.random() < 0.3:
        value = SPECIAL[rng.integers(len(SPECIAL))]
        values.flat[rng.integers(values.size)] = value
        notes.append(f"{name} {value}")
    if dtype == "int32":
        values = np.clip(np.nan_to_num(values), -2e9, 2e9)
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(dtype)


def _draw(rng):
    """One random case: a loss of `LOSSES` on `(original, counterfactual, weights)`."""
    name = str(rng.choice(list(LOSSES)))
    n = int(rng.choice([0, 1, 2, 3, 5, 8]))
    rank = int(rng.choice([1, 2, 2, 3]))
    shape = (n,) + tuple(int(rng.choice([1, 2, 4])) for _ in range(rank - 1))
    dtype = str(rng.choice(["float32", "float32", "float64", "float16", "int32"]))
    notes = []
    original = _outputs(rng, shape, dtype, notes, "original")
    cf_shape = shape
    if rng.random() < 0.08:
        cf_shape = (n + 1,) + shape[1:] if rng.random() < 0.5 else shape[:-1] + (7,)
        notes.append("shapes differ")
    counterfactual = _outputs(rng, cf_shape, dtype, notes, "counterfactual")

    weights = draw_weights(rng, n, ["float32", "float64"], notes, column=0.2)
    if rng.random() < 0.06:
        garbage = [np.array(["a"] * max(n, 1)), {"p": original}, "0.5", object(), None,
                   [[1.0, 2.0], [3.0]]]
        original, counterfactual, weights = replace_one_with_garbage(
            rng,
            [("original", original), ("counterfactual", counterfactual), ("weights", weights)],
            garbage, notes,
        )
    kwargs = {"batch_reduction": str(rng.choice(["sum_over_batch_size", "weighted_mean"]))}
    if rng.random() < 0.1:
        kwargs["global_batch_size"] = int(rng.choice([1, 8, 64]))
    description = (
        f"original {getattr(original, 'dtype', type(original).__name__)}{np.shape(original) if isinstance(original, np.ndarray) else ''} "
        f"counterfactual {getattr(counterfactual, 'dtype', type(counterfactual).__name__)} "
        f"weights {None if weights is None else getattr(weights, 'dtype', type(weights).__name__)} "
        f"{kwargs} {'; '.join(notes)}"
    )
    return Case(label=f"{name}: {description}", loss=LOSSES[name](**kwargs),
                args=(original, counterfactual, weights), wrt=0)


def _bad_weights(args):
    weights = args[-1]
    return non_finite(weights) or (weights is not None and np.any(np.asarray(weights) < 0))


COMPILED = Compiled(
    must_fail=lambda args: non_finite(*args[:2]),
    must_fail_count="non-finite outputs gave NaN/inf",
    unchecked=_bad_weights,
    unchecked_count="NaN/inf/negative weights gave NaN/inf (not checkable under jit)",
    overflow_count="overflow: finite outputs gave inf",
    findings="findings",
)


if __name__ == "__main__":
    main(__doc__, _draw, COMPILED)
