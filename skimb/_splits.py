"""Which rows train and which validate each network of a fit.

One network holds out a stratified validation split; with cross-fitting
(``cv``) each of k networks holds out one of k stratified folds, so every
row is held out exactly once, or one fold of the user's splitter (a
group-wise one, say), so that every row is held out at most once.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from skimb._class_sizes import (
    check_cross_fitting,
    check_validation_split,
    rarest_class,
    shown,
)
from skimb._inputs import is_missing

# cv="auto": this many cross-fitted networks when the rarest class has fewer
# samples than AUTO_CV_RAREST.
AUTO_CV_FOLDS = 5
AUTO_CV_RAREST = 1000
# A splitter's networks train in step: the fewest training rows of one of
# them, as a share of the most.
MIN_TRAINING_SHARE = 0.75


def validation_split(
    y_encoded: np.ndarray,
    *,
    classes: np.ndarray,
    validation_fraction: float,
    seed: int | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Stratified, shuffled train/validation indices (validation None when
    ``validation_fraction`` is 0)."""
    n_samples, n_classes = len(y_encoded), len(classes)
    if validation_fraction == 0:
        return np.arange(n_samples), None
    n_val = max(int(np.ceil(validation_fraction * n_samples)), n_classes)
    check_validation_split(y_encoded, classes, n_val=n_val)
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    train, val = next(splitter.split(np.zeros(n_samples), y_encoded))
    return _each_class_on_both_sides(train, val, y_encoded, n_classes, seed=seed)


def _each_class_on_both_sides(train, val, y_encoded, n_classes: int, *, seed):
    """``train`` and ``val``, sorted, with one row moved across for each class
    of 2 or more rows that one of them lacks.

    StratifiedShuffleSplit rounds each class's share of the split, to 0 for
    a class of a few rows among many (3 of 263 in a split of 27): early
    stopping's macro-F1 would count that class's F1 as 0 at every epoch, and
    the calibration would never see it (with a split of most rows, to all of
    them: the network would never train on it).  Splits that hold every
    class on both sides are unchanged."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y_encoded, minlength=n_classes)
    for c in np.flatnonzero(counts >= 2):
        in_train, in_val = train[y_encoded[train] == c], val[y_encoded[val] == c]
        if not len(in_val):
            moved = rng.choice(in_train)
            train, val = train[train != moved], np.append(val, moved)
        elif not len(in_train):
            moved = rng.choice(in_val)
            train, val = np.append(train, moved), val[val != moved]
    return np.sort(train), np.sort(val)


def is_splitter(cv) -> bool:
    """Whether ``cv`` is a cross-validation splitter (scikit-learn's
    protocol) rather than a number of folds, ``"auto"`` or None."""
    return (
        not isinstance(cv, type)
        and hasattr(cv, "split")
        and hasattr(cv, "get_n_splits")
    )


def n_folds(
    cv: int | str | None,
    y_encoded: np.ndarray,
    *,
    classes: np.ndarray,
    validation_fraction: float,
) -> int | None:
    """Number of cross-fitted networks, or None for one network."""
    if cv is None:
        return None
    if cv == "auto":
        # Cross-fitting pays where the rarest class is small: a 10%
        # validation split then holds a handful of its samples, too few
        # to tune the decision rule on (docs/benchmarks.rst, "Cross-fitted
        # networks").  With fewer than 2 samples validation_split names the
        # problem.
        _, rarest = rarest_class(y_encoded, classes)
        if validation_fraction == 0 or not 2 <= rarest < AUTO_CV_RAREST:
            return None
        return min(AUTO_CV_FOLDS, rarest)
    check_cross_fitting(y_encoded, classes, cv=cv)
    return int(cv)


def network_splits(
    cv,
    y_encoded: np.ndarray,
    *,
    classes: np.ndarray,
    validation_fraction: float,
    seed: int | None,
    groups=None,
    X=None,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``(train, validation)`` indices of each network of a fit (``groups``:
    the rows' groups, array-like, checked by :func:`group_labels`, and
    ``X`` the data in memory, for a splitter given as ``cv``)."""
    if groups is not None and not reads_groups(cv):
        raise ValueError(
            f"groups are read by a group-wise splitter given as cv (such as "
            f"StratifiedGroupKFold); cv={cv!r} does not read them."
        )
    if is_splitter(cv):
        return splitter_splits(cv, y_encoded, classes=classes, groups=groups, X=X)
    k = n_folds(cv, y_encoded, classes=classes, validation_fraction=validation_fraction)
    if k is None:
        return [
            validation_split(
                y_encoded,
                classes=classes,
                validation_fraction=validation_fraction,
                seed=seed,
            )
        ]
    folds = StratifiedKFold(k, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(y_encoded)), y_encoded))


def splitter_splits(
    cv,
    y_encoded: np.ndarray,
    *,
    classes: np.ndarray,
    groups,
    X=None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One network per split of the splitter ``cv`` (given ``X`` where the
    data are in memory, the number of rows otherwise, and ``groups`` where
    it reads them), checked: each network trains on every class and
    validates on rows it does not train on, no row is held out by two
    networks (a row's held-out prediction, which tunes the decision rule,
    is that of the one network that did not train on it), the held-out
    rows hold every class (the decision rule and the calibration are
    fitted on them), and the networks, which train in step, have training
    rows of comparable numbers."""
    n = len(y_encoded)
    if groups is None and asks_for_groups(cv):
        raise ValueError(
            f"cv={cv!r} splits by group; pass each row's group to fit "
            "(fit(X, y, groups=...))."
        )
    if groups is not None and len(groups) != n:
        raise ValueError(
            f"groups has {len(groups)} entries for {n} training rows; give "
            "one group per row."
        )
    if groups is not None:
        groups = group_labels(groups)
    splits = [
        (_row_indices(train, n, "training", cv), _row_indices(test, n, "test", cv))
        for train, test in cv.split(
            np.zeros((n, 1)) if X is None else X, y_encoded, groups
        )
    ]
    if not splits:
        raise ValueError(f"cv={cv!r} gives no split of the training rows.")
    held_out = np.zeros(n, dtype=bool)
    for j, (train, test) in enumerate(splits, start=1):
        if np.isin(test, train).any():
            raise ValueError(
                f"cv={cv!r} trains on rows it holds out in its split {j}; "
                "a network's held-out rows must be rows it does not train on."
            )
        if held_out[test].any():
            raise ValueError(
                f"cv={cv!r} holds out some rows in more than one split (split "
                f"{j} again); each row may be held out by one network at most, "
                "as with KFold-like splitters."
            )
        held_out[test] = True
        missing = np.setdiff1d(np.arange(len(classes)), y_encoded[train])
        if len(missing):
            raise ValueError(
                f"cv={cv!r} leaves no sample of class "
                f"{shown(classes[missing[0]])!r} in the training rows of its "
                f"split {j}; every network must train on every class."
            )
    missing = np.setdiff1d(np.arange(len(classes)), y_encoded[held_out])
    if len(missing):
        raise ValueError(
            f"cv={cv!r} holds out no sample of class "
            f"{shown(classes[missing[0]])!r} in any split; the decision rule "
            "and the calibration are fitted on the held-out rows, which need "
            "every class."
        )
    sizes = [len(train) for train, _ in splits]
    if min(sizes) < MIN_TRAINING_SHARE * max(sizes):
        # The networks take their steps together, as many an epoch as the
        # largest needs: a smaller one would sit out the rest of each
        # epoch, fewer updates an epoch than the others, under one count
        # of epochs and one patience.
        raise ValueError(
            f"cv={cv!r} trains its networks on {min(sizes)} to {max(sizes)} "
            f"rows, the fewest under {MIN_TRAINING_SHARE:.0%} of the most; the "
            "networks of a fit train in step, on training rows of comparable "
            "numbers. Use a KFold-like splitter; with groups of unequal sizes, "
            "fewer folds or more, smaller groups."
        )
    return splits


def group_labels(groups) -> np.ndarray:
    """``groups`` as an array, refusing groups of numbers and strings mixed,
    which splitters cannot sort (scikit-learn's raise "'<' not supported
    between instances of 'int' and 'str'") or, from a list, would read as
    strings (4 and "4" one group)."""
    values = np.asarray(groups)
    if values.ndim != 1:
        raise ValueError(
            f"groups must be 1-D, one group per row; got shape {values.shape}."
        )
    checked = values
    if values.dtype.kind == "U" and not isinstance(groups, np.ndarray):
        checked = np.asarray(groups, dtype=object)
    if checked.dtype.kind == "f" or checked.dtype == object:
        # A splitter would make one group of them (or fail to sort them).
        missing = np.flatnonzero(
            np.isnan(checked)
            if checked.dtype.kind == "f"
            else [is_missing(value) for value in checked.tolist()]
        )
        if len(missing):
            raise ValueError(
                f"groups has {len(missing)} missing values (NaN or None), at "
                f"rows {missing[:5].tolist()}: give every row a group."
            )
    if checked.dtype != object:
        return values
    try:
        np.unique(checked)
    except TypeError:
        kinds = {type(value).__name__ for value in checked.tolist()}
        raise TypeError(
            f"groups mix values of types {sorted(kinds)}, which cannot be "
            "sorted: give groups of one type (all strings, or all numbers)."
        ) from None
    return values


def asks_for_groups(cv) -> bool:
    """Whether the splitter cannot split without ``groups``: scikit-learn's
    group-wise splitters say so in their metadata requests."""
    if not hasattr(cv, "get_metadata_routing"):
        return False
    split = getattr(cv.get_metadata_routing(), "split", None)
    return getattr(split, "requests", {}).get("groups") is True


def splitter_parameters(cls: type) -> list[str]:
    """A splitter class's parameters: those of its ``__init__``, which
    scikit-learn's splitters keep as attributes of the same names (they
    have no ``get_params``; their repr reads them so)."""
    return [
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def reads_groups(cv) -> bool:
    """Whether ``cv`` is a splitter that reads ``groups``: scikit-learn's
    group-wise splitters, and a splitter of another package (or the user's)
    whose ``split`` takes them.  scikit-learn's others take ``groups`` in
    their ``split`` too, and ignore them; a number of folds reads none."""
    if not is_splitter(cv):
        return False
    if asks_for_groups(cv):
        return True
    if type(cv).__module__.split(".")[0] == "sklearn":
        return False
    try:
        return "groups" in inspect.signature(cv.split).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


def _row_indices(rows, n: int, kind: str, cv) -> np.ndarray:
    """A split's rows as sorted indices (from indices or a boolean mask)."""
    rows = np.asarray(rows)
    if rows.dtype == bool and rows.shape == (n,):
        rows = np.flatnonzero(rows)
    if rows.ndim != 1 or (len(rows) and rows.dtype.kind not in "iu"):
        raise ValueError(
            f"cv={cv!r} must give {kind} rows as integer indices; got an array "
            f"of dtype {rows.dtype} and shape {rows.shape}."
        )
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(
            f"cv={cv!r} gave {kind} rows outside the {n} training rows "
            f"({int(rows.min())} to {int(rows.max())})."
        )
    unique = np.unique(rows).astype(np.intp)
    if len(unique) == 0:
        raise ValueError(f"cv={cv!r} gave no {kind} row in one of its splits.")
    if len(unique) < len(rows):
        raise ValueError(
            f"cv={cv!r} gave some {kind} rows twice in one split; each network "
            "takes each of its rows once (weight rows with sample_weight)."
        )
    return unique


def check_streamed_splits(splits: list, *, n_rows: int, cv) -> None:
    """Refuse splits that a streamed fit cannot train: one pass over the
    shards trains each network on every row it does not hold out."""
    for j, (train, held_out) in enumerate(splits, start=1):
        if held_out is not None and len(train) + len(held_out) != n_rows:
            raise ValueError(
                f"fit(Shards) trains each network on every row it does not "
                f"hold out; cv={cv!r} leaves some rows out of both the training "
                f"and the held-out rows of its split {j}.  Use a KFold-like "
                "splitter, or fit on arrays."
            )
