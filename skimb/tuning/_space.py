"""The search space of :class:`skimb.tuning.OptunaSearchCV`.

:func:`default_search_space` gives Optuna distributions keyed like
``set_params``; a pipeline's sampler step is searched by name
(``SAMPLER_CHOICES``) and built by ``make_sampler``.  :func:`draw` draws a
trial's parameters by run, each only where ``CONDITIONS`` says the trial
uses it, and ``conflict`` names a combination that corrects twice;
``holds`` says whether a value is one a distribution can draw;
``check_space`` checks a given space against the estimator.
"""

from __future__ import annotations

from numbers import Real

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.utils._param_validation import StrOptions

from skimb._routing import BUILT_IN_NETWORK_PARAMS, ROUTED_PREFIX

# Names a pipeline's sampler step can take in a search space.  Optuna stores
# categorical choices in its database only when they are plain values, so the
# space holds these names and the search builds the sampler from them.
SAMPLER_CHOICES = ("passthrough", "random_over", "smote")

# The candidate space of ImbalancedKerasClassifier.  Only the parameters the
# estimator has are used, and string choices are narrowed to those its
# ``_parameter_constraints`` accept (a subclass may accept fewer); a loss
# strategy or decision rule added to the estimator is searched once it is
# added here too (a test checks that every one is).  Every default of the
# estimator is a value of the space but learning_rate="auto" (which the
# first trial keeps, see ``draw``), so that the first trial can be the
# default.  Parents come before the parameters that depend on them
# (``CONDITIONS``), which a trial draws in this order.  The maximum number
# of epochs is not searched: early stopping ends a fit.
_NETWORK_SPACE = {
    "units": CategoricalDistribution(("auto", 16, 32, 64, 128, 256)),
    "n_layers": CategoricalDistribution(("auto", 1, 2, 3)),
    "dropout": FloatDistribution(0.0, 0.5),
    "learning_rate": FloatDistribution(3e-4, 1e-2, log=True),
    "batch_size": CategoricalDistribution(("auto", 16, 32, 64, 128, 256)),
    "loss": CategoricalDistribution(
        ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
    ),
    "batch_sampler": CategoricalDistribution((None, "over", "under", "smote")),
    "class_weight": CategoricalDistribution((None, "balanced", "effective")),
    "decision": CategoricalDistribution(
        ("argmax", "prior_corrected", "posterior", "macro_f1")
    ),
    "gamma": FloatDistribution(0.5, 5.0),
    "tau": FloatDistribution(0.25, 2.0),
    "beta": CategoricalDistribution((0.9, 0.99, 0.999, 0.9999)),
}

# Parameters a trial draws only when it uses them: name -> (the parameters
# the condition reads, the condition on their values, what it says).  A value
# the trial does not draw is the estimator's own.
CONDITIONS = {
    "class_weight": (
        ("batch_sampler",),
        lambda p: p["batch_sampler"] is None,
        "without batch_sampler (balanced batches weighted again correct twice)",
    ),
    "gamma": (
        ("loss",),
        lambda p: p["loss"] in ("focal", "class_balanced"),
        "with loss focal or class_balanced",
    ),
    "tau": (
        ("loss", "decision"),
        lambda p: p["loss"] == "logit_adjusted" or p["decision"] == "prior_corrected",
        "with loss logit_adjusted or decision prior_corrected",
    ),
    "beta": (
        ("loss", "class_weight", "drw"),
        lambda p: (
            p["class_weight"] == "effective"
            or p["loss"] == "class_balanced"
            or p.get("drw") is not None
        ),
        'with class_weight "effective", loss class_balanced or drw',
    ),
}

# Combinations that correct the same imbalance twice: a trial drawing one is
# pruned before any fit.
CONFLICTS = (
    (
        lambda p: (
            p.get("loss") == "logit_adjusted" and p.get("decision") == "prior_corrected"
        ),
        "loss logit_adjusted already builds the prior correction into the "
        "logits; decision prior_corrected would apply it twice",
    ),
    (
        lambda p: p.get("drw") is not None and p.get("loss", "ldam") != "ldam",
        "drw (deferred re-weighting) applies to loss ldam only",
    ),
)


def _allowed(estimator, name: str, choices: tuple) -> tuple:
    """The ``choices`` that the estimator's parameter constraints accept."""
    constraints = getattr(estimator, "_parameter_constraints", {}).get(name)
    if constraints is None:
        return choices
    strings = set()
    for constraint in constraints:
        if isinstance(constraint, StrOptions):
            strings |= constraint.options
    return tuple(
        c
        for c in choices
        if (c is None and None in constraints)
        or (isinstance(c, str) and c in strings)
        or not (c is None or isinstance(c, str))
    )


def _network_space(estimator) -> dict[str, BaseDistribution]:
    params = estimator.get_params(deep=False)
    own_network = params.get("model") is not None
    space = {}
    for name, distribution in _NETWORK_SPACE.items():
        if name not in params or (own_network and name in BUILT_IN_NETWORK_PARAMS):
            continue
        if name == "loss" and params.get("drw") is not None:
            continue  # drw applies to the ldam loss only
        if isinstance(distribution, CategoricalDistribution):
            choices = _allowed(estimator, name, distribution.choices)
            if len(choices) < 2:
                continue
            distribution = CategoricalDistribution(choices)
        space[name] = distribution
    return space


def is_pipeline(estimator) -> bool:
    return hasattr(estimator, "steps") and hasattr(estimator, "named_steps")


def _is_sampler_slot(name: str, step) -> bool:
    if hasattr(step, "fit_resample"):
        return True
    return step in (None, "passthrough") and "sampl" in name


def default_search_space(estimator) -> dict[str, BaseDistribution]:
    """The search space :class:`OptunaSearchCV` uses when given none.

    For an :class:`~skimb.ImbalancedKerasClassifier`:

    ==================  ====================================================
    ``units``           "auto", 16, 32, 64, 128 or 256
    ``n_layers``        "auto", 1, 2 or 3
    ``dropout``         float, 0 to 0.5
    ``learning_rate``   float, 3e-4 to 1e-2, log scale
    ``batch_size``      "auto", 16, 32, 64, 128 or 256
    ``loss``            the loss strategies the estimator accepts among
                        crossentropy, focal, class_balanced,
                        logit_adjusted and ldam
    ``batch_sampler``   None, "over", "under" or "smote" (batches redrawn
                        every epoch)
    ``class_weight``    None, "balanced" or "effective"; only without
                        ``batch_sampler``
    ``decision``        the decision rules the estimator accepts among
                        argmax, prior_corrected, posterior and macro_f1
    ``gamma``           float, 0.5 to 5; only with loss focal or
                        class_balanced
    ``tau``             float, 0.25 to 2; only with loss logit_adjusted or
                        decision prior_corrected
    ``beta``            one of 0.9, 0.99, 0.999, 0.9999; only with
                        class_weight "effective", loss class_balanced or
                        ``drw``
    ==================  ====================================================

    The space is conditional (:data:`CONDITIONS`): a trial draws a parameter
    only when it uses it, and keeps the estimator's own value otherwise, so
    a trial's parameters are the ones that act; a trial that would correct
    the same imbalance twice (the logit-adjusted loss with the
    prior-corrected rule) is pruned before it fits. Every default of the
    estimator is in the space but ``learning_rate="auto"``, and
    :class:`OptunaSearchCV` makes the default its first trial (which keeps
    that ``"auto"``). The maximum number of epochs is not searched: early
    stopping ends a fit. With your own network (``model=``), ``units``,
    ``n_layers`` and ``dropout``, which only skimb's networks read, are left
    out; search its routed ``model__<name>`` parameters with a space of your
    own. With ``drw`` set, ``loss`` is not searched (deferred re-weighting
    applies to the LDAM loss only). Only the parameters the estimator has
    are included,
    and string choices are narrowed to those it accepts. In a pipeline, the
    classifier's parameters are prefixed with its step name
    (``clf__units``), and each sampler step (a step with ``fit_resample``,
    or a ``"passthrough"`` step whose name contains "sampl") chooses among
    :data:`SAMPLER_CHOICES`: no resampling, ``RandomOverSampler`` or
    ``SMOTE``.

    Parameters
    ----------
    estimator : estimator or imblearn Pipeline
        The estimator to tune; for a pipeline, the last step is tuned.

    Returns
    -------
    dict of str to optuna.distributions.BaseDistribution
        Parameter names, addressed as in ``set_params``, to distributions.

    Raises
    ------
    ValueError
        If the estimator has none of the parameters of the space.

    Examples
    --------
    >>> from skimb import ImbalancedKerasClassifier
    >>> from skimb.tuning import default_search_space
    >>> space = default_search_space(ImbalancedKerasClassifier())
    >>> space["units"].choices
    ('auto', 16, 32, 64, 128, 256)
    >>> space["class_weight"].choices
    (None, 'balanced', 'effective')
    """
    if is_pipeline(estimator):
        final_name, final = estimator.steps[-1]
        space = {
            f"{final_name}__{name}": distribution
            for name, distribution in default_search_space(final).items()
        }
        for name, step in estimator.steps[:-1]:
            if _is_sampler_slot(name, step):
                space[name] = CategoricalDistribution(SAMPLER_CHOICES)
        return space
    space = _network_space(estimator)
    if not space:
        raise ValueError(
            f"There is no default search space for {type(estimator).__name__}; "
            "pass param_distributions."
        )
    return space


def _routed(name: str, known: dict) -> bool:
    """Whether ``name`` is a hyper-parameter of a network's build function:
    ``model__units`` (or ``clf__model__units``) where ``model`` is set."""
    head, routed, _ = name.rpartition(ROUTED_PREFIX)
    return bool(routed) and known.get(head + "model") is not None


def sampler_steps(estimator, names) -> list[str]:
    """The pipeline steps among ``names`` (searched samplers)."""
    if not is_pipeline(estimator):
        return []
    return [name for name in names if name in estimator.named_steps]


def check_space(space: dict, estimator) -> dict:
    """``space`` checked against ``estimator``: every name one of its
    parameters (or a routed parameter of its own network), every value an
    Optuna distribution, and a searched sampler step one of
    ``SAMPLER_CHOICES`` (:func:`make_sampler` fits each to the data's
    rank)."""
    if not space:
        raise ValueError(
            "param_distributions is empty: there is nothing to search.  Give "
            "at least one distribution, or None for the default space."
        )
    known = estimator.get_params(deep=True)
    unknown = sorted(
        name for name in space if name not in known and not _routed(name, known)
    )
    if unknown:
        raise ValueError(
            f"param_distributions names {unknown}, which are not parameters "
            f"of {type(estimator).__name__}; valid names include "
            f"{sorted(known)[:20]}."
        )
    for name, distribution in space.items():
        if not isinstance(distribution, BaseDistribution):
            raise TypeError(
                f"param_distributions[{name!r}] must be an optuna "
                f"distribution; got {type(distribution).__name__}."
            )
    inert = sorted(name for name in space if _replaced_by_model(name, known))
    if inert:
        raise ValueError(
            f"param_distributions names {inert}, which shape skimb's own "
            "networks only: the estimator's model= replaces them, so every "
            "trial would fail.  Search the network's own hyper-parameters as "
            "model__<name>."
        )
    steps = sampler_steps(estimator, space)
    for name in steps:
        choices = getattr(space[name], "choices", ())
        if not choices or not set(choices) <= set(SAMPLER_CHOICES):
            raise ValueError(
                f"The pipeline step {name!r} is searched over, so it must be "
                f"a CategoricalDistribution of {list(SAMPLER_CHOICES)}; got "
                f"{space[name]!r}."
            )
    # A conditional parameter is drawn after those its condition reads,
    # whatever the order the space was given in.
    return dict(sorted(space.items(), key=lambda item: _depth(_split_name(item[0])[1])))


def _depth(bare: str) -> int:
    """How many conditions stand above a parameter in :data:`CONDITIONS`."""
    if bare not in CONDITIONS:
        return 0
    return 1 + max(_depth(read) for read in CONDITIONS[bare][0])


def _replaced_by_model(name: str, known: dict) -> bool:
    """Whether ``name`` is a built-in network parameter of a skimb
    classifier whose ``model=`` replaces the built-in network."""
    prefix, bare = _split_name(name)
    return (
        bare in BUILT_IN_NETWORK_PARAMS
        and prefix + "architecture" in known
        and known.get(prefix + "model") is not None
    )


def make_sampler(choice: str, *, current, three_d: bool, seed: int | None):
    """The pipeline step a searched sampler name stands for.  ``"smote"`` is
    ``batch_sampler="smote"``'s SMOTE: five neighbours, fewer for a class of
    five training rows or fewer (a ``SequenceSampler`` sets them at each
    fit, on 2-D tables too).  Random oversampling is wrapped in a
    ``SequenceSampler`` for 3-D sequences, or where the step was one."""
    from imblearn.over_sampling import RandomOverSampler

    from skimb.sampling import SequenceSampler, resolve_batch_sampler

    if choice == "passthrough":
        return "passthrough"
    if choice == "smote":
        smote = resolve_batch_sampler("smote").set_params(random_state=seed)
        return SequenceSampler(smote)
    sampler = RandomOverSampler(random_state=seed)
    if three_d or isinstance(current, SequenceSampler):
        return SequenceSampler(sampler)
    return sampler


def _suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution):
    if isinstance(distribution, (FloatDistribution, IntDistribution)):
        suggest = (
            trial.suggest_float
            if isinstance(distribution, FloatDistribution)
            else trial.suggest_int
        )
        return suggest(
            name,
            distribution.low,
            distribution.high,
            step=distribution.step,
            log=distribution.log,
        )
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(f"Unsupported distribution for {name!r}: {distribution!r}.")


def _split_name(name: str) -> tuple[str, str]:
    """``"clf__tau"`` -> ``("clf__", "tau")``."""
    prefix, _, bare = name.rpartition("__")
    return (prefix + "__" if prefix else ""), bare


def draw(
    trial: optuna.Trial, space: dict, defaults: dict, *, own: bool = False
) -> dict:
    """A trial's parameters, drawn by run: a parameter with a condition in
    :data:`CONDITIONS` is drawn only where the condition holds on the values
    drawn before it (or, for those not searched, ``defaults``: the
    estimator's own, keyed like the space).

    ``own``: the trial of the estimator's own parameters, which does not
    draw where :func:`keeps` says the estimator keeps its value (a
    ``learning_rate`` of ``"auto"``, a sampler object).

    Returns the drawn parameters only, keyed like the space.
    """
    params: dict = {}
    for name, distribution in space.items():
        if own and keeps(distribution, defaults.get(name)):
            continue
        prefix, bare = _split_name(name)
        reads, condition, _ = CONDITIONS.get(bare, ((), None, None))
        # Only for an estimator that has every parameter the condition reads:
        # another estimator's "gamma" (an SVC's) is its own.
        if condition is not None and all(
            prefix + key in params or prefix + key in defaults for key in reads
        ):
            values = {
                key: params.get(prefix + key, defaults.get(prefix + key))
                for key in reads
            }
            if not condition(values):
                continue
        params[name] = _suggest(trial, name, distribution)
    return params


def own_trial(space: dict, defaults: dict) -> dict | None:
    """The parameters to enqueue for the trial of the estimator's own
    values, or None where the space cannot draw one of the values that
    trial uses (Optuna would draw it at random, and the trial would not be
    the estimator as given).  A conditional parameter whose condition fails
    on the estimator's values is not drawn, so its value does not count."""
    start = {}
    steps = {step for step, _ in defaults.get("steps") or ()}
    for name, distribution in space.items():
        value = defaults.get(name)
        if value is None and name in steps:
            value = "passthrough"  # a pipeline's step of None is passthrough
        if holds(distribution, value):
            start[name] = value
            continue
        if keeps(distribution, value):
            continue
        prefix, bare = _split_name(name)
        reads, condition, _ = CONDITIONS.get(bare, ((), None, None))
        if (
            condition is not None
            and all(prefix + key in defaults for key in reads)
            and not condition({key: defaults[prefix + key] for key in reads})
        ):
            continue
        return None
    return start


def conflict(params: dict, defaults: dict) -> str | None:
    """Why a trial's parameters correct the same imbalance twice, or None."""
    values: dict = {}
    for name, value in {**defaults, **params}.items():
        prefix, bare = _split_name(name)
        values.setdefault(prefix, {})[bare] = value
    for step in values.values():
        for test, reason in CONFLICTS:
            if test(step):
                return reason
    return None


def keeps(distribution: BaseDistribution, value) -> bool:
    """Whether the trial of the estimator's own parameters keeps ``value``
    instead of drawing from ``distribution``: a string (``"auto"``) where
    the distribution draws numbers, or a pipeline's sampler step (a
    ``SMOTE(...)``) where it draws the names of ``SAMPLER_CHOICES``."""
    if isinstance(distribution, CategoricalDistribution):
        return hasattr(value, "fit_resample") and not holds(distribution, value)
    return isinstance(value, str) and isinstance(
        distribution, (FloatDistribution, IntDistribution)
    )


def holds(distribution: BaseDistribution, value) -> bool:
    """Whether ``value`` is one that ``distribution`` can draw."""
    if isinstance(distribution, CategoricalDistribution):
        return any(
            type(value) is type(choice) and value == choice
            for choice in distribution.choices
        )
    if isinstance(distribution, (FloatDistribution, IntDistribution)):
        if isinstance(value, bool) or not isinstance(value, Real):
            return False
        if isinstance(distribution, IntDistribution) and value != int(value):
            return False
        if not distribution.low <= value <= distribution.high:
            return False
        step = distribution.step
        return (
            step is None
            or abs(
                (value - distribution.low) / step
                - round((value - distribution.low) / step)
            )
            < 1e-9
        )
    return False
