"""Training: the networks of one fit, trained together as one compiled program.

A fit trains one network (with a validation split) or ``k`` cross-fitted
networks.  Here they train at once, as one Keras model of ``k`` inputs and
``k`` outputs: each step takes one batch of its own training rows for each
network (:mod:`skimb._schedule`), so each network sees the batches it would
see trained alone, and one step updates them all.  One compiled function
runs a whole epoch (:mod:`skimb._program`: ``tf.function`` on TensorFlow,
``jax.jit`` over ``lax.scan`` on JAX): ``keras.Model.fit`` spends about 3
to 5 ms of every training step on TensorFlow outside the arithmetic (each
step a call of its own, a new input pipeline every epoch), which on small
data is most of the fit (``benchmarks/bench_engine.py``).
After each epoch one forward pass scores every network on its own
held-out rows; each network has its own early stopping and keeps
its best weights.

Data streamed from files (:class:`skimb.data.WindowStream`) train a window
at a time, and the held-out rows are scored a window at a time; memory
holds a window of features, and the labels, weights and held-out outputs of
every row.

Nothing here reads the estimator: :func:`train` takes the networks, the data,
the rows of each network and a :class:`TrainingPlan`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import keras
import numpy as np
from scipy.special import softmax

from skimb._inference import average_networks, forward, log_probabilities
from skimb._networks import ends_in_softmax
from skimb._plan import TrainingPlan, keras_jit_compile
from skimb._program import Program
from skimb._schedule import Schedule, pad_rows, padded_length
from skimb.callbacks import ValidationDataCallback, ValidationMetrics
from skimb.callbacks._scoring import DEFAULT_SCORING
from skimb.callbacks._validation import NetworkOutputs
from skimb.losses import DeferredReweighting
from skimb.metrics import confusion_scores

Split = tuple[np.ndarray, "np.ndarray | None"]


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
        stopping): skimb's early stopping's, or a Keras ``EarlyStopping``'s
        that restored its best weights after it.
    held_out_rows : ndarray of int or None
        The rows some network held out, sorted (None: none did).
    held_out : ndarray of shape (len(held_out_rows), n_classes) or None
        Their log-probabilities, each from the network that did not train
        on it.
    program : Program
        The compiled program, which a later :func:`train` of the same
        networks may go on with (``partial_fit``).
    model : keras.Model
        The model the callbacks saw, compiled with the training's optimizer:
        the one network, or the networks averaged
        (:func:`skimb._inference.average_networks`).
    """

    histories: list[dict]
    best_epochs: list[int | None]
    held_out_rows: np.ndarray | None = field(repr=False)
    held_out: np.ndarray | None = field(repr=False)
    program: Program = field(repr=False)
    model: keras.Model = field(repr=False)


def train(
    networks: list[keras.Model],
    X,
    splits: list[Split],
    plan: TrainingPlan,
    *,
    program: Program | None = None,
) -> TrainingResult:
    """Train ``networks[j]`` on the rows ``splits[j][0]`` of ``X``, validating
    on ``splits[j][1]`` (None: no validation), all in one program.

    ``X`` is an array, or a :class:`skimb.data.WindowStream` of rows read
    from files.  The networks end in logits or in a layer named
    ``"probabilities"``; they are trained in place.  ``program``: the one a
    former call returned, gone on with where it can be
    (:meth:`Program.adopt`) rather than compiled again.
    """
    streamed = not isinstance(X, np.ndarray)
    if streamed:
        ids, first = X.first_window()
        steps = padded_length(-(-X.window_rows // plan.batch_size))
        program = Program(
            networks, plan, first, plan.targets[ids], window_steps=min(steps, 1024)
        )
    elif program is not None and program.adopt(networks, plan, X, plan.targets):
        plan = program.plan  # with the program's loss, its values updated
    else:
        program = Program(networks, plan, X, plan.targets)
    schedule = Schedule(splits, plan, X)
    held_out = _HeldOut(
        splits,
        plan,
        X,
        probabilities=ends_in_softmax(networks[0]),
    )
    # The callbacks see the model the fit returns, not the program's model
    # of k inputs: a ModelCheckpoint saves a model that predicts, and a
    # callback's own model.predict(X) reads X.  It holds the networks'
    # variables, and the training's optimizer (a learning rate set there is
    # the training's).
    model = networks[0] if len(networks) == 1 else average_networks(networks)
    if model is not program.model:
        model.compile(
            optimizer=plan.optimizer,
            loss=plan.loss,
            jit_compile=keras_jit_compile(plan.jit_compile),
        )
    callbacks = keras.callbacks.CallbackList(
        list(plan.callbacks),
        add_history=False,
        add_progbar=plan.verbose != 0,
        verbose=plan.verbose,
        # Epochs are counted across partial_fit calls (_run_epochs).
        epochs=plan.first_epoch + plan.epochs,
        # Streamed windows take as many steps as their rows need, not known
        # before the epoch (Keras' progress bar counts them in the first).
        steps=None if streamed else schedule.steps,
        # Callbacks read how many networks train together from their params.
        networks=len(networks),
        model=model,
    )
    with _lent_to_callbacks(plan, X, model, held_out, streamed=streamed):
        histories, stopping = _run_epochs(
            networks, plan, program, schedule, held_out, callbacks, streamed=streamed
        )
        program.sync()
        if plan.early_stopping:
            for network, state in zip(networks, stopping, strict=True):
                state.restore(network)
            program.reload()
        # Before the held-out outputs, which the decision rule and the
        # calibration are fitted on: they are those of the weights a
        # callback leaves (Keras' EarlyStopping restores its best ones here).
        # A report callback's end reports the weights as they stand when it
        # runs, after those of the callbacks before it.
        held_out.evaluate_when_asked(program)
        callbacks.on_train_end()
        held_out.evaluate_when_asked(None)
        if plan.callbacks:
            program.reload()
        restored = _restored_epoch(plan.callbacks, plan.first_epoch)
        return TrainingResult(
            histories=histories,
            best_epochs=[
                restored
                if restored is not None
                else s.best_epoch
                if plan.early_stopping
                else None
                for s in stopping
            ],
            held_out_rows=held_out.rows,
            held_out=held_out.log_proba(program),
            program=program,
            model=model,
        )


def _restored_epoch(callbacks, first_epoch: int) -> int | None:
    """The epoch (of this training, from 0) whose weights a Keras
    ``EarlyStopping(restore_best_weights=True)`` among ``callbacks`` gave
    back at the end of training, after skimb's own early stopping, so that
    every network holds them (the last such callback's, which restored
    last); None where none did."""
    epoch = None
    for callback in callbacks:
        if (
            isinstance(callback, keras.callbacks.EarlyStopping)
            and callback.restore_best_weights
            and callback.best_weights is not None
        ):
            # It counts the epochs of earlier partial_fit calls too.
            epoch = int(callback.best_epoch) - first_epoch
    return epoch


@contextlib.contextmanager
def _lent_to_callbacks(
    plan: TrainingPlan,
    X,
    model: keras.Model,
    held_out: _HeldOut,
    *,
    streamed: bool,
):
    """Lend the callbacks what they score during training: the held-out rows
    (:class:`ValidationDataCallback`), and the networks' outputs on data of
    their own (:class:`NetworkOutputs`), given back however training ends
    (an error, Ctrl-C): a callback kept for ``Model.fit`` must not score
    these networks."""
    receivers = [c for c in plan.callbacks if isinstance(c, ValidationDataCallback)]
    scorers = [c for c in plan.callbacks if isinstance(c, NetworkOutputs)]
    # The estimator's own keys: loss, and where it validates its val_* and
    # oof_* scores ("val_recall_" stands for the per-class recalls).  The
    # later callbacks, and figures, would read a user's ValidationMetrics'
    # scores of other data under these names as the validation rows'
    # (history_ keeps the estimator's).
    own = {"loss"}
    if held_out.rows is not None:
        own |= {"val_loss", "val_recall_", "oof_macro_f1"}
        own |= {f"val_{name}" for name in DEFAULT_SCORING}
    for i, callback in enumerate(plan.callbacks):
        if isinstance(callback, ValidationMetrics):
            clashing = sorted(own.intersection(callback.log_names()))
            if clashing:
                raise ValueError(
                    f"callbacks[{i}] is a ValidationMetrics logging {clashing}, "
                    "which the estimator logs itself: give it another prefix "
                    '(ValidationMetrics(X, y, prefix="test_")).'
                )
    try:
        if held_out.rows is not None:
            # Streamed rows are not in memory: the callbacks read the held-out
            # outputs given here, and an array of no features stands for X.
            features = (
                np.empty((len(held_out.rows), 0), np.float32)
                if streamed
                else X[held_out.rows]
            )
            for callback in receivers:
                callback.set_validation_data(
                    features,
                    plan.y[held_out.rows],
                    labels=plan.labels,
                    outputs=held_out.class_probabilities,
                )
        for callback in scorers:
            # Data of a callback's own is scored by the fitted model.
            callback.set_network_outputs(
                _NetworksOutputs(model, read=plan.read_features)
            )
        yield
    finally:
        for callback in receivers:
            callback.release_validation_data()
        for callback in scorers:
            callback.release_network_outputs()


def _run_epochs(
    networks: list[keras.Model],
    plan: TrainingPlan,
    program: Program,
    schedule: Schedule,
    held_out: _HeldOut,
    callbacks: keras.callbacks.CallbackList,
    *,
    streamed: bool,
) -> tuple[list[dict], list[_EarlyStopping]]:
    """The epochs of a fit, until every network stopped early, a callback
    stopped training, or ``plan.epochs``; each network's history and early
    stopping."""
    stopping = [_EarlyStopping(plan.patience) for _ in networks]
    # One network's out-of-fold rows are its validation rows.
    monitor = plan.monitor
    if monitor == "oof_macro_f1" and len(networks) == 1:
        monitor = "val_macro_f1"
    histories: list[dict] = [{} for _ in networks]
    # The compiled epoch reads the loss's weights when it runs (on JAX, as an
    # argument: skimb._loss_values.reading_values), so switching the variable
    # is enough; plan.loss is the program's own (Program.adopt).
    reweighting = None
    if plan.reweighting is not None:
        start_epoch, class_weight = plan.reweighting
        reweighting = DeferredReweighting(plan.loss, class_weight, start_epoch)
    # A callback (EarlyStopping) stops training on the model it was given.
    callbacks.model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(plan.epochs):
        if reweighting is not None:
            reweighting.on_epoch_begin(plan.first_epoch + epoch)
        # Callbacks count the epochs of earlier partial_fit calls too, as
        # history_ does (a logger would write each call's as epoch 0).
        callbacks.on_epoch_begin(plan.first_epoch + epoch)
        # An epoch is one compiled call: the callbacks' batch hooks run once,
        # at its first batch's start and its last batch's end.
        callbacks.on_train_batch_begin(0)
        if plan.callbacks:
            # On JAX the epoch trains on arrays read from the variables: a
            # callback's write at the epoch's or the batch's start (a
            # LearningRateScheduler, a warm-up) is read in here, or the epoch
            # would not see it and the next sync would undo it; so is a
            # write at the previous epoch's end (a ReduceLROnPlateau).
            program.reload()
        steps = 0
        for i, chunk in enumerate(schedule.epoch(epoch)):
            losses = program.run_epoch(*chunk, first=i == 0, streamed=streamed)
            steps += len(chunk[1])
        losses = program.floats(losses)
        # On JAX the weights live outside the variables during training: the
        # callbacks read the trained state, and what they write at the last
        # batch's end (weights clipped) is trained state, scored on the
        # held-out rows as Keras' fit would score it.
        if plan.callbacks:
            program.sync()
        # The epoch's training loss, as Keras logs the running mean at a
        # batch's end: keras.callbacks.TerminateOnNaN reads it there.
        callbacks.on_train_batch_end(steps - 1, {"loss": float(np.mean(losses))})
        if plan.callbacks:
            program.reload()
        network_logs = held_out.score(program, losses)
        for j, logs in enumerate(network_logs):
            if stopping[j].stopped is not None:
                continue
            for key, value in logs.items():
                histories[j].setdefault(key, []).append(value)
            if plan.early_stopping and monitor in logs:
                # Higher is better for every score but the loss.
                score = -logs[monitor] if monitor == "val_loss" else logs[monitor]
                stopping[j].update(epoch, score, program, j)
        # Callbacks see one set of logs: the networks' mean (with
        # cross-fitting, the cross-validated estimate).
        logs = {
            key: float(np.mean([n[key] for n in network_logs]))
            for key in network_logs[0]
        }
        # The variables hold the trained state: synced at the batch's end.
        callbacks.on_epoch_end(plan.first_epoch + epoch, logs)
        if (
            all(s.stopped is not None for s in stopping)
            or callbacks.model.stop_training
        ):
            break
    if plan.callbacks:
        # No next epoch reads in the writes of the last one's end: read
        # here, or train's sync would undo them.
        program.reload()
    return histories, stopping


class _NetworksOutputs:
    """The outputs, on any rows, of the networks being trained: one
    network's, or the average of the cross-fitted ones (the fitted
    model)."""

    def __init__(self, model: keras.Model, *, read=None):
        self.model = model
        # The callback's X read as predict reads it: a list of sequences,
        # mask_value padding and flattened sequences mean what they mean
        # there, rather than failing or being read as data.
        self.read = read

    def __call__(self, X) -> np.ndarray:
        if self.read is None or _network_ready(X):
            return forward(self.model, np.asarray(X, np.float32))
        return forward(self.model, self.read(X))


def _network_ready(X) -> bool:
    """Whether ``X`` is already the network's input form: a float array
    whose NaN steps are the padding the networks mask (what the estimator
    makes of sequences of several lengths), which predict's checks would
    refuse as missing values."""
    return (
        isinstance(X, np.ndarray)
        and X.dtype.kind == "f"
        and X.ndim == 3
        and bool(np.isnan(X).any())
    )


class _EarlyStopping:
    """One network's early stopping on a validation score (higher is better)."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None
        self.wait = 0
        self.stopped: int | None = None

    def update(self, epoch: int, score: float, program: Program, j: int) -> None:
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


class _HeldOut:
    """Scores every network on its own held-out rows, in one forward pass.

    Network ``j`` reads its own held-out rows alone, in one pass over them
    all in memory, or, for streamed data, one pass per window over that
    window's; its outputs are kept on its rows, and its validation loss is
    the mean over them.
    """

    def __init__(
        self,
        splits: list[Split],
        plan: TrainingPlan,
        X,
        *,
        probabilities: bool,
    ):
        self.plan = plan
        self.stream = None if isinstance(X, np.ndarray) else X
        # Whether the networks end in a softmax rather than in logits.
        self.probabilities = probabilities
        # Set while the callbacks end training (evaluate_when_asked).
        self._ending = None
        vals = [val for _, val in splits]
        self.rows = None
        if vals[0] is None:
            return
        self.rows = np.unique(np.concatenate(vals))
        # Where each network's held-out rows sit among self.rows, and the
        # network holding out each of them.
        self.positions = [np.searchsorted(self.rows, val) for val in vals]
        self.owner = np.empty(len(self.rows), dtype=np.int32)
        for j, p in enumerate(self.positions):
            self.owner[p] = j
        self.metrics = [
            ValidationMetrics(
                None if self.stream is not None else X[val],
                plan.y[val],
                n_classes=len(plan.labels),
                labels=plan.labels,
            )
            for val in vals
        ]
        if self.stream is None:
            self._kept = self._pass_inputs(
                [X[val] for val in vals], self.positions, max(map(len, vals))
            )
        self._outputs = None

    def _pass_inputs(
        self, features: list[np.ndarray], positions: list[np.ndarray], length: int
    ) -> tuple:
        """One forward pass's inputs, targets and loss weights, from each
        network's own held-out rows (``features[j]``, at ``positions[j]``
        among self.rows), padded to ``length``.

        Each network reads its own rows alone, instead of all k networks
        reading every held-out row (k times the arithmetic, which was about
        an eighth of a cross-fitted LSTM's epoch).  Keras divides a weighted
        loss by the number of rows: the weights are scaled so that a
        network's losses, summed over the passes of an epoch, are the mean
        over all its held-out rows (padding weighs nothing).
        """
        targets = [pad_rows(self.plan.targets[self.rows[p]], length) for p in positions]
        weights = np.zeros((length, len(positions)), np.float32)
        for j, p in enumerate(positions):
            weights[: len(p), j] = (
                self.plan.weights[self.rows[p]] * length / len(self.positions[j])
            )
        return [pad_rows(f, length) for f in features], targets, weights

    def _run_pass(
        self, program: Program, inputs: tuple, positions: list[np.ndarray]
    ) -> np.ndarray:
        """Run one pass; keep each network's outputs on its own rows, and
        return its loss."""
        outputs, losses = program.evaluate(*inputs)
        if self._outputs is None:
            self._outputs = np.zeros(
                (len(self.rows), outputs[0].shape[1]), outputs[0].dtype
            )
        for output, p in zip(outputs, positions, strict=True):
            self._outputs[p] = output[: len(p)]
        return np.asarray(losses, dtype=float)

    def _evaluate(self, program: Program) -> list[float]:
        """Keep each held-out row's outputs from its own network; return
        each network's validation loss."""
        if self.stream is not None and len(self.rows) <= self.stream.window_rows:
            # Held-out rows that fit in a window (a validation split) are
            # read once and kept.
            kept = None
            for positions, X in self._held_windows():
                if kept is None:
                    kept = np.empty((len(self.rows), *X.shape[1:]), X.dtype)
                kept[positions] = X
            self._kept = self._pass_inputs(
                [kept[p] for p in self.positions],
                self.positions,
                max(map(len, self.positions)),
            )
            self.stream = None
        if self.stream is None:
            return self._run_pass(program, self._kept, self.positions).tolist()
        totals = np.zeros(len(self.positions))
        for positions, X in self._held_windows():
            owner = self.owner[positions]
            mine = [owner == j for j in range(len(self.positions))]
            # A power of two, so that the compiled pass sees a few shapes.
            length = padded_length(max(int(m.sum()) for m in mine))
            own_positions = [positions[m] for m in mine]
            inputs = self._pass_inputs([X[m] for m in mine], own_positions, length)
            totals += self._run_pass(program, inputs, own_positions)
        return totals.tolist()

    def _held_windows(self):
        """Each streamed window's held-out rows: their positions among
        self.rows, and their features."""
        for ids, X in self.stream.windows():
            positions = np.searchsorted(self.rows, ids)
            held = positions < len(self.rows)
            held[held] = self.rows[positions[held]] == ids[held]
            if held.any():
                yield positions[held], X[held]

    def score(self, program: Program, losses: list[float]) -> list[dict]:
        """Each network's logs for the epoch just trained."""
        logs = [{"loss": loss} for loss in losses]
        if self.rows is None:
            return logs
        val_losses = self._evaluate(program)
        for j, p in enumerate(self.positions):
            logs[j]["val_loss"] = val_losses[j]
            logs[j].update(self.metrics[j].scores(self._outputs[p]))
        if len(self.positions) == 1:
            return logs
        # The macro-F1 of every held-out row, each scored by the network that
        # did not train on it: with cross-fitting, the cross-validated score,
        # on k times the rows of one network's own (rare classes included).
        pooled = confusion_scores(
            self.plan.y[self.rows],
            np.argmax(self._log_proba(), axis=1),
            n_classes=len(self.plan.labels),
        )["macro_f1"]
        for entry in logs:
            entry["oof_macro_f1"] = pooled
        return logs

    def _log_proba(self) -> np.ndarray:
        return log_probabilities(self._outputs, probabilities=self.probabilities)

    def evaluate_when_asked(self, program: Program | None) -> None:
        """From now on (until given None), :meth:`class_probabilities`
        evaluates the weights as they stand when it is called: while the
        callbacks end training, one earlier in the list may have put others
        in place (Keras' EarlyStopping restores its best ones then)."""
        self._ending = program

    def class_probabilities(self) -> np.ndarray | None:
        """The held-out rows' class probabilities as of the last epoch scored
        (or as the weights stand, see :meth:`evaluate_when_asked`), each
        from the network that did not train on it."""
        if self._ending is not None and self.rows is not None:
            self._ending.reload()
            self._evaluate(self._ending)
        if self._outputs is None:
            return None
        return softmax(self._log_proba(), axis=1)

    def log_proba(self, program: Program) -> np.ndarray | None:
        """Log-probabilities of the held-out rows with the final weights."""
        if self.rows is None:
            return None
        self._evaluate(program)
        return self._log_proba()
