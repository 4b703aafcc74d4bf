"""A fit's networks, from the parameters to a trained model and its rule.

One network per split is built, all are trained together in one program
(:func:`skimb._engine.train`), combined into one model, and the decision
rule is fitted on the rows they held out.  ``partial_fit``'s single epoch
and ``initialize``'s untrained network take the same path.

The estimator hands everything down in a :class:`Setting` (its parameters,
what it knows of ``y``, the shape of one sample); nothing here reads the
estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np

from skimb._engine import train
from skimb._history import joined_histories
from skimb._moments import feature_moments, held_out_moments
from skimb._networks import ends_in_softmax
from skimb._params import (
    make_optimizer,
    network_for,
    plan_for,
    resolve_learning_rate,
    standardizes,
)
from skimb._plan import TrainingPlan, keras_jit_compile
from skimb._program import Program
from skimb._random import offset_seed, reseed_layers, seeded
from skimb._schedule import held_out_group
from skimb.class_weight import prior_counts
from skimb.decision import ClassCounts, FittedDecision, fit_decision
from skimb.losses import (
    OFFSET_LOSSES,
    ResolvedLoss,
    loss_class_weights,
    resolve_loss,
)


@dataclass(frozen=True)
class Setting:
    """What a fit knows besides the rows: the parameters, the classes and
    their statistics, and the shape of one sample.

    Attributes
    ----------
    params : dict
        The estimator's ``get_params(deep=False)``.
    classes : ndarray
        The sorted class labels.
    class_weight : ndarray of shape (n_classes,)
        The weight of each class.
    counts : ClassCounts
        The class counts the loss and the decision rules read.
    input_shape : tuple
        The shape of one sample.
    n_features_in : int
        Features per sample (per time step for sequences).
    variable_length : bool
        Whether sequences are padded to one length and masked.
    read_features : callable or None
        How features given to callbacks (``ValidationMetrics(X, y)``, ...)
        are read into the network's input: as ``predict`` reads them
        (lists of sequences, ``mask_value`` padding, flattened sequences).
        None: as a float32 array.
    """

    params: dict
    classes: np.ndarray
    class_weight: np.ndarray
    counts: ClassCounts
    input_shape: tuple
    n_features_in: int
    variable_length: bool
    read_features: Callable[[object], np.ndarray] | None = None


def make_setting(
    params: dict,
    *,
    classes: np.ndarray,
    class_weight: np.ndarray,
    class_counts: np.ndarray,
    train_class_counts: np.ndarray,
    weighted_class_counts: np.ndarray,
    input_shape: tuple,
    n_features_in: int,
    variable_length: bool,
    read_features: Callable[[object], np.ndarray] | None = None,
) -> Setting:
    """The :class:`Setting` of these parameters and class statistics."""
    loss_weights = loss_class_weights(
        params["loss"],
        drw=params["drw"],
        weighted_class_counts=weighted_class_counts,
        beta=params["beta"],
    )
    return Setting(
        params=params,
        classes=classes,
        class_weight=class_weight,
        counts=ClassCounts(
            observed=class_counts,
            trained=train_class_counts,
            weighted=weighted_class_counts,
            loss_weights=loss_weights,
        ),
        input_shape=input_shape,
        n_features_in=n_features_in,
        variable_length=variable_length,
        read_features=read_features,
    )


@dataclass(frozen=True)
class FittedNetworks:
    """What :func:`fit_networks` returns.

    Attributes
    ----------
    model : keras.Model
        The trained network, or the average of the cross-fitted ones;
        compiled.
    histories : list of dict
        Each network's per-epoch logs.
    best_epochs : list of int or None
        The epoch whose weights each network kept.
    decision : FittedDecision
        The decision rule, fitted on the held-out rows.
    """

    model: keras.Model
    histories: list[dict]
    best_epochs: list
    decision: FittedDecision


def moments_for(params: dict, X: np.ndarray):
    """The feature moments a network of ``params`` standardises with, or
    None when it does not standardise."""
    return feature_moments(X) if standardizes(params) else None


def streamed_moments(windows, *, params: dict, splits: list, n_rows: int) -> list:
    """Each network's feature moments from one pass over ``windows``
    (``(ids, X)``, X checked as it is read), or Nones when the networks do
    not standardise; the pass is made either way, so that every window is
    checked before training."""
    if standardizes(params):
        return held_out_moments(windows, held_out_group(splits, n_rows), len(splits))
    for _ in windows:
        pass
    return [None] * len(splits)


def fit_decision_for(
    setting: Setting,
    log_proba_val=None,
    y_val=None,
    seed: int | None = None,
    *,
    last_epochs: Sequence[int] = (),
) -> FittedDecision:
    """The decision rule of ``setting``'s parameters, fitted on the
    held-out network log-probabilities (None: no held-out rows), for
    networks whose weights are those of ``last_epochs`` (0-based; none for
    an untrained network)."""
    params = setting.params
    return fit_decision(
        params["decision"],
        _decision_counts(setting, last_epochs),
        tau=params["tau"],
        logit_adjusted=params["loss"] == "logit_adjusted",
        log_proba_val=log_proba_val,
        y_val=y_val,
        seed=seed,
    )


def _decision_counts(setting: Setting, last_epochs: Sequence[int]) -> ClassCounts:
    """The class counts whose training the decision rule undoes: without
    deferred re-weighting's weights where most networks kept weights of no
    epoch trained with them (from epoch ``drw`` on), as after a fit that
    stopped early before it or ``partial_fit``'s first calls."""
    drw, counts = setting.params["drw"], setting.counts
    if drw is None:
        return counts
    reweighted = [epoch >= drw for epoch in last_epochs]
    if reweighted and 2 * sum(reweighted) >= len(reweighted):
        return counts
    return replace(counts, loss_weights=np.ones(len(counts.loss_weights)))


def _last_epochs(result) -> list[int]:
    """The epoch whose weights each network of a training kept."""
    return [
        len(history["loss"]) - 1 if best is None else best
        for history, best in zip(result.histories, result.best_epochs, strict=True)
    ]


def fit_networks(
    setting: Setting,
    X,
    *,
    y_encoded: np.ndarray,
    weights: np.ndarray,
    splits: list,
    moments: list,
    seed: int | None,
) -> FittedNetworks:
    """Build, train and combine the networks of a fit on ``X`` (an array
    or a stream), ``splits[j]`` being network ``j``'s training and held-out
    rows and ``moments[j]`` its standardisation, and fit the decision rule
    on their held-out rows."""
    params = setting.params
    built = _loss(setting)
    networks = [
        _network(
            setting,
            (len(train_rows), *setting.input_shape),
            moments=moments[i],
            probabilities=not built.logits,
            seed=offset_seed(seed, i),
        )
        for i, (train_rows, _) in enumerate(splits)
    ]
    plan = _plan(
        setting,
        built,
        y_encoded,
        weights,
        optimizer=_optimizer(params, n_train=len(splits[0][0])),
        epochs=params["epochs"],
        early_stopping=params["early_stopping"] and splits[0][1] is not None,
        seed=seed,
        n_train=len(splits[0][0]),
    )
    with seeded(seed):
        result = train(networks, X, splits, plan)
    # The one network, or the networks averaged, compiled with the
    # training's optimizer (built for the same variables: a saved model
    # holds every optimizer variable and reloads whole).
    model = result.model
    if result.held_out_rows is None:
        decision = fit_decision_for(setting, last_epochs=_last_epochs(result))
    else:
        # The rows held out from training: the validation split, or every
        # row once with cross-fitting (at most once with a splitter).
        decision = fit_decision_for(
            setting,
            result.held_out,
            y_encoded[result.held_out_rows],
            seed,
            last_epochs=_last_epochs(result),
        )
    return FittedNetworks(
        model=model,
        histories=result.histories,
        best_epochs=result.best_epochs,
        decision=decision,
    )


def train_epoch(
    setting: Setting,
    model: keras.Model | None,
    X: np.ndarray,
    *,
    y_encoded: np.ndarray,
    weights: np.ndarray,
    seed: int | None,
    history: dict | None,
    program: Program | None = None,
) -> tuple[keras.Model, dict, Program]:
    """One epoch of ``partial_fit`` on all of ``X``, without validation:
    ``model`` trains on with its optimizer's state, or (None) a new
    network is built.  Returns the model, ``history`` (the earlier calls'
    logs, or None) extended by this epoch's, as successive epochs of one fit
    would extend it, and the compiled program, which the next call's
    ``program`` goes on with where it can (a call traced again costs more
    than an epoch of a few thousand rows)."""
    trained = len(history.get("loss", ())) if history else 0
    # Each call its own seed, from the estimator's and the epochs trained so
    # far: the same calls give the same model.
    seed = offset_seed(seed, trained)
    built = _loss(setting)
    with seeded(seed):
        if model is None:
            model = _network(
                setting,
                X.shape,
                moments=moments_for(setting.params, X),
                probabilities=not built.logits,
            )
            optimizer = _optimizer(setting.params, n_train=None)
        else:
            if ends_in_softmax(model) == built.logits:
                # The output layer was built for the first call's loss.
                takes, ends = (
                    ("logits", "probabilities")
                    if built.logits
                    else ("probabilities", "logits")
                )
                loss = setting.params["loss"]
                name = repr(loss) if isinstance(loss, str) else type(loss).__name__
                raise ValueError(
                    f"The loss ({name}) takes {takes}, but the network trained "
                    f"so far ends in {ends} (built for the loss of the first "
                    "call): fit anew to change the loss."
                )
            optimizer = model.optimizer  # later calls go on with its state
            if seed is not None:
                reseed_layers(model)
        plan = _plan(
            setting,
            built,
            y_encoded,
            weights,
            optimizer=optimizer,
            epochs=1,
            early_stopping=False,
            seed=seed,
            n_train=len(X),
            first_epoch=trained,
        )
        result = train([model], X, [(np.arange(len(X)), None)], plan, program=program)
    result.program.release()
    history = joined_histories(history or {}, result.histories[0])
    return model, history, result.program


def untrained_network(setting: Setting, X: np.ndarray, seed: int | None) -> keras.Model:
    """A new network for ``X``, compiled and untrained (scikeras'
    ``initialize``)."""
    built = _loss(setting)
    model = _network(
        setting,
        X.shape,
        moments=moments_for(setting.params, X),
        probabilities=not built.logits,
        seed=seed,
    )
    model.compile(
        optimizer=_optimizer(setting.params, n_train=None),
        loss=built.loss,
        jit_compile=keras_jit_compile(setting.params["jit_compile"]),
    )
    return model


def _additive_weights(setting: Setting) -> np.ndarray | None:
    """Each class's mean sample weight where the loss takes it as an
    offset on the logits instead of a factor on the loss; None where the
    loss multiplies the weights in, or the classes weigh alike.

    A factor w_c on class c's loss teaches crossentropy's network log p(x |
    c) + log(n_c * w_c), and the logit-adjusted loss, its prior from the
    weighted counts, log p(x | c) + (1 - tau) log(n_c * w_c).  The offsets
    tau log n_c - (1 - tau) log w_c (tau = 0 but for the logit-adjusted
    loss) teach the same, so the posterior and the decision rules (which
    put the weights back as costs) are unchanged.  But the factor gives the
    few samples of a rare class weights of ten or more, whose noisy
    gradients the network over-fits: on the sequence problem of
    docs/benchmarks.rst, ``class_weight="balanced"`` as a factor cost the
    logit-adjusted loss 0.12 of macro-F1, focal 0.16 and LDAM 0.03.  The
    offset does not (Menon et al., 2021, make the same case for logit
    adjustment against re-weighting).

    Crossentropy, focal, class-balanced and LDAM take offsets on skimb's
    networks only, whose logits' bias :func:`_network` starts at log w_c
    (plus a constant): bias and offsets cancel.  With LDAM's margins of the
    unweighted counts (:func:`_loss_counts`), crossentropy, focal and LDAM
    then train exactly as without the weights, their logits shifted by log
    w_c (for crossentropy, the weighted loss's minimiser); the weights act
    through early stopping's signal and the decision rule.  The
    class-balanced weights stay of the weighted counts (uniform with
    balanced weights).  The spread of the weights within a class still
    multiplies.
    """
    params = setting.params
    adjusted = params["loss"] == "logit_adjusted" and params["tau"] > 0
    if not (adjusted or _offset_weights(params)):
        return None
    mean_weight = setting.counts.mean_weight
    return None if np.ptp(mean_weight) == 0 else mean_weight


def _offset_weights(params: dict) -> bool:
    """Whether a loss other than the logit-adjusted one takes the class
    weights as offsets -log w_c."""
    return params["loss"] in OFFSET_LOSSES and params["model"] is None


def _logit_offsets(setting: Setting) -> np.ndarray | None:
    """The offsets -log w_c that crossentropy, focal, class-balanced and
    LDAM add to the logits of skimb's networks for the class weights; None
    where the loss takes none."""
    mean_weight = _additive_weights(setting)
    if mean_weight is None or not _offset_weights(setting.params):
        return None
    return -np.log(mean_weight)


def _loss_counts(
    params: dict, *, trained: np.ndarray, weighted: np.ndarray
) -> np.ndarray:
    """The class counts the loss is built from.

    The weighted counts, so that weights and loss do not correct twice: the
    logit adjustment's prior, and the weights the class-balanced loss and
    ``drw`` multiply in, which the decision rules put back as costs beside
    the class weights.  But LDAM's margins shape the training alone: where
    the class weights are offsets on the logits, they are of the trained
    counts, and the network trains exactly as without the weights.
    """
    if params["loss"] == "ldam" and _offset_weights(params):
        return prior_counts(trained)
    return weighted


def _loss(setting: Setting) -> ResolvedLoss:
    """``resolve_loss`` for the parameters and the class counts."""
    params = setting.params
    counts = setting.counts
    class_counts = _loss_counts(
        params, trained=counts.trained, weighted=counts.weighted
    )
    offsets = _logit_offsets(setting)
    mean_weight = _additive_weights(setting)
    tau = params["tau"]
    if params["loss"] == "logit_adjusted" and tau > 0:
        # The offsets tau log n_c - (1 - tau) log w_c as the log-prior of a
        # loss of tau' = max(tau, 1), taken in logs: the prior
        # n_c w_c^((tau - 1) / tau) of the user's tau underflows to 0 for
        # small tau (w^-19 at tau=0.05), and this log-range is never wider
        # than those of the counts and weights together.  Equal weights too
        # (w_c = 1), so that partial_fit's calls, whose weights may differ
        # from call to call, build losses of one tau' (one compiled epoch).
        weight = 1.0 if mean_weight is None else mean_weight
        scale = max(tau, 1.0)
        log_prior = (
            tau * np.log(prior_counts(counts.trained)) + (tau - 1.0) * np.log(weight)
        ) / scale
        class_counts, tau = np.exp(log_prior - log_prior.max()), scale
    return resolve_loss(
        params["loss"],
        gamma=params["gamma"],
        class_counts=class_counts,
        beta=params["beta"],
        tau=tau,
        ldam_scale=params["ldam_scale"],
        offsets=offsets,
    )


def _optimizer(params: dict, *, n_train: int | None) -> keras.optimizers.Optimizer:
    """The optimizer of a network trained on ``n_train`` rows (None: by
    ``partial_fit``)."""
    return make_optimizer(
        params["optimizer"],
        learning_rate=resolve_learning_rate(params["learning_rate"], n_train),
    )


def _network(
    setting: Setting,
    X_shape: tuple,
    *,
    moments,
    probabilities: bool,
    seed: int | None = None,
) -> keras.Model:
    """A new, uncompiled network for training data of shape ``X_shape``,
    its weights drawn under ``seed``."""
    with seeded(seed):
        network = network_for(
            setting.params,
            classes=setting.classes,
            input_shape=setting.input_shape,
            n_features_in=setting.n_features_in,
            variable_length=setting.variable_length,
            X_shape=X_shape,
            moments=moments,
            probabilities=probabilities,
        )
    offsets = _logit_offsets(setting)
    if offsets is not None:
        # The offsets -log w_c alone would start the predictions in
        # proportion to 1 / w_c; a bias of log w_c starts them uniform, where
        # the weighted loss started.  (Started far from the data's
        # frequencies, early stopping on the network's own macro-F1 stopped
        # in the transient: a weight of 0.2 on a rare class, epoch 1.)  Bias
        # and offsets cancel: the network trains as without the weights.
        logits = network.get_layer("logits")
        kernel, _ = logits.get_weights()
        logits.set_weights([kernel, offsets.mean() - offsets])
    return network


def _plan(
    setting: Setting, built: ResolvedLoss, y_encoded, weights, **settings
) -> TrainingPlan:
    """The training plan of the setting for ``y``, with the loss ``built``
    by :func:`_loss` (``settings``: :func:`~skimb._params.plan_for`'s)."""
    class_weight, mean_weight = setting.class_weight, _additive_weights(setting)
    if mean_weight is not None:  # the loss's offsets carry each class's mean
        weights = weights / mean_weight[y_encoded]
        class_weight = class_weight / mean_weight
        scale = 1.0
    else:
        # Only the weights' ratios are costs; their scale would act as a
        # learning rate (weights of 1e-7, rows normalised to sum to 1, sank
        # under Adam's epsilon and trained nothing; 1e20 overflowed
        # float32): the loss sees them at mean 1 over every row counted (in
        # a fit, its rows; in partial_fit, every call's, so that a chunk
        # weighted less than the earlier ones stays lighter: 0.1 after 1
        # trains at 0.18, where each call's own mean made it 1).  The class
        # weights of a sampler's synthetic rows scale alike.
        counts = setting.counts
        scale = float(
            np.sum(counts.observed * counts.mean_weight) / np.sum(counts.observed)
        )
    weights = (weights / scale).astype(np.float32)
    class_weight = class_weight / scale
    return plan_for(
        setting.params,
        loss=built.loss,
        y_encoded=y_encoded,
        weights=weights,
        classes=setting.classes,
        class_weight=class_weight,
        loss_class_weights=setting.counts.loss_weights,
        sparse=built.sparse,
        read_features=setting.read_features,
        **settings,
    )
