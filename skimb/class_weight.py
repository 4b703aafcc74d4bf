"""Per-class weights: ``"balanced"``, ``"effective"`` (Cui et al., 2019) or a dict.

The classifier resolves ``class_weight`` here, inside ``fit``, from the labels
it actually receives, so weights follow any resampling done before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

import numpy as np

__all__ = ["compute_class_weight", "effective_number_weights"]


def prior_counts(counts) -> np.ndarray:
    """Class counts for priors, margins and weights: a class absent from
    ``partial_fit``'s first batch counts as one sample, so they stay finite."""
    return np.maximum(counts, 1)


def effective_number_weights(class_counts, *, beta: float) -> np.ndarray:
    r"""Class-balanced weights from the effective number of samples.

    .. math:: w_c = \frac{1 - \beta}{1 - \beta^{n_c}}, \quad
              \text{rescaled so that } \textstyle\sum_c w_c = C

    ``beta=0`` gives equal weights; ``beta -> 1`` tends to inverse class
    frequency.

    Parameters
    ----------
    class_counts : array-like of int, shape (n_classes,)
        Number of training samples in each class, all positive.
    beta : float
        Hyper-parameter in ``[0, 1)``.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> from skimb.class_weight import effective_number_weights
    >>> effective_number_weights([1000, 10], beta=0.99).round(3)
    array([0.175, 1.825])
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1); got {beta}.")
    if counts.ndim != 1 or not np.all((counts > 0) & np.isfinite(counts)):
        raise ValueError(
            "class_counts must be a 1-D array of finite, positive counts; got "
            f"{counts}."
        )
    # 1 - beta**n written as -expm1(n * log(beta)) stays accurate for beta -> 1.
    effective = -np.expm1(counts * np.log(beta)) if beta > 0 else np.ones_like(counts)
    weights = (1.0 - beta) / effective
    return weights * len(counts) / weights.sum()


def compute_class_weight(
    class_weight: None | str | Mapping,
    *,
    classes: np.ndarray,
    y: np.ndarray,
    beta: float = 0.999,
) -> np.ndarray:
    """Resolve a ``class_weight`` specification into one weight per class.

    Parameters
    ----------
    class_weight : None, "balanced", "effective" or dict
        ``None`` weights every class by 1; ``"balanced"`` by
        ``n_samples / (n_classes * n_c)``; ``"effective"`` by
        :func:`effective_number_weights`; a dict maps class labels to weights
        (classes it omits get 1).
    classes : ndarray of shape (n_classes,)
        The sorted class labels.
    y : ndarray of shape (n_samples,)
        Training labels, each one of ``classes``.
    beta : float, default=0.999
        Used by ``"effective"``.

    Returns
    -------
    ndarray of shape (n_classes,), aligned with ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.class_weight import compute_class_weight
    >>> y = np.array(["a"] * 6 + ["b"] * 2)
    >>> compute_class_weight("balanced", classes=np.array(["a", "b"]), y=y)
    array([0.66666667, 2.        ])
    """
    y = np.asarray(y)
    counts = np.array([np.count_nonzero(y == c) for c in classes])
    # The checks scikit-learn's compute_class_weight makes, with its words: a
    # label outside classes, for every mode; a class without samples, for
    # the modes that divide by its count.  An unknown name is named first.
    known_name = isinstance(class_weight, str) and class_weight in (
        "balanced",
        "effective",
    )
    if (not isinstance(class_weight, str) or known_name) and not np.all(
        np.isin(y, classes)
    ):
        raise ValueError("classes should include all valid labels that can be in y")
    if known_name and np.any(counts == 0):
        raise ValueError("classes should have valid labels that are in y")
    return weights_from_counts(class_weight, classes=classes, counts=counts, beta=beta)


def weights_from_counts(
    class_weight: None | str | Mapping,
    *,
    classes: np.ndarray,
    counts: np.ndarray,
    beta: float = 0.999,
) -> np.ndarray:
    """:func:`compute_class_weight` from the number of samples of each class
    (all positive) rather than the labels: ``partial_fit`` weighs by the
    counts of every call so far, whose labels it does not keep.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.class_weight import weights_from_counts
    >>> weights_from_counts("balanced", classes=np.array(["a", "b"]), counts=[6, 2])
    array([0.66666667, 2.        ])
    """
    n_classes = len(classes)
    if class_weight is None:
        return np.ones(n_classes)
    if isinstance(class_weight, str):
        if class_weight == "balanced":
            # scikit-learn's formula, n_samples / (n_classes * n_c), written
            # here because its compute_class_weight takes labels, not counts.
            counts = np.asarray(counts, dtype=np.float64)
            if counts.shape != (n_classes,) or not np.all(
                (counts > 0) & np.isfinite(counts)
            ):
                raise ValueError(
                    f"class_weight='balanced' needs a positive count for each of "
                    f"the {n_classes} classes; got {counts}."
                )
            return counts.sum() / (n_classes * counts)
        if class_weight == "effective":
            return effective_number_weights(counts, beta=beta)
        raise ValueError(
            "class_weight must be None, 'balanced', 'effective' or a dict; "
            f"got {class_weight!r}."
        )
    if isinstance(class_weight, Mapping):
        known = set(classes.tolist())
        unknown = [label for label in class_weight if label not in known]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown} that are not in y "
                f"(classes seen in y: {sorted(known, key=str)})."
            )
        weights = np.ones(n_classes)
        for i, label in enumerate(classes.tolist()):
            if label in class_weight:
                value = class_weight[label]
                if not isinstance(value, Real) or isinstance(value, bool):
                    raise ValueError(
                        f"class_weight value for label {label!r} must be a "
                        f"number; got {value!r}."
                    )
                weights[i] = float(value)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"class_weight values must be finite and >= 0; got {class_weight}."
            )
        return weights
    raise TypeError(
        "class_weight must be None, 'balanced', 'effective' or a dict; "
        f"got {type(class_weight).__name__}."
    )
