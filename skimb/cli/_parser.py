"""The ``skimb`` command's arguments: one sub-parser per command, and the
checks of their values."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skimb",
        description="Keras networks for imbalanced multi-class data.",
        epilog="Run 'skimb COMMAND --help' for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="compare imbalance strategies on embedded data",
        description=(
            "Compare plain crossentropy with the imbalance strategies on embedded "
            "synthetic data (4 classes sized like 10K/500K/90K/30K; a table and "
            "20-step sequences), scored on macro-F1 with stratified "
            "cross-validation, and write an HTML report."
        ),
    )
    demo.add_argument(
        "--quick", action="store_true", help="small data and few epochs (smoke run)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--out",
        default="skimb-demo-report",
        metavar="DIR",
        help="folder of the report (default: ./skimb-demo-report)",
    )

    tune = commands.add_parser(
        "tune",
        help="tune a network on a data file and save the best model",
        description=(
            "Search hyper-parameters with Optuna, scored on cross-validated "
            "macro-F1, on a table (CSV or Parquet, with --target naming the label "
            "column) or sequences (.npz with X of shape (n, timesteps, features) "
            "and labels y, or the array --target names).  A stratified share of "
            "the rows (whole groups, with --groups) is held out to evaluate the "
            "best model in the report.  "
            "Writes model.skimb and report.html."
        ),
    )
    tune.add_argument("data", metavar="DATA", help=".csv, .parquet or .npz file")
    tune.add_argument(
        "--target",
        metavar="COLUMN",
        help="label column of a table (of an .npz: the labels' array, default y)",
    )
    tune.add_argument(
        "--groups",
        metavar="COLUMN",
        help=(
            "column of a table (of an .npz: an array) naming each row's group, "
            "such as a recording or a patient, and not a feature: the held-out "
            "rows, the search's folds and the cross-fitted networks' folds keep "
            "every group whole"
        ),
    )
    tune.add_argument(
        "--trials", type=_positive_int, default=20, help="trials (default: 20)"
    )
    tune.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="start no new trial after this many seconds",
    )
    tune.add_argument(
        "--storage",
        metavar="URL|FILE",
        help=(
            "where the study lives, to resume it or share it between workers: a "
            "database URL (sqlite:///search.db, postgresql://host/db) or a journal "
            "file on a shared disk (search.journal)"
        ),
    )
    tune.add_argument("--study-name", metavar="NAME", help="study name in --storage")
    tune.add_argument(
        "--architecture",
        choices=("dense", "lstm", "gru", "conv1d"),
        help="network (default: dense for tables, lstm for sequences)",
    )
    tune.add_argument(
        "--cv", type=_fold_count, default=3, help="cross-validation folds (default: 3)"
    )
    tune.add_argument(
        "--networks",
        type=_network_count,
        default="auto",
        help=(
            "networks per fit: auto (up to 5 cross-fitted when the rarest class "
            "has fewer than 1,000 rows, else 1), 1, or N cross-fitted "
            "(default: auto)"
        ),
    )
    tune.add_argument(
        "--epochs",
        type=_positive_int,
        default=50,
        help="maximum epochs per fit, with early stopping (default: 50)",
    )
    tune.add_argument(
        "--test-size",
        type=_fraction,
        default=0.2,
        help="share of rows held out for the report (default: 0.2; 0: none)",
    )
    tune.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    tune.add_argument(
        "--out",
        metavar="DIR",
        help="folder for model.skimb and the report (default: ./skimb-tune-<DATA>)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on a labelled data file",
        description=(
            "Print macro-F1, balanced accuracy and per-class scores of a model "
            "file on labelled data; with --out, also write an HTML report."
        ),
    )
    evaluate.add_argument("model", metavar="MODEL", help="a .skimb model file")
    evaluate.add_argument("data", metavar="DATA", help=".csv, .parquet or .npz file")
    evaluate.add_argument(
        "--target",
        metavar="COLUMN",
        help="label column of a table (of an .npz: the labels' array, default y)",
    )
    evaluate.add_argument("--out", metavar="DIR", help="write an HTML report here")

    predict = commands.add_parser(
        "predict",
        help="predict classes and probabilities for a data file or folder",
        description=(
            "Write the predicted class and the class probabilities of every row "
            "to a .csv, .parquet or .npz file, atomically.  DATA may be a folder "
            "of tables or a glob pattern ('logs/*.parquet'): tables are read a "
            "chunk at a time, and a 'source_file' column says where each row came"
            " from."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help="a .skimb model file")
    predict.add_argument(
        "data",
        metavar="DATA",
        help=".csv, .parquet or .npz file, a folder of tables, or a glob pattern",
    )
    predict.add_argument(
        "--out", metavar="FILE", required=True, help=".csv, .parquet or .npz output"
    )
    predict.add_argument(
        "--target", metavar="COLUMN", help="a label column to ignore, if present"
    )
    predict.add_argument(
        "--chunk-rows",
        metavar="N",
        type=_positive_int,
        default=65_536,
        help="rows of a table read and predicted at a time (default 65536)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fold_count(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def _network_count(text: str) -> str | int:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be auto or a whole number of at least 1, got {text!r}"
        )
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value
