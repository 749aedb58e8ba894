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

import argparse
import collections
import re
import traceback

import numpy as np
import keras

from keras_remediation.counterfactual.losses import PairwiseAbsoluteDifferenceLoss
from keras_remediation.counterfactual.losses import PairwiseCosineLoss
from keras_remediation.counterfactual.losses import PairwiseMSELoss

BACKEND = keras.backend.backend()
NAMED = re.compile(r"`[^`]+`[^`]* must |Argument `[^`]+` must ")

LOSSES = {
    "mse": PairwiseMSELoss,
    "abs": PairwiseAbsoluteDifferenceLoss,
    "cosine": PairwiseCosineLoss,
}
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38, 1e-30, 0.0, 65504.0, 1e8]


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


def _case(rng):
    """`(description, original, counterfactual, weights, loss kwargs)` of one random case."""
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

    weights = None
    kind = rng.random()
    if kind < 0.4:
        weights = rng.uniform(0, 3, size=n).astype(str(rng.choice(["float32", "float64"])))
        if n and rng.random() < 0.4:
            value = rng.choice([-1.0, np.nan, np.inf, 0.0, 1e30, 1e-30])
            weights[rng.integers(n)] = value
            notes.append(f"weight {value}")
        if rng.random() < 0.1:
            weights = np.zeros_like(weights)
            notes.append("zero weights")
        if rng.random() < 0.2:
            weights = weights.reshape(-1, 1)
    elif kind < 0.5:
        weights = np.float32(rng.choice([0.0, 2.0, -1.0, np.nan]))
        notes.append(f"scalar weight {weights}")
    elif kind < 0.55:
        weights = np.ones((n, 2), "float32")
        notes.append("weights [n, 2]")
    if rng.random() < 0.06:
        garbage = [np.array(["a"] * max(n, 1)), {"p": original}, "0.5", object(), None,
                   [[1.0, 2.0], [3.0]]]
        target = int(rng.integers(3))
        value = garbage[rng.integers(len(garbage))]
        if target == 0:
            original = value
        elif target == 1:
            counterfactual = value
        else:
            weights = value
        notes.append(f"{('original', 'counterfactual', 'weights')[target]} "
                     f"{type(value).__name__}")
    kwargs = {"batch_reduction": str(rng.choice(["sum_over_batch_size", "weighted_mean"]))}
    if rng.random() < 0.1:
        kwargs["global_batch_size"] = int(rng.choice([1, 8, 64]))
    description = (
        f"original {getattr(original, 'dtype', type(original).__name__)}{np.shape(original) if isinstance(original, np.ndarray) else ''} "
        f"counterfactual {getattr(counterfactual, 'dtype', type(counterfactual).__name__)} "
        f"weights {None if weights is None else getattr(weights, 'dtype', type(weights).__name__)} "
        f"{kwargs} {'; '.join(notes)}"
    )
    return description, original, counterfactual, weights, kwargs


def _gradient(loss, original, counterfactual, weights):
    if not isinstance(original, np.ndarray) or original.dtype.kind != "f":
        return None
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(original)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x, counterfactual, weights)
        gradient = tape.gradient(value, x)
        return None if gradient is None else gradient.numpy()
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: loss(x, counterfactual, weights))(original))
    import torch

    x = torch.tensor(original, requires_grad=True)
    loss(x, counterfactual, weights).backward()
    return x.grad.numpy()


def _compiled_value(loss, original, counterfactual, weights):
    if BACKEND == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda o, c, w: loss(o, c, w))
        args = [None if a is None else tf.constant(a) for a in (original, counterfactual, weights)]
        return float(fn(*args).numpy())
    import jax

    return float(jax.jit(lambda o, c, w: loss(o, c, w))(original, counterfactual, weights))


def _non_finite(*arrays):
    with np.errstate(over="ignore"):
        return any(
            isinstance(a, np.ndarray) and a.dtype.kind == "f"
            and not np.all(np.isfinite(a.astype(np.float32)))
            for a in arrays
        )


def main_compiled(args):
    if BACKEND == "torch":
        print("backend torch: no compiled mode here (see the docstring); skipped")
        return
    rng = np.random.default_rng(args.seed)
    counts = collections.Counter()
    failures = []
    done = 0
    while done < args.cases:
        name = str(rng.choice(list(LOSSES)))
        description, original, counterfactual, weights, kwargs = _case(rng)
        if not all(a is None or (isinstance(a, np.ndarray) and a.dtype.kind in "biuf")
                   for a in (original, counterfactual, weights)):
            continue  # `jax.jit` itself rejects strings and objects as arguments.
        if original is None or counterfactual is None:
            continue
        done += 1
        loss = LOSSES[name](**kwargs)
        bad = _non_finite(original, counterfactual)
        try:
            value = _compiled_value(loss, original, counterfactual, weights)
        except Exception as error:  # noqa: BLE001
            named = bool(NAMED.search(str(error)))
            counts[f"{'named' if named else 'UNNAMED'} {type(error).__name__}"] += 1
            if not named:
                failures.append(f"{name} {description}\n    {type(error).__name__}: "
                                f"{str(error)[:300]}")
            continue
        if bad and np.isfinite(value):
            failures.append(f"{name}: {description}\n    value {value}")
        elif bad:
            counts["non-finite outputs gave NaN/inf"] += 1
        elif np.isfinite(value):
            counts["finite"] += 1
        elif _non_finite(weights) or (weights is not None and np.any(np.asarray(weights) < 0)):
            counts["NaN/inf/negative weights gave NaN/inf (not checkable under jit)"] += 1
        else:
            counts["overflow: finite outputs gave inf"] += 1
            failures.append(f"{name}: {description}\n    value {value} (finite inputs)")
    print(f"backend {BACKEND} compiled: {args.cases} cases (seed {args.seed})")
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")
    print(f"  findings: {len(failures)}")
    for text in failures[: args.show]:
        print("    - " + text.replace("\n", "\n      "))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--show", type=int, default=3, help="failures printed per kind")
    parser.add_argument("--compiled", action="store_true", help="tf.function / jax.jit")
    args = parser.parse_args()
    if args.compiled:
        return main_compiled(args)
    rng = np.random.default_rng(args.seed)
    counts = collections.Counter()
    failures = collections.defaultdict(list)
    for _ in range(args.cases):
        name = str(rng.choice(list(LOSSES)))
        description, original, counterfactual, weights, kwargs = _case(rng)
        label = f"{name}: {description}"
        loss = LOSSES[name](**kwargs)
        try:
            value = float(keras.ops.convert_to_numpy(loss(original, counterfactual, weights)))
        except (ValueError, TypeError) as error:
            if NAMED.search(str(error)):
                counts[f"named {type(error).__name__}"] += 1
            else:
                failures["unnamed error"].append(f"{label}\n    {type(error).__name__}: {error}")
            continue
        except Exception as error:  # noqa: BLE001 - every other type is a finding.
            failures["unnamed error"].append(
                f"{label}\n    {type(error).__name__}: {str(error)[:300]}"
            )
            continue
        if not np.isfinite(value):
            failures["silent non-finite value"].append(f"{label}\n    value {value}")
            continue
        try:
            gradient = _gradient(loss, original, counterfactual, weights)
        except Exception:  # noqa: BLE001
            failures["gradient error"].append(f"{label}\n    {traceback.format_exc(limit=1)}")
            continue
        if gradient is not None and not np.all(np.isfinite(gradient)):
            failures["silent non-finite gradient"].append(f"{label}\n    value {value}")
            continue
        counts["finite value and gradient"] += 1

    print(f"backend {BACKEND}: {args.cases} cases (seed {args.seed})")
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")
    for kind in ("silent non-finite value", "silent non-finite gradient", "unnamed error",
                 "gradient error"):
        print(f"  {kind}: {len(failures[kind])}")
        for text in failures[kind][: args.show]:
            print("    - " + text.replace("\n", "\n      "))


if __name__ == "__main__":
    main()
