"""λ_c sweeps: train h2 once per λ_c, tabulate accuracy, BTC, BEC and new errors, and plot them.

`lambda_sweep` returns a pandas DataFrame (one row per λ_c); `plot_tradeoff` draws the
performance-compatibility trade-off (accuracy against BTC and against BEC, as in
BackwardCompatibilityML's sweeps); `plot_error_overlap` draws, per class, how many examples
both models get right, only h1 (the new errors), only h2, and neither. pandas and matplotlib
(the `report` extra) are imported inside the functions; figures are standalone matplotlib
`Figure`s drawn with the Agg renderer (no pyplot, no display).
"""

import os

import numpy as np
import keras

from keras_remediation.backward_compatibility import scores as bc_scores
from keras_remediation.backward_compatibility.losses import check_lambda_c
from keras_remediation.common.validation import check_positive_int

#: Columns of the table returned by `lambda_sweep`, in order.
SWEEP_COLUMNS = (
    "lambda_c",
    "accuracy",
    "btc",
    "bec",
    "bec_h1_errors",
    "new_errors",
    "fixed_errors",
    "dissonance",
)


def _check_lambdas(lambdas):
    if isinstance(lambdas, (str, bytes)) or not hasattr(lambdas, "__iter__"):
        raise ValueError(
            f"`lambdas` must be a non-empty sequence of numbers ≥ 0; received {lambdas!r}."
        )
    values = [check_lambda_c(value, "lambdas[%d]" % i) for i, value in enumerate(lambdas)]
    if not values:
        raise ValueError("`lambdas` must be a non-empty sequence of numbers ≥ 0; received [].")
    return values


def _make_optimizer(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "`optimizer` must create a fresh optimizer for each λ_c: pass a name ('adam'), a "
            "config dict or a callable returning an optimizer, not an optimizer instance."
        )
    if isinstance(optimizer, (str, dict)):
        return keras.optimizers.get(optimizer)
    if callable(optimizer):
        made = optimizer()
        if not isinstance(made, keras.optimizers.Optimizer):
            raise ValueError(
                f"`optimizer()` must return a keras optimizer; it returned {type(made).__name__}."
            )
        return made
    raise ValueError(
        "`optimizer` must be a name, a config dict or a callable returning a keras optimizer; "
        f"received {optimizer!r}."
    )


def _split_xy(data, arg_name):
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return data
    raise ValueError(f"`{arg_name}` must be a tuple (x, y) or (x, y, sample_weight) of arrays.")


def lambda_sweep(
    build_h2,
    h1,
    training_data,
    testing_data,
    lambdas=(0.0, 0.5, 1.0, 2.0, 5.0),
    *,
    epochs=10,
    batch_size=32,
    loss="sparse_categorical_crossentropy",
    optimizer="adam",
    metrics=None,
    seed=0,
    strict_imitation=False,
    threshold=0.5,
    verbose=0,
    return_models=False,
):
    """Trains a fresh h2 for each λ_c and tabulates its compatibility with h1 on test data.

    For each λ_c: the Keras random state is reset to `seed`, `build_h2()` builds a new,
    uncompiled h2, which is wrapped in `BCNewErrorCompatibilityModel` (or
    `BCStrictImitationCompatibilityModel`) with `h1` and λ_c, compiled and fitted on
    `training_data`; h2's predictions on `testing_data` are scored against h1's.

    Args:
        build_h2: callable with no arguments returning a new `keras.Model` (h2), with the same
            output shape as h1.
        h1: the deployed `keras.Model` (frozen by the wrapper).
        training_data: `(x, y)` or `(x, y, sample_weight)` arrays (shuffled by `fit` with the
            seed), or a dataset `fit` accepts (`tf.data.Dataset`, `PyDataset`) yielding
            `(x, y)` batches.
        testing_data: `(x, y)` arrays: h1 and h2 are scored on them.
        lambdas: the λ_c values, numbers ≥ 0. Default (0, 0.5, 1, 2, 5).
        epochs: epochs of each fit. Default 10.
        batch_size: batch size for array data. Default 32.
        loss: the compiled loss of h2. Default "sparse_categorical_crossentropy".
        optimizer: a name or config dict for `keras.optimizers.get`, or a callable returning a
            new optimizer (one per λ_c). Default "adam".
        metrics: compiled metrics. Default None.
        seed: the seed set before building and training each h2 (`keras.utils.set_random_seed`),
            so that every λ_c starts from the same weights and data order. Default 0.
        strict_imitation: use strict imitation instead of new error. Default False.
        threshold: decision threshold of `[N, 1]` binary outputs for the scores. Default 0.5.
        verbose: verbosity of `fit`. Default 0.
        return_models: if True, also return the trained wrapper models, one per λ_c.

    Returns:
        A `pandas.DataFrame` with one row per λ_c and the columns of `SWEEP_COLUMNS`:
        `lambda_c`, `accuracy` (h2 on the test data), `btc`, `bec` (over h2's errors),
        `bec_h1_errors` (over h1's errors), `new_errors`, `fixed_errors` and `dissonance` (the
        last training epoch's). `df.attrs` holds `h1_accuracy`, `test_examples`, `seed` and
        `variant` ("new_error" or "strict_imitation"). With `return_models=True`, the pair
        `(df, models)`.

    Raises:
        ValueError: if `lambdas` is empty or holds a negative / non-numeric value; if
            `optimizer` is an optimizer instance (it cannot be shared by fresh models) or
            invalid; if data are not in the forms above; if `epochs`/`batch_size` are not
            positive integers; errors of the model constructor (e.g. output shapes).
        TypeError: if `build_h2()` does not return a `keras.Model`.
        ImportError: if pandas is not installed (the `report` extra).
    """
    import pandas as pd

    from keras_remediation.backward_compatibility.models import BCNewErrorCompatibilityModel
    from keras_remediation.backward_compatibility.models import (
        BCStrictImitationCompatibilityModel,
    )

    values = _check_lambdas(lambdas)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive_int(value, name)
    if not callable(build_h2):
        raise TypeError(f"`build_h2` must be a callable returning a keras.Model; received {build_h2!r}.")
    x_test, y_test = _split_xy(testing_data, "testing_data")[:2]
    model_class = (
        BCStrictImitationCompatibilityModel if strict_imitation else BCNewErrorCompatibilityModel
    )
    h1_predictions = h1.predict(x_test, batch_size=max(batch_size, 256), verbose=0)

    rows, models = [], []
    for lambda_c in values:
        keras.utils.set_random_seed(seed)
        h2 = build_h2()
        if not isinstance(h2, keras.Model):
            raise TypeError(
                f"`build_h2()` must return a keras.Model; it returned {type(h2).__name__}."
            )
        model = model_class(h2, h1=h1, lambda_c=lambda_c)
        model.compile(optimizer=_make_optimizer(optimizer), loss=loss, metrics=metrics)
        if isinstance(training_data, (tuple, list)):
            x, y = training_data[0], training_data[1]
            sample_weight = training_data[2] if len(training_data) == 3 else None
            history = model.fit(
                x, y, sample_weight=sample_weight, epochs=epochs, batch_size=batch_size,
                shuffle=True, verbose=verbose,
            )
        else:
            history = model.fit(training_data, epochs=epochs, verbose=verbose)
        h2_predictions = model.predict(x_test, batch_size=max(batch_size, 256), verbose=0)
        summary = bc_scores.compatibility_summary(
            h1_predictions, h2_predictions, y_test, threshold=threshold
        )
        rows.append(
            {
                "lambda_c": lambda_c,
                "accuracy": summary["h2_accuracy"],
                "btc": summary["btc"],
                "bec": summary["bec"],
                "bec_h1_errors": summary["bec_h1_errors"],
                "new_errors": summary["new_errors"],
                "fixed_errors": summary["fixed_errors"],
                "dissonance": float(history.history["dissonance"][-1]),
            }
        )
        h1_accuracy = summary["h1_accuracy"]
        if return_models:
            models.append(model)
    table = pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))
    table.attrs.update(
        h1_accuracy=h1_accuracy,
        test_examples=int(len(h1_predictions)),
        seed=seed,
        variant="strict_imitation" if strict_imitation else "new_error",
    )
    return (table, models) if return_models else table


def _figure(ncols, width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return figure, axes


def _save(figure, path):
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        figure.savefig(path, dpi=120)


def _sweep_columns(results):
    """(lambda_c, accuracy, btc, bec, h1_accuracy or None) arrays from a table-like input."""
    try:
        columns = {key: np.asarray(results[key], dtype=float) for key in
                   ("lambda_c", "accuracy", "btc", "bec")}
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(
            "`results` must be a table with columns lambda_c, accuracy, btc and bec (the "
            f"DataFrame of `lambda_sweep`, or a dict of lists); missing {error}."
        ) from None
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError("`results` must have the same, non-zero number of values per column.")
    h1_accuracy = getattr(results, "attrs", {}).get("h1_accuracy")
    return columns, h1_accuracy


def plot_tradeoff(results, path=None, *, title=None, performance_label="accuracy"):
    """Draws the performance-compatibility trade-off of a λ_c sweep: accuracy vs BTC and vs BEC.

    Two panels, one point per λ_c (annotated with its value, joined in λ_c order): h2's accuracy
    against BTC, and against BEC (over h2's errors). A dashed line marks h1's accuracy when
    `results.attrs` holds `h1_accuracy` (as `lambda_sweep`'s table does).

    Args:
        results: the DataFrame of `lambda_sweep`, or a dict of equal-length lists with keys
            `lambda_c`, `accuracy`, `btc` and `bec`.
        path: optional file path (e.g. "report.png"); its directory is created. Default None.
        title: optional figure title.
        performance_label: y-axis label. Default "accuracy".

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: if a column is missing or the columns differ in length or are empty.
        ImportError: if matplotlib is not installed (the `report` extra).
    """
    columns, h1_accuracy = _sweep_columns(results)
    figure, axes = _figure(2, 10, 4.2)
    for axis, key, label in (
        (axes[0], "btc", "Backward trust compatibility (BTC)"),
        (axes[1], "bec", "Backward error compatibility (BEC)"),
    ):
        order = np.argsort(columns["lambda_c"], kind="stable")
        x, y = columns[key][order], columns["accuracy"][order]
        axis.plot(x, y, color="0.6", linewidth=1, zorder=1)
        points = axis.scatter(x, y, c=columns["lambda_c"][order], cmap="viridis", zorder=2)
        for i, (lam, xi, yi) in enumerate(zip(columns["lambda_c"][order], x, y)):
            # Alternate above/below so that labels of coinciding points stay readable.
            axis.annotate(f"λ={lam:g}", (xi, yi), textcoords="offset points",
                          xytext=(4, 5 if i % 2 == 0 else -11), fontsize=8)
        if h1_accuracy is not None:
            axis.axhline(h1_accuracy, color="tab:red", linestyle="--", linewidth=1,
                         label=f"h1 accuracy {h1_accuracy:.3f}")
            axis.legend(loc="lower right", fontsize=8)
        axis.set_xlabel(label)
        axis.set_ylabel(performance_label)
        axis.grid(True, alpha=0.3)
    figure.colorbar(points, ax=axes, label="λ_c", shrink=0.9)
    figure.suptitle(title or "Performance-compatibility trade-off over λ_c")
    _save(figure, path)
    return figure


def plot_error_overlap(
    h1_output,
    h2_output,
    expected_labels,
    path=None,
    *,
    class_names=None,
    title=None,
    threshold=0.5,
):
    """Draws per-class counts of both right, only h1 right, only h2 right and both wrong.

    A stacked bar per class (by expected label): green both right, red only h1 right (the new
    errors of the update), blue only h2 right (the errors it fixes), grey both wrong.

    Args:
        h1_output, h2_output, expected_labels, threshold: as
            `scores.trust_compatibility_score` (labels, scores `[N, classes]` or binary `[N, 1]`).
        path: optional file path; its directory is created. Default None.
        class_names: optional names for the classes (sorted distinct expected labels), same
            length. Default None: the labels.
        title: optional figure title.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: as `scores.error_overlap`; if `class_names` has the wrong length.
        ImportError: if matplotlib is not installed (the `report` extra).
    """
    classes, counts = bc_scores.error_overlap(
        h1_output, h2_output, expected_labels, threshold=threshold
    )
    if class_names is None:
        names = [str(c) for c in classes]
    else:
        names = [str(c) for c in class_names]
        if len(names) != len(classes):
            raise ValueError(
                f"`class_names` has {len(names)} names but the labels have {len(classes)} "
                "classes."
            )
    figure, (axis,) = _figure(1, max(6.0, 0.55 * len(classes) + 2.5), 4.2)
    colors = ("tab:green", "tab:red", "tab:blue", "0.6")
    labels = ("both right", "only h1 right (new errors)", "only h2 right (fixed)", "both wrong")
    positions = np.arange(len(classes))
    bottom = np.zeros(len(classes))
    for column, (color, label) in enumerate(zip(colors, labels)):
        axis.bar(positions, counts[:, column], bottom=bottom, color=color, label=label)
        bottom += counts[:, column]
    axis.set_xticks(positions, names)
    axis.set_xlabel("class (expected label)")
    axis.set_ylabel("examples")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title(title or "Error overlap of h1 and h2 per class")
    _save(figure, path)
    return figure


__all__ = ["SWEEP_COLUMNS", "lambda_sweep", "plot_error_overlap", "plot_tradeoff"]
