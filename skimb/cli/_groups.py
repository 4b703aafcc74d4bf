"""``skimb tune --groups``: splits that keep each group whole.

Rows of one recording or patient look more alike than rows of different
ones.  Where a search's folds, its held-out rows or a fit's cross-fitted
networks split a group, a network is scored on rows like those it trained
on, and the search, early stopping and the decision rule read optimistic
scores.  With ``--groups`` the held-out rows are drawn by
:class:`~skimb.model_selection.StratifiedGroupShuffleSplit`, and the
search's and the networks' folds are scikit-learn's ``StratifiedGroupKFold``
(stratified as far as whole groups allow).  The folds are checked before
the search, so that folds the data cannot give are one line naming the
problem rather than failed trials.
"""

from __future__ import annotations

import re
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
    """Training and held-out row indices: about ``test_size`` of each
    class's rows, whole groups."""
    split = StratifiedGroupShuffleSplit(test_size=test_size, random_state=seed)
    return next(split.split(np.zeros(len(y)), y, groups))


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
) -> tuple[object, bool]:
    """The estimator's ``cv`` for ``--networks``, and whether ``"auto"``
    fell back to one network after trying cross-fitted ones.

    N >= 2 cross-fitted networks on stratified group-wise folds; one
    network validating on whole groups, about ``validation_fraction`` of
    each class's rows; ``"auto"``, the most networks, up to the number
    ``cv="auto"`` gives on these rows (those the best model is refitted
    on), whose folds pass the checks of :func:`check_splits` (whole groups
    seldom split into equal folds), else one network."""
    fell_back = False
    if networks == "auto":
        classes, y_encoded = np.unique(y, return_inverse=True)
        most = n_folds(
            "auto", y_encoded, classes=classes, validation_fraction=validation_fraction
        )
        for k in range(most or 1, 1, -1):
            folds = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            if _splits_or_error(y, groups, search=search, networks=folds) is None:
                return folds, False
        networks, fell_back = 1, most is not None
    if networks == 1:
        one = StratifiedGroupShuffleSplit(
            test_size=validation_fraction, random_state=seed
        )
        return one, fell_back
    return StratifiedGroupKFold(networks, shuffle=True, random_state=seed), False


def check_splits(
    y: np.ndarray,
    groups: np.ndarray,
    *,
    search: StratifiedGroupKFold,
    networks,
    path: Path,
    name: str,
    held_out: bool,
    fell_back: bool = False,
) -> None:
    """Refuse, before the search, folds that the data's groups cannot give:
    every search fold trains on every class, and so does each network of a
    fit on it or on all the rows (the refit), with the networks' held-out
    rows holding every class and their training rows of comparable numbers
    (the checks of the estimator's own fit,
    :func:`skimb._splits.splitter_splits`).  ``fell_back``: the networks
    are the one network ``--networks auto`` fell back to."""
    found = _splits_or_error(y, groups, search=search, networks=networks)
    if found is None:
        return
    part, problem = found
    test_size = ", or --test-size" if held_out else ""
    if part == "search":
        advice = f"lower --cv{test_size}, or give more groups"
    else:
        advice = f"lower --networks or --cv{test_size}, or give more groups"
        if fell_back:
            problem += (
                " (--networks auto fell back to one network: no number of "
                "cross-fitted networks passes either)"
            )
    raise DataError(f"{path}: grouped by {name!r}, {problem}; {advice}.")


def _splits_or_error(y, groups, *, search, networks) -> tuple[str, str] | None:
    """What is wrong with the search's folds (``"search"``) or the
    networks' folds in each, and on all the rows as the refit splits them
    (``"networks"``), and how; None where nothing is."""
    classes, y_encoded = np.unique(y, return_inverse=True)
    try:
        with warnings.catch_warnings():
            # ("The least populated class in y has only 3 members, which is
            # less than n_splits": the checks below say whether that matters.)
            warnings.simplefilter("ignore", UserWarning)
            splits = list(search.split(np.zeros(len(y)), y, groups))
    except ValueError as error:  # more folds than groups
        return "search", f"the search's folds: {_first_clause(str(error))}"
    splits.append((np.arange(len(y)), None))
    for j, (train, _) in enumerate(splits, start=1):
        where = "the refit" if j == len(splits) else f"search fold {j}"
        missing = np.setdiff1d(classes, y[train])
        if len(missing):
            return "search", (
                f"{where} trains on no row of class {_plain(missing[0])!r}"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                splitter_splits(
                    networks, y_encoded[train], classes=classes, groups=groups[train]
                )
        except ValueError as error:
            # The estimator's message names its cv, which here is --networks.
            message = str(error)
            if f"cv={networks!r}" in message:
                message = message.replace(f"cv={networks!r}", "the networks' split")
            else:  # (the splitter's own error)
                message = f"the networks' split: {message}"
            return "networks", f"{where}, {_first_clause(message)}"
    return None


def _first_clause(message: str) -> str:
    """What is wrong, without the advice that follows it (the estimator's
    advises its users, not the command's)."""
    return re.split(r"[.;] ", message)[0].rstrip(".")


def check_hold_out(
    y: np.ndarray, train: np.ndarray, *, groups: np.ndarray, path: Path, name: str
) -> None:
    """The rows left after the hold-out must hold every class."""
    missing = np.setdiff1d(np.unique(y), y[train])
    if len(missing):
        n = len(np.unique(groups[y == missing[0]]))
        raise DataError(
            f"{path}: grouped by {name!r}, the --test-size hold-out takes every "
            f"row of class {_plain(missing[0])!r} (its rows are in {n} "
            f"group{'' if n == 1 else 's'}); lower --test-size (0: none), or give "
            "more groups."
        )
