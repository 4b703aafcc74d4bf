"""The ``skimb`` command.

This package's entry point parses the arguments (``_parser``) and turns
errors into one line on stderr; each command lives in a module of its own
(``_demo``, ``_tune``, ``_evaluate``, ``_predict``, sharing ``_common`` and
``_progress``; ``_tune``'s splits by group in ``_groups``), imported after
the arguments are parsed, so that ``skimb --help`` answers without loading
Keras.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import tempfile

from skimb.cli._parser import build_parser


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
    args = build_parser().parse_args(argv)
    # The backend's start-up and tracing messages are noise on a terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with _native_stderr_held():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        command = importlib.import_module(f"skimb.cli._{args.command}")
        return getattr(command, args.command)(args)
    except KeyboardInterrupt:
        print("\nskimb: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (`skimb evaluate ... | head`):
        # nothing to say.  Python's recipe: point stdout at devnull, so that
        # flushing it at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):  # (no file descriptor)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError) as error:
        # Bad input of any kind: one line that names the problem, no
        # traceback.  ModelFileError and DataError are ValueErrors.
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"skimb {args.command}: error: {message}", file=sys.stderr)
        return 1
