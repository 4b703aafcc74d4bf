"""Figures of training and of per-class results, drawn without a display.

Every function returns a :class:`matplotlib.figure.Figure` built with the
object-oriented API: no pyplot figure manager, no global state, so the
figures work in a headless process, a test or a web server alike.
:func:`save_figure` writes one to a PNG file atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    confusion_matrix,
)
from sklearn.utils.validation import column_or_1d

from skimb._atomic import atomic_path
from skimb._checks import check_number
from skimb._inputs import check_known_labels

__all__ = [
    "plot_confusion_matrix",
    "plot_history",
    "plot_precision_recall",
    "save_figure",
]

# Validation scores drawn next to the loss, when the history has them; all lie
# in [0, 1], so they share one axis.
_SCORES = {
    # A cross-fit's early-stopping score, over the rows every network held
    # out (the first network's own validation scores follow).
    "oof_macro_f1": "out-of-fold macro-F1",
    "val_macro_f1": "macro-F1",
    "val_balanced_accuracy": "balanced accuracy",
    "val_g_mean": "G-mean",
}


# Suffixes that name an image format other than PNG: refused by save_figure
# rather than written as PNG under a misleading name.  Every format
# matplotlib writes (whatever this figure's canvas), and common others.
_IMAGE_FORMATS = {*FigureCanvasBase.get_supported_filetypes(), "gif", "bmp"}


def _literal(label) -> str:
    """A class name as matplotlib draws it, character for character: text
    between two "$" would be read as mathematics ("$10_$20" failed to
    draw, and "$5-$10" lost its dollars)."""
    return str(label).replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    # A margin around the titles and labels, wider than the default.
    return Figure(
        figsize=(width, height), layout=ConstrainedLayoutEngine(h_pad=0.1, w_pad=0.1)
    )


def plot_history(history: dict, *, best_epoch: int | None = None) -> Figure:
    """Loss and validation scores per epoch.

    The left panel shows the training ``loss`` and, when present,
    ``val_loss``; the right panel the validation macro-F1 (and, when the
    history has them, balanced accuracy, G-mean, and a cross-fit's
    out-of-fold macro-F1, on which it stops early by default).

    Parameters
    ----------
    history : dict of str to list of float
        Per-epoch logs, such as ``estimator.history_`` or
        ``keras.callbacks.History().history``; needs ``"loss"``.
    best_epoch : int, optional
        Index (from 0) of the epoch whose weights were kept, such as
        ``estimator.best_epoch_``; marked by a dotted line.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from skimb.plots import plot_history
    >>> fig = plot_history({"loss": [1.0, 0.7], "val_loss": [1.1, 0.9],
    ...                     "val_macro_f1": [0.4, 0.6]}, best_epoch=1)
    >>> [ax.get_title() for ax in fig.axes]
    ['Loss', 'Validation scores']
    """
    if not isinstance(history, dict) or "loss" not in history:
        raise ValueError(
            "history must be a dict of per-epoch logs with a 'loss' entry, such "
            "as estimator.history_; got "
            f"{sorted(history) if isinstance(history, dict) else type(history)}."
        )
    n_epochs = len(history["loss"])
    if n_epochs == 0:
        raise ValueError("history holds no epoch: 'loss' is empty.")
    scores = [key for key in _SCORES if key in history]
    for key in ["val_loss", *scores]:
        values = history.get(key, [])
        if key in history and len(values) != n_epochs:
            raise ValueError(
                f"history[{key!r}] has {len(values)} values but 'loss' has "
                f"{n_epochs}: every entry needs one value per epoch."
            )
    if best_epoch is not None:
        best_epoch = check_number(best_epoch, "best_epoch", low=-np.inf, integer=True)
    if best_epoch is not None and not 0 <= best_epoch < n_epochs:
        raise ValueError(
            f"best_epoch={best_epoch} is not one of the history's epochs "
            f"(0 .. {n_epochs - 1})."
        )
    epochs = np.arange(1, n_epochs + 1)

    fig = _figure(10, 4) if scores else _figure(5.5, 4)
    axes = fig.subplots(1, 2 if scores else 1, squeeze=False)[0]
    ax = axes[0]
    ax.plot(epochs, history["loss"], marker=".", label="training")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], marker=".", label="validation")
    ax.set(title="Loss", xlabel="epoch", ylabel="loss")
    if scores:
        ax = axes[1]
        for key in scores:
            ax.plot(epochs, history[key], marker=".", label=_SCORES[key])
        ax.set(title="Validation scores", xlabel="epoch", ylabel="score")
        low = min(min(history[key]) for key in scores)
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
    for ax in axes:
        if best_epoch is not None:
            ax.axvline(
                best_epoch + 1, color="grey", linestyle=":", label="kept weights"
            )
        # Whole epochs only: a tick at epoch 1.5 means nothing.
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    return fig


def plot_confusion_matrix(y_true, y_pred, *, labels=None) -> Figure:
    """Confusion matrix in counts and normalised by true class, side by side.

    The normalised matrix has the per-class recall on its diagonal, which
    the counts hide when one class dwarfs the others.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), optional
        Classes to show, in this order; by default the sorted union of
        ``y_true`` and ``y_pred``.  Every label of ``y_true`` and ``y_pred``
        must be among them: unlike scikit-learn's ``confusion_matrix``,
        which leaves the other rows out of the counts, and so out of each
        class's recall, without a word.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from skimb.plots import plot_confusion_matrix
    >>> fig = plot_confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2])
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['Counts', 'Normalised by true class (recall)']
    """
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths: {len(y_true)} and "
            f"{len(y_pred)}."
        )
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = np.asarray(labels)
    unique, counts = np.unique(labels, return_counts=True)
    if (counts > 1).any():
        # scikit-learn would count the class in the first of them only.
        raise ValueError(f"labels names {unique[counts > 1].tolist()} twice or more.")
    # A row left out would leave its class's recall (and the row of its
    # prediction) out of the matrix without a word.
    check_known_labels(y_true, labels, name="y_true", among="labels")
    check_known_labels(y_pred, labels, name="y_pred", among="labels")
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    support = counts.sum(axis=1, keepdims=True)
    # A class absent from y_true has an all-zero row: show zeros, not NaN.
    normalised = np.divide(
        counts, support, out=np.zeros(counts.shape), where=support > 0
    )

    size = 3.0 + 0.6 * len(labels)
    fig = _figure(2 * size + 1.5, size)
    ax_counts, ax_norm = fig.subplots(1, 2)
    rotation = "vertical" if max(len(str(c)) for c in labels) > 4 else "horizontal"
    names = [_literal(c) for c in labels]
    ConfusionMatrixDisplay(counts, display_labels=names).plot(
        ax=ax_counts, values_format="d", cmap="Blues", xticks_rotation=rotation
    )
    display = ConfusionMatrixDisplay(normalised, display_labels=names).plot(
        ax=ax_norm,
        values_format=".2f",
        cmap="Blues",
        xticks_rotation=rotation,
        im_kw={"vmin": 0.0, "vmax": 1.0},
    )
    # scikit-learn picks the text colour from the data's own range, not from
    # the fixed 0-1 colour scale used here, which puts white text on pale
    # cells; pick it from the shade of the cell instead.
    for (i, j), text in np.ndenumerate(display.text_):
        text.set_color("white" if normalised[i, j] > 0.5 else "black")
    ax_counts.set_title("Counts")
    ax_norm.set_title("Normalised by true class (recall)")
    return fig


def plot_precision_recall(y_true, y_score, *, classes) -> Figure:
    """One precision-recall curve per class, one class against the rest.

    Each legend entry gives the class's average precision (the area under
    its curve) and its prevalence, the precision of a random guess.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples, n_classes)
        Class scores, such as ``estimator.predict_proba(X)``; column ``i``
        belongs to ``classes[i]``.
    classes : array-like of shape (n_classes,)
        Labels of the columns of ``y_score``, such as ``estimator.classes_``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.plots import plot_precision_recall
    >>> y_score = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4]])
    >>> fig = plot_precision_recall([0, 1, 1, 0], y_score, classes=[0, 1])
    >>> fig.axes[0].get_title()
    'Precision-recall per class'
    """
    y_true = column_or_1d(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    classes = np.asarray(classes)
    if y_score.ndim != 2 or y_score.shape != (len(y_true), len(classes)):
        raise ValueError(
            "y_score must have shape (n_samples, n_classes) = "
            f"({len(y_true)}, {len(classes)}); got {y_score.shape}."
        )
    # A row of another label would count in every class's prevalence.
    check_known_labels(y_true, classes, name="y_true", among="classes")

    # Taller for a long legend (a row of it per class), which ran off the
    # figure from about 15 classes on.
    fig = _figure(8.5, max(4.5, 0.3 * len(classes) + 1.0))
    ax = fig.subplots()
    for i, label in enumerate(classes):
        positive = y_true == label
        if not positive.any():
            # No positive sample: the curve and its AP are undefined.
            continue
        display = PrecisionRecallDisplay.from_predictions(
            positive, y_score[:, i], pos_label=True, ax=ax, name=_literal(label)
        )
        display.line_.set_label(
            f"class {_literal(label)}: AP {display.average_precision:.2f}, "
            f"prevalence {positive.mean():.2f}"
        )
    ax.set(
        title="Precision-recall per class",
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="recall",
        ylabel="precision",
    )
    ax.grid(alpha=0.3)
    # Outside the axes: the curves of rare classes run along the bottom and
    # those of easy classes along the top, so no corner inside is free.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically.

    The figure is drawn into a temporary file in the same folder, which
    then replaces ``path`` in one step: a reader never sees a half-written
    file, and a failed save leaves nothing behind.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or path-like
        Target file; ``.png`` is appended unless it ends in ``.png`` (so
        ``"run.v1"`` becomes ``run.v1.png``); the suffix of another image
        format (``.jpg``, ``.pdf``, ``.svg``, ``.gif``, ...) is refused.  Its
        folder must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skimb.plots import plot_history, save_figure
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_figure(plot_history({"loss": [1.0, 0.5]}),
    ...                        pathlib.Path(folder) / "history")
    ...     path.name, path.read_bytes()[:4] == b"\\x89PNG"
    ('history.png', True)
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}.")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".png" and suffix[1:] in _IMAGE_FORMATS:
        raise ValueError(
            f"save_figure writes PNG files; got the suffix {path.suffix!r}."
        )
    if suffix != ".png":
        path = path.with_name(path.name + ".png")
    with atomic_path(path) as temporary, open(temporary, "xb") as file:
        fig.savefig(file, format="png", dpi=100)
    return path
