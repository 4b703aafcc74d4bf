"""A hold-out split of whole groups, stratified by class.

One network validated on rows of recordings (or patients) it trains on
reads optimistic scores: early stopping waits too long and the decision
rule is tuned on rows like the training rows.  Holding out whole groups
fixes that, but scikit-learn's ``GroupShuffleSplit`` draws the groups
without regard to class, so on imbalanced data the held-out rows often
miss a rare class, on which the decision rule and the calibration are
fitted; and one fold of its ``StratifiedGroupKFold`` into ``1 /
test_size`` folds needs about ``n_classes / test_size`` groups to hold
every class, and is not drawn at random (it places the groups greedily,
the seed breaking ties only).  scikit-learn has no stratified group-wise
shuffle split.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from skimb._splits import group_labels

__all__ = ["StratifiedGroupShuffleSplit"]


class StratifiedGroupShuffleSplit(BaseCrossValidator):
    """Hold out about ``test_size`` of the rows, whole groups, stratified.

    For each class (those in the fewest groups first), the groups holding
    its rows are drawn in a random order, and each is held out where that
    brings the class's held-out rows nearer to ``test_size`` of its rows
    (if none does, the one nearest to it), but never where a class would
    lose its last training group.  So a class in one group trains, and
    every class in two groups or more is on both sides where whole groups
    allow, however few groups it has and whatever other classes share
    them (a draw that blocks one is drawn again, that class first, up to
    20 times).  Then groups are given back to training, or held out, one at
    a time while that brings the classes' held-out shares nearer
    ``test_size`` (those held for the common classes carry rare rows too).
    Every group is on one side only.

    ``ImbalancedKerasClassifier(cv=StratifiedGroupShuffleSplit())`` trains
    one network validated on whole groups; its ``fit`` then takes
    ``groups``, and needs every class in two groups or more (its validation
    rows must hold every class, which a class in one group cannot give).

    Parameters
    ----------
    n_splits : int, default=1
        Number of splits, each drawn afresh (their held-out rows may
        overlap).
    test_size : float, default=0.1
        Share of each class's rows to hold out, in (0, 1); whole groups
        give it about, not exactly.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw; an int gives the same splits on every call.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.model_selection import StratifiedGroupShuffleSplit
    >>> y = np.array([0] * 16 + [1] * 4)
    >>> groups = np.repeat(np.arange(10), 2)  # 10 recordings of 2 rows
    >>> split = StratifiedGroupShuffleSplit(test_size=0.2, random_state=0)
    >>> train, test = next(split.split(np.zeros((20, 1)), y, groups))
    >>> len(test), np.unique(y[test]).tolist()
    (6, [0, 1])
    >>> set(groups[train]) & set(groups[test])
    set()
    """

    # Splits need groups (scikit-learn's metadata routing asks for them,
    # as it does for its own group-wise splitters).
    __metadata_request__split = {"groups": True}

    def __init__(
        self,
        n_splits: int = 1,
        *,
        test_size: float = 0.1,
        random_state=None,
    ):
        self.n_splits = n_splits
        self.test_size = test_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of splits, ``n_splits``."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """Training and held-out row indices of each split.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            The data (only its length is read).
        y : array-like of shape (n_samples,)
            Class labels, stratified on.
        groups : array-like of shape (n_samples,)
            Each row's group; a group is never on both sides.

        Yields
        ------
        train, test : ndarray
            Row indices.
        """
        if not (isinstance(self.n_splits, numbers.Integral) and self.n_splits >= 1):
            raise ValueError(
                f"n_splits must be an integer >= 1; got {self.n_splits!r}."
            )
        if not (
            isinstance(self.test_size, numbers.Real)
            and not isinstance(self.test_size, bool)
            and 0 < self.test_size < 1
        ):
            raise ValueError(
                f"test_size must be a share of the rows in (0, 1); got "
                f"{self.test_size!r}."
            )
        if groups is None:
            raise ValueError(
                "StratifiedGroupShuffleSplit holds out whole groups; pass groups."
            )
        y, groups = np.asarray(y), group_labels(groups)
        if not len(y) == len(groups) == _n_rows(X):
            raise ValueError(
                f"X, y and groups must have one row each; got {_n_rows(X)}, "
                f"{len(y)} and {len(groups)}."
            )
        _, y_codes = np.unique(y, return_inverse=True)
        group_ids, group_codes = np.unique(groups, return_inverse=True)
        # counts[g, c]: the rows of class c in group g.
        counts = np.zeros((len(group_ids), y_codes.max() + 1), dtype=np.int64)
        np.add.at(counts, (group_codes, y_codes), 1)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            held = _held_out_groups(counts, self.test_size, rng)
            yield np.flatnonzero(~held[group_codes]), np.flatnonzero(held[group_codes])

    def _iter_test_indices(self, X=None, y=None, groups=None):
        # (BaseCrossValidator's abstract method; split above replaces it.)
        for _, test in self.split(X, y, groups):
            yield test


def _held_out_groups(
    counts: np.ndarray, test_size: float, rng: np.random.RandomState
) -> np.ndarray:
    """Which groups to hold out, given ``counts[g, c]``, the rows of class
    ``c`` in group ``g``: the first of up to ``_DRAWS`` draws that puts
    every class in two groups or more on both sides (one draw, however
    greedy, can block a class: others may take the groups it needed; the
    classes a draw blocked go first in the next), else the last."""
    has = counts > 0
    n_groups = has.sum(axis=0)
    # Classes a draw left on one side go first in the next.
    first = np.zeros(len(n_groups), dtype=bool)
    for _ in range(_DRAWS):
        held = _draw(counts, has, n_groups, test_size, rng, first=first)
        blocked = (n_groups >= 2) & ~has[held].any(axis=0)
        if not blocked.any():
            break
        first |= blocked
    return held


# Draws of one split, at most (see _held_out_groups).
_DRAWS = 20


def _draw(counts, has, n_groups, test_size: float, rng, *, first) -> np.ndarray:
    held = np.zeros(len(counts), dtype=bool)
    # Each class's groups not held out: a group is held out only where every
    # class in it keeps one (a class in one group always trains).
    left = n_groups.copy()

    def hold(g) -> None:
        held[g] = True
        left[has[g]] -= 1

    # The classes in the fewest groups first (after those of ``first``);
    # ties in a random order.
    for c in np.lexsort((rng.permutation(len(n_groups)), n_groups, ~first)):
        if n_groups[c] < 2:
            continue  # its one group trains
        target = test_size * counts[:, c].sum()
        # (Groups held for other classes count towards this one.)
        rows = counts[held, c].sum()
        candidates = rng.permutation(np.flatnonzero(has[:, c] & ~held))
        for g in candidates:
            nearer = abs(rows + counts[g, c] - target) < abs(rows - target)
            if nearer and (left[has[g]] >= 2).all():
                hold(g)
                rows += counts[g, c]
        if rows == 0:
            # No group brought the class nearer its share (each is more
            # than twice it, or would take another class's last training
            # group): the allowed one nearest to it.
            allowed = [g for g in candidates if (left[has[g]] >= 2).all()]
            if allowed:
                hold(min(allowed, key=lambda g: abs(counts[g, c] - target)))
    return _released(held, counts, n_groups, test_size, rng)


def _released(held, counts, n_groups, test_size: float, rng) -> np.ndarray:
    """``held`` moved nearer ``test_size`` of each class's rows (the
    squared distances of the held-out shares, summed): groups given back
    to training, or held out, one at a time while one brings the shares
    nearer, no class losing its last held-out or its last training group.

    The classes are placed rarest first, and the groups held later for the
    common ones carry rare rows too: without this pass the rarest class of
    a 0.8 / 0.15 / 0.05 table in 30 groups had 0.32 of its rows held out
    on average for a test_size of 0.2 (scikit-learn's GroupShuffleSplit,
    0.19), and up to 0.61.
    """
    totals = counts.sum(axis=0)
    split = n_groups >= 2  # the classes that are on both sides

    def distance(rows) -> float:
        return float(np.sum(np.square(rows[split] / totals[split] - test_size)))

    rows = counts[held].sum(axis=0)
    moved = True
    while moved:
        moved = False
        for g in rng.permutation(len(held)):
            if held[g]:
                after = rows - counts[g]
                # A class would lose its last held-out group.
                blocks = ((after == 0) & (rows > 0)).any()
            else:
                after = rows + counts[g]
                # A class would lose its last training group.
                blocks = (after == totals).any()
            if blocks:
                continue
            if distance(after) < distance(rows) - 1e-12:
                held[g], rows, moved = not held[g], after, True
    return held


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)
