"""Synthetic sequence families with a known generating density, for the suite.

Each family draws sequences of ``N_TIMESTEPS x N_FEATURES`` from a density
written down here, and returns each sample's log-likelihood under every
class, so that the true posterior, and from it the Bayes-optimal macro-F1,
is known.  Each has a different kind of class signal:

- ``trajectory``: class-specific smooth mean curves under white noise;
- ``autocorrelation``: AR(1) noise whose coefficient depends on the class
  (same mean and variance in every class: no linear model can use it);
- ``motif``: a short class-specific pattern added at a random position;
- ``long_range``: the class is the XOR of the signs of the first and last
  steps (two such pairs give four classes; no linear model can use it);
- ``covariance``: zero-mean Gaussian steps whose correlation across
  features depends on the class.

The layout (curves, motifs) comes from a fixed seed, so ``random_state``
changes the sample, never the problem.  Class proportions are those of the
case skimb was built for (10K / 500K / 90K / 30K).  None of these families is
used by skimb's own tests or defaults.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

N_TIMESTEPS = 20
N_FEATURES = 6
N_CLASSES = 4
PRIOR = np.array([10_000, 500_000, 90_000, 30_000], dtype=float)
PRIOR /= PRIOR.sum()
_LAYOUT_SEED = 2_026_1201


def _labels(n: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.floor(n * PRIOR).astype(int)
    counts[np.argmax(PRIOR)] += n - counts.sum()
    return rng.permutation(np.repeat(np.arange(N_CLASSES), counts))


def _trajectory(y, rng):
    layout = np.random.default_rng(_LAYOUT_SEED)
    t = np.linspace(0, 1, N_TIMESTEPS)[None, :, None]
    frequency = layout.uniform(0.5, 1.5, size=(N_CLASSES, 1, N_FEATURES))
    phase = layout.uniform(0, 2 * np.pi, size=(N_CLASSES, 1, N_FEATURES))
    means = 0.25 * np.sin(2 * np.pi * frequency * t + phase)
    X = means[y] + rng.standard_normal((len(y), N_TIMESTEPS, N_FEATURES))
    log_lik = np.stack(
        [-0.5 * np.square(X - means[c]).sum(axis=(1, 2)) for c in range(N_CLASSES)],
        axis=1,
    )
    return X, log_lik


_AR = np.array([0.0, 0.15, 0.35, -0.25])


def _autocorrelation(y, rng):
    phi = _AR[y][:, None]
    X = np.empty((len(y), N_TIMESTEPS, N_FEATURES))
    X[:, 0] = rng.standard_normal((len(y), N_FEATURES))
    for step in range(1, N_TIMESTEPS):
        innovation = rng.standard_normal((len(y), N_FEATURES))
        X[:, step] = phi * X[:, step - 1] + np.sqrt(1 - phi**2) * innovation
    log_lik = []
    for p in _AR:
        residual = X[:, 1:] - p * X[:, :-1]
        log_lik.append(
            -0.5 * np.square(X[:, 0]).sum(axis=1)
            - 0.5 * np.square(residual).sum(axis=(1, 2)) / (1 - p**2)
            - 0.5 * (N_TIMESTEPS - 1) * N_FEATURES * np.log(1 - p**2)
        )
    return X, np.stack(log_lik, axis=1)


_MOTIF_LENGTH = 4


def _motif(y, rng):
    layout = np.random.default_rng(_LAYOUT_SEED + 1)
    motifs = 0.6 * layout.standard_normal((N_CLASSES, _MOTIF_LENGTH, N_FEATURES))
    positions = N_TIMESTEPS - _MOTIF_LENGTH + 1
    X = rng.standard_normal((len(y), N_TIMESTEPS, N_FEATURES))
    start = rng.integers(0, positions, size=len(y))
    for offset in range(_MOTIF_LENGTH):
        X[np.arange(len(y)), start + offset] += motifs[y, offset]
    # log p(x | c) = log mean over positions of the Gaussian likelihood with
    # the motif at that position; terms common to every class cancel.
    log_lik = np.empty((len(y), N_CLASSES))
    for c in range(N_CLASSES):
        per_position = np.empty((len(y), positions))
        for p in range(positions):
            window = X[:, p : p + _MOTIF_LENGTH]
            per_position[:, p] = (window * motifs[c]).sum(
                axis=(1, 2)
            ) - 0.5 * np.square(motifs[c]).sum()
        log_lik[:, c] = logsumexp(per_position, axis=1) - np.log(positions)
    return X, log_lik


_XOR_SHIFT = 1.6


def _long_range(y, rng):
    # Class bits: bit j says whether the signs of feature j at the first and
    # at the last step differ.
    X = rng.standard_normal((len(y), N_TIMESTEPS, N_FEATURES))
    log_lik = np.zeros((len(y), N_CLASSES))
    for j in range(2):
        differ = (y >> j) & 1
        first = rng.choice([-1.0, 1.0], size=len(y))
        last = np.where(differ == 1, -first, first)
        X[:, 0, j] += _XOR_SHIFT * first
        X[:, -1, j] += _XOR_SHIFT * last
        for c in range(N_CLASSES):
            sign = -1.0 if (c >> j) & 1 else 1.0
            # Mixture over the two sign pairs; shared terms cancel.
            log_lik[:, c] += np.logaddexp(
                _XOR_SHIFT * (X[:, 0, j] + sign * X[:, -1, j]),
                -_XOR_SHIFT * (X[:, 0, j] + sign * X[:, -1, j]),
            )
    return X, log_lik


_RHO = np.array([0.0, 0.2, 0.4, -0.12])


def _covariance(y, rng):
    covariances = [
        (1 - r) * np.eye(N_FEATURES) + r * np.ones((N_FEATURES, N_FEATURES))
        for r in _RHO
    ]
    X = np.empty((len(y), N_TIMESTEPS, N_FEATURES))
    log_lik = np.empty((len(y), N_CLASSES))
    for c, covariance in enumerate(covariances):
        factor = np.linalg.cholesky(covariance)
        rows = y == c
        X[rows] = rng.standard_normal((rows.sum(), N_TIMESTEPS, N_FEATURES)) @ factor.T
    for c, covariance in enumerate(covariances):
        precision = np.linalg.inv(covariance)
        _, log_det = np.linalg.slogdet(covariance)
        quadratic = np.einsum("ntf,fg,ntg->n", X, precision, X)
        log_lik[:, c] = -0.5 * quadratic - 0.5 * N_TIMESTEPS * log_det
    return X, log_lik


FAMILIES = {
    "trajectory": _trajectory,
    "autocorrelation": _autocorrelation,
    "motif": _motif,
    "long_range": _long_range,
    "covariance": _covariance,
}


def sample(family: str, n: int, *, random_state: int):
    """``n`` sequences of ``family``: ``X`` (float32), ``y`` and the true
    log-posterior ``log P(class | x)`` of each sample."""
    rng = np.random.default_rng(random_state)
    y = _labels(n, rng)
    X, log_lik = FAMILIES[family](y, rng)
    log_joint = log_lik + np.log(PRIOR)
    log_posterior = log_joint - logsumexp(log_joint, axis=1, keepdims=True)
    return X.astype(np.float32), y, log_posterior
