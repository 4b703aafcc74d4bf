"""A user's own Keras network, made ready for skimb's training.

``ImbalancedKerasClassifier(model=...)`` takes what scikeras'
``KerasClassifier(model=...)`` takes: a build function (which may accept
``meta`` and its own keyword hyper-parameters, routed from the estimator's
``model__<name>`` parameters) or a ``keras.Model``, compiled or not,
cloned with fresh weights for every network skimb trains (but for its
adapted preprocessing layers and its frozen layers, which keep theirs).
Every network then gets skimb's treatment: its input standardised, a final
softmax turned back into log-probabilities (so every loss, the class
weights and the decision rules work on logits), and the output layer named
as skimb's own networks name theirs.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np

from skimb._inference import are_probabilities
from skimb._layers import LogOf
from skimb._networks import output_head, standardized
from skimb._routing import ROUTED_PREFIX


def _raw_model(model, *, routed: dict, meta: dict) -> keras.Model:
    """The user's network: a fresh clone, or what the build function returns."""
    if isinstance(model, keras.Model):
        if routed:
            raise ValueError(
                f"The parameters {sorted(ROUTED_PREFIX + k for k in routed)} route "
                "to a build function, but model is a keras.Model; pass a "
                "function that builds the network to tune its hyper-parameters."
            )
        # Fresh weights for every network; the compiled loss and optimizer
        # are not kept (skimb's loss and optimizer parameters train it).
        clone = keras.models.clone_model(model)
        _keep_given_state(model, clone)
        return clone
    if not callable(model):
        raise TypeError(
            "model must be a keras.Model or a function that returns one; got "
            f"{type(model).__name__}."
        )
    signature = inspect.signature(model)
    takes_any = any(
        p.kind == inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )
    name = getattr(model, "__name__", type(model).__name__)
    unknown = sorted(k for k in routed if k not in signature.parameters)
    if unknown and not takes_any:
        raise ValueError(
            f"The build function {name}() has no parameter "
            f"{', '.join(repr(k) for k in unknown)} (routed from "
            f"{', '.join(ROUTED_PREFIX + k for k in unknown)}); its parameters "
            f"are {list(signature.parameters)}."
        )
    kwargs = dict(routed)
    if "meta" in signature.parameters:
        kwargs["meta"] = meta
    built = model(**kwargs)
    if not isinstance(built, keras.Model):
        raise TypeError(
            f"The build function {name}() returned a {type(built).__name__}, "
            "not a keras.Model."
        )
    return built


def _keep_given_state(model: keras.Model, clone: keras.Model) -> None:
    """Give ``clone``'s preprocessing layers (those with ``adapt`` whose
    state is in weights: ``Normalization``'s mean and variance) and its
    frozen layers the weights ``model``'s hold.
    ``clone_model`` builds layers from their config, which leaves out what
    ``adapt`` learned (a ``Normalization`` adapted to the data came back
    with mean 0 and variance 1, and the network trained on X unscaled) and
    the weights of a pretrained layer frozen for transfer learning (which
    came back random, and stayed so: frozen).  Both are part of the network
    the user designed, not weights to train afresh.  A layer is frozen when
    it has weights and none it trains: ``trainable=False``, or a wrapper
    (``TimeDistributed``, ``Bidirectional``) of frozen layers."""
    for original, copy in zip(model.layers, clone.layers, strict=False):
        if isinstance(original, keras.Model) and isinstance(copy, keras.Model):
            _keep_given_state(original, copy)
            continue
        frozen = bool(original.weights) and not original.trainable_weights
        if type(original) is not type(copy) or not (
            frozen or hasattr(original, "adapt")
        ):
            continue
        state = original.get_weights()
        if state and not copy.built:
            # The clone of a Sequential without an Input, or of a
            # subclassed model, is built on first call: build the layer
            # as the original was, to hold the state.
            copy.build_from_config(original.get_build_config())
        fresh = copy.get_weights()
        if len(fresh) != len(state) or any(
            a.shape != b.shape for a, b in zip(state, fresh, strict=True)
        ):
            if frozen:
                # Pretrained weights the clone cannot hold: refused rather
                # than trained on as random, frozen ones.
                raise ValueError(
                    f"The frozen layer {original.name!r} of the model could "
                    "not be given its weights in skimb's copy of the "
                    "network; pass a build function that returns the "
                    "network with them."
                )
            continue  # an adapted layer not built: nothing adapted to keep
        if all(np.array_equal(a, b) for a, b in zip(state, fresh, strict=True)):
            continue  # the clone holds them already (set in its config)
        copy.set_weights(state)
        # An adapted layer computes from that state (Normalization its mean
        # and variance), as adapt() ends.
        if hasattr(copy, "adapt") and hasattr(copy, "finalize_state"):
            copy.finalize_state()


def _ends_in_softmax(model: keras.Model, input_shape: tuple) -> bool:
    """Whether the user's network ends in a softmax: a last ``Softmax``
    layer or layer with ``activation="softmax"``, or else outputs that are
    probabilities on random inputs (``keras.ops.softmax`` at the end of a
    functional model, a nested model's softmax), which the logits of an
    untrained network never are."""
    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax
    ):
        return True
    if _batch_size(model) is not None:
        # A fixed batch size (a stateful network, whose state a call would
        # move): no probe.
        return False
    # A generator of its own: the caller's random state is not touched.
    sample = np.random.default_rng(0).standard_normal((16, *input_shape))
    outputs = model(sample.astype(np.float32), training=False)
    return are_probabilities(keras.ops.convert_to_numpy(outputs))


def _batch_size(model: keras.Model) -> int | None:
    """The fixed batch size of a model's input, if any (a subclassed model
    declares none)."""
    try:
        return model.inputs[0].shape[0]
    except AttributeError:
        return None


def _inputs_and_outputs(model: keras.Model, input_shape: tuple) -> tuple[list, list]:
    """A model's input and output tensors: a functional or built Sequential
    model's own, or, for a subclassed model (which has none), those of a
    call on a symbolic input of the data's sample shape."""
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except AttributeError:  # a subclassed model
        symbolic = keras.Input(shape=input_shape)
        structure = model(symbolic)
        _check_no_dict(structure)
        if isinstance(structure, (list, tuple)):
            return [symbolic], list(structure)
        return [symbolic], [structure]
    try:
        _check_no_dict(model.output)
    except AttributeError:  # a Sequential not called yet: one output
        pass
    return inputs, outputs


def _check_no_dict(structure) -> None:
    """Refuse outputs that are or hold a dict: Keras lists a dict of one
    output as one output, which the rest of skimb would take for the tensor
    itself."""

    def holds_dict(part) -> bool:
        if isinstance(part, dict):
            return True
        return isinstance(part, (list, tuple)) and any(holds_dict(p) for p in part)

    if holds_dict(structure):
        raise ValueError(
            "The model's output is or holds a dict; skimb trains networks "
            "with one output tensor (a score per class): return the tensor "
            "itself."
        )


def _check_shapes(model: keras.Model, *, input_shape: tuple, n_classes: int) -> None:
    inputs, outputs = _inputs_and_outputs(model, input_shape)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"The model has {len(inputs)} inputs and {len(outputs)} "
            "outputs; skimb trains networks with one input (X) and one output "
            "(a score per class)."
        )
    expected = tuple(inputs[0].shape[1:])
    if len(expected) != len(input_shape) or any(
        e is not None and e != a for e, a in zip(expected, input_shape, strict=True)
    ):
        raise ValueError(
            f"The model takes samples of shape {expected}, but X has samples of "
            f"shape {tuple(input_shape)}."
        )
    output = tuple(outputs[0].shape[1:])
    if output != (n_classes,):
        raise ValueError(
            f"The model's output has shape {output}, but y has {n_classes} "
            f"classes: its last layer must give one score per class, shape "
            f"({n_classes},)."
        )


def build_user_network(
    model,
    *,
    routed: dict,
    meta: dict,
    input_shape: tuple[int, ...],
    n_classes: int,
    mean: np.ndarray | None = None,
    variance: np.ndarray | None = None,
    probabilities: bool = False,
) -> keras.Model:
    """The user's network inside skimb's frame.

    ``inputs -> standardise (with mean and variance, when given) -> the
    user's network -> logits`` (the log of its probabilities where it ends
    in a softmax; its outputs as they are otherwise), and a final softmax
    named ``"probabilities"`` when the loss takes probabilities.

    Raises
    ------
    ValueError
        When the network's input or output shape does not fit the data, it
        has several inputs or outputs or a dict output, a frozen layer's
        weights cannot be kept, or a routed parameter is not one of the
        build function's.
    TypeError
        When ``model`` is neither a keras.Model nor a function returning one.
    """
    raw = _raw_model(model, routed=routed, meta=meta)
    if isinstance(raw, keras.Sequential) and not raw.built:
        raw.build((None, *input_shape))  # a Sequential without an Input
    _check_shapes(raw, input_shape=tuple(input_shape), n_classes=n_classes)
    softmax = _ends_in_softmax(raw, tuple(input_shape))
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = raw(standardized(inputs, mean=mean, variance=variance))
    if softmax:
        # log p are logits (softmax(log p) = p): every loss and rule works.
        x = LogOf(name="log_of_probabilities")(x)
    logits = keras.layers.Identity(name="logits")(x)
    return keras.Model(
        inputs,
        output_head(logits, probabilities=probabilities),
        name="skimb_user_network",
    )
