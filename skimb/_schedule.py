"""Which rows each epoch trains on, and each network's weight on every row.

Part of the training engine (:mod:`skimb._engine`): the ``k`` networks of a
fit share one input, so an epoch is one sequence of rows with a weight per
network, zero where a row is not that network's to train on.  Data in
memory make one chunk per epoch; data streamed from files
(:mod:`skimb.data`) make one chunk per window of rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from skimb._plan import TrainingPlan, encode_targets
from skimb._random import offset_seed
from skimb.sampling import resample_rows, selects_rows


def held_out_group(splits: list, n: int) -> np.ndarray:
    """Each row's network, the one that holds it out (``-1``: none does);
    network ``j`` trains on the rows of every other group (a network's
    training and held-out rows are all the rows)."""
    group = np.full(n, -1, dtype=np.int16)
    for j, (_, val) in enumerate(splits):
        if val is not None:
            group[val] = j
    return group


def padded_length(n: int) -> int:
    """Rows an array of ``n`` rows is padded to: the next power of two, so
    that the compiled functions see a few shapes only."""
    return 1 << max(int(n) - 1, 0).bit_length()


def pad_rows(array: np.ndarray, n: int) -> np.ndarray:
    if len(array) == n:
        return array
    padding = np.zeros((n - len(array), *array.shape[1:]), dtype=array.dtype)
    return np.concatenate([array, padding])


class Schedule:
    """Each network's own batches, drawn anew every epoch.

    Every epoch each network shuffles its training rows, or has its sampler
    redraw them (rows a sampler synthesises are appended to ``X`` in the
    epoch's data), and takes ``batch_size`` of them per step, as it would
    trained alone; a step holds one batch per network (of weight 0 once the
    network's rows ran out: no step of that network).  ``order[s, j]`` are
    the rows of network ``j`` at step ``s`` and ``weights[s, j]`` their
    sample weights.

    Streamed data (a :class:`skimb.data.WindowStream`) are read a window at
    a time, the shards in a new order every epoch.  Samplers that only
    select rows (random over- and under-sampling, or none) draw the epoch's
    rows from all the labels, as in memory, and each window trains on the
    drawn rows it holds, in the epoch's shuffled order; samplers that
    synthesise rows (SMOTE) resample each window's rows.  With a single
    window the epochs are those of the data in memory.
    """

    def __init__(self, splits: list, plan: TrainingPlan, X):
        self.splits, self.plan, self.X = splits, plan, X
        self.streamed = not isinstance(X, np.ndarray)
        self.k = len(splits)
        self.n = X.n if self.streamed else len(X)
        self.batch = plan.batch_size
        if self.streamed:
            self.group = held_out_group(splits, self.n)
            longest = max(len(train) for train, _ in splits)
            self.steps = -(-longest // self.batch)
        else:
            self._first = self._rows(0)
            self.steps = self._steps(self._first[0])

    def _rng(self, epoch: int) -> np.random.RandomState:
        seed = self.plan.seed
        return np.random.RandomState(offset_seed(seed, epoch))

    def _steps(self, per_network: list) -> int:
        return max(-(-len(rows) // self.batch) for rows, _ in per_network)

    def _rows(self, epoch: int):
        """Each network's shuffled rows and weights, and the synthetic rows."""
        return self._draw(
            self.X,
            self.plan.weights,
            self.plan.y,
            [train for train, _ in self.splits],
            self._rng(epoch),
        )

    def _draw(self, X, weights, y, trains: list, rng):
        """Each network's shuffled rows (of ``X``) and weights, and the
        synthetic rows, which follow ``X``'s rows."""
        plan = self.plan
        per_network, extra_X, extra_y = [], [], []
        for train in trains:
            drawn = resample_rows(
                X,
                weights,
                y[train],
                rows=train,
                sampler=plan.sampler,
                class_weight=plan.class_weight,
                rng=rng,
            )
            if drawn.source is not None:
                rows, row_weights = drawn.source, weights[drawn.source]
            else:
                first = len(X) + sum(map(len, extra_y))
                rows = first + np.arange(len(drawn.labels))
                row_weights = drawn.weights
                extra_X.append(drawn.synthetic)
                extra_y.append(drawn.labels)
            order = rng.permutation(len(rows))
            per_network.append((rows[order], row_weights[order]))
        return per_network, extra_X, extra_y

    def epoch(self, epoch: int) -> Iterator[tuple]:
        """One epoch's chunks: ``(data, order, weights)``, ``data`` the
        ``(X, targets)`` the rows index (None: the data in memory, as
        given), the rows ``(steps, k, batch)`` and their weights."""
        if self.streamed:
            yield from self._streamed_epoch(epoch)
            return
        if epoch == 0:
            (per_network, extra_X, extra_y), self._first = self._first, None
        else:
            per_network, extra_X, extra_y = self._rows(epoch)
        data = None
        if extra_X:
            data = self._with_synthetic(self.X, self.plan.targets, extra_X, extra_y)
        yield (data, *self._pack(per_network))

    def _with_synthetic(self, X, targets, extra_X, extra_y, *, pad=False):
        extra = encode_targets(
            np.concatenate(extra_y), len(self.plan.labels), sparse=targets.ndim == 1
        )
        X = np.concatenate([X, *extra_X])
        targets = np.concatenate([targets, extra])
        if pad:
            rows = padded_length(len(X))
            X, targets = pad_rows(X, rows), pad_rows(targets, rows)
        return X, targets

    def _pack(self, per_network: list) -> tuple[np.ndarray, np.ndarray]:
        steps, batch = self._steps(per_network), self.batch
        order = np.zeros((steps, self.k, batch), dtype=np.int32)
        weights = np.zeros((steps, self.k, batch), dtype=np.float32)
        for j, (rows, w) in enumerate(per_network):
            m = len(rows)
            # Past its rows, a network's batches repeat them at weight 0: no
            # loss, and a layer that reads the batch (BatchNormalization in
            # a network of one's own) sees its own training rows, not row 0,
            # which is some network's held-out row.
            flat_rows = np.resize(np.asarray(rows, dtype=np.int32), steps * batch)
            flat_weights = np.zeros(steps * batch, dtype=np.float32)
            flat_weights[:m] = w
            # Keras divides a batch's weighted loss by the batch size: a last,
            # partial batch is scaled up to the mean over its own rows, as
            # Model.fit's shorter last batch would be.  A step past a
            # network's last batch (a fold a batch shorter, a streamed window
            # with fewer of its rows) weighs nothing, and the compiled epochs
            # leave that network as it was there
            # (skimb._skipped_steps.takes_step).
            full = (m // batch) * batch
            if full < m:
                flat_weights[full:m] *= batch / (m - full)
            order[:, j] = flat_rows.reshape(steps, batch)
            weights[:, j] = flat_weights.reshape(steps, batch)
        return order, weights

    def _streamed_epoch(self, epoch: int) -> Iterator[tuple]:
        plan, stream = self.plan, self.X
        rng = self._rng(epoch)
        synthesising = plan.sampler is not None and not selects_rows(plan.sampler)
        if not synthesising:
            # The epoch's rows, drawn from the labels alone (X is not read).
            per_network = self._draw(
                None, plan.weights, plan.y, [t for t, _ in self.splits], rng
            )[0]
        # Its own generator: with one window, the draws above are those of
        # the data in memory.
        shards_rng = np.random.RandomState(
            None if plan.seed is None else [offset_seed(plan.seed, epoch), 1]
        )
        order = stream.epoch_order(shards_rng)
        if not synthesising:
            n_windows = -(-stream.n // stream.window_rows)
            located = []
            for rows, w in per_network:
                window, local = stream.locate(rows, order)
                # A stable sort keeps the epoch's shuffled order in a window.
                by_window = np.argsort(window, kind="stable")
                bounds = np.searchsorted(window[by_window], np.arange(n_windows + 1))
                located.append((local[by_window], w[by_window], bounds))
        for i, (ids, X) in enumerate(stream.windows(order)):
            rows = padded_length(len(X))  # synthetic rows aside
            targets = plan.targets[ids]
            if synthesising:
                group = self.group[ids]
                trains = [np.flatnonzero(group != j) for j in range(self.k)]
                try:
                    window_rows, extra_X, extra_y = self._draw(
                        X, plan.weights[ids], plan.y[ids], trains, rng
                    )
                except ValueError as error:
                    raise ValueError(
                        f"{type(plan.sampler).__name__} resamples each window "
                        f"of {len(ids)} rows, and one cannot be resampled: "
                        f"{error} Raise the Shards' window_rows."
                    ) from None
                if extra_X:
                    data = self._with_synthetic(X, targets, extra_X, extra_y, pad=True)
                else:
                    data = pad_rows(X, rows), pad_rows(targets, rows)
            else:
                window_rows = [
                    (local[b[i] : b[i + 1]], w[b[i] : b[i + 1]])
                    for local, w, b in located
                ]
                data = pad_rows(X, rows), pad_rows(targets, rows)
            if max(len(r) for r, _ in window_rows) == 0:
                continue
            yield (data, *self._pack(window_rows))
