"""One network's training step and forward pass, traced once and run for
each of ``k`` networks that compute one function of their weights
(TensorFlow).

Part of the training engine (:mod:`skimb._program`) and of inference
(:mod:`skimb._inference`).  Cross-fitted networks share their architecture
and differ in their weights alone (their standardisation's moments
included: :class:`skimb._layers.Standardize`).  Traced as one model of
``k`` outputs, a training step holds ``k`` copies of the forward and
backward graph, the held-out pass and the averaged model's prediction ``k``
copies of the forward graph, and TensorFlow spends seconds tracing them and
then optimising the copies when they first run.  Here one network's step
and forward pass are traced once, as functions of the weights, and called
for each network without being inlined: the default LSTM's five
cross-fitted networks set up in 5.1 to 9.0 s on the suite's real sequence
sets and 2,000 trajectory sequences, against 12.3 to 15.6 s as one model,
and ran their epochs 0.92 to 1.39 times as fast (``benchmarks/
bench_engine.py --part shared-step``).  The arithmetic, the loss and the
optimizer's update are those of ``keras.Model.train_step`` on the model of
``k`` outputs, and the held-out pass moves the dropout seeds as that
model's does.  The optimizer's update is traced once too, for one
network's variables, and called for each network
(:func:`_shared_update`), where the optimizer keeps its state per variable
(Adam, AdamW, RMSprop, SGD; Nadam's state is shared by its variables): the
set-up of a default fit 1.12 to 1.59 times as fast on the suite's real
sequence sets, 1.07 times on 2,000 synthetic sequences and 1.17 to 1.76
times on tables (``benchmarks/bench_engine.py --part shared-update``).
"""

from __future__ import annotations

import json
from functools import partial

import keras

from skimb._layers import every_layer, is_library_layer
from skimb._skipped_steps import (
    kept,
    own_slots,
    per_variable_lists,
    slots_in,
    takes_step,
)

__all__ = ["pays_to_share", "shared_epoch", "shared_forward", "shared_outputs"]

# TensorFlow's attribute that keeps a function called from a graph a call,
# rather than copying its body into the graph (private, read defensively:
# without it the step is inlined, still traced once).
_NOINLINE = {"_noinline": True}


def pays_to_share(networks: list[keras.Model], optimizer=None) -> bool:
    """Whether ``networks`` compute one function of their weights
    (:func:`one_function`), under an ``optimizer`` (None: inference alone)
    that takes the gradients of the loss as it is (not a mixed-precision
    ``LossScaleOptimizer``, whose scaled loss the one model's step keeps).

    Any such networks, dense ones too: shared, the default dense network's
    five set up 1.06 to 1.81 times as fast on seven tables and two
    synthetic sets, and ran their epochs 0.81 to 1.30 times as fast: a
    whole fit was faster shared on every set but 1,000 synthetic rows,
    whose epochs of 25 short steps pay the calls (as fast at 50 epochs,
    slower beyond) (``benchmarks/bench_engine.py --part shared-step`` and
    ``--part shared-step-dense``).  The default LSTM's set up 1.7 to 2.4
    times as fast.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return False
    return one_function(networks)


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
    for layer in every_layer(network):
        if not is_library_layer(layer) or hasattr(layer, "adapt"):
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


def shared_epoch(model: keras.Model, networks: list[keras.Model], loss):
    """The epoch of ``model`` (the ``k`` networks as one model, compiled)
    with each network's step traced once: a ``tf.function`` of ``(X, T,
    order, W)`` returning each network's summed training loss over the
    steps, and the number of steps each took
    (:func:`skimb._skipped_steps.takes_step`: none on
    a batch of weight 0).  ``order[s, j]`` are network ``j``'s
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

    network_step = _kept_a_call(step_of_one)
    update = _shared_update(optimizer, networks)
    # Without a shared update: what a network that takes no step gets back.
    restored = [
        [*n.trainable_variables, *own_slots(optimizer, n.trainable_variables)]
        for n in (networks if update is None else ())
    ]

    @tf.function(autograph=False, reduce_retracing=True)
    def epoch(X, T, order, W):
        def step(s, sums, counts):
            gradients, losses, takes = [None] * k, [], []
            for j, network in enumerate(networks):
                rows = order[s, j]
                # A batch of weight 0 is no step of its network (see
                # takes_step): its state stays as it was.
                takes.append(takes_step(W[s, j]))
                before = _values(network.non_trainable_variables)
                value, gradients[j], non_trainable = network_step(
                    _values(network.trainable_variables),
                    before,
                    tf.gather(X, rows),
                    tf.gather(T, rows),
                    W[s, j],
                )
                _assign(
                    network.non_trainable_variables,
                    [
                        tf.where(takes[j], after, value)
                        for after, value in zip(non_trainable, before, strict=True)
                    ],
                )
                losses.append(value)
            if update is None:
                # One update of every variable (an optimizer with state
                # shared across variables, Nadam's): a network that takes no
                # step gets its weights and its own slots back.
                before = [_values(variables) for variables in restored]
                optimizer.apply(
                    [gradients[j][i] for j, i in in_model], model.trainable_variables
                )
                for j, variables in enumerate(restored):
                    kept(variables, before[j], takes[j])
            else:
                update(gradients, takes)
            return (
                s + 1,
                [a + b for a, b in zip(sums, losses, strict=True)],
                [c + tf.cast(t, "float32") for c, t in zip(counts, takes, strict=True)],
            )

        _, sums, counts = tf.while_loop(
            lambda s, *_: s < tf.shape(order)[0],
            step,
            (tf.constant(0), [tf.zeros(())] * k, [tf.zeros(())] * k),
        )
        return sums, counts

    _quiet(epoch)
    return epoch


def _shared_update(optimizer, networks: list[keras.Model]):
    """A function of each network's gradients that applies ``optimizer``'s
    update to every network, one network's update traced once and called
    for each; None where the optimizer's variables are not each one
    trainable variable's (an optimizer with state shared across variables,
    such as Nadam's, updates them all at once) or its settings reach
    across networks (see :func:`_slot_finder`).

    ``optimizer.apply`` on the first network's variables is traced with
    them, their slots (momentums, velocities) and the optimizer's step
    counter as arguments, so that a call with another network's variables,
    slots and a counter of the same value updates that network: the same
    update, step counter and learning rate as one ``apply`` on every
    network's variables, traced once instead of ``k`` times
    (``benchmarks/bench_engine.py --part shared-update``: 0.3 to 2.0 s
    less set-up a default fit).
    """
    import tensorflow as tf

    first = networks[0]
    slots_of = _slot_finder(optimizer)
    if slots_of is None:
        return None
    try:
        slots = [slots_of(network.trainable_variables) for network in networks]
    except KeyError:  # a variable the optimizer was not built for
        return None
    kinds = [
        [(tuple(v.shape), str(v.dtype)) for v in (*n.trainable_variables, *s)]
        for n, s in zip(networks, slots, strict=True)
    ]
    if any(kind != kinds[0] for kind in kinds):
        return None
    counter = optimizer.iterations
    # The counter's value before the step, for the networks after the
    # first: the first network's call is traced on the optimizer's own
    # counter, and moves it on by one, as one apply does.
    before = [tf.Variable(counter.value, trainable=False) for _ in networks[1:]]
    own = [v.value for v in first.trainable_variables], [s.value for s in slots[0]]

    def update_of_one(gradients, variables, slot_values, iterations):
        # Traced once, on the first network's own variables, slots and the
        # counter, which the optimizer reads and writes as its own; a call
        # with another network's stands them in.  A trace on another
        # network's would update the first network: refused.
        if not (
            _same_objects(variables, own[0])
            and _same_objects(slot_values, own[1])
            and iterations is counter.value
        ):
            raise RuntimeError(
                "skimb's shared update was traced on another network than "
                "the first; please report this."
            )
        optimizer.apply(gradients, first.trainable_variables)
        return tf.constant(0)

    update_one = _kept_a_call(update_of_one)

    def update(gradients, takes) -> None:
        """Update each network whose ``takes`` is true; the step counter
        moves on by one, as one ``apply`` moves it."""
        for variable in before:
            variable.assign(counter.value)
        for j, network in enumerate(networks):

            def call(j=j, network=network):
                return update_one(
                    gradients[j],
                    [v.value for v in network.trainable_variables],
                    [s.value for s in slots[j]],
                    counter.value if j == 0 else before[j - 1],
                )

            def skip(j=j):
                if j == 0:  # The first network's update moves the counter.
                    counter.assign_add(tf.ones((), counter.dtype))
                return tf.constant(0)

            tf.cond(takes[j], call, skip)

    return update


def _same_objects(these, those) -> bool:
    return len(these) == len(those) and all(
        a is b for a, b in zip(these, those, strict=True)
    )


def _slot_finder(optimizer):
    """A function of a network's trainable variables returning the
    optimizer's variables kept for them, in order; None unless every
    variable of the optimizer but its counter and learning rate is kept for
    one trainable variable, and none of its settings reaches across
    variables (moving averages of the weights, which Keras updates for
    every variable at each update; a norm clipped over every gradient;
    gradients accumulated over steps; variables left out of weight decay
    one by one).
    Read from the optimizer's per-variable lists, private to Keras: None
    where they are not as expected."""
    trainable = getattr(optimizer, "_trainable_variables", None)
    if not trainable or not hasattr(optimizer, "_get_variable_index"):
        return None
    if (
        getattr(optimizer, "use_ema", False)
        or getattr(optimizer, "global_clipnorm", None)
        or getattr(optimizer, "gradient_accumulation_steps", None)
        # (Variables left out by name are left out in every network.)
        or getattr(optimizer, "_exclude_from_weight_decay", None)
    ):
        return None
    own = {id(v) for v in optimizer.variables}
    shared = {id(optimizer.iterations)}
    if isinstance(getattr(optimizer, "_learning_rate", None), keras.Variable):
        shared.add(id(optimizer._learning_rate))
    lists = per_variable_lists(optimizer)
    kept = [id(x) for values in lists for x in values if x is not None]
    slots = set(kept)
    # Each slot kept once, for one variable, none of them the counter or
    # the learning rate, and every variable of the optimizer either.
    if len(slots) != len(kept) or slots & shared or slots | shared != own:
        return None

    return partial(slots_in, optimizer, lists)


def shared_forward(networks: list[keras.Model], evaluate):
    """The held-out evaluation of ``k`` networks with one network's forward
    pass traced once: a ``tf.function`` of ``(X, T, W)`` returning
    ``evaluate(outputs, T, W)`` of each network's ``outputs`` in inference
    mode (the engine's rule: the outputs, and each network's loss weighted
    by its column of ``W``).  ``X`` and ``T`` are one array that every
    network reads, or a list of each network's own.

    Traced as one model, the pass held ``k`` copies of the forward graph:
    the default LSTM's five networks on ArrowHead spent 2.6 s tracing and
    first running it, most of a fit's set-up besides the epoch.
    """
    import tensorflow as tf

    outputs_of = shared_outputs(networks)

    @tf.function(autograph=False, reduce_retracing=True)
    def forward(X, T, W):
        return evaluate(outputs_of(X), T, W)

    _quiet(forward)
    return forward


def shared_outputs(networks: list[keras.Model]):
    """A function of ``x`` (in a ``tf.function``), one batch that every
    network reads or a list of each network's own, returning each network's
    outputs in inference mode, one network's forward pass traced once; the
    networks' state moves as the whole model's call moves it (the seeds of
    the dropout masks that Keras' recurrent layers draw in inference too)."""
    first = networks[0]

    def outputs_of_one(trainable, non_trainable, x):
        return first.stateless_call(trainable, non_trainable, x, training=False)

    network_outputs = _kept_a_call(outputs_of_one)

    def outputs(x) -> list:
        ys = []
        for network, xj in zip(networks, per_network(x, len(networks)), strict=True):
            y, non_trainable = network_outputs(
                _values(network.trainable_variables),
                _values(network.non_trainable_variables),
                xj,
            )
            _assign(network.non_trainable_variables, non_trainable)
            ys.append(y)
        return ys

    return outputs


def per_network(value, k: int) -> list:
    """Each of ``k`` networks' own value, from a list of them or one value
    that every network reads."""
    return list(value) if isinstance(value, list | tuple) else [value] * k


def _kept_a_call(function):
    """``function`` as a ``tf.function`` that a graph calling it keeps a
    call (traced once, however many times the graph calls it)."""
    import tensorflow as tf

    try:
        compiled = tf.function(
            function,
            autograph=False,
            reduce_retracing=True,
            experimental_attributes=_NOINLINE,
        )
    except (TypeError, ValueError):
        compiled = tf.function(function, autograph=False, reduce_retracing=True)
    return _quiet(compiled)


def _values(variables) -> list:
    """The variables' values, read where the traced function runs."""
    import tensorflow as tf

    return [tf.convert_to_tensor(v.value) for v in variables]


def _assign(variables, values) -> None:
    """Write a stateless call's new values into the variables."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def _quiet(function):
    """``function`` without TensorFlow's warning on frequent tracing, as
    Program's own functions (see there)."""
    if hasattr(function, "_omit_frequent_tracing_warning"):
        function._omit_frequent_tracing_warning = True
    return function
