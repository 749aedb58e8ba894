"""The `keras-remediation` command line: `keras-remediation demo [adult|compatibility|federated]`,
and `keras-remediation demo --sweep` (the MinDiff weight sweep on UCI Adult).

The backend is chosen before Keras is imported (`--backend`, default jax, the fastest on the
project's CPU measurements), so this module imports Keras only inside the commands.
"""

import argparse
import math
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "jax"


def _checked(convert, accepts, expected):
    """An argparse `type`: `convert(text)`, refused unless `accepts(value)`, with a message."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
        return value

    return parse


_positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
_non_negative_float = _checked(float, lambda v: 0 <= v < math.inf, "a non-negative number")
_non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
_fraction = _checked(float, lambda v: 0 < v <= 1, "a fraction in (0, 1]")
_open_fraction = _checked(float, lambda v: 0 < v < 1, "a fraction in (0, 1)")
_closed_fraction = _checked(float, lambda v: 0 <= v <= 1, "a fraction in [0, 1]")


def _lambdas(text):
    parts = [part.strip() for part in text.split(",")]
    if not parts or any(not part for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated non-negative numbers such as 0,0.5,1,2,5, received {text!r}"
        )
    try:
        return tuple(_non_negative_float(part) for part in parts)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated non-negative numbers such as 0,0.5,1,2,5, received {text!r}"
        ) from None


def _seeds(text):
    try:
        values = tuple(int(part.strip()) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(
            f"expected distinct comma-separated integers such as 1,2,3, received {text!r}"
        )
    return values


DEMOS = ("adult", "compatibility", "federated")

# Options that only some demos take: dest -> (option string, those demos).
_MIN_DIFF_DEMOS = ("adult", "federated")
_DEMO_ONLY = {
    "min_diff_batch_size": ("--min-diff-batch-size", _MIN_DIFF_DEMOS),
    "min_diff_weight": ("--min-diff-weight", _MIN_DIFF_DEMOS),
    "kernel": ("--kernel", _MIN_DIFF_DEMOS),
    "train_sample": ("--train-sample", _MIN_DIFF_DEMOS),
    "n_boot": ("--n-boot", _MIN_DIFF_DEMOS),
    "sweep": ("--sweep", ("adult",)),
    "sweep_weights": ("--sweep-weights", ("adult",)),
    "sweep_seeds": ("--sweep-seeds", ("adult",)),
    "lambdas": ("--lambdas", ("compatibility",)),
    "label_noise": ("--label-noise", ("compatibility",)),
    "h1_fraction": ("--h1-fraction", ("compatibility",)),
    "dataset": ("--dataset", ("compatibility",)),
    "clients": ("--clients", ("federated",)),
    "rounds": ("--rounds", ("federated",)),
    "local_epochs": ("--local-epochs", ("federated",)),
    "partition_column": ("--partition-column", ("federated",)),
    "engine": ("--engine", ("federated",)),
}


def _demo_defaults():
    from keras_remediation.demos.settings import ADULT_FEDERATED
    from keras_remediation.demos.settings import ADULT_MIN_DIFF
    from keras_remediation.demos.settings import DIGITS_COMPATIBILITY

    return {
        "adult": {
            "epochs": ADULT_MIN_DIFF["epochs"],
            "batch_size": ADULT_MIN_DIFF["batch_size"],
            "seed": ADULT_MIN_DIFF["seed"],
            "learning_rate": ADULT_MIN_DIFF["learning_rate"],
            "output_dir": "remediation-report",
            "min_diff_batch_size": ADULT_MIN_DIFF["min_diff_batch_size"],
            "min_diff_weight": ADULT_MIN_DIFF["min_diff_weight"],
            "kernel": ADULT_MIN_DIFF["kernel"],
            "train_sample": None,
            "n_boot": ADULT_MIN_DIFF["n_boot"],
            "sweep": False,
            "sweep_weights": None,
            "sweep_seeds": None,
        },
        "compatibility": {
            "epochs": DIGITS_COMPATIBILITY["epochs"],
            "batch_size": DIGITS_COMPATIBILITY["batch_size"],
            "seed": DIGITS_COMPATIBILITY["seed"],
            "learning_rate": DIGITS_COMPATIBILITY["learning_rate"],
            "output_dir": "compatibility-report",
            "lambdas": tuple(DIGITS_COMPATIBILITY["lambdas"]),
            "label_noise": DIGITS_COMPATIBILITY["label_noise"],
            "h1_fraction": DIGITS_COMPATIBILITY["h1_fraction"],
            "dataset": DIGITS_COMPATIBILITY["dataset"],
        },
        "federated": {
            "epochs": None,  # not an option of this demo: see --local-epochs and --rounds
            "batch_size": ADULT_FEDERATED["batch_size"],
            "seed": ADULT_FEDERATED["seed"],
            "learning_rate": ADULT_FEDERATED["learning_rate"],
            "output_dir": "federated-report",
            "min_diff_batch_size": ADULT_FEDERATED["min_diff_batch_size"],
            "min_diff_weight": ADULT_FEDERATED["min_diff_weight"],
            "kernel": ADULT_FEDERATED["kernel"],
            "train_sample": None,
            "n_boot": ADULT_FEDERATED["n_boot"],
            "clients": ADULT_FEDERATED["num_clients"],
            "rounds": ADULT_FEDERATED["rounds"],
            "local_epochs": ADULT_FEDERATED["local_epochs"],
            "partition_column": ADULT_FEDERATED["partition_column"],
            "engine": ADULT_FEDERATED["engine"],
        },
    }


def build_parser():
    """The argument parser of `keras-remediation`.

    Demo options default to None here and are filled with the chosen demo's defaults by
    `main` (see `demos.settings`), so that an option of the other demo can be refused.
    """
    from keras_remediation.demos.settings import ADULT_MIN_DIFF_SWEEP as sweep_defaults

    defaults = _demo_defaults()
    adult, compat, fed = defaults["adult"], defaults["compatibility"], defaults["federated"]

    def both(key):
        return ", ".join(
            f"{name}: {values[key]}" for name, values in defaults.items()
            if values[key] is not None
        )

    parser = argparse.ArgumentParser(
        prog="keras-remediation",
        description="Train Keras models with extra loss components (MinDiff, backward "
        "compatibility, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run a demo: MinDiff on UCI Adult (default), a backward-compatible update "
        "on digits or Fashion-MNIST, or federated MinDiff on UCI Adult",
        description=(
            "adult (default): train an income classifier on the bundled UCI Adult data with "
            "and without MinDiff and report accuracy, AUC and per-group FPR/FNR on the test "
            "split (with --sweep: over several MinDiff weights and seeds, with the Pareto "
            "table and plot). compatibility: train a new digits (or, with --dataset fashion_mnist, "
            "Fashion-MNIST) classifier h2 with label noise over a sweep of lambda_c values, "
            "compatible with an older h1, and report accuracy, backward trust/error "
            "compatibility (BTC/BEC) and new errors. federated: split "
            "UCI Adult across clients (non-IID), train with FedAvg on Flower with and without "
            "MinDiff, and report the global models' fairness as the adult demo does."
        ),
    )
    demo.add_argument("name", nargs="?", choices=DEMOS, default="adult",
                      help="which demo (default: adult)")
    demo.add_argument("--backend", choices=BACKENDS, default=None,
                      help=f"Keras backend (default: $KERAS_BACKEND if set, else {DEFAULT_BACKEND})")
    demo.add_argument("--epochs", type=_positive_int, default=None,
                      help=f"default {both('epochs')} (federated: see --rounds)")
    demo.add_argument("--batch-size", type=_positive_int, default=None,
                      help=f"default {both('batch_size')}")
    demo.add_argument("--seed", type=int, default=None, help=f"default {both('seed')}")
    demo.add_argument("--learning-rate", type=_non_negative_float, default=None,
                      help=f"default {both('learning_rate')}")
    demo.add_argument("--output-dir", default=None,
                      help="where the report files go (default: ./remediation-report/ for "
                      "adult, ./compatibility-report/ for compatibility, ./federated-report/ "
                      "for federated)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    adult_options = demo.add_argument_group("adult and federated demos only")
    adult_options.add_argument("--min-diff-batch-size", type=_positive_int, default=None,
                               help=f"rows per group per batch (default "
                               f"{adult['min_diff_batch_size']})")
    adult_options.add_argument("--min-diff-weight", type=_non_negative_float, default=None,
                               help=f"default {adult['min_diff_weight']}")
    adult_options.add_argument("--kernel", choices=("gaussian", "laplacian"), default=None,
                               help=f"default {adult['kernel']}")
    adult_options.add_argument("--train-sample", type=_fraction, default=None,
                               help="use a fraction of the training split (quick runs)")
    adult_options.add_argument("--n-boot", type=_non_negative_int, default=None,
                               help="bootstrap resamples of the test rows for the confidence "
                               f"intervals of the report (default {adult['n_boot']}; 0: none)")
    sweep_options = demo.add_argument_group("MinDiff weight sweep (adult demo only)")
    sweep_options.add_argument("--sweep", action="store_true", default=None,
                               help="train MinDiff over several weights and seeds and write "
                               "the Pareto table and plot (default output: ./sweep-report/)")
    sweep_options.add_argument("--sweep-weights", type=_lambdas, default=None,
                               help="comma-separated MinDiff weights >= 0 (default "
                               f"{','.join(f'{v:g}' for v in sweep_defaults['weights'])})")
    sweep_options.add_argument("--sweep-seeds", type=_seeds, default=None,
                               help="comma-separated seeds (default "
                               f"{','.join(str(v) for v in sweep_defaults['seeds'])})")
    compat_options = demo.add_argument_group("compatibility demo only")
    compat_options.add_argument("--lambdas", type=_lambdas, default=None,
                                help="comma-separated lambda_c values >= 0 (default "
                                f"{','.join(f'{v:g}' for v in compat['lambdas'])})")
    compat_options.add_argument("--label-noise", type=_closed_fraction, default=None,
                                help="share of the labels h1 never saw that are replaced by "
                                f"another class (default {compat['label_noise']})")
    compat_options.add_argument("--h1-fraction", type=_open_fraction, default=None,
                                help="share of the training rows h1 is trained on (default "
                                f"{compat['h1_fraction']})")
    compat_options.add_argument("--dataset", choices=("digits", "fashion_mnist"), default=None,
                                help="scikit-learn's bundled digits, or a 10,000/2,000-row "
                                "subsample of Fashion-MNIST, offline only: from the Keras "
                                "cache or Debian's dataset-fashion-mnist package (default "
                                f"{compat['dataset']})")
    fed_options = demo.add_argument_group("federated demo only")
    fed_options.add_argument("--clients", type=_positive_int, default=None,
                             help=f"number of clients (default {fed['clients']})")
    fed_options.add_argument("--rounds", type=_positive_int, default=None,
                             help=f"FedAvg rounds (default {fed['rounds']})")
    fed_options.add_argument("--local-epochs", type=_positive_int, default=None,
                             help=f"client epochs per round (default {fed['local_epochs']})")
    fed_options.add_argument("--partition-column", default=None,
                             help="UCI Adult column whose values go whole to one client "
                             f"(non-IID; default {fed['partition_column']}); 'none' for IID")
    fed_options.add_argument("--engine", choices=("inprocess", "ray"), default=None,
                             help="Flower engine: in this process, or Ray's simulation engine "
                             f"(default {fed['engine']})")
    return parser


def _fill_demo_defaults(parser, args):
    """Refuses options of the other demo, then fills the unset options with the demo's defaults."""
    if args.name == "federated" and args.epochs is not None:
        parser.error("--epochs does not apply to the federated demo: use --rounds and "
                     "--local-epochs")
    for dest, (option, owners) in _DEMO_ONLY.items():
        if args.name not in owners and getattr(args, dest) is not None:
            demos = " and ".join(owners) + (" demos" if len(owners) > 1 else " demo")
            parser.error(f"{option} applies only to the {demos} (`demo {owners[0]}`)")
    if args.name == "adult" and not args.sweep:
        for dest in ("sweep_weights", "sweep_seeds"):
            if getattr(args, dest) is not None:
                parser.error(f"--{dest.replace('_', '-')} applies only with --sweep")
    if args.sweep:
        if args.min_diff_weight is not None:
            parser.error("--min-diff-weight does not apply with --sweep: use --sweep-weights")
        if args.seed is not None:
            parser.error("--seed does not apply with --sweep: use --sweep-seeds")
        if args.n_boot is not None:
            parser.error("--n-boot does not apply with --sweep (its error bars are over seeds)")
        if args.output_dir is None:
            args.output_dir = "sweep-report"
    for key, value in _demo_defaults()[args.name].items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def main(argv=None):
    """Entry point of the `keras-remediation` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        _fill_demo_defaults(parser, args)
        backend = args.backend or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
            parser.error(
                f"--backend {backend}: Keras is already imported with the "
                f"{sys.modules['keras'].backend.backend()} backend in this process"
            )
        os.environ["KERAS_BACKEND"] = backend
        if args.name == "compatibility":
            from keras_remediation.datasets.fashion_mnist import FashionMnistNotFoundError
            from keras_remediation.demos import digits_compatibility

            try:
                digits_compatibility.run(
                    epochs=args.epochs,
                    lambdas=args.lambdas,
                    seed=args.seed,
                    output_dir=args.output_dir,
                    verbose=0 if args.quiet else 1,
                    batch_size=args.batch_size,
                    learning_rate=args.learning_rate,
                    h1_fraction=args.h1_fraction,
                    label_noise=args.label_noise,
                    dataset=args.dataset,
                )
            except FashionMnistNotFoundError as error:  # raised before any training
                parser.error(f"--dataset {args.dataset}: {error}")
            return 0
        if args.name == "federated":
            from keras_remediation.demos import adult_federated

            partition = args.partition_column
            try:
                adult_federated.check_partition(
                    None if partition.lower() == "none" else partition, args.clients
                )
            except ValueError as error:
                parser.error(f"--partition-column / --clients: {error}")
            adult_federated.run(
                num_clients=args.clients,
                rounds=args.rounds,
                local_epochs=args.local_epochs,
                batch_size=args.batch_size,
                min_diff_batch_size=args.min_diff_batch_size,
                min_diff_weight=args.min_diff_weight,
                kernel=args.kernel,
                partition_column=None if partition.lower() == "none" else partition,
                learning_rate=args.learning_rate,
                seed=args.seed,
                engine=args.engine,
                output_dir=args.output_dir,
                train_sample=args.train_sample,
                verbose=0 if args.quiet else 1,
                n_boot=args.n_boot,
            )
            return 0
        if args.sweep:
            from keras_remediation.demos import adult_min_diff_sweep
            from keras_remediation.demos.settings import ADULT_MIN_DIFF_SWEEP

            adult_min_diff_sweep.run(
                weights=args.sweep_weights or ADULT_MIN_DIFF_SWEEP["weights"],
                seeds=args.sweep_seeds or ADULT_MIN_DIFF_SWEEP["seeds"],
                epochs=args.epochs,
                batch_size=args.batch_size,
                min_diff_batch_size=args.min_diff_batch_size,
                kernel=args.kernel,
                learning_rate=args.learning_rate,
                output_dir=args.output_dir,
                train_sample=args.train_sample,
                verbose=0 if args.quiet else 1,
            )
            return 0
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
            n_boot=args.n_boot,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
