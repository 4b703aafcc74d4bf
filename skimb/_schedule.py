"""Which rows each epoch trains on, and each network's weight on every row.

Part of the training engine (:mod:`skimb._engine`): the ``k`` networks of a
fit share one input, so an epoch is one sequence of rows with a weight per
network, zero where a row is not that network's to train on.
"""

from __future__ import annotations

import numpy as np

from skimb._plan import TrainingPlan, encode_targets
from skimb.sampling import resample_rows


class Schedule:
    """Each network's own batches, drawn anew every epoch.

    Every epoch each network shuffles its training rows, or has its sampler
    redraw them (rows a sampler synthesises are appended to ``X`` in the
    epoch's data), and takes ``batch_size`` of them per step, as it would
    trained alone; a step holds one batch per network.  ``order[s, j]`` are
    the rows of network ``j`` at step ``s`` and ``weights[s, j]`` their
    sample weights.
    """

    def __init__(self, splits: list, plan: TrainingPlan, X: np.ndarray):
        self.splits, self.plan, self.X = splits, plan, X
        self.k = len(splits)
        self.n = len(X)
        self.batch = plan.batch_size
        self._first = self._rows(0)
        self.steps = self._steps(self._first[0])

    def _steps(self, per_network: list) -> int:
        return max(-(-len(rows) // self.batch) for rows, _ in per_network)

    def _rows(self, epoch: int):
        """Each network's shuffled rows and weights, and the synthetic rows."""
        plan = self.plan
        rng = np.random.RandomState(None if plan.seed is None else plan.seed + epoch)
        per_network, extra_X, extra_y = [], [], []
        for train, _ in self.splits:
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
                rows, weights = drawn.source, plan.weights[drawn.source]
            else:
                # Synthetic rows follow X's rows in the epoch's data.
                first = self.n + sum(map(len, extra_y))
                rows = first + np.arange(len(drawn.labels))
                weights = drawn.weights
                extra_X.append(drawn.synthetic)
                extra_y.append(drawn.labels)
            order = rng.permutation(len(rows))
            per_network.append((rows[order], weights[order]))
        return per_network, extra_X, extra_y

    def draw(self, epoch: int):
        """One epoch: ``(X, targets)`` when synthetic rows were drawn (else
        None), the rows ``(steps, k, batch)`` and their weights."""
        if epoch == 0:
            (per_network, extra_X, extra_y), self._first = self._first, None
        else:
            per_network, extra_X, extra_y = self._rows(epoch)
        steps, batch = self._steps(per_network), self.batch
        order = np.zeros((steps, self.k, batch), dtype=np.int32)
        weights = np.zeros((steps, self.k, batch), dtype=np.float32)
        for j, (rows, w) in enumerate(per_network):
            m = len(rows)
            flat_rows = np.zeros(steps * batch, dtype=np.int32)
            flat_weights = np.zeros(steps * batch, dtype=np.float32)
            flat_rows[:m], flat_weights[:m] = rows, w
            # Keras divides a batch's weighted loss by the batch size: a last,
            # partial batch is scaled up to the mean over its own rows, as
            # Model.fit's shorter last batch would be.  Steps past a
            # network's last batch (a fold a row shorter) weigh nothing.
            full = (m // batch) * batch
            if full < m:
                flat_weights[full:m] *= batch / (m - full)
            order[:, j] = flat_rows.reshape(steps, batch)
            weights[:, j] = flat_weights.reshape(steps, batch)
        data = None
        if extra_X:
            targets = self.plan.targets
            extra_targets = encode_targets(
                np.concatenate(extra_y),
                len(self.plan.labels),
                sparse=targets.ndim == 1,
            )
            data = (
                np.concatenate([self.X, *extra_X]),
                np.concatenate([targets, extra_targets]),
            )
        return data, order, weights
