"""One network's training step, traced once and run for each of ``k``
networks that compute one function of their weights (TensorFlow).

Part of the training engine (:mod:`skimb._program`).  Cross-fitted networks
share their architecture and differ in their weights alone (their
standardisation's moments included: :class:`skimb._layers.Standardize`).
Traced as one model of ``k`` outputs, a training step holds ``k`` copies of
the forward and backward graph, and TensorFlow spends seconds tracing them
and then optimising the copies when the epoch first runs.  Here one
network's step is traced once, as a function of the weights, and called for
each network without being inlined: the default LSTM's five cross-fitted
networks set up in 6.9 to 10.1 s on the suite's real sequence sets and 2,000
trajectory sequences, against 10.6 to 15.1 s, and ran their epochs 0.97 to
1.32 times as fast (``benchmarks/bench_engine.py --part shared-step``).
The arithmetic, the loss and the optimizer's update are those of
``keras.Model.train_step`` on the model of ``k`` outputs.
"""

from __future__ import annotations

import json

import keras

__all__ = ["pays_to_share", "shared_epoch"]

# TensorFlow's attribute that keeps a function called from a graph a call,
# rather than copying its body into the graph (private, read defensively:
# without it the step is inlined, still traced once).
_NOINLINE = {"_noinline": True}

# The layers whose traced step costs more than a function call per network
# and step.  A dense network traces fast, and the call is a larger part of
# its step: shared, the default dense network's five networks on 1,000
# synthetic rows ran 0.08 to 0.11 s an epoch against 0.05 to 0.06 s as one
# model, and set up in the same 2.5 to 2.9 s (single runs while other work
# shared the cores); on the benchmark's imbalanced digits they ran 0.054 s
# an epoch either way and set up in 2.6 s against 3.2 s.  Till the evidence
# agrees, dense networks train as one model.  The default LSTM and Conv1D
# networks on 2,000 sequences of 20 x 6 ran 1.6 to 1.9 s an epoch against
# 2.1 to 2.3 s (LSTM) and 0.22 to 0.25 s against 0.28 to 0.30 s (Conv1D), and
# set up in 7 s against 16 s and 2.7 s against 3.0 to 3.5 s (the same runs).
_COSTLY_LAYERS = (
    keras.layers.RNN,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
)


def pays_to_share(networks: list[keras.Model], optimizer) -> bool:
    """Whether ``networks`` compute one function of their weights
    (:func:`one_function`) whose step costs more than a call per network
    (a recurrent or convolutional layer), under an ``optimizer`` that takes
    the gradients of the loss as it is (not a mixed-precision
    ``LossScaleOptimizer``, whose scaled loss the one model's step keeps)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return False
    return any(
        isinstance(layer, _COSTLY_LAYERS) for layer in _layers(networks[0])
    ) and one_function(networks)


def one_function(networks: list[keras.Model]) -> bool:
    """Whether ``networks`` compute one function of their weights: models
    of Keras' and skimb's layers alone (a Lambda's or a user's layer may
    hold what its config does not say), none adapted to data (an adapted
    ``Normalization`` computes from constants, not from its weights), of
    equal configurations but for their names, with weights of the same
    shapes and kinds."""
    try:
        canonical = [_canonical(network) for network in networks]
    except Exception:  # A configuration that does not serialise: not shared.
        return False
    return all(c is not None and c == canonical[0] for c in canonical)


def _canonical(network: keras.Model):
    """The network's configuration with every name replaced by its order of
    appearance, and its weights' shapes; None where it may not be shared."""
    for layer in _layers(network):
        module = type(layer).__module__
        if (
            isinstance(layer, keras.layers.Lambda)
            or hasattr(layer, "adapt")
            or not module.startswith(("keras.", "skimb."))
        ):
            return None
    config = network.get_config()
    names: dict[str, str] = {}

    def collect(node) -> None:
        if isinstance(node, dict):
            for key in sorted(node):
                if key == "name" and isinstance(node[key], str):
                    names.setdefault(node[key], f"#{len(names)}")
                collect(node[key])
        elif isinstance(node, list | tuple):
            for value in node:
                collect(value)

    def renamed(node):
        # Layers refer to each other by name (a functional model's nodes).
        if isinstance(node, dict):
            return {key: renamed(value) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [renamed(value) for value in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(config)
    text = json.dumps(renamed(config), sort_keys=True, default=repr)
    weights = [(tuple(w.shape), str(w.dtype), w.trainable) for w in network.weights]
    return text, weights


def _layers(network: keras.Model) -> list:
    """The network and every layer inside it, those inside wrappers
    (Bidirectional, an RNN's cells) included: Keras walks them so
    (``Layer._flatten_layers``, which has no public equivalent)."""
    return list(network._flatten_layers(include_self=True, recursive=True))


def shared_epoch(model: keras.Model, networks: list[keras.Model], loss):
    """The epoch of ``model`` (the ``k`` networks as one model, compiled)
    with each network's step traced once: a ``tf.function`` of ``(X, T,
    order, W)`` returning each network's summed training loss over the
    steps, and the number of steps.  ``order[s, j]`` are network ``j``'s
    rows at step ``s``, ``W[s, j]`` their sample weights."""
    import tensorflow as tf

    first, optimizer, k = networks[0], model.optimizer, len(networks)
    # Each of the model's trainable variables as (network, place in its list).
    place = {
        id(v): (j, i)
        for j, network in enumerate(networks)
        for i, v in enumerate(network.trainable_variables)
    }
    in_model = [place[id(v)] for v in model.trainable_variables]

    def step_of_one(trainable, non_trainable, x, t, w):
        """One network's loss, gradient and updated non-trainable state
        (its batch normalisation's statistics, its dropout's seeds)."""
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            y, non_trainable, penalties = first.stateless_call(
                trainable, non_trainable, x, training=True, return_losses=True
            )
            value = keras.ops.cast(loss(t, y, sample_weight=w), "float32")
            # What Model.compute_loss adds: the layers' penalties
            # (regularizers, add_loss), each summed in float32.
            total = value
            for penalty in penalties:
                total = total + keras.ops.sum(keras.ops.cast(penalty, "float32"))
        return value, tape.gradient(total, trainable), non_trainable

    try:
        network_step = tf.function(
            step_of_one,
            autograph=False,
            reduce_retracing=True,
            experimental_attributes=_NOINLINE,
        )
    except (TypeError, ValueError):
        network_step = tf.function(step_of_one, autograph=False, reduce_retracing=True)

    def values(variables) -> list:
        """The variables' values, read where the step runs."""
        return [tf.convert_to_tensor(v.value) for v in variables]

    @tf.function(autograph=False, reduce_retracing=True)
    def epoch(X, T, order, W):
        def step(s, sums):
            gradients, losses = [None] * k, []
            for j, network in enumerate(networks):
                rows = order[s, j]
                value, gradients[j], non_trainable = network_step(
                    values(network.trainable_variables),
                    values(network.non_trainable_variables),
                    tf.gather(X, rows),
                    tf.gather(T, rows),
                    W[s, j],
                )
                for variable, new in zip(
                    network.non_trainable_variables, non_trainable, strict=True
                ):
                    variable.assign(new)
                losses.append(value)
            optimizer.apply(
                [gradients[j][i] for j, i in in_model], model.trainable_variables
            )
            return s + 1, [a + b for a, b in zip(sums, losses, strict=True)]

        steps, sums = tf.while_loop(
            lambda s, _: s < tf.shape(order)[0],
            step,
            (tf.constant(0), [tf.zeros(())] * k),
        )
        return sums, steps

    for function in (network_step, epoch):
        # As Program's own functions (see there).
        if hasattr(function, "_omit_frequent_tracing_warning"):
            function._omit_frequent_tracing_warning = True
    return epoch
