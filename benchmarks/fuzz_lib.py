"""Shared driver of the loss fuzzes (`fuzz_min_diff_losses.py`, `fuzz_counterfactual_losses.py`).

A fuzz script supplies `draw(rng) -> Case` (one random loss and its arguments) and a
`Compiled` (what a compiled run may give on its inputs); `main` parses the command line, runs
the cases eagerly or compiled (`--compiled`) and prints the counts and the first failures.

Eagerly, each case ends as one of: a finite value with a finite gradient, a `ValueError` or
`TypeError` naming an argument ("`arg` must ..."), or a failure: silent non-finite value,
silent non-finite gradient, unnamed error (another type, or no argument named), gradient error.
"""

import argparse
import collections
import dataclasses
import re
import traceback
from typing import Callable

import numpy as np
import keras

BACKEND = keras.backend.backend()
# "`arg` must ...", also TF Model Remediation's "Argument `arg` must ...".
NAMED = re.compile(r"`[^`]+`[^`]* must ")
# Values put into otherwise random arrays.
SPECIAL = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38, 1e-30, 0.0, 65504.0, 1e8]
FAILURES = ("silent non-finite value", "silent non-finite gradient", "unnamed error",
            "gradient error")


@dataclasses.dataclass(frozen=True)
class Case:
    """One fuzz case: `loss(*args)`, weights last; the gradient is taken w.r.t. `args[wrt]`."""

    label: str
    loss: Callable
    args: tuple
    wrt: int


@dataclasses.dataclass(frozen=True)
class Compiled:
    """How a compiled run classifies a value it could not check (the counts' names are printed).

    `must_fail(args)`: inputs whose loss must be NaN/inf or an error (a finite loss is a finding),
    counted under `must_fail_count`; `unchecked(args)`: inputs that cannot be checked under
    `jax.jit`, whose NaN/inf loss is counted under `unchecked_count`; any other NaN/inf loss is
    a finding counted under `overflow_count`. `findings` names the findings in the report.
    """

    must_fail: Callable
    must_fail_count: str
    unchecked: Callable
    unchecked_count: str
    overflow_count: str
    findings: str


def draw_weights(rng, n, dtypes, notes, column=0.0):
    """Random sample weights for a batch of `n`, often bad; appends what is bad to `notes`.

    40%: `[n]` uniform in [0, 3) of a dtype in `dtypes`, sometimes with one value -1, NaN, inf,
    0, 1e30 or 1e-30, sometimes all zero, and with probability `column` reshaped to `[n, 1]`;
    10%: a float32 scalar (0, 2, -1 or NaN); 5%: ones of the wrong shape `[n, 2]`; else None.
    """
    weights = None
    kind = rng.random()
    if kind < 0.4:
        weights = rng.uniform(0, 3, size=n).astype(str(rng.choice(dtypes)))
        if n and rng.random() < 0.4:
            value = rng.choice([-1.0, np.nan, np.inf, 0.0, 1e30, 1e-30])
            weights[rng.integers(n)] = value
            notes.append(f"weight {value}")
        if rng.random() < 0.1:
            weights = np.zeros_like(weights)
            notes.append("zero weights")
        if column and rng.random() < column:
            weights = weights.reshape(-1, 1)
    elif kind < 0.5:
        weights = np.float32(rng.choice([0.0, 2.0, -1.0, np.nan]))
        notes.append(f"scalar weight {weights}")
    elif kind < 0.55:
        weights = np.ones((n, 2), "float32")
        notes.append("weights [n, 2]")
    return weights


def replace_one_with_garbage(rng, named_values, garbage, notes):
    """Replaces one of `named_values` (`[(name, value)]`, drawn uniformly) by a random entry of
    `garbage` (values of the wrong type); appends what was replaced to `notes`.

    Returns the values, in order, one of them replaced.
    """
    target = int(rng.integers(len(named_values)))
    value = garbage[rng.integers(len(garbage))]
    notes.append(f"{named_values[target][0]} of type {type(value).__name__}")
    return [value if i == target else v for i, (_, v) in enumerate(named_values)]


def non_finite(*arrays):
    """True if a float array among `arrays` has a NaN or infinite value (as float32)."""
    with np.errstate(over="ignore"):
        return any(
            isinstance(a, np.ndarray) and a.dtype.kind == "f"
            and not np.all(np.isfinite(a.astype(np.float32)))
            for a in arrays
        )


def gradient(case):
    """Gradient of `case.loss(*case.args)` w.r.t. `case.args[case.wrt]` as NumPy.

    None when that argument is not a float array, or (TensorFlow) when the loss does not depend
    on it.
    """
    original = case.args[case.wrt]
    if not isinstance(original, np.ndarray) or original.dtype.kind != "f":
        return None

    def call(x):
        return case.loss(*case.args[:case.wrt], x, *case.args[case.wrt + 1:])

    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(original)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = call(x)
        result = tape.gradient(value, x)
        return None if result is None else result.numpy()
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(call)(original))
    import torch

    x = torch.tensor(original, requires_grad=True)
    call(x).backward()
    return x.grad.numpy()


def compiled_value(case):
    """`case.loss(*case.args)` inside `tf.function` (TensorFlow) or `jax.jit` (JAX), as float."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda *args: case.loss(*args))
        return float(fn(*[None if a is None else tf.constant(a) for a in case.args]).numpy())
    import jax

    return float(jax.jit(lambda *args: case.loss(*args))(*case.args))


def _print_counts(title, counts):
    print(title)
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")


def run_eager(draw, cases, seed, show):
    """Runs `cases` cases of `draw` eagerly and prints the counts and failures."""
    rng = np.random.default_rng(seed)
    counts = collections.Counter()
    failures = collections.defaultdict(list)
    for _ in range(cases):
        case = draw(rng)
        label = case.label
        try:
            value = float(keras.ops.convert_to_numpy(case.loss(*case.args)))
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
            result = gradient(case)
        except Exception:  # noqa: BLE001
            failures["gradient error"].append(f"{label}\n    {traceback.format_exc(limit=1)}")
            continue
        if result is not None and not np.all(np.isfinite(result)):
            failures["silent non-finite gradient"].append(f"{label}\n    value {value}")
            continue
        counts["finite value and gradient"] += 1

    _print_counts(f"backend {BACKEND}: {cases} cases (seed {seed})", counts)
    for kind in FAILURES:
        print(f"  {kind}: {len(failures[kind])}")
        for text in failures[kind][:show]:
            print("    - " + text.replace("\n", "\n      "))


def run_compiled(draw, compiled, cases, seed, show):
    """Runs `cases` numeric cases of `draw` compiled and prints the counts and findings.

    Cases with an argument of a non-numeric type, or None other than the weights, are drawn
    again (`jax.jit` itself rejects them). PyTorch is skipped.
    """
    if BACKEND == "torch":
        print("backend torch: no compiled mode here (see the docstring); skipped")
        return
    rng = np.random.default_rng(seed)
    counts = collections.Counter()
    failures = []
    done = 0
    while done < cases:
        case = draw(rng)
        *outputs, weights = case.args
        if not all(a is None or (isinstance(a, np.ndarray) and a.dtype.kind in "biuf")
                   for a in case.args) or any(a is None for a in outputs):
            continue
        done += 1
        try:
            value = compiled_value(case)
        except Exception as error:  # noqa: BLE001
            named = bool(NAMED.search(str(error)))
            counts[f"{'named' if named else 'UNNAMED'} {type(error).__name__}"] += 1
            if not named:
                failures.append(f"{case.label}\n    {type(error).__name__}: "
                                f"{str(error)[:300]}")
            continue
        if compiled.must_fail(case.args):
            if np.isfinite(value):
                failures.append(f"{case.label}\n    value {value}")
            else:
                counts[compiled.must_fail_count] += 1
        elif np.isfinite(value):
            counts["finite"] += 1
        elif compiled.unchecked(case.args):
            counts[compiled.unchecked_count] += 1
        else:
            counts[compiled.overflow_count] += 1
            failures.append(f"{case.label}\n    value {value} (finite inputs)")
    _print_counts(f"backend {BACKEND} compiled: {cases} cases (seed {seed})", counts)
    print(f"  {compiled.findings}: {len(failures)}")
    for text in failures[:show]:
        print("    - " + text.replace("\n", "\n      "))


def main(doc, draw, compiled):
    """Command line of a fuzz script: `--cases`, `--seed`, `--show`, `--compiled`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--show", type=int, default=3, help="failures printed per kind")
    parser.add_argument("--compiled", action="store_true", help="tf.function / jax.jit")
    args = parser.parse_args()
    if args.compiled:
        run_compiled(draw, compiled, args.cases, args.seed, args.show)
    else:
        run_eager(draw, args.cases, args.seed, args.show)
