"""The `keras-remediation` command line: `keras-remediation demo [options]`.

The backend is chosen before Keras is imported (`--backend`, default jax, the fastest on the
project's CPU measurements), so this module imports Keras only inside the commands.
"""

import argparse
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "jax"


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, received {text!r}")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, received {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], received {text!r}")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], received {text!r}")
    return value


def build_parser():
    """The argument parser of `keras-remediation`."""
    from keras_remediation.demos.settings import ADULT_MIN_DIFF as DEFAULTS

    parser = argparse.ArgumentParser(
        prog="keras-remediation",
        description="Train Keras models with extra loss components (MinDiff, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="MinDiff on UCI Adult: baseline vs MinDiff, FPR gap between women and men",
        description=(
            "Train an income classifier on the bundled UCI Adult data with and without MinDiff "
            "and report accuracy, AUC and per-group FPR/FNR on the test split."
        ),
    )
    demo.add_argument("--backend", choices=BACKENDS, default=None,
                      help=f"Keras backend (default: $KERAS_BACKEND if set, else {DEFAULT_BACKEND})")
    demo.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"])
    demo.add_argument("--batch-size", type=_positive_int, default=DEFAULTS["batch_size"])
    demo.add_argument("--min-diff-batch-size", type=_positive_int,
                      default=DEFAULTS["min_diff_batch_size"], help="rows per group per batch")
    demo.add_argument("--min-diff-weight", type=_non_negative_float,
                      default=DEFAULTS["min_diff_weight"])
    demo.add_argument("--kernel", choices=("gaussian", "laplacian"), default=DEFAULTS["kernel"])
    demo.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    demo.add_argument("--learning-rate", type=_non_negative_float,
                      default=DEFAULTS["learning_rate"])
    demo.add_argument("--train-sample", type=_fraction, default=None,
                      help="use a fraction of the training split (quick runs)")
    demo.add_argument("--output-dir", default="remediation-report",
                      help="where report.json and report.png go (default: ./remediation-report/)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None):
    """Entry point of the `keras-remediation` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        backend = args.backend or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
            parser.error(
                f"--backend {backend}: Keras is already imported with the "
                f"{sys.modules['keras'].backend.backend()} backend in this process"
            )
        os.environ["KERAS_BACKEND"] = backend
        from keras_remediation.demos import adult_min_diff

        adult_min_diff.run(
            epochs=args.epochs,
            batch_size=args.batch_size,
            min_diff_batch_size=args.min_diff_batch_size,
            min_diff_weight=args.min_diff_weight,
            kernel=args.kernel,
            seed=args.seed,
            learning_rate=args.learning_rate,
            output_dir=args.output_dir,
            train_sample=args.train_sample,
            verbose=0 if args.quiet else 1,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
