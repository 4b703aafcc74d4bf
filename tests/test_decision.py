"""Decision rules against NumPy and scikit-learn references."""

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.metrics import f1_score

from skimb._offset_search import _GRID, _macro_f1, _scores_along_grid
from skimb.decision import (
    MIN_VALIDATION_COUNT,
    macro_f1_offsets,
    posterior_offsets,
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


@pytest.mark.parametrize("seed", range(3))
def test_grid_scores_match_sklearn_on_every_offset(seed):
    # The sorted-count scoring of one class's offset against a brute-force
    # argmax of the offset log-probabilities, scored by scikit-learn.
    log_proba, y = imbalanced_scores(seed, n=300)
    offsets = np.random.RandomState(seed).normal(scale=0.5, size=4)
    for c in range(4):
        others = log_proba + offsets
        others[:, c] = -np.inf
        runner_up = others.argmax(axis=1)
        margin = log_proba[:, c] - others[np.arange(len(y)), runner_up]
        fast = _scores_along_grid(y, margin, runner_up, c, 4)
        for i in range(0, len(_GRID), 7):
            rule = offsets.copy()
            rule[c] = _GRID[i]
            expected = f1_score(
                y,
                (log_proba + rule).argmax(axis=1),
                average="macro",
                labels=range(4),
                zero_division=0,
            )
            assert fast[i] == pytest.approx(expected, abs=1e-12)


def test_posterior_offsets_formula():
    counts = np.array([600.0, 250.0, 100.0, 50.0])
    train = np.array([250.0, 250.0, 250.0, 250.0])
    for tau in (0.0, 0.5, 1.0):
        expected = np.log(counts / counts.sum()) - (1 - tau) * np.log(
            train / train.sum()
        )
        got = posterior_offsets(counts, train_class_counts=train, tau=tau)
        np.testing.assert_allclose(got, expected)
    # Plain crossentropy on the data as it is: nothing to undo.
    np.testing.assert_allclose(posterior_offsets(counts), np.zeros(4), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"train_class_counts": [1.0, 0.0]}, {"train_class_counts": [1.0, 2.0, 3.0]}],
)
def test_posterior_offsets_reject_bad_counts(kwargs):
    with pytest.raises(ValueError, match="train_class_counts"):
        posterior_offsets([5, 5], **kwargs)


def test_posterior_rule_recovers_the_bayes_argmax():
    # Balanced log-probabilities (what the logit-adjusted loss learns) plus
    # the posterior offsets give back the true posterior's argmax.
    log_proba, y = imbalanced_scores(0, n=2000)
    prior = np.array([0.7, 0.15, 0.1, 0.05])
    balanced = log_softmax(log_proba - np.log(prior), axis=1)
    offsets = posterior_offsets(prior * 1000, tau=1.0)
    np.testing.assert_array_equal(
        (balanced + offsets).argmax(axis=1), log_proba.argmax(axis=1)
    )


@pytest.mark.parametrize("seed", range(4))
def test_bagged_offsets_never_score_below_argmax_or_start(seed):
    log_proba, y = imbalanced_scores(seed, n=200)
    start = np.array([0.0, 0.3, -0.2, 0.5])
    offsets, tuned = macro_f1_offsets(log_proba, y, start=start, random_state=seed)
    assert tuned

    def score(o):
        return f1_score(y, (log_proba + o).argmax(axis=1), average="macro")

    assert score(offsets) >= max(score(np.zeros(4)), score(start))
    again, _ = macro_f1_offsets(log_proba, y, start=start, random_state=seed)
    np.testing.assert_array_equal(offsets, again)


@pytest.mark.parametrize("constant", [-7.0, 9.0])
def test_a_constant_added_to_the_start_moves_the_offsets_alone(constant):
    # Only differences of offsets decide.  The grid was of absolute offsets:
    # a start moved below -6 (sample weights summing to 1 move every class's
    # posterior offset by log(1/n)) could not be tuned at all.
    log_proba, y = imbalanced_scores(3, n=800)
    start = np.array([0.0, 0.8, 1.1, 1.6])
    offsets, tuned = macro_f1_offsets(log_proba, y, start=start)
    moved, moved_tuned = macro_f1_offsets(log_proba, y, start=start + constant)
    assert tuned and moved_tuned
    assert not np.allclose(offsets, start)  # the search moved them
    np.testing.assert_allclose(moved - constant, offsets, atol=1e-9)


def test_bagging_generalises_better_from_small_held_out_sets():
    # Offsets tuned on 300 held-out rows (about 15 of the rarest class),
    # scored on a large fresh sample: averaging the offsets of bootstrap
    # resamples beats tuning once, on average over 20 problems.
    fresh_log_proba, fresh_y = imbalanced_scores(1000, n=50000)

    def fresh(offsets):
        predicted = (fresh_log_proba + offsets).argmax(axis=1)
        return f1_score(fresh_y, predicted, average="macro")

    gains = []
    for seed in range(20):
        log_proba, y = imbalanced_scores(seed, n=300)
        once, _ = macro_f1_offsets(log_proba, y, n_bootstrap=0)
        bagged, _ = macro_f1_offsets(log_proba, y, random_state=seed)
        gains.append(fresh(bagged) - fresh(once))
    assert np.mean(gains) > 0.003


def test_start_is_kept_with_tiny_classes_and_validated():
    log_proba, y = imbalanced_scores(0, n=60)
    start = np.array([0.0, 0.1, 0.2, 0.3])
    assert np.bincount(y, minlength=4).min() < MIN_VALIDATION_COUNT
    offsets, tuned = macro_f1_offsets(log_proba, y, start=start)
    assert not tuned
    np.testing.assert_array_equal(offsets, start)
    with pytest.raises(ValueError, match="start"):
        macro_f1_offsets(log_proba, y, start=[0.0, np.nan, 0.0, 0.0])
