"""Embedded synthetic data shaped like the real imbalanced cases.

Both generators draw from a fixed, known density: ``random_state`` changes the
sample, never the problem, so a large fresh sample from another seed is a
test set for the same task, and ``return_posterior=True`` gives the true
posterior ``P(class | x)`` from which the Bayes-optimal classifier follows.

The default class sizes follow the case this library was built for: four
classes in proportion 10K / 500K / 90K / 30K (class 1 is the majority).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import softmax
from sklearn.utils import check_random_state

from skimb._checks import check_number

__all__ = ["make_imbalanced_classification", "make_imbalanced_sequences"]

DEFAULT_WEIGHTS = (10_000, 500_000, 90_000, 30_000)
# The problem layout (cluster means, trends, feature scales) comes from this
# constant seed so that every ``random_state`` samples the same density.
_LAYOUT_SEED = 20_190_601


def _class_counts(n_samples: int, weights) -> np.ndarray:
    n_samples = check_number(n_samples, "n_samples", low=2, integer=True)
    if isinstance(weights, Mapping | str):
        raise TypeError(
            "weights must be a sequence of class sizes, one per class; got a "
            f"{type(weights).__name__}."
        )
    weights = np.asarray(weights, dtype=np.float64)
    if (
        weights.ndim != 1
        or len(weights) < 2
        or not np.all(np.isfinite(weights) & (weights > 0))
    ):
        raise ValueError(
            f"weights must list at least 2 finite, positive class sizes; got {weights}."
        )
    proportions = weights / weights.sum()
    counts = np.floor(n_samples * proportions).astype(int)
    counts[np.argmax(proportions)] += n_samples - counts.sum()
    if np.any(counts < 1):
        raise ValueError(
            f"n_samples={n_samples} is too small for weights {weights.tolist()}: "
            f"class {int(np.argmin(counts))} would get no sample."
        )
    return counts


def _check_features(n_features, n_informative) -> None:
    check_number(n_features, "n_features", low=1, integer=True)
    check_number(n_informative, "n_informative", low=1, integer=True)
    if n_informative > n_features:
        raise ValueError(
            "n_informative must be between 1 and n_features; "
            f"got n_informative={n_informative}, n_features={n_features}."
        )


def _shuffled_labels(counts: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


def _finish(X, y, log_likelihood, counts, return_posterior):
    if not return_posterior:
        return X, y
    log_prior = np.log(counts / counts.sum())
    return X, y, softmax(log_likelihood + log_prior, axis=1)


def make_imbalanced_classification(
    n_samples: int = 10_000,
    *,
    n_features: int = 20,
    n_informative: int = 5,
    weights=DEFAULT_WEIGHTS,
    class_sep: float = 1.5,
    random_state: int | np.random.RandomState | None = None,
    return_posterior: bool = False,
):
    """Imbalanced multi-class tabular data with a known density.

    Each class is a mixture of two unit-variance Gaussian clusters in the
    ``n_informative`` first features; the other features are noise.  Every
    feature is then given its own scale and offset (from 0.01 to 1000), as
    raw measurements have.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows, an integer ``>= 2``; classes get ``n_samples *
        weights / sum(weights)``.
    n_features : int, default=20
        Total number of features, ``>= n_informative``.
    n_informative : int, default=5
        Number of features that carry class signal.
    weights : sequence of float, default=(10_000, 500_000, 90_000, 30_000)
        Relative class sizes; their length is the number of classes.
    class_sep : float, default=1.5
        Spread of the cluster centres, any finite number: its magnitude sets
        the difficulty (larger is easier; a negative one mirrors the
        layout).
    random_state : int, RandomState or None
        Seed of the sample (the density itself never changes).
    return_posterior : bool, default=False
        Also return the true posterior ``P(class | x)`` of each row.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer labels ``0 .. n_classes - 1``.
    posterior : ndarray of shape (n_samples, n_classes)
        Only when ``return_posterior=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.datasets import make_imbalanced_classification
    >>> X, y = make_imbalanced_classification(6300, random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((6300, 20), [100, 5000, 900, 300])
    """
    _check_features(n_features, n_informative)
    class_sep = check_number(class_sep, "class_sep", low=-np.inf)
    counts = _class_counts(n_samples, weights)
    n_classes = len(counts)
    layout = np.random.RandomState(_LAYOUT_SEED)
    centres = class_sep * layout.normal(size=(n_classes, 2, n_informative))
    scale = 10.0 ** layout.uniform(-2, 3, size=n_features)
    offset = layout.normal(scale=5.0, size=n_features) * scale

    rng = check_random_state(random_state)
    y = _shuffled_labels(counts, rng)
    cluster = rng.randint(2, size=n_samples)
    Z = rng.normal(size=(n_samples, n_features))
    Z[:, :n_informative] += centres[y, cluster]
    X = Z * scale + offset

    # log p(x | c): equal-weight mixture of two unit Gaussians; the noise
    # features and the normalising constants are common to all classes.
    informative = Z[:, None, None, :n_informative]
    sq = ((informative - centres[None]) ** 2).sum(axis=-1)
    log_likelihood = np.logaddexp(-0.5 * sq[:, :, 0], -0.5 * sq[:, :, 1])
    return _finish(X, y, log_likelihood, counts, return_posterior)


def make_imbalanced_sequences(
    n_samples: int = 10_000,
    *,
    n_timesteps: int = 20,
    n_features: int = 18,
    n_informative: int = 4,
    weights=DEFAULT_WEIGHTS,
    class_sep: float = 0.4,
    random_state: int | np.random.RandomState | None = None,
    return_posterior: bool = False,
):
    """Imbalanced multi-class sequences whose class lives in the temporal pattern.

    Every feature is a stationary AR(1) process with unit marginal variance.
    In the ``n_informative`` first features each class has its own
    autocorrelation and its own linear trend over time; averaged over time,
    the classes look alike, so the signal is in how the sequence moves.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of sequences, an integer ``>= 2``.
    n_timesteps : int, default=20
        Length of each sequence, ``>= 2``.
    n_features : int, default=18
        Features per time step, ``>= n_informative``.
    n_informative : int, default=4
        Number of features that carry class signal.
    weights : sequence of float, default=(10_000, 500_000, 90_000, 30_000)
        Relative class sizes; their length is the number of classes.
    class_sep : float, default=0.4
        Size of the class trends, any finite number: its magnitude sets the
        difficulty (larger is easier; a negative one mirrors the trends).
    random_state : int, RandomState or None
        Seed of the sample (the density itself never changes).
    return_posterior : bool, default=False
        Also return the true posterior ``P(class | x)`` of each sequence.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features)
    y : ndarray of shape (n_samples,)
        Integer labels ``0 .. n_classes - 1``.
    posterior : ndarray of shape (n_samples, n_classes)
        Only when ``return_posterior=True``.

    Examples
    --------
    >>> from skimb.datasets import make_imbalanced_sequences
    >>> X, y = make_imbalanced_sequences(630, random_state=0)
    >>> X.shape
    (630, 20, 18)
    """
    _check_features(n_features, n_informative)
    check_number(n_timesteps, "n_timesteps", low=2, integer=True)
    class_sep = check_number(class_sep, "class_sep", low=-np.inf)
    counts = _class_counts(n_samples, weights)
    n_classes = len(counts)
    layout = np.random.RandomState(_LAYOUT_SEED + 1)
    rho = np.full((n_classes, n_features), 0.5)
    rho[:, :n_informative] = layout.uniform(0.2, 0.8, size=(n_classes, n_informative))
    slope = class_sep * layout.normal(size=(n_classes, n_informative))
    time = np.linspace(-1.0, 1.0, n_timesteps)
    trend = np.zeros((n_classes, n_timesteps, n_features))
    trend[:, :, :n_informative] = slope[:, None, :] * time[None, :, None]
    scale = 10.0 ** layout.uniform(-1, 2, size=n_features)

    rng = check_random_state(random_state)
    y = _shuffled_labels(counts, rng)
    r = rho[y]
    innovation = rng.normal(size=(n_samples, n_timesteps, n_features))
    E = np.empty_like(innovation)
    E[:, 0] = innovation[:, 0]
    for t in range(1, n_timesteps):
        E[:, t] = r * E[:, t - 1] + np.sqrt(1.0 - r**2) * innovation[:, t]
    Z = E + trend[y]
    X = Z * scale

    log_likelihood = np.empty((n_samples, n_classes))
    for c in range(n_classes):
        e = Z - trend[c]
        var = 1.0 - rho[c] ** 2
        step = e[:, 1:] - rho[c] * e[:, :-1]
        log_likelihood[:, c] = (
            -0.5 * (e[:, 0] ** 2).sum(axis=1)
            - 0.5 * (step**2 / var).sum(axis=(1, 2))
            - 0.5 * (n_timesteps - 1) * np.log(var).sum()
        )
    return _finish(X, y, log_likelihood, counts, return_posterior)
