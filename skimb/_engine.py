"""Training: the networks of one fit, trained together as one compiled program.

A fit trains one network (with a validation split) or ``k`` cross-fitted
networks.  Here they train at once: ``k`` towers on one shared input, each
tower's loss weighted by its own training rows only (zero on its held-out
fold), so that one step updates every network and one pass over the rows is
an epoch of each.  One compiled function runs a whole epoch (``tf.function``
on TensorFlow, ``jax.jit`` over ``lax.scan`` on JAX): ``keras.Model.fit``
spends about 20 ms per epoch on TensorFlow setting up its input pipeline and
callbacks, which on small data is most of the fit (``benchmarks/bench_engine.py``).
After each epoch one forward pass over the held-out rows scores every tower
on its own fold; each tower has its own early stopping and keeps its best
weights.

Nothing here reads the estimator: :func:`train` takes the networks, the data,
the rows of each network and a :class:`TrainingPlan`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
from scipy.special import log_softmax, softmax

from skimb.callbacks import ValidationDataCallback, ValidationMetrics
from skimb.sampling import resample_rows

Split = tuple[np.ndarray, "np.ndarray | None"]


def encode_targets(
    y_encoded: np.ndarray, n_classes: int, *, sparse: bool
) -> np.ndarray:
    """Integer labels for sparse losses, one-hot rows for the others."""
    if sparse:
        return y_encoded.astype(np.int32)
    return np.eye(n_classes, dtype=np.float32)[y_encoded]


@dataclass(frozen=True)
class TrainingPlan:
    """What one fit's training needs, resolved from the estimator's parameters.

    Parameters
    ----------
    loss : keras loss
        Compiled for every network; its per-network value is the validation
        loss too.
    optimizer : keras.optimizers.Optimizer
        Shared by the networks (each variable has its own slots); an
        optimizer already built keeps its state (``partial_fit``).
    targets : ndarray
        Targets in the loss's encoding: integer labels ``(n,)`` or one-hot
        rows ``(n, n_classes)``.
    weights : ndarray of shape (n,)
        Sample weights, class weights included.
    y : ndarray of shape (n,)
        Labels encoded ``0 .. n_classes - 1``.
    labels : list
        Class names, for the ``val_recall_<label>`` keys.
    batch_size : int
        Training rows of each network per step.
    epochs : int
        Maximum number of epochs.
    early_stopping : bool
        Stop each network when validation macro-F1 has not improved for
        ``patience`` epochs, and give it back the weights of its best epoch.
    patience : int
    sampler : imbalanced-learn sampler or None
        Redraws each network's training rows at every epoch.
    class_weight : ndarray of shape (n_classes,)
        Weight of a synthetic row of each class.
    reweighting : (int, ndarray) or None
        Deferred re-weighting: from this epoch on, the loss's per-class
        ``class_weight`` variable takes these weights.
    callbacks : sequence of keras.callbacks.Callback
        The user's callbacks.
    seed : int or None
        Seed of the row order and the samplers' draws.
    verbose : int
        Keras progress output.
    """

    loss: object
    optimizer: keras.optimizers.Optimizer
    targets: np.ndarray
    weights: np.ndarray
    y: np.ndarray
    labels: list
    batch_size: int
    epochs: int
    early_stopping: bool = False
    patience: int = 10
    sampler: object = None
    class_weight: np.ndarray | None = None
    reweighting: tuple[int, np.ndarray] | None = None
    callbacks: Sequence[keras.callbacks.Callback] = ()
    seed: int | None = None
    verbose: int = 0


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    histories : list of dict
        Per-epoch ``loss`` and, with validation, ``val_loss``,
        ``val_macro_f1``, ... of each network, up to its own last epoch.
    best_epochs : list of int or None
        The epoch whose weights each network kept (None without early
        stopping).
    held_out : ndarray of shape (n, n_classes)
        Each held-out row's log-probabilities from the network that did not
        train on it (zeros on rows no network held out).
    """

    histories: list[dict]
    best_epochs: list[int | None]
    held_out: np.ndarray = field(repr=False)


def train(
    networks: list[keras.Model],
    X: np.ndarray,
    splits: list[Split],
    plan: TrainingPlan,
) -> TrainingResult:
    """Train ``networks[j]`` on the rows ``splits[j][0]`` of ``X``, validating
    on ``splits[j][1]`` (None: no validation), all in one program.

    The networks end in logits or in a layer named ``"probabilities"``; they
    are trained in place.
    """
    program = _Program(networks, plan, X)
    schedule = _Schedule(splits, plan, X)
    held_out = _HeldOut(splits, plan, X)
    held_out.probabilities_output = networks[0].layers[-1].name == "probabilities"
    callbacks = keras.callbacks.CallbackList(
        list(plan.callbacks),
        add_history=False,
        add_progbar=plan.verbose != 0,
        verbose=plan.verbose,
        epochs=plan.epochs,
        steps=schedule.steps,
        # Callbacks read how many networks train together from their params.
        networks=len(networks),
        model=program.model,
    )
    receivers = [c for c in plan.callbacks if isinstance(c, ValidationDataCallback)]
    if held_out.rows is not None:
        for callback in receivers:
            callback.set_validation_data(
                X[held_out.rows],
                plan.y[held_out.rows],
                labels=plan.labels,
                outputs=held_out.probabilities,
            )
    stopping = [_EarlyStopping(plan.patience) for _ in networks]
    histories: list[dict] = [{} for _ in networks]
    program.model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(plan.epochs):
        if plan.reweighting is not None and epoch == plan.reweighting[0]:
            plan.loss.class_weight.assign(plan.reweighting[1])
            program.retrace()
        callbacks.on_epoch_begin(epoch)
        callbacks.on_train_batch_begin(0)
        losses = program.run_epoch(*schedule.draw(epoch))
        network_logs = held_out.score(program, losses)
        callbacks.on_train_batch_end(schedule.steps - 1)
        for j, logs in enumerate(network_logs):
            if stopping[j].stopped is not None:
                continue
            for key, value in logs.items():
                histories[j].setdefault(key, []).append(value)
            if plan.early_stopping and "val_macro_f1" in logs:
                stopping[j].update(epoch, logs["val_macro_f1"], program, j)
        # Callbacks see one set of logs: the networks' mean (with
        # cross-fitting, the cross-validated estimate).
        logs = {
            key: float(np.mean([n[key] for n in network_logs]))
            for key in network_logs[0]
        }
        # On JAX the weights live outside the variables during training;
        # the user's callbacks may read them, or write (a learning rate).
        if plan.callbacks:
            program.sync()
        callbacks.on_epoch_end(epoch, logs)
        if plan.callbacks:
            program.reload()
        if all(s.stopped is not None for s in stopping) or program.model.stop_training:
            break
    program.sync()
    if plan.early_stopping:
        for network, state in zip(networks, stopping, strict=True):
            state.restore(network)
        program.reload()
    result = TrainingResult(
        histories=histories,
        best_epochs=[s.best_epoch if plan.early_stopping else None for s in stopping],
        held_out=held_out.log_proba(program),
    )
    callbacks.on_train_end()
    for callback in receivers:
        callback.release_validation_data()
    return result


class _EarlyStopping:
    """One network's early stopping on validation macro-F1."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None
        self.wait = 0
        self.stopped: int | None = None

    def update(self, epoch: int, score: float, program: _Program, j: int) -> None:
        if score > self.best:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            self.best_weights = program.weights(j)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped = epoch

    def restore(self, network: keras.Model) -> None:
        if self.best_weights is not None:
            network.set_weights(self.best_weights)


class _Schedule:
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

    def __init__(self, splits: list[Split], plan: TrainingPlan, X: np.ndarray):
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
        rows, weights, extra_X, extra_y, rng, _ = (
            self._first if epoch == 0 else self._rows(epoch)
        )
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


class _HeldOut:
    """Scores every network on its own held-out rows, in one forward pass.

    The pass runs over the union of the held-out rows (every row, with
    cross-fitting); network ``j``'s outputs are read on its own rows, and
    its validation loss is weighted by them alone.
    """

    def __init__(self, splits: list[Split], plan: TrainingPlan, X: np.ndarray):
        self.plan, self.n = plan, len(X)
        self.probabilities_output = False
        vals = [val for _, val in splits]
        self.rows = None
        if vals[0] is None:
            return
        self.rows = np.unique(np.concatenate(vals))
        # Where each network's held-out rows sit among self.rows.
        self.positions = [np.searchsorted(self.rows, val) for val in vals]
        self.X = X[self.rows]
        self.targets = plan.targets[self.rows]
        # Keras divides a weighted loss by the number of rows: scaled so
        # that each network's is the mean over its own rows.
        self.weights = np.zeros((len(self.rows), len(vals)), np.float32)
        for j, (p, val) in enumerate(zip(self.positions, vals, strict=True)):
            self.weights[p, j] = plan.weights[val] * (len(self.rows) / len(val))
        self.metrics = [
            ValidationMetrics(
                X[val], plan.y[val], n_classes=len(plan.labels), labels=plan.labels
            )
            for val in vals
        ]
        self._outputs = None

    def score(self, program: _Program, losses: list[float]) -> list[dict]:
        """Each network's logs for the epoch just trained."""
        logs = [{"loss": loss} for loss in losses]
        if self.rows is None:
            return logs
        outputs, val_losses = program.evaluate(self.X, self.targets, self.weights)
        self._outputs = outputs
        for j, (out, p) in enumerate(zip(outputs, self.positions, strict=True)):
            logs[j]["val_loss"] = val_losses[j]
            logs[j].update(self.metrics[j].scores(out[p]))
        return logs

    def _log_proba(self) -> np.ndarray:
        held_out = np.zeros((len(self.rows), len(self.plan.labels)))
        for out, p in zip(self._outputs, self.positions, strict=True):
            out = out[p].astype(np.float64)
            if self.probabilities_output:
                with np.errstate(divide="ignore"):
                    held_out[p] = np.log(out / out.sum(axis=1, keepdims=True))
            else:
                held_out[p] = log_softmax(out, axis=1)
        return held_out

    def probabilities(self) -> np.ndarray | None:
        """The held-out rows' class probabilities as of the last epoch scored,
        each from the network that did not train on it."""
        if self._outputs is None:
            return None
        return softmax(self._log_proba(), axis=1)

    def log_proba(self, program: _Program) -> np.ndarray:
        """Log-probabilities of every held-out row with the final weights
        (zeros on the other rows)."""
        full = np.zeros((self.n, len(self.plan.labels)))
        if self.rows is not None:
            self._outputs = program.evaluate(self.X, self.targets, self.weights)[0]
            full[self.rows] = self._log_proba()
        return full


class _Program:
    """The networks as one Keras model, with a compiled epoch and evaluation.

    One network is its own model; ``k`` networks are ``k`` outputs on one
    input, the loss applied to each output with its own sample weights
    (Keras sums the outputs' losses and logs each one).
    """

    def __init__(self, networks: list[keras.Model], plan: TrainingPlan, X):
        self.plan = plan
        self.k = len(networks)
        if self.k == 1:
            model = networks[0]
        else:
            inputs = keras.Input(shape=X.shape[1:], name="features")
            for j, network in enumerate(networks):
                network.name = f"network_{j}"
            model = keras.Model(
                inputs, [network(inputs) for network in networks], name="skimb_towers"
            )
        model.compile(optimizer=plan.optimizer, loss=plan.loss)
        batch = min(len(X), plan.batch_size)
        # Builds the optimizer and the compiled loss, as Model.fit would.
        model._symbolic_build(
            data_batch=self._batch(
                X[:batch], plan.targets[:batch], np.ones((batch, self.k), np.float32)
            )
        )
        self.model, self.networks = model, networks
        self.backend = keras.backend.backend()
        self.X, self.targets = self._to_device(X), self._to_device(plan.targets)
        if self.backend == "jax":
            self.reload()
            # Where each network's weights sit in the trainable and
            # non-trainable state, for snapshots without a sync.
            where = {id(v): (0, i) for i, v in enumerate(model.trainable_variables)}
            where.update(
                {id(v): (1, i) for i, v in enumerate(model.non_trainable_variables)}
            )
            self._where = [[where[id(v)] for v in n.weights] for n in networks]
        self.retrace()

    def _batch(self, x, t, w):
        if self.k == 1:
            return x, t, w[:, 0]
        return x, [t] * self.k, [w[:, j] for j in range(self.k)]

    def _loss_keys(self) -> list[str]:
        if self.k == 1:
            return ["loss"]
        return [f"{name}_loss" for name in self.model.output_names]

    def _to_device(self, array: np.ndarray):
        if self.backend in ("tensorflow", "jax"):
            return keras.ops.convert_to_tensor(array)
        return array

    def retrace(self) -> None:
        """Compile the epoch and the evaluation (again after the loss
        changed: JAX traces the loss's variables as constants)."""
        model, batch, keys, k = self.model, self._batch, self._loss_keys(), self.k
        loss = self.plan.loss

        def evaluate(outputs, T, W):
            outputs = [outputs] if k == 1 else list(outputs)
            losses = [
                loss(T, out, sample_weight=W[:, j]) for j, out in enumerate(outputs)
            ]
            return outputs, losses

        if self.backend == "tensorflow":
            import tensorflow as tf

            # A while loop written out, without autograph: autograph would
            # trace the body twice, and tracing is most of a small fit.
            @tf.function(autograph=False, reduce_retracing=True)
            def epoch(X, T, order, W):
                def step(s, losses):
                    idx = order[s]
                    logs = model.train_step(
                        batch(tf.gather(X, idx), tf.gather(T, idx), W[s])
                    )
                    return s + 1, [logs[key] for key in keys]

                _, losses = tf.while_loop(
                    lambda s, _: s < tf.shape(order)[0],
                    step,
                    (tf.constant(0), [tf.zeros(())] * len(keys)),
                )
                return losses

            @tf.function(autograph=False, reduce_retracing=True)
            def forward(X, T, W):
                return evaluate(model(X, training=False), T, W)

            self._epoch, self._evaluate = epoch, forward
        elif self.backend == "jax":
            import jax
            import jax.numpy as jnp

            def epoch(state, X, T, order, W):
                def step(state, s):
                    idx = order[s]
                    logs, state = model.train_step(state, batch(X[idx], T[idx], W[s]))
                    return state, [logs[key] for key in keys]

                state, losses = jax.lax.scan(step, state, jnp.arange(order.shape[0]))
                return state, [loss[-1] for loss in losses]

            def forward(trainable, non_trainable, X, T, W):
                outputs, _ = model.stateless_call(
                    trainable, non_trainable, X, training=False
                )
                return evaluate(outputs, T, W)

            self._epoch, self._evaluate = jax.jit(epoch), jax.jit(forward)

    def run_epoch(self, data, order: np.ndarray, W: np.ndarray) -> list[float]:
        """Train one epoch; each network's mean training loss."""
        X, T = (self.X, self.targets) if data is None else map(self._to_device, data)
        self.model.reset_metrics()
        if self.backend == "tensorflow":
            losses = self._epoch(X, T, order, W)
        elif self.backend == "jax":
            metrics = [v.value for v in self.model.metrics_variables]
            self._state, losses = self._epoch(
                (*self._state[:3], metrics), X, T, order, W
            )
        else:
            X, T = np.asarray(X), np.asarray(T)
            for idx, w in zip(order, W, strict=True):
                x, t, sw = self._batch(X[idx], T[idx], w)
                logs = self.model.train_on_batch(
                    x, t, sample_weight=sw, return_dict=True
                )
            losses = [logs[key] for key in self._loss_keys()]
        return [float(keras.ops.convert_to_numpy(loss)) for loss in losses]

    def evaluate(self, X, T, W) -> tuple[list[np.ndarray], list[float]]:
        """Each network's outputs on ``X`` in inference mode, and its loss
        weighted by its column of ``W``."""
        if self.backend == "tensorflow":
            outputs, losses = self._evaluate(X, T, W)
        elif self.backend == "jax":
            outputs, losses = self._evaluate(self._state[0], self._state[1], X, T, W)
        else:
            outputs = self.model.predict_on_batch(X)
            outputs, losses = [outputs] if self.k == 1 else list(outputs), []
            for j, out in enumerate(outputs):
                losses.append(self.plan.loss(T, out, sample_weight=W[:, j]))
        return (
            [np.asarray(keras.ops.convert_to_numpy(o)) for o in outputs],
            [float(keras.ops.convert_to_numpy(v)) for v in losses],
        )

    def weights(self, j: int) -> list[np.ndarray]:
        """A copy of network ``j``'s weights as they are now."""
        if self.backend != "jax":
            return [np.array(w) for w in self.networks[j].get_weights()]
        return [np.array(self._state[a][i]) for a, i in self._where[j]]

    def sync(self) -> None:
        """Write the trained state into the model's variables, where
        callbacks and the caller read it (JAX trains on arrays outside
        them)."""
        if self.backend != "jax":
            return
        model = self.model
        variables = (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
        )
        for refs, values in zip(variables, self._state[:3], strict=True):
            for ref, value in zip(refs, values, strict=True):
                ref.assign(value)

    def reload(self) -> None:
        """Read the state back from the variables, after something (a
        callback, restored weights) wrote to them."""
        if self.backend != "jax":
            return
        model = self.model
        self._state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
        )
