"""Progress of long command-line work: one status line, on terminals only."""

from __future__ import annotations

import shutil
import sys

import keras


class StatusLine:
    """A line on stderr rewritten in place; silent unless stderr is a terminal.

    Parameters
    ----------
    enabled : bool, optional
        Defaults to whether stderr is a terminal, so that piped or logged
        output holds results only.
    """

    def __init__(self, enabled: bool | None = None):
        self.stream = sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.context = ""
        self._shown = False

    def show(self, text: str) -> None:
        """Replace the status line with ``text``."""
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + text[:width].ljust(width))
        self.stream.flush()
        self._shown = True

    def say(self, text: str) -> None:
        """A permanent line (a finished trial, a warning) above the status."""
        if not self.enabled:
            return
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the status line, before normal output is printed."""
        if self.enabled and self._shown:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self._shown = False


class EpochProgress(keras.callbacks.Callback):
    """Keras callback that shows ``<context> · fold k/n · j networks · epoch i/m``.

    Given to the classifier as one of its ``callbacks``.  With ``n_folds``,
    the fits since the last :meth:`reset` are counted as cross-validation
    folds, and a fit beyond them as the final refit (the cross-fitted
    networks of one classifier fit train together: one fit).

    Parameters
    ----------
    status : StatusLine
        Where to show the progress.
    n_folds : int, optional
        Number of cross-validation folds per round.
    """

    def __init__(self, status: StatusLine, *, n_folds: int | None = None):
        super().__init__()
        self.status = status
        self.n_folds = n_folds
        self.fits = 0
        self.refitting = False
        # Called at the start of every fit, to look at the search's trials.
        self.on_fit = None

    # scikit-learn's clone deep-copies the classifier's callbacks for every
    # fold; one shared display must count all of them.
    def __deepcopy__(self, memo):
        return self

    def reset(self, *, refitting: bool = False) -> None:
        """Start counting folds again: a new trial, or the final refit."""
        self.fits = 0
        self.refitting = refitting

    def on_train_begin(self, logs=None):
        if self.on_fit is not None:
            self.on_fit()
        self.fits += 1

    def on_epoch_end(self, epoch, logs=None):
        parts = [self.status.context]
        if self.n_folds is not None:
            parts.append(
                "refit" if self.refitting else f"fold {self.fits}/{self.n_folds}"
            )
        # The engine's params say how many networks train together.
        networks = self.params.get("networks", 1)
        if networks > 1:
            parts.append(f"{networks} networks")
        parts.append(f"epoch {epoch + 1}/{self.params.get('epochs', '?')}")
        score = (logs or {}).get("val_macro_f1")
        if score is not None:
            parts.append(f"val macro-F1 {score:.3f}")
        self.status.show(" · ".join(p for p in parts if p))
