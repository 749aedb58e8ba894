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

import argparse
import collections
import re
import traceback

import numpy as np
import keras

from keras_remediation.min_diff.losses import AbsoluteCorrelationLoss
from keras_remediation.min_diff.losses import AdjustedMMDLoss
from keras_remediation.min_diff.losses import MMDLoss

BACKEND = keras.backend.backend()
NAMED = re.compile(r"`[^`]+`[^`]* must ")

LOSSES = {
    "mmd-gaussian": lambda eg: MMDLoss("gaussian", empty_group=eg),
    "mmd-laplacian": lambda eg: MMDLoss("laplacian", empty_group=eg),
    "adjusted-gaussian": lambda eg: AdjustedMMDLoss("gaussian", empty_group=eg),
    "adjusted-laplacian": lambda eg: AdjustedMMDLoss("laplacian", empty_group=eg),
    "abs-corr": lambda eg: AbsoluteCorrelationLoss(empty_group=eg),
}
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38, 1e-30, 0.0, 65504.0, 1e8]


def _case(rng):
    """`(description, membership, predictions, weights)` of one random case."""
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

    weights = None
    kind = rng.random()
    if kind < 0.4:
        weights = rng.uniform(0, 3, size=n).astype(rng.choice(["float32", "float64", "float16"]))
        if n and rng.random() < 0.4:
            value = rng.choice([-1.0, np.nan, np.inf, 0.0, 1e30, 1e-30])
            weights[rng.integers(n)] = value
            notes.append(f"weight {value}")
        if rng.random() < 0.1:
            weights = np.zeros_like(weights)
            notes.append("zero weights")
    elif kind < 0.5:
        weights = np.float32(rng.choice([0.0, 2.0, -1.0, np.nan]))
        notes.append(f"scalar weight {weights}")
    elif kind < 0.55:
        weights = np.ones((n, 2), "float32")
        notes.append("weights [n, 2]")
    if rng.random() < 0.03:
        membership, predictions = predictions, membership
        notes.append("swapped")
    if rng.random() < 0.05:
        garbage = [np.array(["a"] * max(n, 1)), {"p": predictions}, "0.5", object()]
        target = int(rng.integers(3))
        value = garbage[rng.integers(len(garbage))]
        if target == 0:
            predictions = value
        elif target == 1:
            membership = value
        else:
            weights = value
        notes.append(f"{('predictions', 'membership', 'weights')[target]} of type "
                     f"{type(value).__name__}")
    description = (
        f"n={n} pred {getattr(predictions, 'dtype', '?')}{np.shape(predictions)} membership "
        f"{getattr(membership, 'dtype', '?')}{np.shape(membership)} weights "
        f"{None if weights is None else (getattr(weights, 'dtype', type(weights).__name__))} "
        f"{'; '.join(notes)}"
    )
    return description, membership, predictions, weights


def _gradient(loss, membership, predictions, weights):
    p = np.asarray(predictions)
    if not isinstance(predictions, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
        return None
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(p)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(membership, x, weights)
        return tape.gradient(value, x).numpy()
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: loss(membership, x, weights))(p))
    import torch

    x = torch.tensor(p, requires_grad=True)
    loss(membership, x, weights).backward()
    return x.grad.numpy()


def _compiled_value(loss, membership, predictions, weights):
    if BACKEND == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda m, p, w: loss(m, p, w))
        args = [None if a is None else tf.constant(a) for a in (membership, predictions, weights)]
        return float(fn(*args).numpy())
    import jax

    return float(jax.jit(lambda m, p, w: loss(m, p, w))(membership, predictions, weights))


def _has_non_finite_predictions(predictions):
    if not isinstance(predictions, np.ndarray) or predictions.dtype.kind != "f":
        return False
    with np.errstate(over="ignore"):
        return not np.all(np.isfinite(predictions.astype(np.float32)))


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
        empty_group = str(rng.choice(["reference", "zero"]))
        description, membership, predictions, weights = _case(rng)
        arrays = (membership, predictions, weights)
        if not all(a is None or (isinstance(a, np.ndarray) and a.dtype.kind in "biuf")
                   for a in arrays):
            continue  # `jax.jit` itself rejects strings and objects as arguments.
        done += 1
        bad = _has_non_finite_predictions(predictions)
        loss = LOSSES[name](empty_group)
        try:
            value = _compiled_value(loss, membership, predictions, weights)
        except Exception as error:  # noqa: BLE001
            kind = type(error).__name__
            named = "`" in str(error) and " must " in str(error)
            counts[f"{'named' if named else 'UNNAMED'} {kind}"] += 1
            if not named:
                failures.append(f"{name} {description}\n    {kind}: {str(error)[:300]}")
            continue
        if bad and np.isfinite(value):
            failures.append(f"{name} empty_group={empty_group}: {description}\n    value {value}")
        elif bad:
            counts["non-finite predictions gave NaN/inf"] += 1
        else:
            bad_inputs = any(  # Not checkable under jit (documented): NaN/inf or negative.
                a is not None and not np.all(np.isfinite(a.astype(np.float64)))
                for a in (membership, weights)
            ) or (weights is not None and np.any(weights < 0))
            if np.isfinite(value):
                counts["finite"] += 1
            elif bad_inputs:
                counts["NaN/inf membership or NaN/inf/negative weights gave NaN/inf"] += 1
            else:
                counts["NON-FINITE from finite inputs"] += 1
                failures.append(f"{name} empty_group={empty_group}: {description}\n"
                                f"    value {value} (finite inputs)")
    print(f"backend {BACKEND} compiled: {args.cases} cases (seed {args.seed})")
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")
    print(f"  findings (finite loss from non-finite predictions, non-finite loss from finite "
          f"inputs, unnamed error): {len(failures)}")
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
        empty_group = str(rng.choice(["reference", "zero"]))
        description, membership, predictions, weights = _case(rng)
        label = f"{name} empty_group={empty_group}: {description}"
        loss = LOSSES[name](empty_group)
        try:
            value = float(keras.ops.convert_to_numpy(loss(membership, predictions, weights)))
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
            gradient = _gradient(loss, membership, predictions, weights)
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
