"""Shared timing method of the step benchmarks: seconds per `fit` step, interleaved cases.

A case is a compiled model and the data `fit` takes (a tf.data dataset, a PyDataset, or
`(x, y)` arrays with a batch size) of at least `long` batches.
After a warm-up fit (tracing, compilation), each repeat times, for every case in turn, a fit of
`short` steps and one of `long` steps; (t_long − t_short) / (long − short) is the time per step
without per-fit overhead. Cases are interleaved within each repeat, so a change of machine
load affects every case alike; the median over repeats is reported.

`FixedBatch` (one pre-built batch fed again and again) is the lower bound: it leaves out what a
data pipeline costs per step.
"""

import os
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


class Case:
    """A timed case: `model` (compiled) trained by `fit(data, steps_per_epoch=…, **fit_kwargs)`.

    `data` is a dataset, or a tuple `(x, y)` of arrays (then `fit_kwargs` give `batch_size`).
    """

    def __init__(self, name, model, data, fit_kwargs):
        self.name, self.model, self.data, self.fit_kwargs = name, model, data, fit_kwargs
        self.samples = []

    def fit_seconds(self, steps):
        args = self.data if isinstance(self.data, tuple) else (self.data,)
        start = CLOCK[0]()
        self.model.fit(*args, epochs=1, steps_per_epoch=steps, verbose=0, **self.fit_kwargs)
        return CLOCK[0]() - start

    @property
    def median(self):
        return statistics.median(self.samples)


#: The clock of `Case.fit_seconds`: wall time (default), or with `--clock cpu` the CPU time of
#: the process, all its threads (less moved by other jobs on a shared machine, but it counts
#: work done in parallel threads, e.g. a tf.data pipeline, as if it were serial).
CLOCK = [time.perf_counter]


def load():
    """The 1-minute load average (what `uptime` shows first)."""
    return os.getloadavg()[0]


def time_cases(cases, short, long, repeats):
    """Fills each case's `samples` with seconds per step; returns the load averages seen."""
    for case in cases:
        case.fit_seconds(short)  # warm-up: traces and compiles
    loads = [load()]
    for _ in range(repeats):
        for case in cases:
            t_short = case.fit_seconds(short)
            t_long = case.fit_seconds(long)
            case.samples.append((t_long - t_short) / (long - short))
        loads.append(load())
    return loads


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


def header():
    import platform

    backend = keras.backend.backend()
    versions = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    module = __import__(versions[backend]) if backend in versions else None
    version = getattr(module, "__version__", "?")
    return (
        f"backend={backend} {backend}={version} keras={keras.__version__} "
        f"cpu_count={os.cpu_count()} python={platform.python_version()}"
    )


def load_line(loads):
    return f"1-min load average during the run: {min(loads):.2f}–{max(loads):.2f}"


def add_arguments(parser, short=20, long=300, repeats=5):
    parser.add_argument("--short", type=int, default=short)
    parser.add_argument("--long", type=int, default=long)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="wall time, or the process's CPU time (steadier on a loaded machine)",
    )


def use_clock(args):
    """Sets `CLOCK` from the parsed `--clock`; returns a label for the output."""
    CLOCK[0] = time.process_time if args.clock == "cpu" else time.perf_counter
    return f"clock={args.clock}"
