"""Per-epoch balanced mini-batches for ``keras.Model.fit``
(:class:`skimb.sampling.EpochBatches`); apart from :mod:`skimb.sampling`
because it is the one part of it that needs Keras."""

from __future__ import annotations

import keras
import numpy as np

from skimb._random import offset_seed
from skimb.sampling import resample_rows

__all__ = ["EpochBatches"]


class EpochBatches(keras.utils.PyDataset):
    """Training batches gathered from the training rows, drawn anew every epoch.

    Before each epoch the training rows are shuffled, or, with a
    ``sampler``, resampled by a fresh clone of it (seeded with the epoch
    number).  Only the rows given in ``rows`` are ever used, so a validation
    split kept in the same ``X`` is never trained on nor resampled.

    Batches are gathered from ``X`` one at a time: no copy of the training
    rows is made (``keras.Model.fit`` on ``X[rows]`` would hold two, the
    NumPy one and its own tensor).  Random over- and under-sampling only
    select rows, so they run on row indices and keep this property; samplers
    that synthesise rows (SMOTE, ADASYN) run on the flattened training rows.
    Keras takes the number of batches of the first draw: a later draw of
    another size (a cleaning sampler, ``SMOTEENN``) is shared among that
    many batches, every row once.
    For ``keras.Model.fit`` on a network of your own; the classifier's
    compiled epoch gathers its batches the same way, by row index, from one
    tensor of ``X``.

    Parameters
    ----------
    X : ndarray
        All the inputs, float32, shaped as the network takes them.
    targets : ndarray
        Targets in the loss's encoding, row-aligned with ``X``.
    weights : ndarray of shape (n_samples,)
        Sample weights (class weights included), row-aligned with ``X``.
    y : ndarray of shape (n_samples,)
        Encoded labels, which the sampler balances.
    rows : ndarray of int
        The training rows; no other row is ever used.
    sampler : imbalanced-learn sampler or None
        Cloned at every epoch; ``None`` uses every training row once per
        epoch, in a new order.
    class_weight : ndarray of shape (n_classes,)
        Weight of a synthetic row of each class (it has no sample weight of
        its own); original rows keep theirs.
    batch_size : int
        Rows per batch.
    seed : int or None
        Seed of the first epoch's draw and of the shuffling.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.sampling import EpochBatches, resolve_batch_sampler
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> X = np.zeros((100, 3), dtype="float32")
    >>> batches = EpochBatches(
    ...     X, np.eye(2, dtype="float32")[y], np.ones(100, "float32"), y,
    ...     rows=np.arange(100), sampler=resolve_batch_sampler("under"),
    ...     class_weight=np.ones(2), batch_size=8, seed=0)
    >>> len(batches), np.bincount(batches.labels_).tolist()
    (3, [10, 10])
    """

    def __init__(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray,
        y: np.ndarray,
        *,
        rows: np.ndarray,
        sampler,
        class_weight: np.ndarray,
        batch_size: int,
        seed: int | None,
    ):
        super().__init__()
        self.X, self.targets, self.weights = X, targets, weights
        self.rows = np.asarray(rows)
        self.y_train = y[self.rows]
        self.sampler = sampler
        self.class_weight = np.asarray(class_weight, dtype=np.float32)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        # The first draw fixes the number of batches; the next ones come at
        # the start of each later epoch, so none is wasted after the last.
        self._draw()
        self._epochs_begun = 0
        # Keras reads it once, from the first draw.
        self._n_batches = -(-len(self.labels_) // batch_size)

    def _draw(self) -> None:
        """Resample the training rows for the next epoch."""
        seed = offset_seed(self.seed, self.epoch)
        rng = np.random.RandomState(seed)
        drawn = resample_rows(
            self.X,
            self.weights,
            self.y_train,
            rows=self.rows,
            sampler=self.sampler,
            class_weight=self.class_weight,
            rng=rng,
        )
        self.source_, self.synthetic_ = drawn.source, drawn.synthetic
        self.labels_, self.row_weights_ = drawn.labels, drawn.weights
        self.order_ = rng.permutation(len(self.labels_))

    def __len__(self) -> int:
        return self._n_batches

    def _batch(self, index: int) -> np.ndarray:
        """Positions in the draw of batch ``index``: ``batch_size`` at a
        time, or, where a sampler drew another number of rows than at first
        (a cleaning sampler, SMOTEENN), the draw shared among the first
        draw's number of batches, every row once (Keras would leave the
        rows past them untrained, or end the epoch short of batches)."""
        n, size = len(self.order_), self.batch_size
        if -(-n // size) == self._n_batches:
            return self.order_[index * size : (index + 1) * size]
        bounds = np.linspace(0, n, self._n_batches + 1).round().astype(int)
        return self.order_[bounds[index] : bounds[index + 1]]

    def __getitem__(self, index: int):
        batch = self._batch(index)
        if self.source_ is not None:
            rows = np.sort(self.source_[batch])  # sorted: faster gathering
            return self.X[rows], self.targets[rows], self.weights[rows]
        labels = self.labels_[batch]
        # Targets in the loss's encoding, rebuilt from the labels.
        targets = (
            labels.astype(self.targets.dtype)
            if self.targets.ndim == 1
            else np.eye(self.targets.shape[1], dtype=self.targets.dtype)[labels]
        )
        return self.synthetic_[batch], targets, self.row_weights_[batch]

    # Counted at the start of epochs: Keras also calls ``on_epoch_end`` once
    # before the first epoch, after peeking at a batch for the shapes.
    def on_epoch_begin(self) -> None:
        self._epochs_begun += 1
        if self._epochs_begun > 1:
            self.epoch = self._epochs_begun - 1
            self._draw()
