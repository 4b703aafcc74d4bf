"""``skimb tune --groups``: splits that keep each group whole.

Rows of one recording or patient look more alike than rows of different
ones.  Where a search's folds, its held-out rows or a fit's cross-fitted
networks split a group, a network is scored on rows like those it trained
on, and the search, early stopping and the decision rule read optimistic
scores.  With ``--groups`` each of those splits is scikit-learn's
``StratifiedGroupKFold`` (stratified as far as whole groups allow), and
the splits are checked before the search, so that a split the data cannot
give is one line naming the problem rather than failed trials.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from skimb._files import DataError, _plain
from skimb._splits import n_folds, splitter_splits
from skimb.model_selection import StratifiedGroupShuffleSplit


def hold_out(
    y: np.ndarray, groups: np.ndarray, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices, whole groups on either side: one
    fold of a stratified group-wise split into ``round(1 / test_size)``
    folds, so about ``test_size`` of the rows (whole groups cannot give an
    exact share)."""
    folds = StratifiedGroupKFold(
        max(2, round(1 / test_size)), shuffle=True, random_state=seed
    )
    return next(folds.split(np.zeros(len(y)), y, groups))


def search_folds(n_splits: int, *, seed: int) -> StratifiedGroupKFold:
    """The search's folds (``--cv``)."""
    return StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)


def network_folds(
    networks: int | str,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    search: StratifiedGroupKFold,
    validation_fraction: float,
    seed: int,
):
    """The estimator's ``cv`` for ``--networks``: N >= 2 cross-fitted
    networks on stratified group-wise folds; one network validating on
    whole groups, about ``validation_fraction`` of the rows, stratified;
    ``"auto"``, the most networks, up to the number ``cv="auto"`` gives on
    these rows (those the best model is refitted on), whose folds pass the
    checks of :func:`check_splits` in every search fold (whole groups
    seldom split into equal folds), else one network."""
    if networks == "auto":
        classes, y_encoded = np.unique(y, return_inverse=True)
        most = n_folds(
            "auto", y_encoded, classes=classes, validation_fraction=validation_fraction
        )
        for k in range(most or 1, 1, -1):
            folds = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            if _splits_or_error(y, groups, search=search, networks=folds) is None:
                return folds
        networks = 1
    if networks == 1:
        return StratifiedGroupShuffleSplit(
            test_size=validation_fraction, random_state=seed
        )
    return StratifiedGroupKFold(networks, shuffle=True, random_state=seed)


def check_splits(
    y: np.ndarray,
    groups: np.ndarray,
    *,
    search: StratifiedGroupKFold,
    networks,
    path: Path,
    name: str,
    held_out: bool,
) -> None:
    """Refuse, before the search, folds that the data's groups cannot give:
    every search fold trains on every class, and so does each network of a
    fit on it, with its held-out rows holding every class and the networks'
    training rows of comparable numbers (the checks of the estimator's own
    fit, :func:`skimb._splits.splitter_splits`)."""
    problem = _splits_or_error(y, groups, search=search, networks=networks)
    if problem is not None:
        rare = _poorest(y, groups)
        raise DataError(
            f"{path}: grouped by {name!r}, {problem.rstrip('.')}; lower --cv or "
            f"--networks{' or --test-size' if held_out else ''}, or give more "
            f"groups (class {_plain(rare)!r} has rows in "
            f"{_count(_groups_of(y, groups, rare), 'group')}"
            f"{' after the --test-size hold-out' if held_out else ''})."
        )


def _splits_or_error(y, groups, *, search, networks) -> str | None:
    """What is wrong with the search's folds and, in each, the networks'
    folds; None where nothing is."""
    classes, y_encoded = np.unique(y, return_inverse=True)
    with warnings.catch_warnings():
        # ("The least populated class in y has only 3 members, which is less
        # than n_splits": the checks below say whether that matters.)
        warnings.simplefilter("ignore", UserWarning)
        try:
            splits = list(search.split(np.zeros(len(y)), y, groups))
        except ValueError as error:  # more folds than groups
            return f"the search's folds: {error}"
    for j, (train, _) in enumerate(splits, start=1):
        missing = np.setdiff1d(classes, y[train])
        if len(missing):
            return f"search fold {j} trains on no row of class {_plain(missing[0])!r}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                splitter_splits(
                    networks, y_encoded[train], classes=classes, groups=groups[train]
                )
        except ValueError as error:
            # (The estimator's messages name its cv, which here is --networks.)
            message = str(error).replace(f"cv={networks!r}", "the split into networks")
            return f"search fold {j}: {message}"
    return None


def check_hold_out(
    y: np.ndarray, train: np.ndarray, *, groups: np.ndarray, path: Path, name: str
) -> None:
    """The rows left after the hold-out must hold every class."""
    missing = np.setdiff1d(np.unique(y), y[train])
    if len(missing):
        raise DataError(
            f"{path}: grouped by {name!r}, the --test-size hold-out takes every "
            f"row of class {_plain(missing[0])!r} (its rows are in "
            f"{_count(_groups_of(y, groups, missing[0]), 'group')}); lower "
            "--test-size (0: none), or give more groups."
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _groups_of(y: np.ndarray, groups: np.ndarray, label) -> int:
    return len(np.unique(groups[y == label]))


def _poorest(y: np.ndarray, groups: np.ndarray):
    """The class whose rows are in the fewest groups."""
    labels = np.unique(y)
    return labels[np.argmin([_groups_of(y, groups, label) for label in labels])]
