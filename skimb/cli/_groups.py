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

from skimb._class_sizes import shown
from skimb._files import DataError
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


# The groups of a class that folds by group need: one for a search fold to
# hold out, one for the networks' split within it, and one to train on.
_GROUPS_PER_CLASS = 3
_NEEDED = (
    f"{_GROUPS_PER_CLASS} or more are needed: one for the search to hold out, "
    "one for the networks, one to train on"
)


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
    file_groups=None,
) -> None:
    """Refuse, before the search, folds that the data's groups cannot give:
    every search fold trains on every class, and so does each network of a
    fit on it or on all the rows (the refit), with the networks' held-out
    rows holding every class and their training rows of comparable numbers
    (the checks of the estimator's own fit,
    :func:`skimb._splits.splitter_splits`).  The line says what failed and
    advises only what can mend it.  ``fell_back``: the networks are the
    one network ``--networks auto`` fell back to; ``file_groups``: a
    class's number of groups in the whole file (before the hold-out)."""
    found = _splits_or_error(y, groups, search=search, networks=networks)
    if found is None:
        return
    part, problem, at_refit, missing = found
    # (--cv is at least 2.)
    cv = ["--cv"] if search.get_n_splits() > 2 else []
    test_size = held_out
    options = []

    def n_groups(label) -> int:
        return len(np.unique(groups[y == label]))

    def hold_out_took_some(label, n: int) -> bool:
        # The hold-out took some of the class's groups, or none.
        return held_out and file_groups is not None and file_groups(label) > n

    if part == "search" and missing is not None:
        n = n_groups(missing)
        problem += f" (its rows are in {n} group{'' if n == 1 else 's'}"
        # Fewer folds mend a class that the folds split unevenly, not one in
        # too few groups for any folds.
        if n >= _GROUPS_PER_CLASS:
            problem += ")"
            options += cv
        else:
            problem += f"; {_NEEDED})"
        test_size = hold_out_took_some(missing, n)
    elif part == "search":
        options += cv
    else:
        # A class in fewer than 3 groups fails whatever the folds: each
        # search fold holds out one group of it, and the networks' split
        # another of those left, with one more to train on.
        counts = {label: n_groups(label) for label in np.unique(y)}
        few = next((c for c, n in counts.items() if n < _GROUPS_PER_CLASS), None)
        if few is not None:
            n = counts[few]
            problem += (
                f" (class {shown(few)!r} is in {n} group{'' if n == 1 else 's'}; "
                f"{_NEEDED})"
            )
            test_size = hold_out_took_some(few, n)
        else:
            if networks.get_n_splits() > 1:
                options.append("--networks")
            if not at_refit:
                options += cv
        if fell_back:
            problem += (
                " (--networks auto fell back to one network: no number of "
                "cross-fitted networks passes either)"
            )
    if options:
        lower = " or ".join(options + (["--test-size"] if test_size else []))
        advice = f"lower {lower}, or give more groups"
    elif test_size:
        advice = "use --test-size 0, or give more groups"
    else:
        advice = "give more groups"
    raise DataError(f"{path}: grouped by {name!r}, {problem}; {advice}.")


def _splits_or_error(y, groups, *, search, networks) -> tuple | None:
    """What is wrong with the search's folds (``"search"``) or the
    networks' folds in each, and on all the rows as the refit splits them
    (``"networks"``): the part, the problem, whether it is the refit's, and
    the class a search fold lacks (else None); None where nothing is."""
    classes, y_encoded = np.unique(y, return_inverse=True)
    n_groups = len(np.unique(groups))
    if n_groups < search.get_n_splits():
        # (Checked here: scikit-learn's own error for it is recent.)
        return (
            "search",
            f"the search's {search.get_n_splits()} folds need as many groups; "
            f"the rows have {n_groups}",
            False,
            None,
        )
    with warnings.catch_warnings():
        # ("The least populated class in y has only 3 members, which is less
        # than n_splits": the checks below say whether that matters.)
        warnings.simplefilter("ignore", UserWarning)
        splits = list(search.split(np.zeros(len(y)), y, groups))
    splits.append((np.arange(len(y)), None))
    k = networks.get_n_splits()
    for j, (train, _) in enumerate(splits, start=1):
        at_refit = j == len(splits)
        where = "the refit" if at_refit else f"search fold {j}"
        missing = np.setdiff1d(classes, y[train])
        if len(missing):
            label = missing[0]
            return (
                "search",
                f"{where} trains on no row of class {shown(label)!r}",
                at_refit,
                label,
            )
        in_fold = len(np.unique(groups[train]))
        if k > 1 and in_fold < k:
            return (
                "networks",
                f"{where}, the {k} networks need as many groups; its rows have "
                f"{in_fold}",
                at_refit,
                None,
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
            first = _first_clause(message, classes)
            return "networks", f"{where}, {first}", at_refit, None
    return None


def _first_clause(message: str, classes: np.ndarray) -> str:
    """What is wrong, without the advice that follows it (the estimator's
    advises its users, not the command's): up to the first ``". "`` or
    ``"; "`` outside the class labels it names (``'Dr. No'``)."""
    risky = [repr(label) for label in classes.tolist()]
    risky = [text for text in risky if ". " in text or "; " in text]
    labels = [
        (found.start(), found.end())
        for text in risky
        for found in re.finditer(re.escape(text), message)
    ]
    for separator in re.finditer(r"[.;] ", message):
        if not any(start <= separator.start() < end for start, end in labels):
            return message[: separator.start()]
    return message.rstrip(".")
