"""Federated MinDiff on UCI Adult: FedAvg with and without MinDiff, with a fairness report.

The bundled UCI Adult training split is divided among `num_clients` clients, non-IID: every
value of `partition_column` (default `education`) goes whole to one client, the largest values
first, each to the client with the fewest rows so far, so clients differ in size, in their
label balance and in how many women they hold. Each client trains the guides' income model
(`uci.get_uci_model`) for `local_epochs` per round; the server averages the weights by example
count (Flower's FedAvg, through `keras_remediation.federated.flower`) for `rounds` rounds. This
runs twice from the same initial weights: once plainly (baseline) and once wrapped in
`MinDiffModel` with MMD between each client's own label-0 women and label-0 men (a client
without one of the groups trains with a MinDiff loss of 0). The global models are evaluated
centrally on the test split after every round (progress) and at the end with the main demo's
fairness report (`demos.fairness_report`: group metrics by `sex` with bootstrap CIs, a headline
naming every gap that moved); `report.json`, `report.png`, `convergence.png` (the per-round
central test metrics of both runs) and a self-contained `report.html` are written.

This module imports nothing heavy until `run` is called; its defaults are in `demos.settings`.
"""

import functools

from keras_remediation.demos.adult_data import NONSENSITIVE_GROUP
from keras_remediation.demos.adult_data import SENSITIVE_GROUP
from keras_remediation.demos.adult_data import load_adult_arrays
from keras_remediation.demos.settings import ADULT_FEDERATED

DEFAULTS = ADULT_FEDERATED


def partition_by_column(values, num_clients, seed=1):
    """Row indices of each client: whole column values dealt out greedily (non-IID).

    The values, largest first (ties by name), each go to the client with the fewest rows so
    far: deterministic, and sizes as even as whole values allow.

    Args:
        values: the partition column, an array-like of shape `[N]`.
        num_clients: positive int.
        seed: unused by this deterministic split (kept for a common signature).

    Returns:
        A list of `num_clients` sorted int arrays that partition `range(N)`.

    Raises:
        ValueError: if there are fewer distinct values than clients.
    """
    import numpy as np

    if values is None:
        raise ValueError("`values` is None; use `iid_partition` for an IID split.")
    values = np.asarray(values).astype(str)
    names, counts = np.unique(values, return_counts=True)
    if len(names) < num_clients:
        raise ValueError(
            f"The partition column has {len(names)} distinct values, fewer than the "
            f"{num_clients} clients; choose a column with more values (e.g. 'education', "
            "'native-country', 'occupation') or fewer clients."
        )
    order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    sizes = [0] * num_clients
    assigned = [[] for _ in range(num_clients)]
    for i in order:
        client = min(range(num_clients), key=lambda c: (sizes[c], c))
        assigned[client].append(names[i])
        sizes[client] += counts[i]
    return [np.flatnonzero(np.isin(values, names_of_client)) for names_of_client in assigned]


def iid_partition(num_rows, num_clients, seed=1):
    """Row indices of each client for an IID split (random, near-equal sizes)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(num_rows)
    return [np.sort(part) for part in np.array_split(order, num_clients)]


@functools.lru_cache(maxsize=4)
def check_partition(partition_column, num_clients):
    """Raises ValueError unless `num_clients` clients can share UCI Adult by `partition_column`.

    None means an IID split (any number of clients up to the row count). Otherwise the column
    must exist and have at least `num_clients` distinct values in the training split.
    """
    from keras_remediation.tools.tutorials_utils import uci

    train_df = uci.get_uci_data("train")
    if partition_column is None:
        if num_clients > len(train_df):
            raise ValueError(f"{num_clients} clients but only {len(train_df)} training rows.")
        return
    if partition_column not in train_df.columns:
        raise ValueError(
            f"`partition_column` {partition_column!r} is not a column of UCI Adult; "
            f"choose one of {sorted(train_df.columns)}."
        )
    distinct = train_df[partition_column].nunique()
    if distinct < num_clients:
        raise ValueError(
            f"column {partition_column!r} has {distinct} distinct values, fewer than the "
            f"{num_clients} clients."
        )


def _prepared_data(train_sample, partition_column, num_clients, seed):
    """Preprocessed train/test arrays and the partition."""
    data = load_adult_arrays(train_sample)
    train_df = data.pop("train_frame")
    if partition_column is None:
        parts = iid_partition(len(train_df), num_clients, seed)
    else:
        if partition_column not in train_df.columns:
            raise ValueError(
                f"`partition_column` {partition_column!r} is not a column of UCI Adult; "
                f"columns: {sorted(train_df.columns)}."
            )
        parts = partition_by_column(train_df[partition_column].to_numpy(), num_clients, seed)
    data["parts"] = parts
    return data


def _client_data(partition_id, num_partitions, *, with_min_diff, batch_size,
                 min_diff_batch_size, train_sample, partition_column, seed):
    """A client's partition: plain `(x, y)`, or MinDiff-packed (its own groups)."""
    from keras_remediation import federated

    data = _prepared_data(train_sample, partition_column, num_partitions, seed)
    rows = data["parts"][partition_id]
    x, y, sex = data["x"][rows], data["y"][rows], data["sex"][rows]
    if not with_min_diff:
        return x, y
    negatives = y[:, 0] == 0
    return federated.pack_client_min_diff_data(
        (x, y),
        x[negatives & (sex == SENSITIVE_GROUP)],
        x[negatives & (sex == NONSENSITIVE_GROUP)],
        batch_size=batch_size,
        min_diff_batch_size=min_diff_batch_size,
        seed=seed + partition_id,
    )


def _model(*, with_min_diff, min_diff_weight, kernel, learning_rate, seed):
    """A new `FederatedModel`: the guides' model (same initial weights for a given seed)."""
    import keras

    from keras_remediation import federated
    from keras_remediation import min_diff
    from keras_remediation.tools.tutorials_utils import uci

    keras.utils.set_random_seed(seed)
    model = uci.get_uci_model()
    if with_min_diff:
        model = min_diff.keras.MinDiffModel(
            model, min_diff.losses.MMDLoss(kernel=kernel), loss_weight=min_diff_weight
        )
    features = uci.get_uci_preprocessor().num_features
    return federated.from_keras_model(
        model,
        loss="binary_crossentropy",
        input_spec=(keras.KerasTensor((None, features)), keras.KerasTensor((None, 1))),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
        optimizer=functools.partial(keras.optimizers.Adam, learning_rate),
    )


def _federated_run(name, with_min_diff, settings, log):
    """Runs FedAvg for one configuration; returns the `FederatedRun`."""
    from keras_remediation.federated import flower

    model_fn = functools.partial(
        _model, with_min_diff=with_min_diff, min_diff_weight=settings["min_diff_weight"],
        kernel=settings["kernel"], learning_rate=settings["learning_rate"], seed=settings["seed"],
    )
    data_fn = functools.partial(
        _client_data, with_min_diff=with_min_diff, batch_size=settings["batch_size"],
        min_diff_batch_size=settings["min_diff_batch_size"],
        train_sample=settings["train_sample"], partition_column=settings["partition_column"],
        seed=settings["seed"],
    )
    central = functools.partial(_central_data, settings)
    rounds = settings["rounds"]

    def on_round_end(record):
        train, central_metrics = record.train, record.central
        parts = [f"  [{name}] round {record.round}/{rounds}:"]
        if train:
            parts.append(f"train loss {train['loss']:.4f}")
            if with_min_diff:
                parts.append(f"min_diff_loss {train['min_diff_loss']:.4f}")
        if central_metrics:
            parts.append(
                f"| test loss {central_metrics['loss']:.4f} auc {central_metrics['auc']:.4f} "
                f"accuracy {central_metrics['accuracy']:.4f}"
            )
        parts.append(f"| clients {record.train_clients} ok")
        if record.train_failures:
            parts.append(f"{record.train_failures} FAILED")
        parts.append(f"| {record.seconds:.1f}s")
        log(" ".join(parts))

    runs = []
    server = flower.server_app(
        model_fn, num_rounds=rounds, local_epochs=settings["local_epochs"],
        batch_size=settings["batch_size"], fraction_evaluate=0.0,
        min_nodes=settings["num_clients"], central_data_fn=central,
        on_round_end=on_round_end, on_finish=runs.append,
    )
    client = flower.client_app(
        model_fn, data_fn, local_epochs=settings["local_epochs"], batch_size=settings["batch_size"]
    )
    flower.run_simulation(
        server, client, settings["num_clients"], engine=settings["engine"],
        num_cpus_per_client=1,
    )
    return runs[0]


def _central_data(settings):
    data = _prepared_data(
        settings["train_sample"], settings["partition_column"], settings["num_clients"],
        settings["seed"],
    )
    return data["x_test"], data["y_test"]


def run(
    num_clients=DEFAULTS["num_clients"],
    rounds=DEFAULTS["rounds"],
    local_epochs=DEFAULTS["local_epochs"],
    batch_size=DEFAULTS["batch_size"],
    min_diff_batch_size=DEFAULTS["min_diff_batch_size"],
    min_diff_weight=DEFAULTS["min_diff_weight"],
    kernel=DEFAULTS["kernel"],
    partition_column=DEFAULTS["partition_column"],
    learning_rate=DEFAULTS["learning_rate"],
    seed=DEFAULTS["seed"],
    engine=DEFAULTS["engine"],
    output_dir="federated-report",
    train_sample=None,
    verbose=1,
    log=print,
    n_boot=DEFAULTS["n_boot"],
    thresholds=DEFAULTS["thresholds"],
):
    """Runs the federated demo (baseline FedAvg vs FedAvg with MinDiff); returns its report.

    Args:
        num_clients: clients the training split is divided among. Default 10.
        rounds: FedAvg rounds, for each of the two runs. Default 10.
        local_epochs: client epochs per round. Default 1.
        batch_size: original rows per client step. Default 128.
        min_diff_batch_size: rows per group in each MinDiff batch. Default 128.
        min_diff_weight: weight of the MMD loss. Default 4.0.
        kernel: `"gaussian"` or `"laplacian"`. Default `"gaussian"`.
        partition_column: UCI Adult column whose values are dealt out whole to clients (non-IID),
            e.g. `"education"` (default, 16 values), `"native-country"`, `"occupation"`; None
            for an IID split.
        learning_rate: the clients' Adam learning rate (its state restarts each round).
            Default 1e-3.
        seed: seed of the initial weights (the same for both runs), shuffles and dropout.
        engine: `"inprocess"` (default: Flower's apps and FedAvg, clients run one after another
            in this process) or `"ray"` (Flower's Simulation Engine, 1 CPU per client).
        output_dir: directory that receives `report.json`, `report.png`, `convergence.png`
            and `report.html` (created).
        train_sample: optional fraction in (0, 1] of the training split (for quick runs).
        verbose: 0: only the final report; 1 (default): also a line per round; 2: also
            Flower's own logs.
        log: callable receiving each printed line.
        n_boot: bootstrap resamples of the test rows for the CIs. Default 100.
        thresholds: decision thresholds of the gap table. Default (0.3, 0.5, 0.7).

    Returns:
        `{"baseline": report, "min_diff": report, "intervals": {...}, "gap_changes": [str],
        "history": {"baseline": ..., "min_diff": ...}, "settings": {...}}`: each report a
        `group_report` dict of the test split (accuracy, auc, fpr_gap, fnr_gap with
        `fpr_gap_ci`/`fnr_gap_ci`, groups) of the final global model, each history
        the per-round records (train loss and min_diff_loss aggregated over clients from raw
        metric state, test metrics, client and failure counts).

    Raises:
        ValueError: for a bad argument (e.g. a partition column with fewer values than
            clients, an unknown engine).
    """
    import logging
    import os
    import time

    import keras

    from keras_remediation.demos.fairness_report import write_fairness_report

    if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
        raise ValueError(f"`num_clients` must be a positive int; received {num_clients!r}.")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"`rounds` must be a positive int; received {rounds!r}.")
    if engine not in ("inprocess", "ray"):
        raise ValueError(f"`engine` must be 'inprocess' or 'ray'; received {engine!r}.")

    settings = {
        "backend": keras.backend.backend(),
        "num_clients": num_clients,
        "rounds": rounds,
        "local_epochs": local_epochs,
        "batch_size": batch_size,
        "min_diff_batch_size": min_diff_batch_size,
        "min_diff_weight": min_diff_weight,
        "kernel": kernel,
        "partition_column": partition_column,
        "learning_rate": learning_rate,
        "seed": seed,
        "engine": engine,
        "train_sample": train_sample,
    }
    data = _prepared_data(train_sample, partition_column, num_clients, seed)
    sizes = [int(len(part)) for part in data["parts"]]
    women = [int(((data["sex"][p] == SENSITIVE_GROUP) & (data["y"][p, 0] == 0)).sum())
             for p in data["parts"]]
    settings["client_rows"] = sizes
    settings["client_label0_women"] = women
    settings["train_rows"] = int(len(data["x"]))
    settings["test_rows"] = int(len(data["x_test"]))
    split = f"non-IID by {partition_column!r}" if partition_column else "IID"
    log(
        f"UCI Adult across {num_clients} clients ({split}; rows per client {min(sizes)}-"
        f"{max(sizes)}), FedAvg for {rounds} rounds, {settings['backend']} backend, "
        f"{engine} engine"
    )

    from keras_remediation.federated import flower  # noqa: F401 - sets up Flower's logger first

    flower_logger = logging.getLogger("flwr")
    saved_level = flower_logger.level
    if verbose < 2:
        flower_logger.setLevel(logging.WARNING)
    progress = log if verbose >= 1 else (lambda line: None)
    runs, seconds = {}, {}
    try:
        for step, (name, with_min_diff, title) in enumerate((
            ("baseline", False, "Baseline FedAvg"),
            ("min_diff", True, f"FedAvg with MinDiff (MMD, {kernel} kernel, weight "
                               f"{min_diff_weight}): label-0 women vs label-0 men per client"),
        ), start=1):
            log(f"[{step}/2] {title}")
            start = time.perf_counter()
            runs[name] = _federated_run(name, with_min_diff, settings, progress)
            seconds[name] = time.perf_counter() - start
    finally:
        flower_logger.setLevel(saved_level)

    x_test, y_test, test_sex = data["x_test"], data["y_test"], data["test_sex"]
    scores = {
        name: run_.federated_model.predict(x_test, batch_size=4096, verbose=0)[:, 0]
        for name, run_ in runs.items()
    }
    settings["train_seconds"] = seconds
    failures = sum(run_.history.total_failures for run_ in runs.values())
    if failures:
        log(f"WARNING: {failures} client failure(s) during the runs; see the history.")
    histories = {name: run_.history.to_dict() for name, run_ in runs.items()}
    os.makedirs(output_dir, exist_ok=True)
    convergence_path = plot_convergence(
        histories, os.path.join(output_dir, "convergence.png"),
        title=f"UCI Adult, {num_clients} clients: global model on the test split per round",
    )
    return write_fairness_report(
        output_dir, y_test[:, 0], test_sex, scores,
        titles={"baseline": "FedAvg", "min_diff": "FedAvg + MinDiff"}, settings=settings,
        title=(f"UCI Adult test split, {num_clients} clients x {rounds} rounds: FedAvg vs "
               f"FedAvg + MinDiff (weight {min_diff_weight:g})"),
        n_boot=n_boot, thresholds=thresholds, seed=seed, log=log,
        extra={"history": histories}, extra_figures=[convergence_path],
    )


def plot_convergence(histories, path, *, title=None):
    """Draws the per-round central test metrics of each run (loss, AUC, accuracy).

    Args:
        histories: `{name: FederatedHistory.to_dict()}` (`"baseline"`, `"min_diff"`).
        path: image path; its directory is created.
        title: optional figure title.

    Returns:
        The path written, as a `str`.
    """
    import os

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = {"baseline": "FedAvg", "min_diff": "FedAvg + MinDiff"}
    figure = Figure(figsize=(12, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    for axis, metric in zip(axes, ("loss", "auc", "accuracy")):
        for name, history in histories.items():
            points = [(r["round"], r["central"][metric]) for r in history["rounds"]
                      if metric in r.get("central", {})]
            if points:
                rounds, values = zip(*points)
                axis.plot(rounds, values, marker="o", label=labels.get(name, name))
        axis.set_xlabel("round (0: initial weights)")
        axis.set_ylabel(f"test {'AUC' if metric == 'auc' else metric}")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title or "Global model per round")
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=100)
    return os.fspath(path)
