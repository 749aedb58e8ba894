"""Shared timing method of the step benchmarks: seconds per training step of a compiled model.

Each model is trained with `fit` on a `keras.utils.PyDataset` that returns one fixed, pre-built
batch, so data handling costs the same for every model. After a warm-up fit (tracing,
compilation), a fit of `short` steps and one of `long` steps are timed; (t_long − t_short) /
(long − short) is the time per step without per-fit overhead. The median over `repeats` runs
is returned.
"""

import statistics
import time

import keras


class FixedBatch(keras.utils.PyDataset):
    """`steps` items, each the same `batch`."""

    def __init__(self, batch, steps):
        super().__init__()
        self.batch, self.steps = batch, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return self.batch


def per_step_seconds(model, batch, short, long, repeats):
    """Median seconds per `fit` step of the compiled `model` on `batch`."""
    model.fit(FixedBatch(batch, short), epochs=1, verbose=0)  # warm-up: traces and compiles
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(FixedBatch(batch, short), epochs=1, verbose=0)
        t_short = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(FixedBatch(batch, long), epochs=1, verbose=0)
        t_long = time.perf_counter() - start
        samples.append((t_long - t_short) / (long - short))
    return statistics.median(samples)


def per_call_seconds(fn, repeats, calls=200):
    """Median seconds per call of `fn()` (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def add_arguments(parser):
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=220)
    parser.add_argument("--repeats", type=int, default=5)
