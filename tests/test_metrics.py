"""Scorers: checked against NumPy references and used as ``scoring=``."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skimb.metrics import (
    PROBABILITY_SCORERS,
    SCORERS,
    confusion_scores,
    expected_calibration_error,
    get_scorer,
    macro_f1_scorer,
    mean_average_precision,
    mean_pr_auc_scorer,
    neg_brier_score_scorer,
    neg_expected_calibration_error_scorer,
    neg_log_loss_scorer,
)


def _recalls(y, pred, labels):
    return np.array([np.mean(pred[y == c] == c) for c in labels])


def _average_precision(positive, score):
    # Reference: precision at each positive, ranked by decreasing score.
    order = np.argsort(-score, kind="stable")
    hits = positive[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return precision_at[hits].mean()


class _Fixed(ClassifierMixin, BaseEstimator):
    """A 'fitted classifier' that returns given predictions and scores."""

    def __init__(self, pred, proba, classes):
        self.pred, self.proba, self.classes_ = pred, proba, np.asarray(classes)

    def predict(self, X):
        return self.pred

    def predict_proba(self, X):
        return self.proba


@pytest.fixture
def predictions():
    rng = np.random.RandomState(0)
    y = rng.choice(4, size=300, p=[0.05, 0.6, 0.25, 0.1])
    proba = rng.dirichlet(np.ones(4), size=300)
    proba[np.arange(300), y] += rng.uniform(0, 0.6, size=300)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba, proba.argmax(axis=1)


def test_scorers_match_numpy_references(predictions):
    y, proba, pred = predictions
    fixed = _Fixed(pred, proba, np.arange(4))
    recalls = _recalls(y, pred, range(4))
    precisions = np.array([np.mean(y[pred == c] == c) for c in range(4)])
    f1 = 2 * precisions * recalls / (precisions + recalls)
    X = np.zeros((len(y), 1))
    assert SCORERS["macro_f1"](fixed, X, y) == pytest.approx(f1.mean())
    assert SCORERS["balanced_accuracy"](fixed, X, y) == pytest.approx(recalls.mean())
    assert SCORERS["g_mean"](fixed, X, y) == pytest.approx(np.prod(recalls) ** (1 / 4))
    ap = [_average_precision(y == c, proba[:, c]) for c in range(4)]
    assert SCORERS["mean_pr_auc"](fixed, X, y) == pytest.approx(np.mean(ap))


def test_mean_average_precision_aligns_columns_when_a_class_is_absent(predictions):
    y, proba, _ = predictions
    keep = y != 0  # class 0 absent, its column still there
    labels = np.array([10, 11, 12, 13])
    got = mean_average_precision(labels[y[keep]], proba[keep], labels=labels)
    expected = np.mean(
        [_average_precision(y[keep] == c, proba[keep, c]) for c in (1, 2, 3)]
    )
    assert got == pytest.approx(expected)
    # Without labels the three present classes cannot be mapped to 4 columns.
    with pytest.raises(ValueError, match="labels="):
        mean_average_precision(labels[y[keep]], proba[keep])
    with pytest.raises(ValueError, match=r"labels \[99\]"):
        mean_average_precision(np.r_[99, y[1:]], proba, labels=np.arange(4))


def test_scorers_work_as_scoring_in_sklearn_tools(tabular):
    X, y = tabular
    clf = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    results = cross_validate(clf, X, y, cv=cv, scoring=dict(SCORERS))
    for name in SCORERS:
        scores = results[f"test_{name}"]
        assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    f1 = cross_val_score(clf, X, y, cv=cv, scoring=macro_f1_scorer)
    np.testing.assert_allclose(
        f1, cross_val_score(clf, X, y, cv=cv, scoring="f1_macro")
    )
    pr_auc = cross_val_score(clf, X, y, cv=cv, scoring=mean_pr_auc_scorer)
    np.testing.assert_allclose(pr_auc, results["test_mean_pr_auc"])


@pytest.mark.parametrize("labels", [("no", "yes"), (2, 3)])
def test_every_scorer_scores_two_classes_of_any_labels(labels):
    # One scorer at a time, as search tools call them: scikit-learn checks a
    # scorer's positive label (1 by default) against two-class labels.
    from imblearn.metrics import geometric_mean_score

    X = np.random.RandomState(0).normal(size=(60, 2))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, labels[1], labels[0])
    model = LogisticRegression().fit(X, y)
    for name in [*SCORERS, *PROBABILITY_SCORERS]:
        scores = cross_val_score(
            LogisticRegression(), X, y, cv=2, scoring=get_scorer(name),
            error_score="raise",
        )  # fmt: skip
        assert np.all(np.isfinite(scores)), name
    assert get_scorer("g_mean")(model, X, y) == pytest.approx(
        geometric_mean_score(y, model.predict(X), average="multiclass")
    )


def test_get_scorer_resolves_names_and_rejects_unknown():
    assert get_scorer("g_mean") is SCORERS["g_mean"]
    assert get_scorer(mean_pr_auc_scorer) is mean_pr_auc_scorer
    assert get_scorer("roc_auc_ovr")._response_method == "predict_proba"
    with pytest.raises(ValueError, match="Unknown scoring 'f2_macro'"):
        get_scorer("f2_macro")
    with pytest.raises(TypeError, match="scorer name or a callable"):
        get_scorer(3)


@pytest.mark.parametrize("absent", [None, 0, 3])
def test_confusion_scores_match_the_library_functions(predictions, absent, recwarn):
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

    from skimb.metrics import confusion_scores

    y, _, pred = predictions
    if absent is not None:
        # A class missing from y_true (a small held-out fold), still predicted.
        keep = y != absent
        y, pred = y[keep], pred[keep]
        pred[:3] = absent
    labels = np.arange(4)
    scores = confusion_scores(y, pred, n_classes=4)
    assert scores["macro_f1"] == pytest.approx(
        f1_score(y, pred, labels=labels, average="macro", zero_division=0)
    )
    assert scores["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y, pred)
    )
    assert scores["g_mean"] == pytest.approx(
        geometric_mean_score(y, pred, labels=labels, average="multiclass")
    )
    np.testing.assert_allclose(
        scores["recall"],
        recall_score(y, pred, labels=labels, average=None, zero_division=0),
    )


def _ece_reference(y, proba, n_bins):
    """Top-label ECE, bin by bin, as Guo et al. (2017) write it."""
    confidence, predicted = proba.max(axis=1), proba.argmax(axis=1)
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        rows = (confidence >= low) & (
            (confidence < high) if b < n_bins - 1 else (confidence <= high)
        )
        if rows.any():
            gap = abs(confidence[rows].mean() - np.mean(predicted[rows] == y[rows]))
            total += rows.sum() / len(y) * gap
    return total


def test_expected_calibration_error_matches_its_formula():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(4) * 0.5, size=500)
    y = np.array([rng.choice(4, p=p) for p in proba**2 / (proba**2).sum(1)[:, None]])
    for n_bins in (1, 10, 15):
        assert expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(
            _ece_reference(y, proba, n_bins)
        )
    # Labels in the order of the columns, not of y.
    labels = np.array(["a", "b", "c", "d"])
    assert expected_calibration_error(labels[y], proba, labels=labels) == pytest.approx(
        _ece_reference(y, proba, 15)
    )


def test_probability_scorers_score_every_class_of_the_model():
    X = np.r_[np.linspace(-3, 3, 60)[:, None]]
    y = np.repeat([0, 1, 2], 20)
    model = LogisticRegression().fit(X, y)
    # A test fold without class 2: the scorers still know the model's classes.
    X_fold, y_fold = X[:40], y[:40]
    proba = model.predict_proba(X_fold)
    assert neg_log_loss_scorer(model, X_fold, y_fold) == pytest.approx(
        -log_loss(y_fold, proba, labels=[0, 1, 2])
    )
    onehot = np.eye(3)[y_fold]
    assert neg_brier_score_scorer(model, X_fold, y_fold) == pytest.approx(
        -np.mean(np.sum((proba - onehot) ** 2, axis=1))
    )
    assert neg_expected_calibration_error_scorer(
        model, X_fold, y_fold
    ) == pytest.approx(-_ece_reference(y_fold, proba, 15))
    for name in PROBABILITY_SCORERS:
        assert get_scorer(name) is PROBABILITY_SCORERS[name]
    # Two classes: the binary Brier score, half the distance summed over both.
    binary = LogisticRegression().fit(X[:40], y[:40])
    proba = binary.predict_proba(X_fold)
    assert neg_brier_score_scorer(binary, X_fold, y_fold) == pytest.approx(
        -np.mean(np.sum((proba - np.eye(2)[y_fold]) ** 2, axis=1)) / 2
    )


def test_encoded_labels_that_are_no_whole_numbers_are_refused():
    # A cast would read 0.5 as class 0 and score the prediction right.
    with pytest.raises(ValueError, match="0.5, which is no whole number"):
        confusion_scores(np.array([0.5, 1.0]), np.array([0, 1]), n_classes=2)
    scores = confusion_scores(np.array([0.0, 1.0]), np.array([0, 1]), n_classes=2)
    assert scores["macro_f1"] == 1.0


def test_confusion_matrix_labels_named_twice_are_refused():
    from skimb.plots import plot_confusion_matrix

    with pytest.raises(ValueError, match=r"labels names \[2\] twice"):
        plot_confusion_matrix([0, 1, 2], [0, 1, 2], labels=[0, 1, 2, 2])
