"""Progress of long command-line work on stderr, on terminals only: what
runs now, and a bar over the command's work with elapsed time and ETA."""

from __future__ import annotations

import sys

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _Display(Progress):
    """rich's progress bar under a line of its own that says what runs now
    (a trial, a fold, an epoch, the validation macro-F1): in the bar's row it
    would be cut to what the bar leaves of the width."""

    line = ""

    def get_renderables(self):
        yield Text(self.line, no_wrap=True, overflow="ellipsis")
        yield from super().get_renderables()


class StatusLine:
    """Progress on stderr, drawn by rich; silent unless stderr is a terminal.

    ``done`` of ``total`` units of work (trials, folds) drive the bar, a
    running unit's share of its epochs the part between them.

    Parameters
    ----------
    total : int, optional
        Units of work of the command; without it, the bar only pulses.
    enabled : bool, optional
        Defaults to whether stderr is a terminal, so that piped or logged
        output holds results only.
    """

    def __init__(self, total: int | None = None, *, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.context = ""
        self.total = total
        self.done = 0
        self._display = None
        if self.enabled:
            self._display = _Display(
                TextColumn("  "),
                BarColumn(bar_width=30),
                MofNCompleteColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                # Results go to stdout, between displays: never through it.
                console=Console(file=sys.stderr),
                # Redrawn at each epoch; the time estimate keeps every
                # epoch's progress (rich's default forgets what is older than
                # 30 s, and epochs of large fits take longer).
                auto_refresh=False,
                speed_estimate_period=24 * 3600,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._display.add_task("", total=total)

    def show(self, text: str, *, running: float = 0.0) -> None:
        """Say ``text``, with ``running`` (0 to 1) of the next unit done."""
        if not self.enabled:
            return
        self._display.line = text
        completed = min(self.done + running, self.total or 0)
        self._display.update(self._task, completed=completed)
        self._display.start()
        self._display.refresh()

    def say(self, text: str) -> None:
        """A permanent line (a finished trial, a warning) above the display."""
        if self.enabled:
            self._display.console.print(text, markup=False, highlight=False)

    def clear(self) -> None:
        """Remove the display, before normal output is printed."""
        if self.enabled:
            self._display.stop()


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
        # The share of this unit of work done: of its folds, of their epochs.
        running = (epoch + 1) / self.params.get("epochs", epoch + 1)
        if self.n_folds is not None and not self.refitting:
            running = (self.fits - 1 + running) / self.n_folds
        self.status.show(" · ".join(p for p in parts if p), running=running)
