r"""Post-hoc decision rules: from class probabilities to a predicted class.

Every rule here is a per-class offset :math:`o` added to the
log-probabilities before the argmax,

.. math:: \hat y(x) = \arg\max_c \; \log \hat p(c \mid x) + o_c,

which is a class-weighted argmax of the posterior, :math:`\arg\max_c w_c
\hat p(c \mid x)` with :math:`w_c = e^{o_c}`.  That family holds the
Bayes-optimal rule for balanced error (:math:`w_c \propto 1/\pi_c`) and for
macro-F1 (per-class weights that depend on the distribution; Narasimhan et
al., 2015; Koyejo et al., 2014).

- ``"argmax"``: :math:`o = 0`.
- ``"prior_corrected"``: :math:`o_c = -\tau \log \pi_c`, post-hoc logit
  adjustment (Menon et al., 2021) with the training prior :math:`\pi`.
- ``"macro_f1"``: offsets tuned on held-out data to maximise macro-F1
  (:func:`macro_f1_offsets`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DECISIONS",
    "MIN_VALIDATION_COUNT",
    "macro_f1_offsets",
    "prior_offsets",
]

DECISIONS = ("argmax", "prior_corrected", "macro_f1")

# Below this many held-out samples of some class, its F1 is too noisy to tune
# an offset on: ``macro_f1_offsets`` keeps the argmax rule instead.
MIN_VALIDATION_COUNT = 5

# Offsets searched, in log-probability units: a weight between e^-6 and e^6.
_GRID = np.round(np.arange(-6.0, 6.0 + 1e-9, 0.05), 2)


def prior_offsets(class_prior, *, tau: float = 1.0) -> np.ndarray:
    r"""Offsets :math:`-\tau \log \pi_c` of the prior-corrected rule.

    Parameters
    ----------
    class_prior : array-like of shape (n_classes,)
        Training class frequencies, all positive.
    tau : float, default=1.0
        Strength of the correction; ``0`` is the argmax rule.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> from skimb.decision import prior_offsets
    >>> prior_offsets([0.5, 0.25, 0.25]).round(3)
    array([0.693, 1.386, 1.386])
    """
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.ndim != 1 or np.any(prior <= 0):
        raise ValueError(f"class_prior must be positive; got {prior}.")
    return -tau * np.log(prior / prior.sum())


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


def macro_f1_offsets(
    log_proba: np.ndarray, y: np.ndarray, *, n_rounds: int = 3
) -> tuple[np.ndarray, bool]:
    """Per-class offsets that maximise macro-F1 on held-out data.

    Coordinate ascent from the argmax rule: each round, each class's offset
    is set to the value on a grid (``-6`` to ``6`` in steps of ``0.05``) that
    gives the best macro-F1 with the other offsets fixed, the middle of the
    best values when several tie.  A change is kept only if it raises
    macro-F1, so the result never scores below argmax on this data.

    Parameters
    ----------
    log_proba : ndarray of shape (n_samples, n_classes)
        Held-out log-probabilities.
    y : ndarray of shape (n_samples,)
        Held-out labels, encoded ``0 .. n_classes - 1``.
    n_rounds : int, default=3
        Passes over the classes.

    Returns
    -------
    offsets : ndarray of shape (n_classes,)
    tuned : bool
        ``False`` when some class has fewer than ``MIN_VALIDATION_COUNT``
        held-out samples: the offsets are then zeros (the argmax rule).

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
    log_proba = np.asarray(log_proba, dtype=np.float64)
    y = np.asarray(y)
    n_classes = log_proba.shape[1]
    offsets = np.zeros(n_classes)
    if np.bincount(y, minlength=n_classes).min() < MIN_VALIDATION_COUNT:
        return offsets, False
    best = _macro_f1(y, np.argmax(log_proba, axis=1)[None], n_classes)[0]
    for _ in range(n_rounds):
        improved = False
        for c in range(n_classes):
            others = log_proba + offsets
            others[:, c] = -np.inf
            runner_up = np.argmax(others, axis=1)
            margin = log_proba[:, c] - others[np.arange(len(y)), runner_up]
            # Class c wins where its score beats the best other class; ties
            # go to the lower index, as np.argmax breaks them.
            wins = margin[None, :] + _GRID[:, None] > 0
            ties = margin[None, :] + _GRID[:, None] == 0
            wins |= ties & (c < runner_up)[None, :]
            predictions = np.where(wins, c, runner_up[None, :])
            scores = _macro_f1(y, predictions, n_classes)
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
    return offsets, True
