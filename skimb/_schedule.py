"""Which rows each epoch trains on, and each network's weight on every row.

Part of the training engine (:mod:`skimb._engine`): the ``k`` networks of a
fit share one input, so an epoch is one sequence of rows with a weight per
network, zero where a row is not that network's to train on.
"""

from __future__ import annotations

import numpy as np

from skimb._plan import TrainingPlan
from skimb.sampling import resample_rows


class Schedule:
    """The rows of each epoch and each network's weight on every row.

    Row ``i`` appears as many times as the network that draws it most often
    draws it (once, without a sampler); on its ``m``-th appearance network
    ``j`` weighs it by its sample weight if ``j`` drew it more than ``m``
    times, else by 0.  Rows a sampler synthesises for network ``j`` are
    appended with weight for ``j`` only.  The batch holds as many rows as
    make about ``batch_size`` training rows of each network per step, so each
    network takes as many steps per epoch, of the same size, as it would
    trained alone.
    """

    def __init__(self, splits: list, plan: TrainingPlan, X: np.ndarray):
        self.splits, self.plan, self.X = splits, plan, X
        self.k = len(splits)
        self.n = len(X)
        first = self._rows(0)
        per_network = first[-1]
        self.batch = max(1, round(plan.batch_size * len(first[0]) / per_network))
        self.steps = -(-len(first[0]) // self.batch)
        self._first = first
        # A sum over the batch of each network's weighted losses, divided by
        # Keras by the batch size, is scaled back to a mean over the about
        # batch_size rows of that network.
        self.scale = np.float32(self.batch / plan.batch_size)

    def _rows(self, epoch: int):
        """Unshuffled rows (indices into X, then synthetic rows), the
        weights of each network on them and the synthetic rows themselves."""
        plan = self.plan
        rng = np.random.RandomState(None if plan.seed is None else plan.seed + epoch)
        counts = np.zeros((self.n, self.k), dtype=np.int64)
        synthetic = []
        for j, (train, _) in enumerate(self.splits):
            drawn = resample_rows(
                self.X,
                plan.weights,
                plan.y[train],
                rows=train,
                sampler=plan.sampler,
                class_weight=plan.class_weight,
                rng=rng,
            )
            if drawn.source is not None:
                np.add.at(counts[:, j], drawn.source, 1)
            else:
                synthetic.append((j, drawn))
        appear = counts.max(axis=1)
        rows = np.repeat(np.arange(self.n), appear)
        nth = np.arange(len(rows)) - np.repeat(np.cumsum(appear) - appear, appear)
        weights = (counts[rows] > nth[:, None]) * plan.weights[rows, None]
        extra_X, extra_y = [], []
        for j, drawn in synthetic:
            # Synthetic rows follow X's rows in the epoch's data.
            first = self.n + sum(map(len, extra_y))
            block = np.zeros((len(drawn.labels), self.k), dtype=np.float32)
            block[:, j] = drawn.weights
            rows = np.concatenate([rows, first + np.arange(len(block))])
            weights = np.concatenate([weights, block])
            extra_X.append(drawn.synthetic)
            extra_y.append(drawn.labels)
        per_network = (counts.sum() + sum(map(len, extra_y))) / self.k
        return rows, weights.astype(np.float32), extra_X, extra_y, rng, per_network

    def draw(self, epoch: int):
        """One epoch: ``(X, targets)`` when synthetic rows were drawn (else
        None, None), the row order ``(steps, batch)`` and the weights
        ``(steps, batch, k)``."""
        if epoch == 0:
            (rows, weights, extra_X, extra_y, rng, _), self._first = self._first, None
        else:
            rows, weights, extra_X, extra_y, rng, _ = self._rows(epoch)
        order = rng.permutation(len(rows))
        rows, weights = rows[order], weights[order] * self.scale
        steps = -(-len(rows) // self.batch)
        padding = steps * self.batch - len(rows)
        # Padding rows weigh nothing: every step has the same shape, so the
        # epoch compiles once.
        rows = np.concatenate([rows, np.zeros(padding, dtype=rows.dtype)])
        weights = np.concatenate([weights, np.zeros((padding, self.k), np.float32)])
        data = None
        if extra_X:
            labels = np.concatenate(extra_y)
            targets = self.plan.targets
            extra_targets = (
                labels.astype(targets.dtype)
                if targets.ndim == 1
                else np.eye(targets.shape[1], dtype=targets.dtype)[labels]
            )
            data = (
                np.concatenate([self.X, *extra_X]),
                np.concatenate([targets, extra_targets]),
            )
        return (
            data,
            rows.reshape(steps, self.batch).astype(np.int32),
            weights.reshape(steps, self.batch, self.k),
        )
