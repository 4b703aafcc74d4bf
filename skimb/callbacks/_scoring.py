"""Per-epoch validation scores in the Keras logs."""

from __future__ import annotations

import warnings

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from skimb.callbacks._validation import (
    NetworkOutputs,
    class_names,
    encoded_labels,
    probabilities,
)
from skimb.metrics import confusion_scores, get_scorer

# Computed from the predicted labels in one place, cheaply, every epoch.
DEFAULT_SCORING = ("macro_f1", "balanced_accuracy", "g_mean", "recall")


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


class ValidationMetrics(NetworkOutputs, keras.callbacks.Callback):
    """Add validation loss and scores to the epoch logs.

    One inference pass over the validation data gives every number, so the
    usual Keras validation pass is not needed.  Callbacks placed after this
    one (``EarlyStopping``, ``ReduceLROnPlateau``, Optuna's
    ``KerasPruningCallback``, the ``History``) see ``val_macro_f1`` (with
    another ``prefix``, ``<prefix>macro_f1``) and the others like any other
    log entry.

    Parameters
    ----------
    X : ndarray
        Validation inputs: as the network takes them, or, given to
        :class:`~skimb.ImbalancedKerasClassifier`, as its ``predict`` takes
        them (a list of sequences, ``mask_value`` padding, a DataFrame).
    y : ndarray of shape (n_samples,)
        Validation labels encoded ``0 .. n_classes - 1``.
    loss : keras loss, optional
        When given, ``<prefix>loss`` is ``loss(targets, outputs,
        sample_weight)``.
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
        Scores to log, each as ``<prefix><name>``.  Names ``"macro_f1"``,
        ``"balanced_accuracy"``, ``"g_mean"`` and ``"recall"`` (one
        ``<prefix>recall_<label>`` per class) are computed from the predicted
        labels; any other name is a :mod:`skimb.metrics` or scikit-learn
        scorer name (``"mean_pr_auc"``, ``"f1_weighted"``,
        ``"roc_auc_ovr"``, ``"neg_log_loss"``, ...), and a dict maps names
        to scorers ``(estimator, X, y) -> float``, as in skorch's
        ``EpochScoring``.  By default the four label-based scores.  A class
        with no validation sample (a small stratified split can miss the
        rarest class) has recall and F1 0 in the macro-F1, the g-mean and
        its ``<prefix>recall_<label>``, and is left out of the balanced
        accuracy (scikit-learn's definition), without a warning per epoch.
        A scorer that such rows cannot give (``"roc_auc_ovr"``, which
        needs every class) is logged as NaN, with one warning.
    prefix : str, default="val\\_"
        What every key starts with.  Given to
        :class:`~skimb.ImbalancedKerasClassifier`, which logs ``val_*`` and
        ``oof_*`` on its own validation rows, a callback scoring other data
        needs another (``prefix="test_"``): the classifier refuses one that
        would log a key it logs itself (``val_mean_pr_auc`` is free).

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
        prefix: str = "val_",
    ):
        super().__init__()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str; got {prefix!r}.")
        if loss is not None and targets is None:
            raise ValueError(
                "loss needs targets: y in the encoding the loss takes (one-hot "
                "rows, or the labels for a sparse loss)."
            )
        self.X = X
        self.y = encoded_labels(X, y)
        self.loss = loss
        self.targets = targets
        self.sample_weight = sample_weight
        self.n_classes = n_classes
        self.labels = labels
        self.scoring = scoring
        self.prefix = prefix
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

    def log_names(self) -> list[str]:
        """The keys this callback logs; ``"<prefix>recall_"`` stands for the
        per-class recalls, whose labels are known only when it runs.

        Returns
        -------
        list of str
        """
        names = [] if self.loss is None else [f"{self.prefix}loss"]
        for name, score in self._scorers.items():
            names.append(f"{self.prefix}{'recall_' if score == 'recall' else name}")
        return names

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        outputs = self._forward(self.X)
        if self.loss is not None:
            logs[f"{self.prefix}loss"] = float(
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
                names = class_names(self.labels, n_classes)
                for label, recall in zip(names, labels["recall"], strict=True):
                    scores[f"{self.prefix}recall_{label}"] = float(recall)
            elif isinstance(score, str):
                scores[f"{self.prefix}{name}"] = labels[score]
            else:
                if frozen is None:
                    frozen = _Outputs(self.X, probabilities(self.model, outputs))
                scores[f"{self.prefix}{name}"] = self._scored(name, score, frozen)
        return scores

    def _scored(self, name: str, score, frozen) -> float:
        """A scorer's value, or NaN where these rows cannot give it
        (``"roc_auc_ovr"`` without some class: scikit-learn raises), said
        once, rather than a fit that fails at its first epoch's end."""
        try:
            return float(score(frozen, self.X, self.y))
        except ValueError as error:
            failed = vars(self).setdefault("_failed", set())
            if name not in failed:
                failed.add(name)
                warnings.warn(
                    f"{self.prefix}{name} cannot be computed on these rows "
                    f"({error}); it is logged as NaN.",
                    UserWarning,
                    stacklevel=2,
                )
            return float("nan")
