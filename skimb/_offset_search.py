"""The macro-F1 rule's search: per-class offsets on held-out
log-probabilities that maximise macro-F1, by bagged coordinate ascent.

:func:`macro_f1_offsets` is public as :func:`skimb.decision.macro_f1_offsets`;
this module holds its search apart from the rules that use it.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from skimb._checks import (
    check_encoded_labels,
    check_log_proba,
    check_number,
    check_offsets,
)

# Below this many held-out samples of some class, its F1 is too noisy to tune
# an offset on: ``macro_f1_offsets`` keeps its starting rule instead.
MIN_VALIDATION_COUNT = 5

# Bootstrap resamples of the held-out set whose tuned offsets are averaged.
N_BOOTSTRAP = 20

# Offsets searched, in log-probability units: a weight between e^-6 and e^6.
_GRID = np.round(np.arange(-6.0, 6.0 + 1e-9, 0.05), 2)


def _macro_f1(y: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Macro-F1 of each row of ``predictions`` (shape (n_rules, n_samples))."""
    f1 = np.zeros(predictions.shape[0])
    for c in range(n_classes):
        predicted = predictions == c
        actual = y == c
        true_positive = (predicted & actual).sum(axis=1)
        denominator = predicted.sum(axis=1) + actual.sum()
        f1 += np.divide(
            2 * true_positive,
            denominator,
            out=np.zeros(len(f1)),
            where=denominator > 0,
        )
    return f1 / n_classes


def _count_winning(margins: np.ndarray, ties_win: bool) -> np.ndarray:
    """For each grid offset g, how many of ``margins`` satisfy margin + g > 0
    (or >= 0 where ties go to the class being tuned)."""
    side = "left" if ties_win else "right"
    return len(margins) - np.searchsorted(np.sort(margins), -_GRID, side=side)


def _scores_along_grid(
    y: np.ndarray, margin: np.ndarray, runner_up: np.ndarray, c: int, n_classes: int
) -> np.ndarray:
    """Macro-F1 for every grid value of class ``c``'s offset.

    With offset g, a row goes to class ``c`` where ``margin + g > 0`` and to
    its ``runner_up`` otherwise (ties to the lower index, as np.argmax breaks
    them).  Counting from sorted margins costs O(n log n) per class instead
    of scoring a (grid x n) matrix of predictions.
    """
    actual = np.bincount(y, minlength=n_classes)
    predicted_c = np.zeros(len(_GRID))
    true_c = np.zeros(len(_GRID))
    f1 = np.zeros(len(_GRID))
    for k in range(n_classes):
        if k == c:
            continue
        rows = runner_up == k
        ties_win = c < k
        moved = _count_winning(margin[rows], ties_win)
        predicted_c += moved
        true_c += _count_winning(margin[rows & (y == c)], ties_win)
        kept_true = (rows & (y == k)).sum() - _count_winning(
            margin[rows & (y == k)], ties_win
        )
        denominator = rows.sum() - moved + actual[k]
        f1 += np.divide(
            2 * kept_true, denominator, out=np.zeros(len(f1)), where=denominator > 0
        )
    denominator = predicted_c + actual[c]
    f1 += np.divide(
        2 * true_c, denominator, out=np.zeros(len(f1)), where=denominator > 0
    )
    return f1 / n_classes


def _ascend(
    log_proba: np.ndarray, y: np.ndarray, offsets: np.ndarray, n_rounds: int
) -> np.ndarray:
    """Coordinate ascent of macro-F1 from ``offsets`` (changes only if it rises)."""
    n_classes = log_proba.shape[1]
    best = _macro_f1(y, np.argmax(log_proba + offsets, axis=1)[None], n_classes)[0]
    for _ in range(n_rounds):
        improved = False
        for c in range(n_classes):
            others = log_proba + offsets
            others[:, c] = -np.inf
            runner_up = np.argmax(others, axis=1)
            margin = log_proba[:, c] - others[np.arange(len(y)), runner_up]
            scores = _scores_along_grid(y, margin, runner_up, c, n_classes)
            if scores.max() > best + 1e-12:
                best_values = _GRID[scores >= scores.max() - 1e-12]
                candidate = offsets.copy()
                candidate[c] = best_values[len(best_values) // 2]
                # Scored with the rule as predict applies it, so the result
                # can only go up.
                score = _macro_f1(
                    y, np.argmax(log_proba + candidate, axis=1)[None], n_classes
                )[0]
                if score > best + 1e-12:
                    offsets, best, improved = candidate, score, True
        if not improved:
            break
    return offsets


def macro_f1_offsets(
    log_proba: np.ndarray,
    y: np.ndarray,
    *,
    start=None,
    n_rounds: int = 3,
    n_bootstrap: int = N_BOOTSTRAP,
    random_state: int | np.random.RandomState | None = 0,
) -> tuple[np.ndarray, bool]:
    """Per-class offsets that maximise macro-F1 on held-out data.

    Coordinate ascent from ``start``: each round, each class's offset is set
    to the value on a grid (``-6`` to ``6`` in steps of ``0.05``, around the
    mean of ``start``: a constant added to ``start`` is added to the result,
    and decides nothing) that gives
    the best macro-F1 with the other offsets fixed, the middle of the best
    values when several tie; a change is kept only if it raises macro-F1.

    With a few dozen held-out samples of a class, the best offsets on that
    sample are noisy: the ascent is run on ``n_bootstrap`` bootstrap
    resamples and the offsets averaged (bagging; a resample with too few
    samples of some class contributes ``start``).  The result is kept only
    where it scores at least as well on ``log_proba, y`` as both ``start``
    and the argmax rule; otherwise the better of those two is returned, so
    the offsets never score below argmax on this data.

    Parameters
    ----------
    log_proba : ndarray of shape (n_samples, n_classes)
        Held-out log-probabilities.
    y : ndarray of shape (n_samples,)
        Held-out labels, encoded ``0 .. n_classes - 1``.
    start : array-like of shape (n_classes,), optional
        Offsets to start from and to fall back to (e.g.
        :func:`posterior_offsets`); zeros (the argmax rule) by default.
    n_rounds : int, default=3
        Passes over the classes (``>= 0``).
    n_bootstrap : int, default=20
        Bootstrap resamples averaged; ``0`` tunes on ``log_proba, y`` alone.
    random_state : int, RandomState or None, default=0
        Seed of the bootstrap resamples.

    Returns
    -------
    offsets : ndarray of shape (n_classes,)
    tuned : bool
        ``False`` when some class has fewer than ``MIN_VALIDATION_COUNT``
        held-out samples: the offsets are then ``start``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.decision import macro_f1_offsets
    >>> rng = np.random.RandomState(0)
    >>> y = (rng.uniform(size=400) < 0.1).astype(int)
    >>> p1 = np.clip(0.3 * y + 0.15 + 0.1 * rng.normal(size=400), 0.01, 0.99)
    >>> log_proba = np.log(np.c_[1 - p1, p1])
    >>> offsets, tuned = macro_f1_offsets(log_proba, y)
    >>> bool(tuned), bool(offsets[1] - offsets[0] > 0)
    (True, True)
    """
    log_proba = check_log_proba(log_proba)
    y = check_encoded_labels(y, log_proba)
    n_classes = log_proba.shape[1]
    n_rounds = check_number(n_rounds, "n_rounds", integer=True)
    n_bootstrap = check_number(n_bootstrap, "n_bootstrap", integer=True)
    start = (
        np.zeros(n_classes)
        if start is None
        else check_offsets(start, "start", n_classes)
    )
    if np.bincount(y, minlength=n_classes).min() < MIN_VALIDATION_COUNT:
        return start.copy(), False
    # Only the offsets' differences decide, but the grid is one of offsets:
    # the search runs around the start's mean, so that a start moved by a
    # constant (sample weights that sum to 1, whose log every class's
    # posterior offset carries) searches the same differences.
    shift = start.mean()
    start = start - shift
    if n_bootstrap == 0:
        offsets = _ascend(log_proba, y, start.copy(), n_rounds)
    else:
        rng = check_random_state(random_state)
        total = np.zeros(n_classes)
        for _ in range(n_bootstrap):
            rows = rng.randint(len(y), size=len(y))
            if np.bincount(y[rows], minlength=n_classes).min() < MIN_VALIDATION_COUNT:
                total += start
            else:
                total += _ascend(log_proba[rows], y[rows], start.copy(), n_rounds)
        offsets = total / n_bootstrap
    candidates = [offsets, start, np.zeros(n_classes)]
    scores = _macro_f1(
        y,
        np.stack([np.argmax(log_proba + o, axis=1) for o in candidates]),
        n_classes,
    )
    # The first of the best: the tuned offsets unless they score lower.
    return candidates[int(np.argmax(scores))] + shift, True
