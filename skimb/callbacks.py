"""Keras callbacks that report what matters on imbalanced data.

:class:`ValidationMetrics` puts per-epoch validation scores in the Keras
logs, where ``EarlyStopping``, ``ReduceLROnPlateau``, Optuna's pruning
callback and the ``History`` read them.  :class:`ClassificationReport` and
:class:`TrainingFigures` show the per-class picture as text and as figures.

Inside :class:`~skimb.ImbalancedKerasClassifier`, callbacks given without
validation data (:class:`ValidationDataCallback`) receive the rows the
classifier held out from training, through their ``set_validation_data``
method.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
from imblearn.metrics import classification_report_imbalanced
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin

from skimb._networks import ends_in_softmax, forward
from skimb.metrics import confusion_scores, get_scorer

__all__ = [
    "ClassificationReport",
    "TrainingFigures",
    "ValidationDataCallback",
    "ValidationMetrics",
]

# Computed from the predicted labels in one place, cheaply, every epoch.
DEFAULT_SCORING = ("macro_f1", "balanced_accuracy", "g_mean", "recall")


def _probabilities(model: keras.Model, outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from the network's outputs (logits or softmax)."""
    if ends_in_softmax(model):
        return outputs
    if outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1, atol=1e-4):
        return outputs
    return softmax(outputs.astype(np.float64), axis=1)


class _Outputs(ClassifierMixin, BaseEstimator):
    """One epoch's validation outputs, dressed as a fitted classifier.

    scikit-learn scorers take an estimator and call its ``predict`` or
    ``predict_proba``; this one answers from outputs already computed, so
    any number of scorers costs one inference pass.
    """

    def __init__(self, X, proba):
        self.X = X
        self.proba = proba

    @property
    def classes_(self):
        return np.arange(self.proba.shape[1])

    def _outputs_for(self, X):
        if X is not self.X:
            raise ValueError("These outputs belong to the validation data only.")
        return self.proba

    def predict_proba(self, X):
        return self._outputs_for(X)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self._outputs_for(X))

    def predict(self, X):
        return self._outputs_for(X).argmax(axis=1)


class ValidationDataCallback(keras.callbacks.Callback):
    """Base of callbacks that work on validation data, given or received.

    Inside :class:`~skimb.ImbalancedKerasClassifier`, a callback of this kind
    given without data receives the rows held out from training (the
    validation split, or every row with cross-fitting) through
    :meth:`set_validation_data`, with the out-of-fold probabilities of the
    networks being trained, and gives them back at the end of training
    (:meth:`release_validation_data`), so the fitted estimator keeps no copy.

    Parameters
    ----------
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
    labels : sequence, optional
        Class names, in the order of the encoding.
    """

    def __init__(self, X=None, y=None, *, labels=None):
        super().__init__()
        if (X is None) != (y is None):
            raise ValueError("Give both X and y, or neither.")
        self.X = X
        self.y = None if y is None else np.asarray(y)
        self.labels = labels
        self._received = False
        self._received_outputs = None

    def set_validation_data(self, X, y, *, labels=None, outputs=None) -> None:
        """Use ``X, y`` (``y`` encoded ``0 .. n_classes - 1``) unless data
        were given to the constructor.

        ``outputs``, when given, is a function of no argument returning the
        class probabilities of ``X`` as training stands (the out-of-fold
        probabilities of cross-fitted networks); otherwise they come from
        the callback's model.
        """
        if self.X is None:
            self.X, self.y, self._received = X, np.asarray(y), True
            self._received_outputs = outputs
            if self.labels is None:
                self.labels = labels

    def release_validation_data(self) -> None:
        """Forget data received through :meth:`set_validation_data`."""
        if self._received:
            self.X = self.y = self._received_outputs = None
            self._received = False

    def _names(self, n_classes: int) -> list[str]:
        labels = range(n_classes) if self.labels is None else self.labels
        return [str(label) for label in labels]

    def _outputs(self) -> np.ndarray:
        if self._received_outputs is not None:
            return self._received_outputs()
        return _probabilities(self.model, forward(self.model, self.X))


class ValidationMetrics(keras.callbacks.Callback):
    """Add validation loss and scores to the epoch logs.

    One inference pass over the validation data gives every number, so the
    usual Keras validation pass is not needed.  Callbacks placed after this
    one (``EarlyStopping``, ``ReduceLROnPlateau``, Optuna's
    ``KerasPruningCallback``, the ``History``) see ``val_macro_f1`` and the
    others like any other log entry.

    Parameters
    ----------
    X : ndarray
        Validation inputs, as the network takes them.
    y : ndarray of shape (n_samples,)
        Validation labels encoded ``0 .. n_classes - 1``.
    loss : keras loss, optional
        When given, ``val_loss`` is ``loss(targets, outputs, sample_weight)``.
    targets : ndarray, optional
        ``y`` in the encoding the loss takes (one-hot or integer).
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the validation loss (class weights included); the scores
        are not weighted.
    n_classes : int, optional
        Number of classes, so that a class missing from the predictions
        still counts in the macro averages.
    labels : sequence, optional
        Class names, in the order of the encoding, for the per-class keys;
        by default ``0 .. n_classes - 1``.
    scoring : str, callable, sequence or dict, optional
        Scores to log, each as ``val_<name>``.  Names ``"macro_f1"``,
        ``"balanced_accuracy"``, ``"g_mean"`` and ``"recall"`` (one
        ``val_recall_<label>`` per class) are computed from the predicted
        labels; any other name is a :mod:`skimb.metrics` or scikit-learn
        scorer name (``"mean_pr_auc"``, ``"f1_weighted"``,
        ``"roc_auc_ovr"``, ``"neg_log_loss"``, ...), and a dict maps names
        to scorers ``(estimator, X, y) -> float``, as in skorch's
        ``EpochScoring``.  By default the four label-based scores.  A class
        with no validation sample (a small stratified split can miss the
        rarest class) has recall and F1 0 in the macro-F1, the g-mean and
        its ``val_recall_<label>``, and is left out of the balanced
        accuracy (scikit-learn's definition), without a warning per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> from skimb.callbacks import ValidationMetrics
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    >>> metrics = ValidationMetrics(X, y, n_classes=2, labels=["no", "yes"],
    ...                             scoring=["macro_f1", "recall", "roc_auc"])
    >>> history = model.fit(X, y, epochs=2, verbose=0, callbacks=[metrics])
    >>> sorted(k for k in history.history if k.startswith("val_"))
    ['val_macro_f1', 'val_recall_no', 'val_recall_yes', 'val_roc_auc']
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss=None,
        targets: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        n_classes: int | None = None,
        labels=None,
        scoring=None,
    ):
        super().__init__()
        self.X = X
        self.y = np.asarray(y)
        self.loss = loss
        self.targets = targets
        self.sample_weight = sample_weight
        self.n_classes = n_classes
        self.labels = labels
        self.scoring = scoring
        self._scorers = self._resolve(scoring)

    @staticmethod
    def _resolve(scoring) -> dict:
        """Map each log name to a built-in score (a str) or a scorer."""
        if scoring is None:
            scoring = DEFAULT_SCORING
        if isinstance(scoring, str) or callable(scoring):
            scoring = [scoring]
        if isinstance(scoring, dict):
            return {name: get_scorer(scorer) for name, scorer in scoring.items()}
        resolved = {}
        for item in scoring:
            if not isinstance(item, str):
                raise TypeError(
                    "scoring lists names; give callables in a dict "
                    f"{{name: scorer}}; got {item!r}."
                )
            resolved[item] = item if item in DEFAULT_SCORING else get_scorer(item)
        return resolved

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        outputs = forward(self.model, self.X)
        if self.loss is not None:
            logs["val_loss"] = float(
                self.loss(self.targets, outputs, sample_weight=self.sample_weight)
            )
        logs.update(self.scores(outputs))

    def scores(self, outputs: np.ndarray) -> dict[str, float]:
        """The ``val_<name>`` scores of the network's outputs on ``X``.

        Parameters
        ----------
        outputs : ndarray of shape (n_samples, n_classes)
            Logits, log-probabilities or probabilities for the rows of ``X``.

        Returns
        -------
        dict of str to float
        """
        n_classes = self.n_classes or outputs.shape[1]
        scores = {}
        labels = confusion_scores(self.y, outputs.argmax(axis=1), n_classes=n_classes)
        frozen = None
        for name, score in self._scorers.items():
            if score == "recall":
                names = range(n_classes) if self.labels is None else self.labels
                for label, recall in zip(names, labels["recall"], strict=True):
                    scores[f"val_recall_{label}"] = float(recall)
            elif isinstance(score, str):
                scores[f"val_{name}"] = labels[score]
            else:
                if frozen is None:
                    frozen = _Outputs(self.X, _probabilities(self.model, outputs))
                scores[f"val_{name}"] = float(score(frozen, self.X, self.y))
        return scores


class ClassificationReport(ValidationDataCallback):
    """imbalanced-learn's classification report on the validation data.

    Per class: precision, recall, specificity, F1, geometric mean, index
    balanced accuracy and support
    (:func:`imblearn.metrics.classification_report_imbalanced`).

    Parameters
    ----------
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
        Inside :class:`~skimb.ImbalancedKerasClassifier` they default to
        its validation split.
    labels : sequence, optional
        Class names, in the order of the encoding.
    every : int, optional
        Also report every ``every`` epochs; by default only at the end of
        training (after early stopping restored the best weights).
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
    ``precision_recall.png``: one curve per class.  Files are replaced
    atomically, so a viewer never sees a half-written one.

    Parameters
    ----------
    folder : str or path-like
        Where the figures go; created if needed.
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
        Inside :class:`~skimb.ImbalancedKerasClassifier` they default to
        its validation split.  Without them only ``history.png`` is written.
    labels : sequence, optional
        Class names, in the order of the encoding.
    every : int, optional
        Also write the figures every ``every`` epochs, to watch a long run;
        by default only at the end of training.

    Attributes
    ----------
    history_ : dict of str to list of float
        The epoch logs seen so far.
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
        if self.X is not None:
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
        self.history_ = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history_.setdefault(key, []).append(float(value))
        if self.every and (epoch + 1) % self.every == 0:
            self._write()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.history_:
            self._write()
