"""Which rows train and which validate each network of a fit.

One network holds out a stratified validation split; with cross-fitting
(``cv``) each of k networks holds out one of k stratified folds, so every
row is held out exactly once.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from skimb._class_sizes import (
    check_cross_fitting,
    check_validation_split,
    rarest_class,
)

# cv="auto": this many cross-fitted networks when the rarest class has fewer
# samples than AUTO_CV_RAREST.
AUTO_CV_FOLDS = 5
AUTO_CV_RAREST = 1000


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
    return np.sort(train), np.sort(val)


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
    cv: int | str | None,
    y_encoded: np.ndarray,
    *,
    classes: np.ndarray,
    validation_fraction: float,
    seed: int | None,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``(train, validation)`` indices of each network of a fit."""
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
