"""Backward-compatible update on handwritten digits: a λ_c sweep of new-error training.

scikit-learn's bundled digits (8×8 images, 10 classes, offline) are split into training and
test rows. The deployed model h1 is trained on 20% of the training rows. The update h2 is
trained on all of them, but the labels of 30% of the rows h1 never saw are replaced by another
class (a noisy-label update, where Srivastava et al., KDD 2020, found the trade-off clearest).
For each λ_c, h2 is trained with `BCNewErrorCompatibilityModel` from the same seed; the table of
accuracy, BTC, BEC and new errors is printed, and `report.json` plus `report.png` (the
performance-compatibility trade-off, its axes spanning at least `MIN_AXIS_SPAN` so that a few
test examples do not look like a trend, the BTC and BEC denominators in the axis labels),
`overlap.png` (per-class error overlap of h1 and the h2 of the largest λ_c) and a
self-contained `report.html` are written to `output_dir`.

`dataset="fashion_mnist"` runs the same experiment on Fashion-MNIST, offline only (the Keras
cache or Debian's `dataset-fashion-mnist`, see `keras_remediation.datasets.fashion_mnist`), on
a seeded subsample that keeps the run short: 10,000 of the 60,000 training images and 2,000 of
the 10,000 test images (`DIGITS_COMPATIBILITY["fashion_mnist_train_rows"]` / `..._test_rows`),
flattened to 784 features scaled to [0, 1]. The official train/test split is kept
(`test_fraction` applies to digits only); h1 trains on the first `h1_fraction` of the training
subsample and the label noise hits the rest, as for digits.
"""

import contextlib
import json
import os
import pathlib
import time

import numpy as np
import keras

from keras_remediation.backward_compatibility import sweep
from keras_remediation.demos.settings import DIGITS_COMPATIBILITY
from keras_remediation.evaluation import write_html_report

DEFAULTS = DIGITS_COMPATIBILITY
#: Smallest span of each axis of the trade-off plot (accuracy, BTC, BEC are shares in [0, 1]).
MIN_AXIS_SPAN = 0.1
DATASETS = ("digits", "fashion_mnist")
# Names in printed lines and plot titles: (data set, one row, class).
_NAMES = {
    "digits": ("Digits", "digits", "digit"),
    "fashion_mnist": ("Fashion-MNIST", "images", "class"),
}


def load_split(seed, test_fraction, h1_fraction, label_noise, dataset="digits"):
    """The demo's split of `dataset` ("digits" or "fashion_mnist"), as NumPy arrays.

    Returns:
        A dict with `x_train` `[N, F]` float32 in [0, 1] (F = 64 for digits, 784 for
        Fashion-MNIST), `y_train` (clean) and `y_noisy` `[N]` int64, `h1_rows` (the number of
        leading training rows h1 trains on), `x_test`, `y_test`, and `noisy_rows` (how many
        labels were changed). For Fashion-MNIST, `test_fraction` is unused (the official test
        set is subsampled instead).

    Raises:
        ValueError: for an unknown `dataset`.
        datasets.fashion_mnist.FashionMnistNotFoundError: Fashion-MNIST is not available
            offline (a `FileNotFoundError` naming the places looked in).
    """
    if dataset == "fashion_mnist":
        return _load_fashion_mnist_split(seed, h1_fraction, label_noise)
    if dataset != "digits":
        raise ValueError(f"`dataset` must be one of {DATASETS}; received {dataset!r}.")
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return _with_noise(rng, x[train], y[train], x[test], y[test], h1_fraction, label_noise)


def _load_fashion_mnist_split(seed, h1_fraction, label_noise):
    from keras_remediation.datasets import fashion_mnist

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    rng = np.random.default_rng(seed)
    train = rng.permutation(len(x_train))[: DEFAULTS["fashion_mnist_train_rows"]]
    test = rng.permutation(len(x_test))[: DEFAULTS["fashion_mnist_test_rows"]]

    def features(images):
        return (images.reshape(len(images), -1) / 255.0).astype("float32")

    return _with_noise(
        rng, features(x_train[train]), y_train[train].astype("int64"),
        features(x_test[test]), y_test[test].astype("int64"), h1_fraction, label_noise,
    )


def _with_noise(rng, x_train, y_train, x_test, y_test, h1_fraction, label_noise):
    """The split dict: h1 gets the leading rows, `label_noise` of the others get another class."""
    h1_rows = max(1, int(round(h1_fraction * len(x_train))))
    unseen = np.arange(h1_rows, len(x_train))
    flipped = unseen[rng.random(len(unseen)) < label_noise]
    y_noisy = y_train.copy()
    y_noisy[flipped] = (y_noisy[flipped] + rng.integers(1, 10, len(flipped))) % 10
    return {
        "x_train": x_train,
        "y_train": y_train,
        "y_noisy": y_noisy,
        "h1_rows": h1_rows,
        "x_test": x_test,
        "y_test": y_test,
        "noisy_rows": int(len(flipped)),
    }


@contextlib.contextmanager
def _single_torch_thread():
    """On the torch backend, one intra-op thread while inside (restored afterwards).

    The demo's models are tiny: extra threads only add synchronisation, which on busy cores
    made the torch run several times slower (measured 134 s against 38 s on 2 shared cores).
    """
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _mlp(hidden_units, features=64):
    return keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def run(
    epochs=DEFAULTS["epochs"],
    lambdas=DEFAULTS["lambdas"],
    seed=DEFAULTS["seed"],
    output_dir="compatibility-report",
    verbose=1,
    batch_size=DEFAULTS["batch_size"],
    learning_rate=DEFAULTS["learning_rate"],
    h1_fraction=DEFAULTS["h1_fraction"],
    label_noise=DEFAULTS["label_noise"],
    log=print,
    dataset=DEFAULTS["dataset"],
):
    """Runs the demo and returns its report dict.

    Args:
        epochs: epochs of each h2 (h1 is trained for `2 * epochs` on its smaller share).
            Default 20.
        lambdas: the λ_c values, numbers ≥ 0. Default (0, 0.5, 1, 2, 5).
        seed: seed of the split, the label noise, the weights and the shuffles. Default 1.
        output_dir: directory receiving `report.json`, `report.png` and `overlap.png`
            (created). Default "compatibility-report".
        verbose: 1 prints progress lines; 0 prints only the table and the file names (through
            `log`). Keras's `fit` runs silently either way.
        batch_size: rows per step. Default 32.
        learning_rate: Adam's learning rate. Default 1e-3.
        h1_fraction: share of the training rows h1 is trained on. Default 0.2.
        label_noise: share of the other training rows whose label is replaced by another class.
            Default 0.3.
        log: callable receiving each printed line. Default `print`.
        dataset: "digits" (default; scikit-learn's bundled 8×8 digits) or "fashion_mnist"
            (a 10,000-train / 2,000-test seeded subsample of Fashion-MNIST, 784 features in
            [0, 1], loaded offline from the Keras cache or Debian's `dataset-fashion-mnist`;
            35 s with the default settings on jax, 2 shared CPU cores).

    Returns:
        `{"settings": {...}, "h1_accuracy": float, "results": [row per λ_c]}`, each row with
        `lambda_c`, `accuracy`, `btc`, `bec`, `bec_h1_errors`, `new_errors`, `fixed_errors` and
        `dissonance` (see `backward_compatibility.sweep.lambda_sweep`). `settings` includes
        `dataset`.

    On the torch backend the run uses one intra-op thread (restored afterwards).

    Raises:
        ValueError: for negative λ_c values or invalid settings (from `lambda_sweep`), or
            fractions outside (0, 1) / [0, 1], or an unknown `dataset`.
        datasets.fashion_mnist.FashionMnistNotFoundError: `dataset="fashion_mnist"` and the
            data is not available offline (a `FileNotFoundError`; raised before any training).
    """
    with _single_torch_thread():
        return _run(epochs, lambdas, seed, output_dir, verbose, batch_size, learning_rate,
                    h1_fraction, label_noise, log, dataset)


def _run(epochs, lambdas, seed, output_dir, verbose, batch_size, learning_rate, h1_fraction,
         label_noise, log, dataset):
    if dataset not in DATASETS:
        raise ValueError(f"`dataset` must be one of {DATASETS}; received {dataset!r}.")
    if not 0 < h1_fraction < 1:
        raise ValueError(f"`h1_fraction` must be in (0, 1); received {h1_fraction!r}.")
    if not 0 <= label_noise <= 1:
        raise ValueError(f"`label_noise` must be in [0, 1]; received {label_noise!r}.")
    start = time.perf_counter()
    data = load_split(seed, DEFAULTS["test_fraction"], h1_fraction, label_noise, dataset)
    title, rows_noun, class_noun = _NAMES[dataset]
    settings = {
        "dataset": dataset,
        "backend": keras.backend.backend(),
        "epochs": epochs,
        "h1_epochs": 2 * epochs,
        "lambdas": [float(v) for v in lambdas],
        "seed": seed,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "h1_fraction": h1_fraction,
        "label_noise": label_noise,
        "train_rows": int(len(data["x_train"])),
        "h1_rows": data["h1_rows"],
        "noisy_rows": data["noisy_rows"],
        "test_rows": int(len(data["x_test"])),
    }
    hidden_units = DEFAULTS["hidden_units"]
    features = int(data["x_train"].shape[1])

    if verbose:
        log(
            f"[1/2] h1: {2 * epochs} epochs on {data['h1_rows']} clean {rows_noun} "
            f"({settings['backend']} backend)"
        )
    keras.utils.set_random_seed(seed)
    h1 = _mlp(hidden_units, features)
    h1.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    h1.fit(
        data["x_train"][: data["h1_rows"]],
        data["y_train"][: data["h1_rows"]],
        epochs=2 * epochs,
        batch_size=batch_size,
        verbose=0,
    )
    if verbose:
        log(
            f"[2/2] h2 for λ_c in {settings['lambdas']}: {epochs} epochs on "
            f"{settings['train_rows']} {rows_noun}, {data['noisy_rows']} of them mislabelled"
        )
    table, models = sweep.lambda_sweep(
        lambda: _mlp(hidden_units, features),
        h1,
        (data["x_train"], data["y_noisy"]),
        (data["x_test"], data["y_test"]),
        lambdas,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=lambda: keras.optimizers.Adam(learning_rate),
        seed=seed,
        return_models=True,
    )
    h1_accuracy = float(table.attrs["h1_accuracy"])
    settings["seconds"] = round(time.perf_counter() - start, 2)

    log("")
    split = "test split" if dataset == "digits" else "test subsample"
    log(f"{title} {split} ({settings['test_rows']} rows); h1 accuracy {h1_accuracy:.3f}")
    log(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    os.makedirs(output_dir, exist_ok=True)
    result = {
        "settings": settings,
        "h1_accuracy": h1_accuracy,
        "results": json.loads(table.to_json(orient="records")),
    }
    json_path = os.path.join(output_dir, "report.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    png_path = os.path.join(output_dir, "report.png")
    _plot_tradeoff(
        table,
        png_path,
        settings["test_rows"],
        title=(
            f"{title}, {int(round(100 * label_noise))}% noisy labels: accuracy vs compatibility "
            f"with h1 over λ_c ({settings['test_rows']} test {rows_noun}, seed {seed})"
        ),
    )
    largest = int(np.argmax(table["lambda_c"].to_numpy()))
    overlap_path = os.path.join(output_dir, "overlap.png")
    sweep.plot_error_overlap(
        h1.predict(data["x_test"], verbose=0),
        models[largest].predict(data["x_test"], verbose=0),
        data["y_test"],
        overlap_path,
        title=f"Error overlap of h1 and h2 (λ_c = {table['lambda_c'].iloc[largest]:g}) per {class_noun}",
    )
    html_path = write_html_report(
        os.path.join(output_dir, "report.html"),
        f"{title}: backward-compatible update over λ_c",
        [
            ("Results", [
                f"h1 accuracy {h1_accuracy:.3f} on {settings['test_rows']} test {rows_noun}. "
                "BTC = examples both h1 and h2 get right / examples h1 gets right; BEC = "
                "examples both get wrong / examples h2 gets wrong (bec_h1_errors: / examples "
                "h1 gets wrong); new_errors: examples h1 gets right and h2 wrong.",
                table.set_index("lambda_c"),
            ]),
            ("Figures", [pathlib.Path(png_path), pathlib.Path(overlap_path)]),
            ("Settings", [json.dumps(settings)]),
        ],
    )
    log(f"Wrote {json_path}, {png_path}, {overlap_path} and {html_path}")
    return result


def _span(values, minimum=MIN_AXIS_SPAN, upper=1.0):
    """Axis limits covering `values` with a margin, at least `minimum` wide, within [0, upper]."""
    low, high = float(np.min(values)), float(np.max(values))
    margin = max((high - low) * 0.15, (minimum - (high - low)) / 2, 0.005)
    low, high = low - margin, high + margin
    if high > upper:
        low, high = low - (high - upper), upper
    if low < 0:
        low, high = 0.0, high - low
    return low, min(high, upper + 0.005)


def _plot_tradeoff(table, path, test_rows, title):
    """`sweep.plot_tradeoff`, with axes spanning ≥ MIN_AXIS_SPAN and the denominators named."""
    figure = sweep.plot_tradeoff(table, None, title=title)
    h1_right = int(round(table.attrs["h1_accuracy"] * test_rows))
    h2_errors = np.round((1.0 - table["accuracy"].to_numpy()) * test_rows).astype(int)
    accuracy = list(table["accuracy"]) + [table.attrs["h1_accuracy"]]
    labels = {
        "btc": f"BTC = both right / h1 right (h1 right: {h1_right} examples)",
        "bec": (f"BEC = both wrong / h2 wrong (h2 wrong: {h2_errors.min()}-{h2_errors.max()} "
                "examples)"),
    }
    for axis, key in zip(figure.axes[:2], ("btc", "bec")):
        axis.set_xlim(*_span(table[key].to_numpy()))
        axis.set_ylim(*_span(accuracy))
        axis.set_xlabel(labels[key])
        axis.set_ylabel(f"h2 accuracy ({test_rows} test examples)")
    figure.savefig(path, dpi=120)
    return figure
