"""A hold-out split of whole groups, stratified by class.

One network validated on rows of recordings (or patients) it trains on
reads optimistic scores: early stopping waits too long and the decision
rule is tuned on rows like the training rows.  Holding out whole groups
fixes that, but scikit-learn's ``GroupShuffleSplit`` draws the groups
without regard to class, so on imbalanced data the held-out rows often
miss a rare class, on which the decision rule and the calibration are
fitted.  scikit-learn has no stratified group-wise shuffle split (only the
k-fold ``StratifiedGroupKFold``); this is one fold of that, drawn afresh
for each split.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.model_selection import BaseCrossValidator, StratifiedGroupKFold
from sklearn.utils import check_random_state

__all__ = ["StratifiedGroupShuffleSplit"]


class StratifiedGroupShuffleSplit(BaseCrossValidator):
    """Hold out about ``test_size`` of the rows, whole groups, stratified.

    Each split is one fold of scikit-learn's ``StratifiedGroupKFold`` into
    ``round(1 / test_size)`` folds, shuffled (the first of those that hold
    the most classes): every group is on one side, and each class's share
    of the held-out rows is as close to its share of all rows as whole
    groups allow.  ``ImbalancedKerasClassifier(cv=
    StratifiedGroupShuffleSplit())`` trains one network validated on whole
    groups; ``fit`` then takes ``groups``.

    Parameters
    ----------
    n_splits : int, default=1
        Number of splits, each drawn afresh (their held-out rows may
        overlap).
    test_size : float, default=0.1
        Share of the rows to hold out, in (0, 0.5]; whole groups give it
        about, not exactly.
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
    (4, [0, 1])
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
            and 0 < self.test_size <= 0.5
        ):
            raise ValueError(
                f"test_size must be a share of the rows in (0, 0.5]; got "
                f"{self.test_size!r}."
            )
        if groups is None:
            raise ValueError(
                "StratifiedGroupShuffleSplit holds out whole groups; pass groups."
            )
        y = np.asarray(y)
        rng = check_random_state(self.random_state)
        n_folds = max(2, round(1 / self.test_size))
        for _ in range(self.n_splits):
            folds = StratifiedGroupKFold(
                n_folds, shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max)
            )
            with warnings.catch_warnings():
                # ("The least populated class in y has only 3 members, which
                # is less than n_splits": one fold is held out, not all.)
                warnings.simplefilter("ignore", UserWarning)
                splits = list(folds.split(X, y, groups))
            # The first fold (in the shuffled order) of those holding the
            # most classes: a class of few groups is in few folds, and the
            # held-out rows should see it where some fold can.
            yield max(splits, key=lambda split: len(np.unique(y[split[1]])))

    def _iter_test_indices(self, X=None, y=None, groups=None):
        # (BaseCrossValidator's abstract method; split above replaces it.)
        for _, test in self.split(X, y, groups):
            yield test
