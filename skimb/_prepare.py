"""Labels, class counts and sample weights: what a fit knows of ``y``.

The training plan, the losses and the decision rule read the class counts
from here; nothing here reads the features or loads Keras.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from skimb._class_sizes import shown
from skimb._inputs import (
    check_known_labels,
    check_labels,
    check_sample_weight,
    is_missing,
)
from skimb.class_weight import prior_counts, weights_from_counts
from skimb.sampling import resampled_class_counts, resolve_batch_sampler


@dataclass(frozen=True)
class Targets:
    """The labels of a fit and the class statistics drawn from them.

    Attributes
    ----------
    classes : ndarray
        The sorted class labels.
    y_encoded : ndarray of shape (n_samples,)
        Labels encoded ``0 .. n_classes - 1``.
    weights : ndarray of shape (n_samples,), float64
        Sample weights times class weights, as given (the training plan
        rescales them).
    class_counts : ndarray of shape (n_classes,)
        Samples of each class (in ``partial_fit``, of every call so far).
    sample_weight_totals : ndarray of shape (n_classes,)
        The sum of each class's sample weights, before class weights
        (likewise).
    train_class_counts : ndarray of shape (n_classes,)
        The counts the network trains on: those of the resampled batches
        with a batch sampler.
    class_weight : ndarray of shape (n_classes,)
        The weight of each class (1 for a class with no sample yet).
    weighted_class_counts : ndarray of shape (n_classes,)
        Training counts times each class's mean weight: how often the loss
        sees each class.
    """

    classes: np.ndarray
    y_encoded: np.ndarray
    weights: np.ndarray
    class_counts: np.ndarray
    sample_weight_totals: np.ndarray
    train_class_counts: np.ndarray
    class_weight: np.ndarray
    weighted_class_counts: np.ndarray


def prepare_targets(
    y,
    sample_weight,
    *,
    n_samples: int,
    classes,
    class_weight,
    beta: float,
    batch_sampler,
    earlier: tuple[np.ndarray, np.ndarray] | None = None,
) -> Targets:
    """Check ``y`` and ``sample_weight`` and compute the class statistics.

    ``classes``: every class (the fitted ones, or ``partial_fit``'s), or
    None for those of ``y``.  ``earlier``: the class counts and sample
    weight totals of the calls before this one, in ``partial_fit``.  The class
    counts, the class weights computed from them and the prior behind the
    loss are then those of every row seen so far (scikit-learn's naive Bayes
    counts so in its ``partial_fit``): a call whose rows miss a rare class
    does not tell the loss and ``predict_proba`` that the class vanished.
    The caller's ``sample_weight`` is not written to.
    """
    y = check_labels(y, n_samples)
    if classes is not None:
        listed = np.asarray(classes, dtype=object).ravel().tolist()
        if any(is_missing(label) for label in listed):
            # It would be a class of its own, given probability by predict_proba.
            raise ValueError(
                f"classes holds missing values (NaN or None): {listed[:10]}; "
                "give the class labels alone."
            )
    classes = np.unique(y if classes is None else classes)
    if len(classes) < 2:
        raise ValueError(
            "The classifier needs samples of at least 2 classes; "
            f"got 1 class ({shown(classes[0])!r})."
        )
    check_known_labels(y, classes)
    y_encoded = np.searchsorted(classes, y)
    call_counts = np.bincount(y_encoded, minlength=len(classes))
    class_counts = call_counts + (0 if earlier is None else earlier[0])
    # The prior the network trains on: with batch_sampler, that of the
    # resampled batches, not of y (else the logit adjustment, margins and
    # prior correction would correct an imbalance the batches no longer
    # have).
    train_class_counts = (
        class_counts
        if batch_sampler is None
        else resampled_class_counts(resolve_batch_sampler(batch_sampler), class_counts)
    )
    # Weights drawn from the counts are of the classes seen so far; a dict
    # also weighs a class that partial_fit's classes= declared and no call
    # has shown yet.
    present = (
        np.ones(len(classes), dtype=bool)
        if isinstance(class_weight, Mapping)
        else class_counts > 0
    )
    per_class = np.ones(len(classes))
    per_class[present] = weights_from_counts(
        class_weight, classes=classes[present], counts=class_counts[present], beta=beta
    )
    shape = None if sample_weight is None else np.asarray(sample_weight).shape
    if shape is not None and len(shape) == 1 and shape != (len(y),):
        raise ValueError(
            f"sample_weight has shape {shape} but X has "
            f"{len(y)} samples. In an imbalanced-learn Pipeline, a sampler "
            "step changes the rows but not the sample_weight passed to "
            "later steps, so the weights would not match: use class_weight "
            "or batch_sampler instead."
        )
    # A new array: the caller's sample_weight is never written to.
    sample_weights = check_sample_weight(sample_weight, len(y))
    weights = sample_weights * per_class[y_encoded]
    sample_totals = np.bincount(
        y_encoded, weights=sample_weights, minlength=len(classes)
    )
    if not (np.isfinite(weights).all() and np.isfinite(sample_totals).all()):
        # Else an infinite prior, named after class_prior.
        raise ValueError(
            "sample_weight is too large: its sums (times the class weights) "
            "overflow float64. Divide it by a constant; only the weights' "
            "ratios matter."
        )
    # This call's weight of each class: its sample weights times its weight.
    starved = (sample_totals * per_class == 0) & (call_counts > 0)
    if starved.any():
        raise ValueError(
            f"Every sample of class {classes[starved].tolist()} has "
            "weight 0 (sample_weight times class_weight): the network "
            "cannot learn a class it never sees."
        )
    if earlier is not None:
        sample_totals = sample_totals + earlier[1]
    # Weights are costs: the loss sees each class as often as its count
    # times its mean weight, and its prior, margins or re-weighting are
    # computed from these counts, so weights and losses compose.  The class
    # weights of now apply to every row counted, as a fit on them all would.
    mean_weight = np.divide(
        sample_totals * per_class,
        class_counts,
        out=np.ones(len(classes)),
        where=class_counts > 0,
    )
    return Targets(
        classes=classes,
        y_encoded=y_encoded,
        weights=weights,  # float64: _plan rescales, then casts
        class_counts=class_counts,
        sample_weight_totals=sample_totals,
        train_class_counts=train_class_counts,
        class_weight=per_class,
        weighted_class_counts=prior_counts(train_class_counts) * mean_weight,
    )
