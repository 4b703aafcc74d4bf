"""Decision rules against NumPy and scikit-learn references."""

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.metrics import f1_score

from skimb.decision import (
    MIN_VALIDATION_COUNT,
    _macro_f1,
    macro_f1_offsets,
    prior_offsets,
)


def imbalanced_scores(seed: int, n: int = 600, n_classes: int = 4):
    """Labels with a skewed prior and noisy log-probabilities that favour
    the majority class, so argmax under-predicts the rare classes."""
    rng = np.random.RandomState(seed)
    prior = np.array([0.7, 0.15, 0.1, 0.05])[:n_classes]
    y = rng.choice(n_classes, size=n, p=prior / prior.sum())
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    return log_softmax(logits + np.log(prior), axis=1), y


def test_prior_offsets_formula():
    prior = np.array([60.0, 25.0, 10.0, 5.0])
    for tau in (0.0, 0.5, 1.0, 2.0):
        expected = -tau * np.log(prior / prior.sum())
        np.testing.assert_allclose(prior_offsets(prior, tau=tau), expected)


def test_prior_offsets_reject_zero_prior():
    with pytest.raises(ValueError, match="class_prior"):
        prior_offsets([0.5, 0.0, 0.5])


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_macro_f1_is_sklearns(seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(4, size=200)
    predictions = rng.randint(4, size=(6, 200))
    predictions[0] = 0  # classes never predicted score 0, as sklearn's do
    expected = [
        f1_score(y, p, average="macro", labels=range(4), zero_division=0)
        for p in predictions
    ]
    np.testing.assert_allclose(_macro_f1(y, predictions, 4), expected)


@pytest.mark.parametrize("seed", range(8))
def test_macro_f1_offsets_never_score_below_argmax(seed):
    log_proba, y = imbalanced_scores(seed)
    offsets, tuned = macro_f1_offsets(log_proba, y)
    assert tuned
    argmax = f1_score(y, log_proba.argmax(axis=1), average="macro")
    tuned_f1 = f1_score(y, (log_proba + offsets).argmax(axis=1), average="macro")
    assert tuned_f1 >= argmax


def test_macro_f1_offsets_raise_rare_classes_and_generalise():
    # Tuned on one sample, scored on a fresh one from the same distribution.
    log_proba, y = imbalanced_scores(0, n=3000)
    offsets, _ = macro_f1_offsets(log_proba, y)
    assert offsets[3] > offsets[0]
    fresh_log_proba, fresh_y = imbalanced_scores(1, n=20000)
    argmax = f1_score(fresh_y, fresh_log_proba.argmax(axis=1), average="macro")
    tuned = f1_score(
        fresh_y, (fresh_log_proba + offsets).argmax(axis=1), average="macro"
    )
    assert tuned > argmax + 0.02


def test_macro_f1_offsets_fall_back_with_tiny_classes():
    log_proba, y = imbalanced_scores(0, n=400)
    rare = np.flatnonzero(y == 3)
    keep = np.ones(len(y), dtype=bool)
    keep[rare[MIN_VALIDATION_COUNT - 1 :]] = False  # leave 4 samples of class 3
    offsets, tuned = macro_f1_offsets(log_proba[keep], y[keep])
    assert not tuned
    np.testing.assert_array_equal(offsets, np.zeros(4))
    # A class missing altogether is the same fallback, not a crash.
    offsets, tuned = macro_f1_offsets(log_proba[y != 3], y[y != 3])
    assert not tuned
