"""A network's steps on batches that weigh nothing, and its part of the
state of the model that trains several networks.

Part of the training engine (:mod:`skimb._program`,
:mod:`skimb._network_step`).  Cross-fitted networks take their steps
together, one batch of each per step; past a network's own rows its batch
weighs nothing, and it takes no step there: its weights, optimizer slots,
non-trainable state and loss tracker stay as they were.  Here: which steps
a network takes, where its state sits, and the putting back.
"""

from __future__ import annotations

import keras

__all__ = [
    "kept",
    "loss_trackers",
    "network_parts",
    "own_slots",
    "per_variable_lists",
    "slots_in",
    "state_places",
    "state_variables",
    "takes_step",
]


def takes_step(weights):
    """Whether a network takes a step on a batch of these sample weights: a
    batch that weighs nothing (past the network's own rows: a fold a batch
    shorter, a streamed window with fewer of its rows) would still move it,
    since an optimizer updates on a gradient of zero (Adam's and SGD's
    momentum, weight decay), so the networks' compiled epochs leave the
    network as it was there, as if trained alone."""
    return keras.ops.any(weights > 0)


def kept(variables, before, takes) -> None:
    """Put ``before``'s values back into ``variables`` unless ``takes``
    (in a TensorFlow graph; nothing is written on a step taken: writing
    every variable at every step made the one-model epoch 1.3 to 1.8 times
    as slow)."""
    import tensorflow as tf

    def restore():
        for variable, value in zip(variables, before, strict=True):
            variable.assign(value)
        return tf.constant(0)

    tf.cond(takes, lambda: tf.constant(0), restore)


def own_slots(optimizer, variables) -> list:
    """The optimizer's variables kept for each of ``variables`` alone (its
    momentums, velocities), in order, without those it shares across them
    (the step counter, the learning rate, Nadam's product of momentum
    decays); a ``LossScaleOptimizer``'s inner optimizer's.  Empty where the
    optimizer keeps them otherwise (private lists, read defensively)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    try:
        return slots_in(optimizer, per_variable_lists(optimizer), variables)
    except (AttributeError, KeyError):  # a variable it was not built for
        return []


def slots_in(optimizer, lists: list[list], variables) -> list:
    """The entries of the optimizer's per-variable ``lists`` kept for
    ``variables``, in order."""
    places = [optimizer._get_variable_index(v) for v in variables]
    return [values[i] for values in lists for i in places if values[i] is not None]


def per_variable_lists(optimizer) -> list[list]:
    """The optimizer's lists of one variable (or None) per trainable
    variable it was built for: its slots, one list per kind."""
    trainable = getattr(optimizer, "_trainable_variables", None)
    if not trainable or not hasattr(optimizer, "_get_variable_index"):
        return []
    return [
        value
        for name, value in vars(optimizer).items()
        if name not in ("_variables", "_trainable_variables")
        and isinstance(value, list)
        and len(value) == len(trainable)
        and all(x is None or isinstance(x, keras.Variable) for x in value)
        and any(x is not None for x in value)
    ]


def state_variables(model: keras.Model) -> tuple[list, list, list, list]:
    """The model's state in the order of JAX's stateless steps: its
    trainable, non-trainable, optimizer and metrics variables."""
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def state_places(model: keras.Model) -> dict[int, tuple[int, int]]:
    """Each variable of the model's state (by ``id``) as ``(group, index)``
    into :func:`state_variables`."""
    return {
        id(v): (g, i)
        for g, variables in enumerate(state_variables(model))
        for i, v in enumerate(variables)
    }


def network_parts(model: keras.Model, networks: list, where: dict) -> tuple:
    """Where each of several networks' state sits in the model's state, as
    ``(group, index)`` pairs (``where``: :func:`state_places`; its weights,
    its optimizer slots and its loss tracker's variables), for the steps its
    batch weighs nothing (:func:`takes_step`); and each
    network's loss tracker with the places of its variables among the
    metrics variables.  Empty for one network, whose steps are all its own.

    Where Keras keeps its loss trackers otherwise
    (private, read defensively), a network's logged loss counts such steps
    as losses of 0."""
    if len(networks) == 1:
        return [], []
    trackers = loss_trackers(model)
    parts = []
    for j, network in enumerate(networks):
        # (network.weights leaves out its dropout's seed state.)
        variables = [
            *network.trainable_variables,
            *network.non_trainable_variables,
            *own_slots(model.optimizer, network.trainable_variables),
        ]
        if trackers:
            variables += list(trackers[j].variables)
        parts.append([where[id(v)] for v in variables if id(v) in where])
    places = [[where[id(v)][1] for v in tracker.variables] for tracker in trackers]
    return parts, list(zip(trackers, places, strict=True))


def loss_trackers(model: keras.Model) -> list:
    """Each output's loss tracker (the Mean that its ``<output>_loss`` log
    reads), in the outputs' order; none where Keras keeps them otherwise
    (private, read defensively) or has not built them (the shared step's
    model, whose losses are counted apart)."""
    metrics = getattr(getattr(model, "_compile_loss", None), "metrics", None) or []
    by_name = {metric.name: metric for metric in metrics}
    names = [f"{name}_loss" for name in getattr(model, "output_names", [])]
    if not names or any(name not in by_name for name in names):
        return []
    return [by_name[name] for name in names]
