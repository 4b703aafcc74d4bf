"""The ``skimb`` command.

This module only parses arguments and turns errors into one line on stderr;
the commands themselves live in :mod:`skimb._commands`, imported after the
arguments are parsed, so that ``skimb --help`` answers without loading Keras.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile


def _parser() -> argparse.ArgumentParser:
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
            "and y).  A stratified share of the rows is held out to evaluate the "
            "best model in the report.  Writes model.skimb and report.html."
        ),
    )
    tune.add_argument("data", metavar="DATA", help=".csv, .parquet or .npz file")
    tune.add_argument("--target", metavar="COLUMN", help="label column of a table")
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
            "networks per fit: auto (5 cross-fitted when the rarest class has "
            "fewer than 1,000 rows, else 1), 1, or N cross-fitted (default: auto)"
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
    evaluate.add_argument("--target", metavar="COLUMN", help="label column of a table")
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


@contextlib.contextmanager
def _native_stderr_held():
    """Keep what native code writes to stderr off the terminal meanwhile.

    TensorFlow's C++ lines (absl's "All log messages before
    absl::InitializeLog()", oneDNN's and the CUDA stub's notices) are written
    to file descriptor 2 when it loads, before TF_CPP_MIN_LOG_LEVEL or
    Python's logging can stop them.  File descriptor 2 goes to a temporary
    file, shown only if the command fails unexpectedly, while Python's
    ``sys.stderr`` (skimb's messages, warnings, tracebacks) keeps writing to
    the terminal.  Where ``sys.stderr`` is not file descriptor 2 (captured, as
    in tests), nothing changes.
    """
    try:
        is_fd_2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        is_fd_2 = False
    if not is_fd_2:
        yield
        return
    python_stderr = sys.stderr
    python_stderr.flush()
    terminal = os.dup(2)
    sys.stderr = open(  # noqa: SIM115 (closed below)
        terminal, "w", buffering=1, errors="backslashreplace", closefd=False
    )
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            sys.stderr.close()
            os.dup2(terminal, 2)
            os.close(terminal)
            sys.stderr = python_stderr


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skimb`` console script."""
    args = _parser().parse_args(argv)
    # The backend's start-up and tracing messages are noise on a terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with _native_stderr_held():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        from skimb import _commands

        return getattr(_commands, args.command)(args)
    except KeyboardInterrupt:
        print("\nskimb: interrupted.", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as error:
        # Bad input of any kind: one line that names the problem, no
        # traceback.  ModelFileError and DataError are ValueErrors.
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"skimb {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
