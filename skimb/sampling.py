"""Resampling for sequences and per-epoch balanced mini-batches.

Two ways to resample, both limited to training data:

* :class:`SequenceSampler` makes any imbalanced-learn sampler work on 3-D
  sequences ``(n_samples, n_timesteps, n_features)``, as a step of an
  :class:`imblearn.pipeline.Pipeline`: the pipeline resamples the training
  folds only, once per ``fit``.
* ``ImbalancedKerasClassifier(batch_sampler=...)`` redraws the training
  batches every epoch from the training split (:func:`resample_rows`), so
  each epoch sees other majority rows (under-sampling), other duplicates
  (over-sampling) or other synthetic rows (SMOTE); the validation split is
  never resampled.  :class:`EpochBatches` does the same for
  ``keras.Model.fit`` on a network of your own.
"""

from __future__ import annotations

from functools import partial
from numbers import Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from imblearn.base import SamplerMixin
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from imblearn.utils import check_sampling_strategy
from sklearn.base import BaseEstimator, clone
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_array, column_or_1d

from skimb._class_sizes import (
    check_class_counts,
    check_neighbours,
    fitting_neighbours,
)
from skimb._inputs import (
    check_not_ragged_rows,
    check_same_length,
    check_sequence,
    input_ndim,
    pad_sequences,
    padding_only,
    real_steps,
    sequence_list,
)

__all__ = [
    "BATCH_SAMPLERS",
    "EpochBatches",  # noqa: F822 (imported on first use: see __getattr__)
    "ResampledRows",
    "SequenceSampler",
    "check_class_counts",
    "resample_rows",
    "resampled_class_counts",
    "resolve_batch_sampler",
]

# The names ``batch_sampler`` accepts, and the sampler each one stands for.
# "smote" is SMOTE with imbalanced-learn's five neighbours, fewer where the
# rarest class it grows has five rows or fewer (AUTO_NEIGHBOURS); a SMOTE
# passed as an object keeps its k_neighbors, and an error if a class is too
# small for it.
AUTO_NEIGHBOURS = "auto"
BATCH_SAMPLERS = {
    "over": RandomOverSampler,
    "under": RandomUnderSampler,
    # Its neighbours are set for each network's training rows (sampler_for).
    "smote": partial(SMOTE, k_neighbors=AUTO_NEIGHBOURS),
}


class SequenceSampler(SamplerMixin, BaseEstimator):
    """Any imbalanced-learn sampler, on 3-D sequences.

    Samplers take 2-D tables; this one flattens each sequence
    ``(n_timesteps, n_features)`` into one row, resamples with a clone of
    ``sampler`` and reshapes the result back.  A 2-D table goes to the
    sampler as it is.  As a step of an :class:`imblearn.pipeline.Pipeline`,
    it resamples only the data the pipeline is fitted on (the training
    folds); ``predict`` and ``score`` skip it.

    Sequences of different lengths, as a list (or 1-D object array) of
    ``(n_timesteps_i, n_features)`` arrays or padded 3-D data with
    ``mask_value`` steps, come back as a list, or as 3-D data padded with
    ``mask_value``; a list's ``mask_value`` steps are padding too, and its
    sequences come back without them.  Each is flattened with its last step repeated up
    to the longest length, beside its length as one more column, so that
    SMOTE-like samplers interpolate the lengths too; a synthetic sequence
    keeps its rounded length.

    Rows the sampler keeps come back in their original order when nothing is
    added or removed.  A pipeline cannot resample the fit parameters of
    later steps, so a ``sample_weight`` for the classifier would no longer
    match the rows: the classifier refuses it (use ``class_weight``).

    Parameters
    ----------
    sampler : imbalanced-learn sampler
        Any object with ``fit_resample``: ``RandomOverSampler``,
        ``RandomUnderSampler``, ``SMOTE``, ``ADASYN``, ``SMOTEENN``, ...
        SMOTE-like samplers interpolate between whole sequences, step by
        step.
    mask_value : float, optional
        For sequences of different lengths, padded 3-D or a list: a step
        whose features all equal ``mask_value`` is padding, wherever it is
        (Keras' masking rule).  Each sequence is its other steps, in order;
        padded 3-D input comes back padded at the end (the classifier reads
        start and end padding alike), a list's sequences without it.

    Attributes
    ----------
    sampler_ : sampler
        The fitted clone of ``sampler``.
    sample_indices_ : ndarray of shape (n_resampled,)
        Index of the original row behind each resampled row, when the
        sampler selects rows rather than synthesising them.
    n_timesteps_ : int or None
        Sequence length of the last 3-D input of one length; ``None`` for a
        table and for sequences of several lengths (a list, or padded 3-D
        input with ``mask_value``).

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE
    >>> from skimb.sampling import SequenceSampler
    >>> X = np.random.RandomState(0).normal(size=(30, 5, 2))
    >>> y = np.array([0] * 24 + [1] * 6)
    >>> X_res, y_res = SequenceSampler(SMOTE(k_neighbors=3, random_state=0)
    ...                                ).fit_resample(X, y)
    >>> X_res.shape, np.bincount(y_res).tolist()
    ((48, 5, 2), [24, 24])
    """

    _parameter_constraints: dict = {
        "sampler": [HasMethods(["fit_resample"])],
        # Finite: NaN equals nothing, so NaN steps could not be told apart.
        "mask_value": [None, Interval(Real, None, None, closed="neither")],
    }
    # Read by imbalanced-learn; the wrapped sampler does its own strategy.
    _sampling_type = "bypass"

    def __init__(self, sampler, *, mask_value: float | None = None):
        self.sampler = sampler
        self.mask_value = mask_value

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def fit(self, X, y, **params) -> SequenceSampler:
        """Resample ``X, y`` and keep the fitted sampler.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_features)
        y : array-like of shape (n_samples,)
        **params : dict
            Passed to the sampler's ``fit_resample``.

        Returns
        -------
        self
        """
        self.fit_resample(X, y, **params)
        return self

    def fit_resample(self, X, y, **params):
        """Resample ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_features)
            Data; never modified.
        y : array-like of shape (n_samples,)
            Class labels.
        **params : dict
            Passed to the sampler's ``fit_resample``.

        Returns
        -------
        X_resampled : ndarray, shaped like ``X`` but for the first axis
            A list of sequences comes back as a list, padded 3-D input with
            ``mask_value`` as 3-D padded with ``mask_value``; a table as the
            sampler gives it (a DataFrame for a DataFrame, a sparse matrix
            for one).
        y_resampled : ndarray of shape (n_resampled,)
        """
        self._validate_params()
        y_given = y
        y = column_or_1d(y)
        check_classification_targets(y)
        sequences = sequence_list(X)
        if sequences is not None:
            if self.mask_value is not None:
                # A list's sequences may be padded too.
                sequences = self._unpadded(sequences)
            return self._resample_sequences(sequences, y, **params)
        check_not_ragged_rows(X)
        if input_ndim(X) == 2:
            # A table goes to the sampler as it is: a DataFrame keeps its
            # columns (and the classifier after it its feature names) and
            # columns of any type, sparse input stays sparse.
            return self._fit_resample(X, y_given, **params)
        X = check_array(X, allow_nd=True, dtype="numeric", input_name="X")
        if self.mask_value is not None and X.ndim == 3:
            X_res, y_res = self._resample_sequences(self._unpadded(X), y, **params)
            padded = pad_sequences(
                X_res, length=X.shape[1], value=self.mask_value, dtype=X.dtype
            )
            return padded, y_res
        check_same_length(len(X), len(y))
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 3-D (n_samples, n_timesteps, n_features) or 2-D; "
                f"got a {X.ndim}-D input."
            )
        return self._fit_resample(X, y, **params)

    def _fit_resample(self, X, y, **params):
        """Resample a table as it is, or 3-D ``X`` as a table of flattened
        sequences."""
        three_d = getattr(X, "ndim", 2) == 3  # (a table may be a list of rows)
        self.n_timesteps_ = X.shape[1] if three_d else None
        self.sampler_ = sampler_for(self.sampler, column_or_1d(y))
        # A view for a C-contiguous X: no copy before the sampler's own.
        flat = X.reshape(len(X), -1) if three_d else X
        X_res, y_res = self.sampler_.fit_resample(flat, y, **params)[:2]
        if three_d:
            X_res = np.asarray(X_res).reshape(len(X_res), *X.shape[1:])
            y_res = np.asarray(y_res)
        indices = getattr(self.sampler_, "sample_indices_", None)
        if indices is not None and len(indices) == _num_samples(X):
            # Same rows, maybe regrouped by class (under-samplers do): put
            # them back in order, so row-aligned data still matches.
            order = np.argsort(indices, kind="stable")
            X_res, y_res = _safe_indexing(X_res, order), _safe_indexing(y_res, order)
            indices = indices[order]
        self.sample_indices_ = indices
        return X_res, y_res

    def _unpadded(self, sequences) -> list:
        """Each sequence without its ``mask_value`` steps (Keras' rule: a
        step whose features all equal it), wherever they are."""
        unpadded = []
        for i, x in enumerate(sequences):
            x = x if sp.issparse(x) else np.asarray(x)  # (refused below)
            if x.ndim == 2 and not sp.issparse(x):
                keep = real_steps(x, self.mask_value)
                if not keep.any():
                    raise padding_only(i, self.mask_value)
                x = x[keep]
            unpadded.append(x)  # (other ranks are refused by name below)
        return unpadded

    def _resample_sequences(self, sequences: list, y: np.ndarray, **params):
        """Resample sequences of different lengths; returns a list."""
        check_same_length(len(sequences), len(y))
        # Each refused as the classifier refuses it, by its index in X (the
        # classifier would see a resampled sequence's).
        sequences = [check_sequence(x, i) for i, x in enumerate(sequences)]
        lengths = np.array([len(x) for x in sequences])
        if len({x.shape[1] for x in sequences}) > 1:
            shapes = sorted({x.shape for x in sequences}, key=len)
            raise ValueError(
                "Every sequence must be a 2-D (n_timesteps_i, n_features) "
                "array with at least one step and the same n_features; got "
                f"shapes such as {', '.join(map(str, shapes[:3]))}."
            )
        longest, n_features = lengths.max(), sequences[0].shape[1]
        flat = np.empty((len(sequences), longest * n_features + 1))
        for i, x in enumerate(sequences):
            # The last step repeated: interpolation between a long and a
            # short sequence then continues the short one's last values.
            flat[i, :-1] = np.concatenate(
                [x, np.repeat(x[-1:], longest - len(x), axis=0)]
            ).ravel()
        flat[:, -1] = lengths
        X_res, y_res = self._fit_resample(flat, y, **params)
        self.n_timesteps_ = None
        indices = self.sample_indices_
        if indices is not None and np.array_equal(np.asarray(X_res), flat[indices]):
            # Copies, as imbalanced-learn's samplers return new arrays: a
            # change to one (augmentation) must reach neither the caller's
            # sequences nor the other copies of a row drawn twice.
            return [sequences[i].copy() for i in self.sample_indices_], y_res
        dtype = np.result_type(*sequences)
        out = []
        for row in X_res:
            length = int(np.clip(np.rint(row[-1]), 1, longest))
            out.append(row[:-1].reshape(longest, n_features)[:length].astype(dtype))
        return out, y_res


def resampled_class_counts(sampler, counts) -> np.ndarray:
    """Class counts after ``sampler`` resamples data with ``counts``.

    Over-samplers add, under-samplers keep, the numbers their
    ``sampling_strategy`` asks for; samplers of another kind (cleaning) leave
    the counts as they are, and a combined sampler (``SMOTEENN``,
    ``SMOTETomek``) counts its over-sampling alone.  What a cleaning step
    removes depends on the rows, which this function does not read (a
    ``SMOTEENN`` of 300 and 100 rows counted 300 and 300 here drew about
    170 and 210): for those samplers the counts, and the prior built on
    them, are approximate.

    Parameters
    ----------
    sampler : imbalanced-learn sampler
    counts : array-like of int, shape (n_classes,)
        Class counts before resampling, classes encoded ``0 .. n_classes-1``.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from skimb.sampling import resampled_class_counts
    >>> resampled_class_counts(RandomOverSampler(), [90, 10, 30])
    array([90, 90, 90])
    """
    counts = np.asarray(counts, dtype=np.int64)
    sampling_type = getattr(sampler, "_sampling_type", None)
    if sampling_type not in ("over-sampling", "under-sampling"):
        return counts
    y = np.repeat(np.arange(len(counts)), counts)
    targets = check_sampling_strategy(sampler.sampling_strategy, y, sampling_type)
    resampled = counts.copy()
    for label, n in targets.items():
        if sampling_type == "over-sampling":
            resampled[label] += n
        else:
            resampled[label] = n
    return resampled


def resolve_batch_sampler(batch_sampler):
    """The imbalanced-learn sampler behind a ``batch_sampler`` value (None
    stays None)."""
    if isinstance(batch_sampler, str):
        if batch_sampler not in BATCH_SAMPLERS:
            raise ValueError(
                f"batch_sampler must be one of {sorted(BATCH_SAMPLERS)} or a "
                f"sampler; got {batch_sampler!r}."
            )
        return BATCH_SAMPLERS[batch_sampler]()
    return batch_sampler


def sampler_for(sampler, y: np.ndarray):
    """A fresh clone of ``sampler`` to resample ``y``: a SMOTE with
    ``k_neighbors=AUTO_NEIGHBOURS`` gets as many as the rarest class it grows
    allows, and a class too small for the neighbours is refused by name
    (imbalanced-learn's own error names neither the class nor its count)."""
    sampler = clone(sampler)
    if sampler.get_params().get("k_neighbors") == AUTO_NEIGHBOURS:
        sampler.set_params(k_neighbors=fitting_neighbours(sampler, y))
    check_neighbours(sampler, y)
    return sampler


def check_resampling(batch_sampler, y_encoded: np.ndarray, *, trains, classes) -> None:
    """Refuse, before training, a ``batch_sampler`` that cannot resample the
    training rows of some network (``trains``), naming the user's class:
    the epochs resample encoded labels, and the error would name its index
    (class 1 for a class ``"rare"``, or for a class 2)."""
    sampler = resolve_batch_sampler(batch_sampler)
    # (A dict or callable strategy names the classes as the epochs do.)
    if sampler is None or not isinstance(
        getattr(sampler, "sampling_strategy", "auto"), str | Real
    ):
        return
    classes = np.asarray(classes)
    for train in trains:
        sampler_for(sampler, classes[y_encoded[train]])


class ResampledRows(NamedTuple):
    """One draw of training rows: rows of ``X`` (``source``), or new rows."""

    source: np.ndarray | None
    synthetic: np.ndarray | None
    labels: np.ndarray
    weights: np.ndarray | None


def selects_rows(sampler) -> bool:
    """Whether a sampler only selects rows (random over- and under-sampling
    ignore the features), rather than synthesising new ones (random
    over-sampling with ``shrinkage`` perturbs the rows it repeats)."""
    return (
        type(sampler) in (RandomOverSampler, RandomUnderSampler)
        and sampler.get_params().get("shrinkage") is None
    )


def resample_rows(
    X: np.ndarray,
    weights: np.ndarray,
    y_train: np.ndarray,
    *,
    rows: np.ndarray,
    sampler,
    class_weight: np.ndarray,
    rng: np.random.RandomState,
) -> ResampledRows:
    """Draw one epoch's training rows with a fresh clone of ``sampler``.

    Random over- and under-sampling only select rows, so they run on row
    indices and return ``source``, the drawn rows of ``X`` (repeated or
    left out), without copying ``X``.  Samplers that synthesise rows (SMOTE,
    ADASYN) run on the flattened training rows and return them as
    ``synthetic``, with ``weights``: its own for an original row, the class
    weight for a new one.  ``sampler=None`` returns ``rows`` as they are.

    Parameters
    ----------
    X : ndarray
        All the inputs, shaped as the network takes them.
    weights : ndarray of shape (n_samples,)
        Sample weights of all the rows of ``X``.
    y_train : ndarray of shape (n_train,)
        Encoded labels of the training rows, which the sampler balances.
    rows : ndarray of int, shape (n_train,)
        The training rows of ``X``; no other row is used.
    sampler : imbalanced-learn sampler or None
        Cloned, and seeded from ``rng``.
    class_weight : ndarray of shape (n_classes,)
        Weight of a synthetic row of each class.
    rng : numpy.random.RandomState
        Source of the sampler's seed.

    Returns
    -------
    ResampledRows
    """
    if sampler is None:
        return ResampledRows(rows, None, y_train, None)
    sampler = sampler_for(sampler, y_train)
    # The sampler's seed, then those of the samplers inside it
    # (SMOTEENN(smote=SMOTE(...))), which use their own: each draw its own.
    params = sampler.get_params(deep=True)
    seeds = [name for name in params if name == "random_state"] + sorted(
        name for name in params if name.endswith("__random_state")
    )
    sampler.set_params(**{name: rng.randint(np.iinfo(np.int32).max) for name in seeds})
    if selects_rows(sampler):
        positions = np.arange(len(rows)).reshape(-1, 1)
        positions = sampler.fit_resample(positions, y_train)[0].ravel()
        return ResampledRows(rows[positions], None, y_train[positions], None)
    flat = X[rows].reshape(len(rows), -1)
    if X.ndim == 3 and np.isnan(flat).any():
        # Sequences of several lengths, padded with NaN steps (which the
        # network masks): the sampler sees each at its own length, as
        # SequenceSampler gives them, not the padding (SMOTE refuses NaN).
        unpadded = [x[~np.isnan(x).all(axis=-1)] for x in X[rows]]
        sequences, y_res = SequenceSampler(sampler).fit_resample(unpadded, y_train)
        X_res = pad_sequences(
            sequences, length=X.shape[1], value=np.nan, dtype=np.float32
        ).reshape(len(sequences), -1)
    else:
        X_res, y_res = sampler.fit_resample(flat, y_train)[:2]
    X_res = np.asarray(X_res, dtype=np.float32)
    y_res = np.asarray(y_res)
    row_weights = np.asarray(class_weight, dtype=np.float32)[y_res]
    # SMOTE and ADASYN return the original rows first, in order; then
    # their sample weights carry over.
    n = len(flat)
    if len(X_res) >= n and np.array_equal(X_res[:n], flat, equal_nan=True):
        row_weights[:n] = weights[rows]
    elif not np.allclose(weights[rows], np.asarray(class_weight)[y_train]):
        raise ValueError(
            f"{type(sampler).__name__} does not return the original "
            "rows first, so sample_weight cannot follow them; use "
            "class_weight, or a sampler that keeps the original rows."
        )
    synthetic = X_res.reshape(len(X_res), *X.shape[1:])
    return ResampledRows(None, synthetic, y_res, row_weights)


def __getattr__(name: str):
    # EpochBatches is a keras.utils.PyDataset: imported on first use, so that
    # the sampler tools above load without Keras.
    if name == "EpochBatches":
        from skimb._batches import EpochBatches

        return EpochBatches
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
