"""Time per federated round on Flower against training the same clients sequentially in-process.

Run by hand (not part of the tests), once per backend:

    KERAS_BACKEND=jax .venv/bin/python benchmarks/federated_round.py [--engines inprocess ray]

Task: `--clients` clients, each with `--rows` rows of a synthetic 20-feature binary task; model
dense 20→64→64→1 (relu, sigmoid), client optimizer Adam (restarted each round), one local
epoch of batch 64 per round; FedAvg weighted by example count.

Measured, per round, after one warm-up round (first-round costs: compiling, and for Ray starting
the actors and importing Keras in them, are reported separately):

- `sequential`: one `FederatedModel` in this process trains each client's data in turn from the
  global weights, then NumPy averages the weights: the cost of the computation alone;
- `inprocess`: Flower's ServerApp and ClientApp (messages, records, strategy, metric state)
  with `run_simulation(engine="inprocess")`;
- `ray`: the same apps on Flower's Simulation Engine (Ray actors, 1 CPU per client).

The overhead of an engine is its time per round minus `sequential`'s.
"""

import argparse
import json
import statistics
import time

import numpy as np
import keras

from keras_remediation import federated

FEATURES = 20


def _data(clients, rows, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(FEATURES, 1))
    parts = []
    for _ in range(clients):
        x = rng.normal(size=(rows, FEATURES)).astype("float32")
        y = (x @ w + rng.normal(size=(rows, 1)) > 0).astype("float32")
        parts.append((x, y))
    return parts


class Task:
    """Picklable model and data functions (Ray pickles them by reference)."""

    def __init__(self, clients, rows):
        self.clients, self.rows = clients, rows

    def model_fn(self):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([
            keras.Input((FEATURES,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        return federated.from_keras_model(
            model, "binary_crossentropy",
            (keras.KerasTensor((None, FEATURES)), keras.KerasTensor((None, 1))),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
            optimizer=lambda: keras.optimizers.Adam(1e-3),
        )

    def data_fn(self, partition_id, num_partitions):
        return _data(self.clients, self.rows)[partition_id]


def _sequential(task, rounds, batch_size):
    model = task.model_fn()
    parts = _data(task.clients, task.rows)
    weights = model.get_weights()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        updates, counts = [], []
        for data in parts:
            model.set_weights(weights)
            result = model.train(data, batch_size=batch_size)
            updates.append(model.get_weights())
            counts.append(result.num_examples)
        total = sum(counts)
        weights = [sum(c * u[i] for c, u in zip(counts, updates)) / total
                   for i in range(len(weights))]
        times.append(time.perf_counter() - start)
    return times


def _flower(task, rounds, batch_size, engine):
    from keras_remediation.federated import flower

    runs = []
    server = flower.server_app(
        task.model_fn, num_rounds=rounds, batch_size=batch_size, fraction_evaluate=0.0,
        min_nodes=task.clients, on_finish=runs.append,
    )
    client = flower.client_app(task.model_fn, task.data_fn, batch_size=batch_size)
    start = time.perf_counter()
    flower.run_simulation(server, client, task.clients, engine=engine, num_cpus_per_client=1)
    wall = time.perf_counter() - start
    times = [record.seconds for record in runs[0].history.rounds]
    return times, wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rows", type=int, default=2000, help="rows per client")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, the first a warm-up")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--engines", nargs="*", default=["inprocess", "ray"],
                        choices=["inprocess", "ray"])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first is a warm-up)")

    task = Task(args.clients, args.rows)
    results = {"backend": keras.backend.backend(), "clients": args.clients,
               "rows_per_client": args.rows, "rounds": args.rounds}
    rows = []
    seq = _sequential(task, args.rounds, args.batch_size)
    base = statistics.median(seq[1:])
    rows.append(("sequential", seq[0], base, 0.0, None))
    for engine in args.engines:
        times, wall = _flower(task, args.rounds, args.batch_size, engine)
        steady = statistics.median(times[1:])
        rows.append((engine, times[0], steady, steady - base, wall))
    print(f"backend {results['backend']}: {args.clients} clients x {args.rows} rows, "
          f"{args.rounds} rounds (first = warm-up), batch {args.batch_size}")
    print(f"{'engine':<12}{'round 1 s':>11}{'round s':>10}{'overhead s':>12}{'wall s':>9}")
    for name, first, steady, overhead, wall in rows:
        wall_text = f"{wall:9.1f}" if wall is not None else f"{'':>9}"
        print(f"{name:<12}{first:11.2f}{steady:10.3f}{overhead:12.3f}{wall_text}")
        results[name] = {"first_round_s": first, "round_s": steady, "overhead_s": overhead,
                         "wall_s": wall}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
