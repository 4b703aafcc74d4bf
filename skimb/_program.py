"""The networks of one fit as one Keras model, with a compiled epoch.

Part of the training engine (:mod:`skimb._engine`).  One compiled function
runs a whole epoch: ``tf.function`` over a while loop on TensorFlow
(compiled by XLA where the plan's ``jit_compile`` asks),
``jax.jit`` over ``lax.scan`` on JAX, where the weights live in arrays
outside the Keras variables until :meth:`Program.sync` writes them back.
With a plan's ``distribution`` (JAX, :mod:`skimb._devices`) the weights, the
optimizer's state and the data are replicated on every device and each
step's batch is split across them along its rows.
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np

from skimb._loss_values import assign_loss, loss_values, reading_values
from skimb._network_step import (
    pays_to_share,
    per_network,
    shared_epoch,
    shared_forward,
)
from skimb._plan import TrainingPlan, keras_jit_compile
from skimb._schedule import pad_rows
from skimb._skipped_steps import (
    kept,
    network_parts,
    state_places,
    state_variables,
    takes_step,
)

# The backends whose compiled epochs are written here.
BACKENDS = ("tensorflow", "jax")


class Program:
    """The networks as one Keras model, with a compiled epoch and evaluation.

    One network is its own model; ``k`` networks are one model of ``k``
    inputs and ``k`` outputs, network ``j`` reading input ``j`` (its own
    batch) into output ``j``, the loss applied to each output with its own
    sample weights (Keras sums the outputs' losses and logs each one).  On
    TensorFlow, networks that compute one function of their weights (the
    cross-fitted ones) train instead with one network's step, and are
    scored with one network's forward pass, each traced once and called for
    each network (:mod:`skimb._network_step`), the same arithmetic.
    """

    def __init__(
        self,
        networks: list[keras.Model],
        plan: TrainingPlan,
        X: np.ndarray,
        targets: np.ndarray,
        *,
        window_steps: int = 1,
    ):
        """``X, targets``: the data the epochs index unless given their own
        (streamed data: the first window), whose first rows build the model.
        ``window_steps``: the steps of a full streamed window."""
        self.window_steps = window_steps
        self.backend = keras.backend.backend()
        if self.backend not in BACKENDS:
            raise RuntimeError(
                f"skimb trains on the Keras backends {BACKENDS}; this process "
                f"uses {self.backend!r} (KERAS_BACKEND)."
            )
        self.plan = plan
        self.distribution = plan.distribution
        self.k = len(networks)
        if self.k == 1:
            model = networks[0]
        else:
            inputs = [
                keras.Input(shape=X.shape[1:], name=f"features_{j}")
                for j in range(self.k)
            ]
            for j, network in enumerate(networks):
                network.name = f"network_{j}"
            model = keras.Model(
                inputs,
                [network(x) for network, x in zip(networks, inputs, strict=True)],
                name="skimb_networks",
            )
        model.compile(
            optimizer=plan.optimizer,
            loss=plan.loss,
            jit_compile=keras_jit_compile(plan.jit_compile),
        )
        self.model, self.networks = model, networks
        # Where XLA compiles the epoch, it compiles the k networks as one
        # program, unshared.
        self._shared = (
            self.backend == "tensorflow"
            and self.k > 1
            and not (plan.jit_compile and model.jit_compile)
            and pays_to_share(networks, model.optimizer)
        )
        if self._shared:
            # The shared step needs the optimizer's state alone: building
            # the compiled loss too would trace the k networks' forward pass
            # (2.1 s of the default LSTM's set-up on ArrowHead).
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
        else:
            batch = min(len(X), plan.batch_size)
            # Builds the optimizer and the compiled loss, as Model.fit would.
            model._symbolic_build(
                data_batch=self._batch(
                    [X[:batch]] * self.k,
                    [targets[:batch]] * self.k,
                    [np.ones(batch, np.float32)] * self.k,
                )
            )
        self.X, self.targets = self._to_device(X), self._to_device(targets)
        where = state_places(model)
        if self.backend == "jax":
            self.reload()
            # Where each network's weights sit in the trainable and
            # non-trainable state, for snapshots without a sync.
            self._where = [[where[id(v)] for v in n.weights] for n in networks]
        self._parts, self._trackers = network_parts(model, networks, where)
        self._compile()

    def adopt(
        self, networks: list[keras.Model], plan: TrainingPlan, X, targets
    ) -> bool:
        """Train the same networks on with ``plan`` and new data, without
        compiling again (``partial_fit``'s next call: one epoch on each
        call's rows, the class counts and so the loss's values grown).

        Returns False, the program unchanged, where it cannot: other
        networks or another optimizer, a loss that differs in more than its
        per-class values (:func:`skimb._loss_values.assign_loss`), other
        devices, or on TensorFlow another ``jit_compile``.  Otherwise the
        plan's loss is this program's, its values updated: read the plan
        back from :attr:`plan`.
        """
        loss = self.plan.loss
        if (
            len(networks) != self.k
            or any(a is not b for a, b in zip(networks, self.networks, strict=True))
            # The caller may have compiled the model again since.
            or plan.optimizer is not self.plan.optimizer
            or self.model.optimizer is not self.plan.optimizer
            or getattr(self.model, "loss", None) is not loss
            # (A new DataParallel every call: several devices compile anew.)
            or plan.distribution is not self.distribution
            # (On JAX the epoch is XLA's either way.)
            or (
                self.backend == "tensorflow"
                and plan.jit_compile != self.plan.jit_compile
            )
        ):
            return False
        if not assign_loss(loss, plan.loss):
            return False
        self.plan = dataclasses.replace(plan, loss=loss)
        self.X, self.targets = self._to_device(X), self._to_device(targets)
        # The caller may have written the weights since (set_weights).
        self.reload()
        # Keras' own compiled steps (model.evaluate, model.fit), which a
        # compile would have cleared, hold the loss's former values on JAX.
        self.model.train_function = self.model.test_function = None
        return True

    def release(self) -> None:
        """Drop the data and the arrays of the last training, which
        :meth:`adopt` gives again; what is kept is the compiled program."""
        self.X = self.targets = None
        self.plan = dataclasses.replace(
            self.plan, targets=None, weights=None, y=None, callbacks=()
        )
        if self.backend == "jax":
            self._state = None

    def _loss_values(self) -> dict:
        """The loss's per-class values, the compiled JAX functions' last
        argument."""
        return {
            name: self._to_device(value)
            for name, value in loss_values(self.plan.loss).items()
        }

    def _batch(self, xs: list, ts: list, ws: list):
        """Keras' (x, y, sample_weight) of one step, from each network's."""
        if self.k == 1:
            return xs[0], ts[0], ws[0]
        return list(xs), list(ts), list(ws)

    def _loss_keys(self) -> list[str]:
        if self.k == 1:
            return ["loss"]
        return [f"{name}_loss" for name in self.model.output_names]

    def _to_device(self, array):
        if self.distribution is None:
            return keras.ops.convert_to_tensor(array)
        return keras.distribution.distribute_tensor(
            array, self._replicated(np.ndim(array))
        )

    def _replicated(self, ndim: int) -> keras.distribution.TensorLayout:
        return keras.distribution.TensorLayout(
            [None] * ndim, self.distribution.device_mesh
        )

    def _split_rows(self, tensor):
        """A batch split across the devices along its rows (in a trace)."""
        if self.distribution is None:
            return tensor
        layout = self.distribution.get_data_layout(tensor.shape)
        return keras.distribution.distribute_tensor(tensor, layout)

    def _compile(self) -> None:
        """Compile the epoch and the evaluation."""
        model, batch, keys, k = self.model, self._batch, self._loss_keys(), self.k
        loss, parts = self.plan.loss, self._parts
        variables = state_variables(model)

        def network_inputs(X):
            xs = per_network(X, k)
            return xs[0] if k == 1 else xs

        def evaluate(outputs, T, W):
            outputs = [outputs] if k == 1 else list(outputs)
            targets = per_network(T, k)
            losses = [
                loss(targets[j], out, sample_weight=W[:, j])
                for j, out in enumerate(outputs)
            ]
            return outputs, losses

        if self.backend == "tensorflow":
            import tensorflow as tf

            # A while loop written out, without autograph: autograph would
            # trace the body twice, and tracing is most of a small fit.
            # XLA where the plan asks for it and Keras accepts it: on a GPU
            # Keras refuses it, with a warning, for recurrent layers, whose
            # cuDNN kernels XLA cannot compile.
            @tf.function(
                autograph=False,
                reduce_retracing=True,
                jit_compile=bool(self.plan.jit_compile and model.jit_compile),
            )
            def epoch(X, T, order, W):
                def step(s, losses):
                    rows = [order[s, j] for j in range(k)]
                    # Each network's state before the step, put back where
                    # its batch weighs nothing (takes_step).
                    before = [
                        [tf.convert_to_tensor(variables[g][i].value) for g, i in p]
                        for p in parts
                    ]
                    logs = model.train_step(
                        batch(
                            [tf.gather(X, r) for r in rows],
                            [tf.gather(T, r) for r in rows],
                            [W[s, j] for j in range(k)],
                        )
                    )
                    for j, part in enumerate(parts):
                        kept(
                            [variables[g][i] for g, i in part],
                            before[j],
                            takes_step(W[s, j]),
                        )
                    return s + 1, [logs[key] for key in keys]

                _, losses = tf.while_loop(
                    lambda s, _: s < tf.shape(order)[0],
                    step,
                    (tf.constant(0), [tf.zeros(())] * len(keys)),
                )
                return losses

            if self._shared:
                epoch = shared_epoch(model, self.networks, loss)

            # Without XLA: one call an epoch on the held-out rows, whose
            # compilation costs more than it saves (ItalyPowerDemand's default
            # fit, one run each: 22.0 s with it against 19.6 s without).
            @tf.function(autograph=False, reduce_retracing=True)
            def forward(X, T, W):
                return evaluate(model(network_inputs(X), training=False), T, W)

            if self._shared:
                forward = shared_forward(self.networks, evaluate)

            for function in (epoch, forward):
                # Each fit builds its own model and traces its own epoch, as
                # does a partial_fit that cannot go on with the last call's
                # (another loss, a new network).  TensorFlow counts the traces
                # of every Program's epoch together (it keys them by the
                # function's code) and would warn the users of a loop of fits
                # to move a tf.function out of a loop they do not have.  A
                # private flag, set where it exists.
                if hasattr(function, "_omit_frequent_tracing_warning"):
                    function._omit_frequent_tracing_warning = True
            self._epoch, self._evaluate = epoch, forward
        else:
            import jax
            import jax.numpy as jnp

            split = self._split_rows

            def train_step(state, X, T, order, W, s):
                """Step ``s``: one batch of each network; its losses."""
                rows = [order[s, j] for j in range(k)]
                data = batch(
                    [split(X[r]) for r in rows],
                    [split(T[r]) for r in rows],
                    [split(W[s, j]) for j in range(k)],
                )
                logs, stepped = model.train_step(state, data)
                if parts:
                    # Each network's state as it was where its batch weighs
                    # nothing (takes_step).
                    stepped = tuple(list(group) for group in stepped)
                    for j, part in enumerate(parts):
                        takes = takes_step(W[s, j])
                        for g, i in part:
                            stepped[g][i] = jnp.where(takes, stepped[g][i], state[g][i])
                    stepped = tuple(stepped)
                return stepped, [logs[key] for key in keys]

            # The loss's per-class values are arguments (``values``), not
            # constants compiled in: partial_fit's next call, whose grown
            # class counts move them, runs through the same compilation.
            def epoch(state, X, T, order, W, values):
                def step(state, s):
                    return train_step(state, X, T, order, W, s)

                with reading_values(loss, values):
                    state, losses = jax.lax.scan(
                        step, state, jnp.arange(order.shape[0])
                    )
                return state, [value[-1] for value in losses]

            def piece(state, X, T, order, W, steps, values):
                """The first ``steps`` steps of ``order`` (a streamed
                window's, padded to a fixed length): a loop of a traced
                length compiles once for every window."""

                def step(s, carry):
                    return train_step(carry[0], X, T, order, W, s)

                zeros = [jnp.zeros((), "float32") for _ in keys]
                with reading_values(loss, values):
                    return jax.lax.fori_loop(0, steps, step, (state, zeros))

            self._piece = jax.jit(piece)

            def forward(trainable, non_trainable, X, T, W, values):
                outputs, _ = model.stateless_call(
                    trainable, non_trainable, network_inputs(X), training=False
                )
                with reading_values(loss, values):
                    return evaluate(outputs, T, W)

            self._epoch, self._evaluate = jax.jit(epoch), jax.jit(forward)

    def run_epoch(
        self,
        data,
        order: np.ndarray,
        W: np.ndarray,
        *,
        first: bool = True,
        streamed: bool = False,
    ) -> list:
        """Train the steps of ``order``; each network's mean training loss
        since the epoch's first chunk (``first``: this one), as backend
        scalars (:meth:`floats` reads them: reading waits for the steps,
        which on JAX run while the caller reads the next window).
        ``streamed``: the chunk is a window of streamed rows."""
        X, T = (self.X, self.targets) if data is None else map(self._to_device, data)
        if first:
            self.model.reset_metrics()
        if self.backend == "tensorflow":
            with _custom_gradients_released():
                losses = self._epoch(X, T, order, W)
            if self._shared:
                # Each network's summed loss and the steps it took, since the
                # epoch's first chunk: their mean, as Keras' loss metrics keep
                # it.
                sums, steps = losses
                if not first:
                    sums = [a + b for a, b in zip(self._sums, sums, strict=True)]
                    steps = [a + b for a, b in zip(self._steps, steps, strict=True)]
                self._sums, self._steps = sums, steps
                losses = [
                    value / keras.ops.maximum(count, 1.0)
                    for value, count in zip(sums, steps, strict=True)
                ]
            elif self._trackers:
                # The means over the steps each network took: the last
                # step's logs counted a step it did not take.
                losses = [tracker.result() for tracker, _ in self._trackers]
        else:
            if first:
                variables = self.model.metrics_variables
                metrics = [self._to_device(v.value) for v in variables]
            else:
                metrics = self._state[3]
            if streamed:
                losses = self._run_pieces(metrics, X, T, order, W)
            else:
                self._state, losses = self._epoch(
                    (*self._state[:3], metrics), X, T, order, W, self._loss_values()
                )
            if self._trackers:
                # As on TensorFlow: the means over the steps each took.
                metrics = self._state[3]
                losses = [
                    tracker.stateless_result([metrics[i] for i in places])
                    for tracker, places in self._trackers
                ]
        return losses

    @staticmethod
    def floats(values) -> list[float]:
        """Backend scalars as Python floats."""
        return [float(keras.ops.convert_to_numpy(value)) for value in values]

    def _run_pieces(self, metrics, X, T, order: np.ndarray, W: np.ndarray):
        """A window's steps in pieces of ``window_steps`` (about a full
        window's), each padded to that length: the compiled loop takes the
        number of steps to run as an argument, so every window runs through
        one compilation."""
        steps, size = len(order), self.window_steps
        padded = -(-steps // size) * size
        order, W = pad_rows(order, padded), pad_rows(W, padded)
        for start in range(0, padded, size):
            self._state, losses = self._piece(
                (*self._state[:3], metrics),
                X,
                T,
                order[start : start + size],
                W[start : start + size],
                np.int32(min(size, steps - start)),
                self._loss_values(),
            )
            metrics = self._state[3]
        return losses

    def evaluate(self, X, T, W) -> tuple[list[np.ndarray], list[float]]:
        """Each network's outputs on ``X`` in inference mode, and its loss
        weighted by its column of ``W``.  ``X`` and ``T`` are either one
        array that every network reads, or a list of each network's own
        (of the same number of rows)."""
        if self.backend == "tensorflow":
            outputs, losses = self._evaluate(X, T, W)
        else:
            outputs, losses = self._evaluate(
                self._state[0], self._state[1], X, T, W, self._loss_values()
            )
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
        them).  Replicated arrays come back to Keras' default device, where
        the model lives outside the fit (prediction runs on one device)."""
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
                ref.assign(value if self.distribution is None else np.asarray(value))

    def reload(self) -> None:
        """Read the state back from the variables, after something (a
        callback, restored weights) wrote to them."""
        if self.backend != "jax":
            return
        model = self.model
        self._state = tuple(
            [self._to_device(v.value) for v in refs]
            for refs in (
                model.trainable_variables,
                model.non_trainable_variables,
                model.optimizer.variables,
            )
        )


@contextlib.contextmanager
def _custom_gradients_released():
    """Drop the graph-mode custom gradients that tracing registered inside
    the block from TensorFlow's global gradient registry.

    Keras' TensorFlow optimizer sums the gradients through the replica
    context's ``all_reduce``, a ``tf.custom_gradient``; traced into a graph,
    that registers its gradient function under a new ``CustomGradient-<n>``
    name in a registry nothing ever empties, and the function's closure
    holds the traced tensors, hence the whole epoch graph (TensorFlow issues
    #27492 and #97697; ``keras.backend.clear_session`` does not release
    them).  Every fit traces a new epoch, so without this a process grew by
    about 18 MB per fit (``benchmarks/bench_memory.py``).  The tape that
    differentiates the step holds its own reference to the gradient function
    (``record_operation``); the registry entry serves only symbolic
    ``tf.gradients`` over the finished graph, which nothing here calls.
    """
    from tensorflow.python.framework import ops

    # A private registry: read defensively, so that a TensorFlow that
    # moves it costs the release, not the fit.
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        yield
        return
    size = len(registry)
    try:
        yield
    finally:
        # Only a trace adds entries (an epoch that reuses its graph adds
        # none), and a dict keeps them in the order they came.
        for name in list(registry)[size:] if len(registry) > size else ():
            if name.startswith("CustomGradient-"):
                registry.pop(name, None)
