"""The search space of :class:`skimb.tuning.OptunaSearchCV`.

:func:`default_search_space` gives Optuna distributions keyed like
``set_params``; a pipeline's sampler step is searched by name
(``SAMPLER_CHOICES``) and built by ``_make_sampler``.  ``_suggest`` draws a
trial's value from a distribution and ``_holds`` says whether a value is one
a distribution can draw.
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

__all__ = ["SAMPLER_CHOICES", "default_search_space"]

# Names a pipeline's sampler step can take in a search space.  Optuna stores
# categorical choices in its database only when they are plain values, so the
# space holds these names and the search builds the sampler from them.
SAMPLER_CHOICES = ("passthrough", "random_over", "smote")

# The candidate space of ImbalancedKerasClassifier.  Only the parameters the
# estimator has are used, and string choices are narrowed to those its
# ``_parameter_constraints`` accept, so the space follows the estimator as
# loss strategies and decision rules are added to it.
_NETWORK_SPACE = {
    "units": IntDistribution(8, 128, log=True),
    "n_layers": IntDistribution(1, 3),
    "dropout": FloatDistribution(0.0, 0.5),
    "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    "batch_size": CategoricalDistribution((32, 64, 128, 256)),
    "epochs": IntDistribution(10, 60, step=10),
    "loss": CategoricalDistribution(
        ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
    ),
    "gamma": FloatDistribution(0.5, 5.0),
    "beta": CategoricalDistribution((0.9, 0.99, 0.999, 0.9999)),
    "tau": FloatDistribution(0.25, 2.0),
    "class_weight": CategoricalDistribution((None, "balanced", "effective")),
    "batch_sampler": CategoricalDistribution((None, "over", "under", "smote")),
    "decision": CategoricalDistribution(
        ("argmax", "prior_corrected", "posterior", "macro_f1")
    ),
}


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
    space = {}
    for name, distribution in _NETWORK_SPACE.items():
        if name not in params:
            continue
        if isinstance(distribution, CategoricalDistribution):
            choices = _allowed(estimator, name, distribution.choices)
            if len(choices) < 2:
                continue
            distribution = CategoricalDistribution(choices)
        space[name] = distribution
    return space


def _is_pipeline(estimator) -> bool:
    return hasattr(estimator, "steps") and hasattr(estimator, "named_steps")


def _is_sampler_slot(name: str, step) -> bool:
    if hasattr(step, "fit_resample"):
        return True
    return step in (None, "passthrough") and "sampl" in name


def default_search_space(estimator) -> dict[str, BaseDistribution]:
    """The search space :class:`OptunaSearchCV` uses when given none.

    For an :class:`~skimb.ImbalancedKerasClassifier`:

    ==================  ====================================================
    ``units``           int, 8 to 128, log scale
    ``n_layers``        int, 1 to 3
    ``dropout``         float, 0 to 0.5
    ``learning_rate``   float, 1e-4 to 1e-2, log scale
    ``batch_size``      one of 32, 64, 128, 256
    ``epochs``          10 to 60 in steps of 10 (a maximum: early stopping
                        ends a fit sooner)
    ``loss``            the loss strategies the estimator accepts among
                        crossentropy, focal, class_balanced,
                        logit_adjusted and ldam
    ``gamma``           float, 0.5 to 5 (focal loss)
    ``beta``            one of 0.9, 0.99, 0.999, 0.9999 (effective number)
    ``tau``             float, 0.25 to 2 (logit adjustment)
    ``class_weight``    None, "balanced" or "effective"
    ``batch_sampler``   None, "over", "under" or "smote" (batches redrawn
                        every epoch)
    ``decision``        the decision rules the estimator accepts among
                        argmax, prior_corrected, posterior and macro_f1
    ==================  ====================================================

    Only the parameters the estimator has are included, and string choices
    are narrowed to those it accepts.  In a pipeline, the classifier's
    parameters are prefixed with its step name (``clf__units``), and each
    sampler step (a step with ``fit_resample``, or a ``"passthrough"`` step
    whose name contains "sampl") chooses among :data:`SAMPLER_CHOICES`:
    no resampling, ``RandomOverSampler`` or ``SMOTE``.

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
    >>> space["units"]
    IntDistribution(high=128, log=True, low=8, step=1)
    >>> space["class_weight"].choices
    (None, 'balanced', 'effective')
    """
    if _is_pipeline(estimator):
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


def _sequence_sampler_class():
    # SequenceSampler lets an imblearn sampler resample 3-D sequences; without
    # it, samplers need 2-D (flattened) sequences.
    try:
        from skimb.sampling import SequenceSampler
    except ImportError:
        return None
    return SequenceSampler


def _make_sampler(choice: str, *, current, three_d: bool, seed: int | None):
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    if choice == "passthrough":
        return "passthrough"
    sampler = {"random_over": RandomOverSampler, "smote": SMOTE}[choice](
        random_state=seed
    )
    wrapper = _sequence_sampler_class()
    if wrapper is not None and (three_d or isinstance(current, wrapper)):
        return wrapper(sampler)
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


def _holds(distribution: BaseDistribution, value) -> bool:
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
