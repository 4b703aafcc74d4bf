"""The HTML report: tables and figures in one self-contained file.

A :class:`Report` collects tables, text and figures, and writes one HTML file
with every figure embedded as a base64 PNG (so it can be mailed or archived
alone) plus the same PNGs next to it (for slides and papers).  Every file is
written under a temporary name and renamed into place, so a reader never
sees a half-written report.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from imblearn.metrics import classification_report_imbalanced
from matplotlib.figure import Figure
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import balanced_accuracy_score

import skimb
from skimb._atomic import write_atomic
from skimb._checks import check_number
from skimb.metrics import macro_f1
from skimb.plots import plot_confusion_matrix, plot_history, plot_precision_recall

__all__ = ["Report", "plot_optimization_history"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.best td { font-weight: bold; background: #eef6ee; }
figure { margin: 0 0 2em; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
"""


class Report:
    """An HTML report under construction.

    Parameters
    ----------
    title : str
        Heading of the page.

    Examples
    --------
    >>> import tempfile
    >>> from skimb.report import Report
    >>> report = Report("Example")
    >>> report.add_table("Scores", [{"model": "a", "macro-F1": 0.5}])
    >>> scores = report.add_classification(
    ...     "Model a", [0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]],
    ...     classes=[0, 1], name="a")
    >>> float(scores["balanced accuracy"])
    0.75
    >>> path = report.write(tempfile.mkdtemp())
    >>> sorted(p.name for p in path.parent.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['a_confusion_matrix.png', 'a_precision_recall.png', 'report.html']
    """

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []
        self._images: dict[str, bytes] = {}

    def add_heading(self, text: str) -> None:
        """Start a section."""
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def add_text(self, text: str) -> None:
        """A paragraph of plain text."""
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def add_table(
        self, caption: str, rows: list[dict], *, highlight: int | None = None
    ) -> None:
        """A table whose columns are the keys of the rows, in the order they
        first appear (a row without a column leaves its cell empty).

        Parameters
        ----------
        caption : str
            Title of the table.
        rows : list of dict
            One dict per row; floats are shown with 3 decimals.
        highlight : int, optional
            Index of a row to emphasise (the best model, say), from 0 to
            ``len(rows) - 1`` (a negative index is refused).
        """
        if not rows:
            raise ValueError(f"The table {caption!r} has no rows.")
        if highlight is not None:
            check_number(
                highlight,
                "highlight",
                high=len(rows) - 1,
                high_open=False,
                integer=True,
            )
        columns = list(dict.fromkeys(key for row in rows for key in row))
        # Words align left, numbers (numeric strings included) right.
        text_columns = {c for c in columns if any(_is_word(r.get(c)) for r in rows)}

        def cell(tag, column, value):
            kind = ' class="text"' if column in text_columns else ""
            return f"<{tag}{kind}>{html.escape(_format(value))}</{tag}>"

        head = "".join(cell("th", c, c) for c in columns)
        body = []
        for i, row in enumerate(rows):
            best = ' class="best"' if i == highlight else ""
            cells = "".join(cell("td", c, row.get(c, "")) for c in columns)
            body.append(f"<tr{best}>{cells}</tr>")
        self._parts.append(
            f"<table><caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def add_figure(self, caption: str, fig: Figure, name: str) -> None:
        """A figure, embedded and also written as ``<name>.png``.

        Parameters
        ----------
        caption : str
            Caption under the figure.
        fig : matplotlib.figure.Figure
            The figure; it is drawn once, now.
        name : str
            File name of the PNG, without suffix (letters, digits, ``-``
            and ``_``).
        """
        _check_name(name, "Figure names")
        if name in self._images:
            raise ValueError(f"The report already has a figure named {name!r}.")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        data = buffer.getvalue()
        self._images[name] = data
        encoded = base64.b64encode(data).decode("ascii")
        self._parts.append(
            f'<figure><img src="data:image/png;base64,{encoded}" '
            f'alt="{html.escape(caption)}" data-file="{name}.png">'
            f"<figcaption>{html.escape(caption)} "
            f'(<a href="{name}.png">{name}.png</a>)</figcaption></figure>'
        )

    def add_classification(
        self,
        heading: str,
        y_true,
        y_score,
        *,
        classes,
        name: str,
        y_pred=None,
        history: dict | None = None,
        best_epoch: int | None = None,
    ) -> dict:
        """The full picture of one classifier's predictions.

        Adds the summary scores, per-class precision, recall and F1, the
        confusion matrix, the per-class precision-recall curves and, given
        a ``history``, the loss and validation macro-F1 curves.

        Parameters
        ----------
        heading : str
            Section heading.
        y_true : array-like of shape (n_samples,)
            True labels.
        y_score : array-like of shape (n_samples, n_classes)
            Class probabilities, columns in the order of ``classes``.
        classes : array-like of shape (n_classes,)
            Class labels.
        name : str
            Prefix of the PNG file names.
        y_pred : array-like of shape (n_samples,), optional
            Predicted labels, when the classifier's decision rule is not the
            most probable class; by default the argmax of ``y_score``.
        history : dict, optional
            Per-epoch logs (``estimator.history_``).
        best_epoch : int, optional
            Epoch whose weights were kept.

        Returns
        -------
        dict
            The summary scores.

        Raises
        ------
        ValueError
            On a figure name taken or not a plain file name, a ``history``
            without the logs it plots, or a ``best_epoch`` outside its
            epochs; the report is then left as it was.
        TypeError
            On a ``best_epoch`` that is not an integer, with a ``history``
            (``best_epoch`` marks that history's figure); the report is then
            left as it was.
        """
        # All or nothing: a call that fails (a figure name taken, a bad
        # history) leaves the report as it was, so that it can be retried.
        parts, images = len(self._parts), set(self._images)
        try:
            with warnings.catch_warnings():
                # A class absent from y_true scores 0 (zero_division=0), which
                # imbalanced-learn's sensitivity and scikit-learn's balanced
                # accuracy still warn of.
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                warnings.filterwarnings(
                    "ignore", "y_pred contains classes not in y_true"
                )
                # (The balanced accuracy of rows of one class.)
                warnings.filterwarnings("ignore", "A single label was found")
                return self._add_classification(
                    heading,
                    y_true,
                    y_score,
                    classes=classes,
                    name=name,
                    y_pred=y_pred,
                    history=history,
                    best_epoch=best_epoch,
                )
        except BaseException:
            del self._parts[parts:]
            for image in set(self._images) - images:
                del self._images[image]
            raise

    def _add_classification(
        self, heading, y_true, y_score, *, classes, name, y_pred, history, best_epoch
    ) -> dict:
        y_true = np.asarray(y_true)
        y_score = np.asarray(y_score, dtype=np.float64)
        classes = np.asarray(classes)
        if y_pred is None:
            y_pred = classes[np.argmax(y_score, axis=1)]
        y_pred = np.asarray(y_pred)
        summary = {
            # Over the classes present in the labels or the predictions, as
            # scikit-learn's f1_macro and the estimators' score: a class the
            # data do not hold and the model never predicts has no F1 to
            # average (the balanced accuracy leaves it out too).
            "macro-F1": macro_f1(y_true, y_pred),
            "balanced accuracy": balanced_accuracy_score(y_true, y_pred),
            "accuracy": float(np.mean(y_true == y_pred)),
            "rows": len(y_true),
        }
        self.add_heading(heading)
        self.add_table("Summary", [summary])
        # Keyed by position: the dict's own entries ("avg_pre",
        # "total_support", ...) would hide a class of that name.
        keys = [f"#{i}" for i in range(len(classes))]
        per_class = classification_report_imbalanced(
            y_true,
            y_pred,
            labels=classes,
            target_names=keys,
            output_dict=True,
            zero_division=0,
        )
        self.add_table(
            "Per class (precision, recall, F1, specificity, geometric mean)",
            [
                {
                    "class": str(c),
                    "precision": per_class[key]["pre"],
                    "recall": per_class[key]["rec"],
                    "F1": per_class[key]["f1"],
                    "specificity": per_class[key]["spe"],
                    "G-mean": per_class[key]["geo"],
                    "support": int(per_class[key]["sup"]),
                }
                for c, key in zip(classes, keys, strict=True)
            ],
        )
        self.add_figure(
            "Confusion matrix",
            plot_confusion_matrix(y_true, y_pred, labels=classes),
            f"{name}_confusion_matrix",
        )
        self.add_figure(
            "Precision-recall curves, one class against the rest",
            plot_precision_recall(y_true, y_score, classes=classes),
            f"{name}_precision_recall",
        )
        if history:
            self.add_figure(
                "Training loss, validation loss and validation macro-F1 per epoch",
                plot_history(history, best_epoch=best_epoch),
                f"{name}_history",
            )
        return summary

    def to_html(self) -> str:
        """The page, as a string."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>{html.escape(self.title)}</h1>"
            f"<p class='meta'>skimb {skimb.__version__}, {stamp}</p>"
            + "\n".join(self._parts)
            + "</body></html>\n"
        )

    def write(self, directory: str | os.PathLike, *, name: str = "report") -> Path:
        """Write ``<name>.html`` and the PNGs into ``directory``.

        Parameters
        ----------
        directory : str or path-like
            Created if needed.
        name : str, default="report"
            File name of the page, without suffix (letters, digits, ``-``
            and ``_``).

        Returns
        -------
        pathlib.Path
            The HTML file.
        """
        _check_name(name, "The page's name")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for image, data in self._images.items():
            write_atomic(directory / f"{image}.png", data)
        # The page last: when it exists, its figures do too.
        page = directory / f"{name}.html"
        write_atomic(page, self.to_html().encode("utf-8"))
        return page


def _check_name(name: str, what: str) -> None:
    """A file name of the report's folder: no path, nothing to escape."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"{what} are letters, digits, '-' and '_'; got {name!r}.")


def _is_word(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def plot_optimization_history(study) -> Figure:
    """Score of every finished trial and the best score so far.

    Optuna's own matplotlib plots draw through pyplot's global state and are
    marked experimental; this figure is drawn like those of
    :mod:`skimb.plots`, without pyplot.

    Parameters
    ----------
    study : optuna.Study
        A study with at least one complete trial.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from optuna.trial import TrialState

    trials = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not trials:
        raise ValueError("The study has no complete trial to plot.")
    # Counted from 1, as the command line and the report's tables count them.
    numbers = np.array([t.number + 1 for t in trials])
    values = np.array([t.value for t in trials])
    maximize = study.direction.name == "MAXIMIZE"
    best = np.maximum.accumulate(values) if maximize else np.minimum.accumulate(values)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(numbers, values, "o", alpha=0.7, label="trial")
    ax.step(numbers, best, where="post", color="C3", label="best so far")
    ax.set(title="Optimisation history", xlabel="trial", ylabel="objective")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return fig
