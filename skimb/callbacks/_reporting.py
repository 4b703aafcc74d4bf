"""The per-class picture during training: imbalanced-learn's classification
report as text, and the figures (history, confusion matrix, curves)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from imblearn.metrics import classification_report_imbalanced

from skimb._history import joined_histories
from skimb.callbacks._validation import ValidationDataCallback


class ClassificationReport(ValidationDataCallback):
    """imbalanced-learn's classification report on the validation data.

    Per class: precision, recall, specificity, F1, geometric mean, index
    balanced accuracy and support
    (:func:`imblearn.metrics.classification_report_imbalanced`), of the
    networks' own argmax, as early stopping watches it: the classifier's
    decision rule and calibration are fitted after training, so its
    ``predict`` may decide otherwise.

    Parameters
    ----------
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
        Inside :class:`~skimb.ImbalancedKerasClassifier` they default to
        its validation split, and ``X`` is read as its ``predict`` reads it.
    labels : sequence, optional
        Class names, in the order of the encoding.
    every : int, optional
        Also report every ``every`` epochs; by default only at the end of
        training (after early stopping restored the best weights, and after
        the callbacks listed before this one ended training: a Keras
        ``EarlyStopping(restore_best_weights=True)`` there restores its own).
    print_fn : callable or None, default=print
        Receives each report's text; ``None`` only stores it.

    Attributes
    ----------
    reports_ : list of (int, str)
        The epoch (``-1`` for the end of training) and the report.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> from skimb.callbacks import ClassificationReport
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    >>> report = ClassificationReport(X, y, labels=["no", "yes"], print_fn=None)
    >>> _ = model.fit(X, y, epochs=1, verbose=0, callbacks=[report])
    >>> report.reports_[0][1].split()[:3]
    ['pre', 'rec', 'spe']
    """

    def __init__(self, X=None, y=None, *, labels=None, every=None, print_fn=print):
        super().__init__(X, y, labels=labels)
        self.every = every
        self.print_fn = print_fn
        self.reports_ = []

    def _report(self, epoch: int) -> None:
        if self.X is None:
            return
        proba = self._outputs()
        names = self._names(proba.shape[1])
        text = classification_report_imbalanced(
            self.y,
            proba.argmax(axis=1),
            labels=np.arange(len(names)),
            target_names=names,
            zero_division=0,
        )
        self.reports_.append((epoch, text))
        if self.print_fn is not None:
            when = "end of training" if epoch < 0 else f"epoch {epoch + 1}"
            self.print_fn(f"Classification report, {when}:\n{text}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.every and (epoch + 1) % self.every == 0:
            self._report(epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._report(-1)


class TrainingFigures(ValidationDataCallback):
    """Write the training picture to PNG files, without a display.

    ``history.png``: loss and validation scores per epoch;
    ``confusion_matrix.png``: counts and normalised, on the validation data;
    ``precision_recall.png``: one curve per class.  The confusion matrix is
    of the networks' own argmax, before the classifier's decision rule and
    calibration, which are fitted after training.  Files are replaced
    atomically, so a viewer never sees a half-written one.

    Parameters
    ----------
    folder : str or path-like
        Where the figures go; created if needed.
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
        Inside :class:`~skimb.ImbalancedKerasClassifier` they default to
        its validation split, and ``X`` is read as its ``predict`` reads
        it.  Without them only ``history.png`` is written.
    labels : sequence, optional
        Class names, in the order of the encoding.
    every : int, optional
        Also write the figures every ``every`` epochs, to watch a long run;
        by default only at the end of training.

    Attributes
    ----------
    history_ : dict of str to list of float
        The epoch logs seen so far: this training's, and the earlier
        ``partial_fit`` calls' it goes on from.
    paths_ : list of pathlib.Path
        The files written last.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import keras
    >>> from skimb.callbacks import TrainingFigures
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     figures = TrainingFigures(folder, X=X, y=y)
    ...     _ = model.fit(X, y, epochs=2, verbose=0, callbacks=[figures])
    ...     sorted(path.name for path in figures.paths_)
    ['confusion_matrix.png', 'history.png', 'precision_recall.png']
    """

    def __init__(self, folder, *, X=None, y=None, labels=None, every=None):
        super().__init__(X, y, labels=labels)
        self.folder = Path(folder)
        self.every = every
        self.history_ = {}
        self.paths_ = []

    def _write(self) -> None:
        from skimb.plots import (
            plot_confusion_matrix,
            plot_history,
            plot_precision_recall,
            save_figure,
        )

        os.makedirs(self.folder, exist_ok=True)
        paths = [save_figure(plot_history(self.history_), self.folder / "history")]
        if self.X is None:
            # An earlier training's, beside this one's history (partial_fit
            # without validation rows after a fit with them).
            for name in ("confusion_matrix.png", "precision_recall.png"):
                (self.folder / name).unlink(missing_ok=True)
        else:
            proba = self._outputs()
            names = np.array(self._names(proba.shape[1]))
            paths.append(
                save_figure(
                    plot_confusion_matrix(
                        names[self.y], names[proba.argmax(axis=1)], labels=names
                    ),
                    self.folder / "confusion_matrix",
                )
            )
            paths.append(
                save_figure(
                    plot_precision_recall(names[self.y], proba, classes=names),
                    self.folder / "precision_recall",
                )
            )
        self.paths_ = paths

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._begun = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if getattr(self, "_begun", True):
            # A training's first epoch: a new history, unless it goes on
            # from the last one's (partial_fit counts epochs across calls).
            self._begun = False
            if epoch != len(self.history_.get("loss", [])):
                self.history_ = {}
        # An epoch without a key (partial_fit's, without validation rows,
        # after a fit's) has NaN there, as the estimator's history_ has.
        self.history_ = joined_histories(
            self.history_, {key: [float(value)] for key, value in (logs or {}).items()}
        )
        if self.every and (epoch + 1) % self.every == 0:
            self._write()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.history_:
            self._write()
