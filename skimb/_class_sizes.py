"""Every rule on how many rows of a class an operation needs, with errors
that name the class and its count: stratified folds, the validation split,
cross-fitting, SMOTE-like samplers, and cross-validation around a fit."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils.validation import column_or_1d


def shown(label):
    """A label as Python shows it: 3, not np.int64(3), and a string of an
    object array as itself (which has no ``tolist``)."""
    return label.item() if isinstance(label, np.generic) else label


def check_class_counts(
    y, *, n_splits: int | None = None, k_neighbors: int | None = None, classes=None
) -> None:
    """Refuse classes too small for stratified folds or for a SMOTE-like sampler.

    scikit-learn only warns when a class has fewer members than folds (some
    folds then lack the class), and SMOTE's own error names neither the class
    nor its count; this check names both.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_splits : int, optional
        Number of stratified folds: every class needs at least ``n_splits``
        samples.
    k_neighbors : int, optional
        Neighbours of a SMOTE-like sampler: every class in ``classes``
        needs more than ``k_neighbors`` samples.
    classes : array-like, optional
        The classes ``k_neighbors`` applies to (those to be over-sampled);
        all classes by default.

    Raises
    ------
    ValueError
        Naming the first class that is too small and its count.

    Examples
    --------
    >>> from skimb.sampling import check_class_counts
    >>> check_class_counts(["a"] * 9 + ["b"] * 3, n_splits=5)
    Traceback (most recent call last):
    ...
    ValueError: Class 'b' has 3 samples, fewer than n_splits=5 folds: ...
    """
    labels, counts = np.unique(column_or_1d(y), return_counts=True)
    if n_splits is not None:
        for label, count in zip(labels, counts, strict=True):
            if count < n_splits:
                raise ValueError(
                    f"Class {shown(label)!r} has {count} samples, fewer than "
                    f"n_splits={n_splits} folds: some training or test folds "
                    "would lack it. Use fewer folds or gather more samples."
                )
    if k_neighbors is not None:
        wanted = labels if classes is None else np.asarray(classes)
        for label, count in zip(labels, counts, strict=True):
            if label in wanted and count <= k_neighbors:
                raise ValueError(
                    f"Class {shown(label)!r} has {count} samples, too few "
                    f"for k_neighbors={k_neighbors}: interpolating between "
                    f"neighbours needs at least {k_neighbors + 1}. Lower "
                    "k_neighbors, or over-sample this class at random "
                    "(RandomOverSampler)."
                )


def neighbours(sampler) -> int | None:
    """Number of neighbours a SMOTE-like sampler needs within each class."""
    # imbalanced-learn imported where a sampler is at hand: the data-file
    # and split rules above load without it.
    from imblearn.over_sampling import SMOTE

    # SMOTEENN and SMOTETomek hold their SMOTE in ``smote`` (None: default).
    if hasattr(sampler, "smote"):
        sampler = sampler.smote if sampler.smote is not None else SMOTE()
    for name in ("k_neighbors", "n_neighbors"):
        value = getattr(sampler, name, None)
        if isinstance(value, Integral) and not isinstance(value, bool):
            return int(value)
    return None


def _grown(sampler, y: np.ndarray) -> list:
    """The classes of ``y`` an over-sampler grows (none for other samplers)."""
    from imblearn.utils import check_sampling_strategy

    sampling_type = getattr(sampler, "_sampling_type", "over-sampling")
    if sampling_type != "over-sampling" or not hasattr(sampler, "sampling_strategy"):
        return []
    targets = check_sampling_strategy(sampler.sampling_strategy, y, sampling_type)
    return [label for label, n_new in targets.items() if n_new > 0]


def check_neighbours(sampler, y: np.ndarray) -> None:
    """Refuse classes a SMOTE-like ``sampler`` would grow from too few rows."""
    k = neighbours(sampler)
    if k is not None:
        check_class_counts(y, k_neighbors=k, classes=_grown(sampler, y))


def fitting_neighbours(sampler, y: np.ndarray, *, most: int = 5) -> int:
    """Neighbours for a SMOTE-like ``sampler`` on ``y``: ``most``, or fewer
    where the rarest class it grows has ``most`` rows or fewer.  A class of
    one row cannot be interpolated: the error names it."""
    labels, counts = np.unique(y, return_counts=True)
    grown = np.isin(labels, _grown(sampler, y))
    if not grown.any():
        return most
    labels, counts = labels[grown], counts[grown]
    rarest = int(np.argmin(counts))
    if counts[rarest] < 2:
        raise ValueError(
            f"Class {shown(labels[rarest])!r} has 1 sample among the rows a "
            "network trains on; SMOTE cannot interpolate a class of one row. "
            "Use batch_sampler='over', or gather more samples of it."
        )
    return int(min(most, counts[rarest] - 1))


def rarest_class(y_encoded: np.ndarray, classes) -> tuple:
    """The class with the fewest rows (an element of ``classes``), and
    their number."""
    counts = np.bincount(y_encoded, minlength=len(classes))
    rarest = int(np.argmin(counts))
    return classes[rarest], int(counts[rarest])


def check_validation_split(y_encoded: np.ndarray, classes, *, n_val: int) -> None:
    """Refuse a stratified validation split of ``n_val`` rows that some class
    cannot enter (it needs 2 rows: one to train on, one to hold out) or that
    leaves too few rows to train on."""
    n_samples, n_classes = len(y_encoded), len(classes)
    rare, count = rarest_class(y_encoded, classes)
    if count < 2:
        raise ValueError(
            f"Class {shown(rare)!r} has {count} sample; the stratified "
            "validation split needs at least 2 per class. Provide more "
            "samples or set validation_fraction=0 and early_stopping=False."
        )
    if n_samples - n_val < n_classes:
        raise ValueError(
            f"{n_samples} samples are too few to hold out a stratified "
            f"validation split of {n_val} for {n_classes} classes; set "
            "validation_fraction=0 and early_stopping=False."
        )


def check_cross_fitting(y_encoded: np.ndarray, classes, *, cv: int) -> None:
    """Refuse ``cv`` cross-fitted networks where a class has fewer rows than
    networks (each network's stratified fold needs one)."""
    label, count = rarest_class(y_encoded, classes)
    if count < cv:
        raise ValueError(
            f"cv={cv} needs at least {cv} samples of every class "
            f"for its stratified folds; class {shown(label)!r} has {count}."
        )


def rows_for_folds(n_folds: int, *, networks: int | str = "auto") -> int:
    """The rows of a class that ``n_folds``-fold cross-validation of a fit
    needs: every test fold sees the class, and every training fold still
    holds out a stratified validation split (two rows of it) or, with
    ``networks`` >= 2 cross-fitted networks, one fold per network (one row
    of it each)."""
    per_training_fold = max(2, networks) if isinstance(networks, int) else 2
    needed = n_folds
    while needed - -(-needed // n_folds) < per_training_fold:
        needed += 1
    return needed
