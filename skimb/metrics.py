"""Scores that tell the truth on imbalanced data, as scikit-learn scorers.

Accuracy rewards always predicting the majority class; these scores do not.
Each scorer works as ``scoring=`` in ``cross_val_score``, ``GridSearchCV``
and :class:`~skimb.OptunaSearchCV`, alone or together::

    cross_validate(clf, X, y, scoring=dict(skimb.metrics.SCORERS))

The metrics themselves come from scikit-learn and imbalanced-learn.  Three
are computed here: the mean per-class PR-AUC, because scikit-learn's
multi-class ``average_precision_score`` maps score columns to the classes
present in ``y_true``, which misaligns them when a fold lacks a class; the
expected calibration error, which neither library has; and
:func:`confusion_scores`, the scores training reads after every epoch off
one confusion matrix, where the library functions would cost a hundred
times more (the tests compare them with those functions).
"""

from __future__ import annotations

from numbers import Integral
from types import MappingProxyType

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    make_scorer,
)
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.utils.validation import column_or_1d

from skimb._checks import check_number
from skimb._inputs import check_known_labels

__all__ = [
    "PROBABILITY_SCORERS",
    "SCORERS",
    "balanced_accuracy_scorer",
    "confusion_scores",
    "expected_calibration_error",
    "g_mean_scorer",
    "get_scorer",
    "macro_f1",
    "macro_f1_scorer",
    "mean_average_precision",
    "mean_pr_auc_scorer",
    "neg_brier_score_scorer",
    "neg_expected_calibration_error_scorer",
    "neg_log_loss_scorer",
]


def macro_f1(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    """Macro-averaged F1: every class weighs the same.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like, optional
        Every class (a model's ``classes_``): a class that is neither in
        ``y_true`` nor predicted then counts with F1 0.  By default the
        classes present in either.
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    float

    Examples
    --------
    >>> from skimb.metrics import macro_f1
    >>> macro_f1([0, 0, 1, 1], [0, 0, 1, 0])
    0.7333333333333334
    >>> macro_f1([0, 0, 1, 1], [0, 0, 1, 0], labels=[0, 1, 2])
    0.48888888888888893
    """
    return float(
        f1_score(
            y_true,
            y_pred,
            labels=labels,
            average="macro",
            sample_weight=sample_weight,
            zero_division=0,
        )
    )


def _check_scores(y_true, scores, labels, name: str):
    """Labels as a 1-D array, scores as a (n_samples, n_classes) float array
    whose columns are ``labels`` (by default the sorted labels of y_true)."""
    y_true = column_or_1d(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if scores.ndim != 2 or scores.shape != (len(y_true), len(labels)):
        raise ValueError(
            f"{name} must have shape (n_samples, n_classes) = "
            f"({len(y_true)}, {len(labels)}); got {scores.shape}. Pass labels= "
            "(e.g. estimator.classes_) when y_true lacks some classes."
        )
    check_known_labels(
        y_true, labels, name="y_true", among="the labels of the score columns"
    )
    return y_true, scores, labels


def mean_average_precision(
    y_true, y_score, *, labels=None, sample_weight=None
) -> float:
    """Mean over classes of the one-vs-rest average precision (PR-AUC).

    Each class's precision-recall curve is judged against its prevalence, so
    a rare class counts as much as the majority one.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples, n_classes)
        Class scores or probabilities; column ``i`` belongs to ``labels[i]``.
    labels : array-like of shape (n_classes,), optional
        Labels of the columns of ``y_score``, such as ``estimator.classes_``;
        by default the sorted labels of ``y_true``.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.

    Returns
    -------
    float
        The mean over the classes present in ``y_true`` (a class without a
        positive sample has no precision-recall curve).

    Examples
    --------
    >>> from skimb.metrics import mean_average_precision
    >>> y_score = [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]]
    >>> mean_average_precision([0, 1, 0, 1], y_score)
    1.0
    """
    y_true, y_score, labels = _check_scores(y_true, y_score, labels, "y_score")
    present = [i for i, label in enumerate(labels) if np.any(y_true == label)]
    return float(
        np.mean(
            [
                average_precision_score(
                    y_true == labels[i], y_score[:, i], sample_weight=sample_weight
                )
                for i in present
            ]
        )
    )


def mean_pr_auc_scorer(estimator, X, y_true, sample_weight=None) -> float:
    """Scorer: :func:`mean_average_precision` of ``estimator.predict_proba(X)``.

    A plain function rather than ``make_scorer``, because it needs the
    estimator's ``classes_`` to know which column is which class.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba`` and ``classes_``
    X : array-like
        Test data.
    y_true : array-like of shape (n_samples,)
        True labels.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skimb.metrics import mean_pr_auc_scorer
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> mean_pr_auc_scorer(LogisticRegression().fit(X, y), X, y)
    1.0
    """
    return mean_average_precision(
        y_true,
        estimator.predict_proba(X),
        labels=estimator.classes_,
        sample_weight=sample_weight,
    )


def expected_calibration_error(
    y_true, y_proba, *, labels=None, n_bins: int = 15, sample_weight=None
) -> float:
    """Expected calibration error of the most probable class (Guo et al., 2017).

    Rows are put in ``n_bins`` equal-width bins by the probability of their
    most probable class; the error is the mean, weighted by the bins' sizes,
    of the gap between that probability and how often the class is right.
    scikit-learn has ``calibration_curve`` for one class at a time, not this
    multi-class summary.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Class probabilities; column ``i`` belongs to ``labels[i]``.
    labels : array-like of shape (n_classes,), optional
        Labels of the columns, such as ``estimator.classes_``; by default the
        sorted labels of ``y_true``.
    n_bins : int, default=15
        Number of bins over ``[0, 1]``.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.

    Returns
    -------
    float
        Between 0 (calibrated) and 1.

    Examples
    --------
    >>> from skimb.metrics import expected_calibration_error
    >>> ece = expected_calibration_error([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8],
    ...                                                 [0.6, 0.4], [0.7, 0.3]])
    >>> round(ece, 3)  # gaps 0.1, 0.2, 0.6 (wrong at 0.6) and 0.3, averaged
    0.3
    """
    y_true, y_proba, labels = _check_scores(y_true, y_proba, labels, "y_proba")
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")
    if not np.all(np.isfinite(y_proba)) or y_proba.min() < 0:
        raise ValueError("y_proba must hold finite, non-negative probabilities.")
    if not np.allclose(y_proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "Each row of y_proba must sum to 1 (class probabilities, as "
            "predict_proba gives them)."
        )
    weight = (
        np.ones(len(y_true))
        if sample_weight is None
        else np.asarray(sample_weight, dtype=np.float64)
    )
    if weight.shape != (len(y_true),) or not np.all(weight >= 0):
        raise ValueError(f"sample_weight must hold {len(y_true)} non-negative weights.")
    if not weight.sum() > 0:
        raise ValueError("sample_weight is zero for every row: nothing to score.")
    confidence = y_proba.max(axis=1)
    correct = labels[y_proba.argmax(axis=1)] == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = np.bincount(bins, weights=weight, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=weight * confidence, minlength=n_bins)
        - np.bincount(bins, weights=weight * correct, minlength=n_bins)
    )
    return float(gap.sum() / total.sum())


def _probability_scorer(metric, doc: str):
    """A scorer of ``-metric(y, predict_proba(X), labels=classes_)``: with the
    estimator's classes, so a fold that lacks a class still scores."""

    def scorer(estimator, X, y_true, sample_weight=None) -> float:
        return -float(
            metric(
                y_true,
                estimator.predict_proba(X),
                labels=estimator.classes_,
                sample_weight=sample_weight,
            )
        )

    scorer.__doc__ = doc
    return scorer


neg_log_loss_scorer = _probability_scorer(
    log_loss, "Scorer: minus the log-loss of ``predict_proba`` (greater is better)."
)
neg_brier_score_scorer = _probability_scorer(
    brier_score_loss,
    "Scorer: minus the Brier score of ``predict_proba``, as scikit-learn's "
    "``brier_score_loss`` computes it: the mean over the rows of the squared "
    "distance to the one-hot label, halved for two classes (the binary Brier "
    "score).",
)
neg_expected_calibration_error_scorer = _probability_scorer(
    expected_calibration_error,
    "Scorer: minus :func:`expected_calibration_error` of ``predict_proba``.",
)


def _encoded(labels, name: str) -> np.ndarray:
    """Encoded labels as int64, refusing values that are not whole numbers
    (a cast would silently truncate 0.5 to class 0)."""
    array = np.asarray(labels)
    if array.dtype.kind == "f":
        fractional = np.mod(array, 1) != 0
        if fractional.any():
            raise ValueError(
                f"{name} must hold labels encoded 0 .. n_classes - 1; it holds "
                f"{array[fractional][0].item()!r}, which is no whole number."
            )
    return array.astype(np.int64)


def confusion_scores(y_true, y_pred, *, n_classes: int) -> dict[str, object]:
    """Macro-F1, balanced accuracy, g-mean and per-class recall of encoded labels.

    The same numbers as scikit-learn's ``f1_score(average="macro",
    zero_division=0)``, ``balanced_accuracy_score`` and imbalanced-learn's
    ``geometric_mean_score(average="multiclass")`` with ``labels=range(n_classes)``,
    read off one confusion matrix.  Training scores the held-out rows of
    every network after every epoch; the library functions validate their
    inputs and build the matrix once per score, which costs a few
    milliseconds where this costs tens of microseconds.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (n_samples,)
        Labels encoded ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes, ``>= 1`` (``y_true`` and ``y_pred`` of one length
        each); a class absent from ``y_true`` has recall and F1
        0 in the macro-F1, the g-mean and ``recall``, and is left out of the
        balanced accuracy, as in those functions.

    Returns
    -------
    dict
        ``"macro_f1"``, ``"balanced_accuracy"``, ``"g_mean"`` (floats) and
        ``"recall"`` (ndarray of shape (n_classes,)).

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.metrics import confusion_scores
    >>> scores = confusion_scores(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]),
    ...                           n_classes=3)
    >>> round(scores["macro_f1"], 4), scores["recall"].tolist()
    (0.7778, [0.5, 1.0, 1.0])
    """
    n_classes = check_number(n_classes, "n_classes", low=1, integer=True)
    y_true = _encoded(y_true, "y_true")
    y_pred = _encoded(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must hold one label per row each; got "
            f"{len(y_true)} and {len(y_pred)}."
        )
    for name, encoded in (("y_true", y_true), ("y_pred", y_pred)):
        outside = (encoded < 0) | (encoded >= n_classes)
        if outside.any():
            raise ValueError(
                f"{name} must hold labels encoded 0 .. {n_classes - 1}; got "
                f"{np.unique(encoded[outside])[:5].tolist()}."
            )
    matrix = np.bincount(
        y_true * n_classes + y_pred, minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)
    hits = np.diag(matrix).astype(np.float64)
    actual, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    recall = np.divide(hits, actual, out=np.zeros(n_classes), where=actual > 0)
    f1_denominator = actual + predicted
    f1 = np.divide(
        2 * hits, f1_denominator, out=np.zeros(n_classes), where=f1_denominator > 0
    )
    # scikit-learn's balanced accuracy averages over the classes of y_true.
    present = actual > 0
    return {
        "macro_f1": float(f1.mean()),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "g_mean": float(np.prod(recall) ** (1.0 / n_classes)),
        "recall": recall,
    }


macro_f1_scorer = make_scorer(macro_f1)
"""Scorer: macro-averaged F1, every class weighing the same."""

# pos_label=None: scikit-learn would otherwise check its default of 1 against
# the classes of a two-class problem (labels "no"/"yes", or 2 and 3) and fail;
# the multi-class g-mean has no positive class.
g_mean_scorer = make_scorer(geometric_mean_score, average="multiclass", pos_label=None)
"""Scorer: geometric mean of the per-class recalls (imbalanced-learn); it is 0
as soon as one class is never recognised."""

balanced_accuracy_scorer = sklearn_get_scorer("balanced_accuracy")
"""Scorer: mean of the per-class recalls."""

SCORERS = MappingProxyType(
    {
        "macro_f1": macro_f1_scorer,
        "balanced_accuracy": balanced_accuracy_scorer,
        "g_mean": g_mean_scorer,
        "mean_pr_auc": mean_pr_auc_scorer,
    }
)
"""The imbalance-aware scorers by name, read-only: ``dict(SCORERS)`` is the
multi-metric ``scoring`` that ``cross_validate`` and ``GridSearchCV(refit=...)``
take (they take a dict, not this read-only mapping)."""

PROBABILITY_SCORERS = MappingProxyType(
    {
        "neg_log_loss": neg_log_loss_scorer,
        "neg_brier_score": neg_brier_score_scorer,
        "neg_expected_calibration_error": neg_expected_calibration_error_scorer,
    }
)
"""Scorers of the probabilities themselves (calibration), by name; greater
is better, as for every scorer."""


def get_scorer(scoring):
    """A scorer from a skimb name, a scikit-learn scorer name or a callable.

    Parameters
    ----------
    scoring : str or callable
        One of ``"macro_f1"``, ``"balanced_accuracy"``, ``"g_mean"``,
        ``"mean_pr_auc"``, ``"neg_log_loss"``, ``"neg_brier_score"``,
        ``"neg_expected_calibration_error"``, any name
        :func:`sklearn.metrics.get_scorer` knows (``"f1_macro"``,
        ``"roc_auc_ovr"``, ...), or a scorer ``(estimator, X, y) -> float``,
        returned as it is.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from skimb.metrics import get_scorer
    >>> get_scorer("g_mean")  # doctest: +ELLIPSIS
    make_scorer(geometric_mean_score, response_method='predict', ...)
    """
    if callable(scoring):
        return scoring
    if not isinstance(scoring, str):
        raise TypeError(
            "scoring must be a scorer name or a callable; got "
            f"{type(scoring).__name__}."
        )
    if scoring in SCORERS:
        return SCORERS[scoring]
    if scoring in PROBABILITY_SCORERS:
        return PROBABILITY_SCORERS[scoring]
    try:
        return sklearn_get_scorer(scoring)
    except ValueError:
        raise ValueError(
            f"Unknown scoring {scoring!r}: use one of "
            f"{sorted(SCORERS) + sorted(PROBABILITY_SCORERS)} or a "
            "scikit-learn scorer name (sklearn.metrics.get_scorer_names())."
        ) from None
