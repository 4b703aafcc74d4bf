"""The estimator's hyper-parameters: what each may be, and what they
resolve to (the network's shape, the batch size, the optimizer, the
network itself and the training plan).

The estimator passes its parameters down as the dict of ``get_params``;
nothing here reads the estimator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from skimb._devices import data_parallel
from skimb._networks import ARCHITECTURES, build_network
from skimb._plan import TrainingPlan, encode_targets
from skimb._routing import BUILT_IN_NETWORK_PARAMS, ROUTED_PREFIX, routed_params
from skimb._user_model import build_user_network
from skimb.decision import DECISIONS
from skimb.losses import KERAS_LOSS_NAMES, LOSSES
from skimb.sampling import BATCH_SAMPLERS, resolve_batch_sampler

OPTIMIZERS = ("adam", "adamw", "nadam", "rmsprop", "sgd")
# units="auto" and n_layers="auto", chosen on the benchmark suite
# (docs/benchmarks.rst, "The benchmark suite").
AUTO_SHAPE = {
    "dense": {"units": 128, "n_layers": 2},
    "sequence": {"units": 64, "n_layers": 1},
}
# batch_size="auto": training rows // AUTO_STEPS, within AUTO_BATCH_BOUNDS.
AUTO_STEPS = 32
AUTO_BATCH_BOUNDS = (32, 128)
# learning_rate="auto": AUTO_LEARNING_RATE up to AUTO_STEPS full batches of
# the largest "auto" size per network, then lower (resolve_learning_rate).
AUTO_LEARNING_RATE = 1e-3

PARAMETER_CONSTRAINTS: dict = {
    "architecture": [StrOptions(set(ARCHITECTURES))],
    "units": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "n_layers": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "recurrent_dropout": [Interval(Real, 0, 1, closed="left")],
    "activation": [str],
    "kernel_size": [Interval(Integral, 0, None, closed="left")],
    "bidirectional": ["boolean"],
    "flat_path": ["boolean"],
    "pooling": ["boolean"],
    "n_timesteps": [None, Interval(Integral, 1, None, closed="left")],
    # Finite: NaN equals nothing, so NaN steps could not be told apart.
    "mask_value": [None, Interval(Real, None, None, closed="neither")],
    "standardize": ["boolean", StrOptions({"auto"})],
    "loss": [
        StrOptions(set(LOSSES) | set(KERAS_LOSS_NAMES)),
        keras.losses.Loss,
        callable,
    ],
    "gamma": [Interval(Real, 0, None, closed="left")],
    "class_weight": [None, StrOptions({"balanced", "effective"}), dict],
    "beta": [Interval(Real, 0, 1, closed="left")],
    "tau": [Interval(Real, 0, None, closed="left")],
    "ldam_scale": [Interval(Real, 0, None, closed="neither")],
    "drw": [None, Interval(Integral, 0, None, closed="left")],
    "decision": [StrOptions(set(DECISIONS))],
    "class_prior": [None, StrOptions({"balanced"}), "array-like"],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "batch_size": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "cv": [
        None,
        StrOptions({"auto"}),
        Interval(Integral, 2, None, closed="left"),
        HasMethods(["split", "get_n_splits"]),
    ],
    "early_stopping": ["boolean"],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "monitor": [StrOptions({"val_macro_f1", "oof_macro_f1", "val_loss"})],
    "batch_sampler": [
        None,
        StrOptions(set(BATCH_SAMPLERS)),
        HasMethods(["fit_resample"]),
    ],
    "callbacks": [None, list],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "model": [None, keras.Model, callable],
    "devices": [
        None,
        StrOptions({"all"}),
        Interval(Integral, 1, None, closed="left"),
        list,
    ],
    "jit_compile": ["boolean"],
}


def check_combinations(params: dict, *, validates: bool = True) -> None:
    """The rules between parameters, and within a list parameter, which
    their constraints cannot say (``validates``: whether the training holds
    rows out, as ``fit`` does and ``partial_fit`` and ``initialize`` do
    not)."""
    if (
        validates
        and params["early_stopping"]
        and params["validation_fraction"] == 0
        and (params["cv"] is None or isinstance(params["cv"], str))
    ):
        raise ValueError(
            "early_stopping=True needs validation_fraction > 0 or "
            "cross-fitting (an integer cv or a splitter); set "
            "early_stopping=False to train on all the data."
        )
    if isinstance(params["cv"], type):
        raise TypeError(
            f"cv={params['cv'].__name__} is a class; pass a splitter object, "
            f"such as cv={params['cv'].__name__}(5)."
        )
    if params["drw"] is not None and params["loss"] != "ldam":
        raise ValueError(
            f"drw applies to loss='ldam' only; got loss={params['loss']!r}."
        )
    for callback in params["callbacks"] or ():
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(
                "callbacks must be a list of keras.callbacks.Callback; got "
                f"{callback!r} ({type(callback).__name__})."
            )


# The parameters a network is built and compiled with (its routed model__
# parameters too): partial_fit trains on the network it has, which they
# describe.
_NETWORK_SETTINGS = (
    *BUILT_IN_NETWORK_PARAMS,
    "model",
    "n_timesteps",
    "standardize",
    "optimizer",
    "learning_rate",
)


def network_settings(params: dict) -> dict:
    """The parameters of ``params`` that the network is built and compiled
    with, to hold beside it (:func:`check_network_settings`)."""
    return {
        name: value
        for name, value in params.items()
        if name in _NETWORK_SETTINGS or name.startswith(ROUTED_PREFIX)
    }


def check_network_settings(built_with: dict | None, params: dict) -> None:
    """Refuse a ``partial_fit`` whose parameters no longer describe the
    network it would train: ``set_params`` changed the ``units``, the
    ``optimizer`` or the ``learning_rate`` (say) since ``fit``,
    ``initialize`` or the first call built it, and the call would train
    the old network on, as if they had not changed.  ``built_with``: None
    for a copy loaded from a file or a pickle, which does not hold them
    (nothing to compare; the call then records them).  A value changed in
    place (a routed list appended to) is not seen."""
    if built_with is None:
        return
    changed = changed_params(built_with, network_settings(params))
    if changed:
        raise ValueError(
            f"set_params changed {changed} since the network was built; "
            "partial_fit trains that network on, which these settings no "
            "longer describe: fit anew (or initialize) to build one with them."
        )


def changed_params(before: dict, now: dict) -> list[str]:
    """The names whose values differ between two parameter dicts (by
    identity, else by value)."""
    return [
        name
        for name in sorted(set(before) | set(now))
        if not _same(before.get(name), now.get(name))
    ]


def _same(before, after) -> bool:
    if before is after:
        return True
    try:
        return bool(before == after)
    except Exception:  # arrays, and objects that hold them, compare by value
        try:
            return bool(np.array_equal(before, after))
        except Exception:
            return False


def standardizes(params: dict) -> bool:
    """Whether the network standardises its input.  A user's network was
    designed for X as given (see ``standardize``)."""
    return params["standardize"] is True or (
        params["standardize"] == "auto" and params["model"] is None
    )


def resolve_shape(params: dict, name: str) -> int:
    """``units`` or ``n_layers``, with "auto" resolved for the architecture."""
    value = params[name]
    if value != "auto":
        return int(value)
    kind = "dense" if params["architecture"] == "dense" else "sequence"
    return AUTO_SHAPE[kind][name]


def resolve_batch_size(batch_size, n_train: int) -> int:
    """``batch_size``, with "auto" resolved for ``n_train`` training rows."""
    if batch_size != "auto":
        return batch_size
    # About AUTO_STEPS steps per epoch, between the bounds: small data
    # gets enough gradient steps before early stopping can stop it, large
    # data fewer, cheaper steps (docs/benchmarks.rst, "The benchmark
    # suite": on the tuning tables 32 beat 128 on 11 of 12, and beat 16
    # on 9 of the 11 where they differ).
    return int(np.clip(n_train // AUTO_STEPS, *AUTO_BATCH_BOUNDS))


def resolve_learning_rate(learning_rate, n_train: int | None) -> float:
    """``learning_rate``, with "auto" resolved for ``n_train`` training rows
    of one network (None: a ``partial_fit``, which has no early stopping,
    trains at AUTO_LEARNING_RATE)."""
    if learning_rate != "auto":
        return float(learning_rate)  # Keras refuses an int
    if n_train is None:
        return AUTO_LEARNING_RATE
    # Beyond AUTO_STEPS batches of the largest "auto" size, an epoch holds
    # more steps the more rows there are, while early stopping still looks
    # once an epoch: at 1e-3 a network of the 95,000-sequence seed scenario
    # (668 steps an epoch) passed its best validation loss within a few
    # epochs, and a noisy macro-F1 then chose among over-fitted epochs.
    # Scaling the rate by the square root of the rows keeps the noise of an
    # epoch's updates as at that size (docs/benchmarks.rst, "The benchmark
    # suite": 93-95% of the Bayes-optimal macro-F1 at 1e-3, 97% at this
    # rate); every smaller fit keeps 1e-3.
    rows = AUTO_STEPS * AUTO_BATCH_BOUNDS[1]
    return AUTO_LEARNING_RATE * min(1.0, math.sqrt(rows / max(n_train, 1)))


def make_optimizer(name: str, *, learning_rate: float) -> keras.optimizers.Optimizer:
    """A new optimizer of that name and learning rate."""
    return keras.optimizers.get(
        {"class_name": name, "config": {"learning_rate": learning_rate}}
    )


def network_for(
    params: dict,
    *,
    classes: np.ndarray,
    input_shape: tuple,
    n_features_in: int,
    variable_length: bool,
    X_shape: tuple,
    moments,
    probabilities: bool,
) -> keras.Model:
    """A new, uncompiled network of the parameters for training data of
    shape ``X_shape`` (one sample: ``input_shape``), standardising with
    ``moments`` (mean, variance; None: not): the user's ``model`` or
    skimb's network of ``architecture``."""
    if params["model"] is not None and variable_length:
        raise ValueError(
            "model= takes sequences of one length: pad them to one length "
            "(without mask_value) for your own network, or leave model=None "
            "for skimb's networks, which mask padded steps."
        )
    mean, variance = (None, None) if moments is None else moments
    if variance is not None:
        # The network computes in float32, where a variance above ~3e38
        # is infinite and standardises every row to 0.
        overflow = variance > np.finfo(np.float32).max
        if overflow.any():
            raise ValueError(
                f"The variance of feature {np.flatnonzero(overflow)[:5].tolist()} "
                f"of X ({variance[overflow].max():.3g}) overflows float32, "
                "the network's precision: rescale X (for example divide it "
                "by its largest absolute value) before fitting."
            )
    if params["model"] is not None:
        return build_user_network(
            params["model"],
            routed=routed_params(params),
            # scikeras' names, and the shape of one sample.
            meta={
                "n_features_in_": n_features_in,
                "n_classes_": len(classes),
                "classes_": classes,
                "target_type_": "binary" if len(classes) == 2 else "multiclass",
                "X_shape_": tuple(X_shape),
                "input_shape_": input_shape,
            },
            input_shape=input_shape,
            n_classes=len(classes),
            mean=mean,
            variance=variance,
            probabilities=probabilities,
        )
    return build_network(
        architecture=params["architecture"],
        input_shape=input_shape,
        n_classes=len(classes),
        units=resolve_shape(params, "units"),
        n_layers=resolve_shape(params, "n_layers"),
        dropout=params["dropout"],
        recurrent_dropout=params["recurrent_dropout"],
        activation=params["activation"],
        kernel_size=params["kernel_size"],
        bidirectional=params["bidirectional"],
        mean=mean,
        variance=variance,
        probabilities=probabilities,
        masked=variable_length,
        flat_path=params["flat_path"],
        pooling=params["pooling"],
    )


def plan_for(
    params: dict,
    *,
    loss,
    y_encoded: np.ndarray,
    weights: np.ndarray,
    classes: np.ndarray,
    class_weight: np.ndarray,
    loss_class_weights: np.ndarray,
    sparse: bool,
    optimizer: keras.optimizers.Optimizer,
    epochs: int,
    early_stopping: bool,
    seed: int | None,
    n_train: int,
    first_epoch: int = 0,
    read_features: Callable[[object], np.ndarray] | None = None,
) -> TrainingPlan:
    """The training plan of the parameters for ``y`` (``n_train``: training
    rows of one network; ``loss_class_weights``: what deferred re-weighting
    switches the loss to; ``first_epoch``: epochs trained by earlier
    ``partial_fit`` calls)."""
    reweighting = None
    if params["drw"] is not None:
        reweighting = (params["drw"], loss_class_weights)
    return TrainingPlan(
        loss=loss,
        optimizer=optimizer,
        targets=encode_targets(y_encoded, len(classes), sparse=sparse),
        weights=weights,
        y=y_encoded,
        labels=classes.tolist(),
        batch_size=resolve_batch_size(params["batch_size"], n_train),
        epochs=epochs,
        early_stopping=early_stopping,
        patience=params["patience"],
        monitor=params["monitor"],
        sampler=resolve_batch_sampler(params["batch_sampler"]),
        class_weight=class_weight,
        reweighting=reweighting,
        first_epoch=first_epoch,
        callbacks=tuple(params["callbacks"] or ()),
        seed=seed,
        verbose=params["verbose"],
        distribution=data_parallel(params["devices"]),
        jit_compile=params["jit_compile"],
        read_features=read_features,
    )
