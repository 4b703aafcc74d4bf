"""Per-feature moments of the training rows, for the networks'
standardisation: in float64, a chunk or a streamed window at a time, and
for each cross-fitted network without its held-out rows.
"""

from __future__ import annotations

import numpy as np


def feature_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and variance over every axis but the last, in float64,
    a chunk of rows at a time so that no float64 copy of X is made.  Padded
    steps (rows of NaN) are left out."""
    return MomentSums().add(X).moments()


class MomentSums:
    """Running per-feature counts, means, sums of squared deviations, minima
    and maxima, in float64, of rows given a window at a time (streamed
    data); those of row sets add.

    The squared deviations are summed about each block's own mean and the
    blocks merged by Chan, Golub and LeVeque's update, not as a sum of
    squares less the squared mean: where a feature's spread is small beside
    its level (1 row in 1,000 one above 4,000,000), the two terms cancel in
    float64, and a feature that varies got a variance of 0, then a scale of
    1e7.
    """

    def __init__(
        self,
        mean=0.0,
        squares=0.0,
        count: int = 0,
        low=np.inf,
        high=-np.inf,
    ):
        self.mean, self.squares, self.count = mean, squares, count
        self.low, self.high = low, high

    def add(self, X: np.ndarray, chunk: int = 65_536) -> MomentSums:
        """Add the steps of ``X`` (every axis but the last), NaN steps left out."""
        rows = X.reshape(-1, X.shape[-1])
        for start in range(0, len(rows), chunk):
            block = rows[start : start + chunk].astype(np.float64)
            block = block[~np.isnan(block).any(axis=1)]
            if not len(block):
                continue
            mean = block.mean(axis=0)
            merged = self + MomentSums(
                mean,
                np.square(block - mean).sum(axis=0),
                len(block),
                block.min(axis=0),
                block.max(axis=0),
            )
            vars(self).update(vars(merged))
        return self

    def __add__(self, other: MomentSums) -> MomentSums:
        if other.count == 0 or self.count == 0:
            kept = self if other.count == 0 else other
            return MomentSums(
                kept.mean,
                kept.squares,
                kept.count,
                np.minimum(self.low, other.low),
                np.maximum(self.high, other.high),
            )
        count = self.count + other.count
        delta = other.mean - self.mean
        return MomentSums(
            self.mean + delta * (other.count / count),
            self.squares
            + other.squares
            + np.square(delta) * (self.count * other.count / count),
            count,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and variance; a variance of 1 for a constant feature.

        The standardisation divides by ``max(std, 1e-7)``: a feature
        constant on these rows (an indicator never set in a first
        ``partial_fit`` chunk, a column constant in ``fit``) would be
        multiplied by 1e7 wherever it later varies, and the logits with it.
        As scikit-learn's ``StandardScaler`` does, such a feature is
        centred and left unscaled.  Constant is told by its minimum and
        maximum, exactly: the variance keeps a rounding error that grows
        with the rows.
        """
        variance = self.squares / self.count
        constant = np.broadcast_to(self.low >= self.high, np.shape(variance))
        return self.mean, np.where(constant, 1.0, variance)


def held_out_moments(windows, group: np.ndarray, n_networks: int) -> list[tuple]:
    """Each network's training feature moments, from one pass over
    ``windows`` (``(ids, X)``, X checked) where ``group[i]`` is the network
    row ``i`` is held out from (-1: none): a network's moments are those of
    every group's rows but its own."""
    # The last sums: of the rows no network holds out.
    sums = [MomentSums() for _ in range(n_networks + 1)]
    for ids, X in windows:
        window_group = group[ids]
        for g, member in enumerate(sums):
            member.add(X[window_group == (g if g < n_networks else -1)])
    # Added, not the total less the group: minima and maxima do not subtract.
    return [
        sum((m for g, m in enumerate(sums) if g != j), start=MomentSums()).moments()
        for j in range(n_networks)
    ]
