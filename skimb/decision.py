r"""Post-hoc decision rules: from class probabilities to a predicted class.

Every rule here is a per-class offset :math:`o` added to the
log-probabilities before the argmax,

.. math:: \hat y(x) = \arg\max_c \; \log \hat p(c \mid x) + o_c,

which is a class-weighted argmax of the posterior, :math:`\arg\max_c w_c
\hat p(c \mid x)` with :math:`w_c = e^{o_c}`.  That family holds the
Bayes-optimal rule for balanced error (:math:`w_c \propto 1/\pi_c`) and for
macro-F1 (per-class weights that depend on the distribution; Narasimhan et
al., 2015; Koyejo et al., 2014).

- ``"argmax"``: :math:`o = 0`.
- ``"prior_corrected"``: :math:`o_c = -\tau \log \pi_c`, post-hoc logit
  adjustment (Menon et al., 2021) with the training prior :math:`\pi`.
- ``"posterior"``: the offsets that turn what the network learned back into
  the posterior under the class frequencies of the data
  (:func:`posterior_offsets`); its argmax is the Bayes rule for accuracy.
- ``"macro_f1"``: offsets tuned on held-out data to maximise macro-F1
  (:func:`macro_f1_offsets`), starting from the posterior rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from skimb._checks import check_log_proba, check_number, check_offsets, check_prior
from skimb._offset_search import MIN_VALIDATION_COUNT, macro_f1_offsets
from skimb.calibration import fit_temperature_and_bias
from skimb.class_weight import prior_counts

__all__ = [
    "DECISIONS",
    "MIN_VALIDATION_COUNT",
    "ClassCounts",
    "FittedDecision",
    "decide",
    "fit_decision",
    "macro_f1_offsets",
    "posterior_offsets",
    "prior_frequencies",
    "prior_offsets",
    "prior_shift_offsets",
    "rule_offsets",
]

DECISIONS = ("argmax", "prior_corrected", "posterior", "macro_f1")


def prior_offsets(class_prior, *, tau: float = 1.0) -> np.ndarray:
    r"""Offsets :math:`-\tau \log \pi_c` of the prior-corrected rule.

    Parameters
    ----------
    class_prior : array-like of shape (n_classes,)
        Training class frequencies, all positive.
    tau : float, default=1.0
        Strength of the correction, finite and ``>= 0``; ``0`` is the
        argmax rule.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> from skimb.decision import prior_offsets
    >>> prior_offsets([0.5, 0.25, 0.25]).round(3)
    array([0.693, 1.386, 1.386])
    """
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.ndim != 1 or not np.all((prior > 0) & np.isfinite(prior)):
        raise ValueError(f"class_prior must be finite and positive; got {prior}.")
    return -check_number(tau, "tau") * np.log(prior / prior.sum())


def posterior_offsets(
    class_counts,
    *,
    train_class_counts=None,
    tau: float = 0.0,
) -> np.ndarray:
    r"""Offsets that turn a network's log-probabilities into the data's posterior.

    A network trained by crossentropy on classes of prior :math:`\pi'` (the
    training batches' frequencies), with its logits adjusted by
    :math:`\tau \log \pi'` (``LogitAdjustedLoss``), learns
    :math:`\log \hat p(c \mid x) = \log p(x \mid c) + (1 - \tau) \log
    \pi'_c + \text{const}`.  The posterior under the data's prior
    :math:`\pi` is recovered by the offsets

    .. math:: o_c = \log \pi_c - (1 - \tau) \log \pi'_c.

    A class weight :math:`w_c` acts on training as the prior
    :math:`\pi'_c \propto n'_c w_c` would: give ``train_class_counts`` as
    the counts trained on times the weights to undo it too (the classifier
    does, for its ``posterior_offsets_``, and its ``"posterior"`` rule puts
    the weights back as costs: the argmax of the class-weighted posterior
    is the Bayes rule for those costs).

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Class counts of the data (the ``y`` given to ``fit``), all positive.
    train_class_counts : array-like of shape (n_classes,), optional
        Class counts as training weighed them: the counts the network
        trained on (after resampling), times the class weights of the loss;
        defaults to ``class_counts``.
    tau : float, default=0.0
        The logit adjustment of the loss, finite and ``>= 0`` (``0`` for
        crossentropy).

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> from skimb.decision import posterior_offsets
    >>> posterior_offsets([80, 20], tau=1.0).round(3)  # undo a logit adjustment
    array([-0.223, -1.609])
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    train = counts if train_class_counts is None else train_class_counts
    train = np.asarray(train, dtype=np.float64)
    for name, value in [("class_counts", counts), ("train_class_counts", train)]:
        if (
            value.shape != counts.shape
            or value.ndim != 1
            or not np.all((value > 0) & np.isfinite(value))
        ):
            raise ValueError(
                f"{name} must hold {counts.size} finite, positive values; got {value}."
            )
    tau = check_number(tau, "tau")
    log_prior = np.log(counts / counts.sum())
    log_train = np.log(train / train.sum())
    return log_prior - (1.0 - tau) * log_train


@dataclass(frozen=True)
class ClassCounts:
    """What the decision rules read of a fit's labels and loss.

    Attributes
    ----------
    observed : ndarray of shape (n_classes,)
        Samples of each class in ``y``.
    trained : ndarray of shape (n_classes,)
        The counts the network trained on (of the resampled batches with a
        batch sampler).
    weighted : ndarray of shape (n_classes,)
        Trained counts times each class's mean weight (sample weight times
        class weight).
    loss_weights : ndarray of shape (n_classes,)
        Per-class weights the loss applies on its own (ones for most).
    """

    observed: np.ndarray
    trained: np.ndarray
    weighted: np.ndarray
    loss_weights: np.ndarray

    @property
    def mean_weight(self) -> np.ndarray:
        """Each class's mean weight (sample weight times class weight):
        ``weighted`` over ``trained``."""
        return self.weighted / prior_counts(self.trained)


@dataclass(frozen=True)
class FittedDecision:
    """A fitted decision rule and the calibration under it.

    Attributes
    ----------
    posterior_offsets : ndarray of shape (n_classes,)
        Offsets turning the network's log-probabilities into the posterior
        under the class frequencies of ``y``.
    temperature : float
    calibration_bias : ndarray of shape (n_classes,)
    offsets : ndarray of shape (n_classes,)
        The rule's offsets on the calibrated log-posterior.
    rule : str
        The rule in use (``"macro_f1"`` falls back to ``"posterior"``).
    loss_weights : ndarray of shape (n_classes,)
        The per-class weights the loss applied on its own, which the
        posterior undoes (those of :class:`ClassCounts` for the networks kept).
    """

    posterior_offsets: np.ndarray
    temperature: float
    calibration_bias: np.ndarray
    offsets: np.ndarray
    rule: str
    loss_weights: np.ndarray


def fit_decision(
    decision: str,
    counts: ClassCounts,
    *,
    tau: float,
    logit_adjusted: bool,
    log_proba_val=None,
    y_val=None,
    seed: int | None = None,
) -> FittedDecision:
    """Fit a decision rule and the calibration under it.

    Parameters
    ----------
    decision : {"argmax", "prior_corrected", "posterior", "macro_f1"}
        The rule (see the module's description).
    counts : ClassCounts
        The fit's class counts.
    tau : float
        The logit adjustment's and ``"prior_corrected"``'s exponent.
    logit_adjusted : bool
        Whether the network trained on the logit-adjusted loss with this
        ``tau``, whose adjustment the posterior undoes.
    log_proba_val : ndarray of shape (n_samples, n_classes), optional
        The held-out rows' network log-probabilities; None without
        held-out rows (no calibration, and ``"macro_f1"`` falls back to
        ``"posterior"``).
    y_val : ndarray of shape (n_samples,), optional
        Their labels, encoded ``0 .. n_classes - 1``.
    seed : int, optional
        Seed of ``"macro_f1"``'s bootstrap.

    Returns
    -------
    FittedDecision

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.decision import ClassCounts, fit_decision
    >>> counts = np.array([90, 10])
    >>> fitted = fit_decision("posterior", ClassCounts(counts, counts, counts,
    ...                       np.ones(2)), tau=1.0, logit_adjusted=True)
    >>> fitted.rule, np.round(fitted.posterior_offsets, 2).tolist()
    ('posterior', [-0.11, -2.3])
    """
    posterior = posterior_offsets(
        prior_counts(counts.observed),
        train_class_counts=counts.weighted * counts.loss_weights,
        tau=tau if logit_adjusted else 0.0,
    )
    temperature, bias = 1.0, np.zeros(len(counts.observed))
    if y_val is not None:
        temperature, bias = fit_temperature_and_bias(log_proba_val + posterior, y_val)
    offsets, rule = rule_offsets(
        decision,
        counts,
        posterior_offsets=posterior,
        temperature=temperature,
        calibration_bias=bias,
        tau=tau,
        log_proba_val=log_proba_val,
        y_val=y_val,
        seed=seed,
    )
    return FittedDecision(
        posterior, temperature, bias, offsets, rule, counts.loss_weights
    )


def rule_offsets(
    decision: str,
    counts: ClassCounts,
    *,
    posterior_offsets: np.ndarray,
    temperature: float,
    calibration_bias: np.ndarray,
    tau: float,
    log_proba_val=None,
    y_val=None,
    seed: int | None = None,
) -> tuple[np.ndarray, str]:
    """A decision rule's offsets on the calibrated log-posterior.

    Parameters
    ----------
    decision : {"argmax", "prior_corrected", "posterior", "macro_f1"}
        The rule.
    counts : ClassCounts
        The fit's class counts.
    posterior_offsets : ndarray of shape (n_classes,)
        :attr:`FittedDecision.posterior_offsets` of the fit.
    temperature : float
        The calibration's temperature.
    calibration_bias : ndarray of shape (n_classes,)
        The calibration's per-class bias.
    tau : float
        ``"prior_corrected"``'s exponent.
    log_proba_val, y_val : ndarray, optional
        Held-out network log-probabilities and labels, for ``"macro_f1"``.
    seed : int, optional
        Seed of ``"macro_f1"``'s bootstrap.

    Returns
    -------
    offsets : ndarray of shape (n_classes,)
        Offsets on ``predict_log_proba`` (the calibrated log-posterior).
    rule : str
        The rule in use: ``"macro_f1"`` falls back to ``"posterior"``
        without enough held-out rows.
    """
    offsets, rule = _network_offsets(
        decision, counts, posterior_offsets, tau, log_proba_val, y_val, seed
    )
    # The rules are offsets on the network's log-probabilities (so the
    # calibration never changes a prediction), stored as offsets on
    # predict_log_proba: argmax((z + s) / T + b + d) = argmax(z + o) for
    # d = (o - s) / T - b.
    offsets = (offsets - posterior_offsets) / temperature
    return offsets - calibration_bias, rule


# How far the class prior must move for predict to decide on the calibrated
# posterior in full: some class twice or half as frequent (see
# prior_shift_offsets).
FULL_PRIOR_SHIFT = np.log(2.0)


def prior_shift_offsets(
    train_prior, class_prior, *, calibration_bias: np.ndarray
) -> np.ndarray:
    r"""Offsets on ``predict_log_proba`` that decide on the calibrated
    posterior where the class prior is moved.

    :func:`rule_offsets` sets a rule on the network's own log-probabilities
    :math:`z`: :math:`\operatorname{argmax}(z + o)`, which no calibration
    changes (the calibration's bias :math:`b`, fitted for the log-loss,
    lowered macro-F1 there, from 0.771 to 0.763 in the benchmark below).
    Moved to another class prior :math:`\pi'`, the posterior is Bayes'
    rule on the calibrated one, :math:`(z + s) / T
    + b + \log \pi' - \log \pi`, and the rule's offsets apply on top of
    it: :math:`\operatorname{argmax}((z + o) / T + b + \log \pi' - \log
    \pi)`; ``"posterior"`` without class or sample weights is then the
    argmax of ``predict_proba``.  The bias comes in gradually, in full
    once some class is twice or half as frequent (``FULL_PRIOR_SHIFT``),
    so that predictions do not jump where a prior moves by a rounding.

    Measured (``benchmarks/bench_prior_shift.py``, docs: "Deciding under a
    moved prior"): on 4-class tables shifted from class frequencies
    .6/.3/.08/.02 to .1/.2/.3/.4, deciding on the calibrated posterior
    raised the macro-F1 of ``"posterior"`` from 0.801 to 0.811 and of
    ``"macro_f1"`` from 0.768 to 0.789 over the rules with the shift alone;
    adding the shift to :math:`z` instead scored 0.782 and 0.796.

    Parameters
    ----------
    train_prior, class_prior : array-like of shape (n_classes,)
        The training data's class frequencies and those predicted for
        (positive; normalised here).
    calibration_bias : ndarray of shape (n_classes,)
        The calibration's per-class bias :math:`b`.

    Returns
    -------
    ndarray of shape (n_classes,)
        ``calibration_bias`` times the share of the move: 0 where the two
        priors are the same, 1 from ``FULL_PRIOR_SHIFT`` on.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.decision import prior_shift_offsets
    >>> bias = np.array([0.2, -0.2])
    >>> prior_shift_offsets([0.8, 0.2], [0.8, 0.2], calibration_bias=bias)
    array([0., 0.])
    >>> prior_shift_offsets([0.8, 0.2], [0.5, 0.5], calibration_bias=bias)
    array([ 0.2, -0.2])
    """
    bias = np.asarray(calibration_bias, dtype=np.float64)
    source = check_prior(train_prior, len(bias), "train_prior")
    target = check_prior(class_prior, len(bias), "class_prior")
    share = min(1.0, np.max(np.abs(np.log(target) - np.log(source))) / FULL_PRIOR_SHIFT)
    return bias * share if share > 0 else np.zeros_like(bias)


def decide(log_proba: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The decision rule: each row's class index, the argmax of its
    log-probabilities plus the rule's offsets (ties to the lower index).

    What :meth:`~skimb.ImbalancedKerasClassifier.predict` does with
    ``predict_log_proba(X)`` and ``decision_offsets_``; with both at hand,
    the classes and the probabilities come from one pass of the network.

    Parameters
    ----------
    log_proba : ndarray of shape (n_samples, n_classes)
        Log-probabilities, as ``predict_log_proba`` gives them.
    offsets : ndarray of shape (n_classes,)
        Per-class offsets (``decision_offsets_``).

    Returns
    -------
    ndarray of shape (n_samples,)
        Indices into ``classes_``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.decision import decide
    >>> log_proba = np.log([[0.6, 0.4], [0.9, 0.1]])
    >>> decide(log_proba, np.array([0.0, 0.5])).tolist()
    [1, 0]
    """
    # NaN has no argmax (np.argmax would take it for the largest); -inf is
    # the log of a probability 0.
    log_proba = check_log_proba(log_proba, zero=True)
    offsets = check_offsets(offsets, "offsets", log_proba.shape[1])
    return np.argmax(log_proba + offsets, axis=1)


def _network_offsets(
    decision, counts: ClassCounts, posterior, tau, log_proba_val, y_val, seed
) -> tuple[np.ndarray, str]:
    """A decision rule as offsets on the network's log-probabilities."""
    if decision == "argmax":
        return np.zeros(len(counts.observed)), decision
    if decision == "prior_corrected":
        return prior_offsets(counts.weighted * counts.loss_weights, tau=tau), decision
    # The posterior with the weights put back as costs: the Bayes rule
    # for those costs.
    start = posterior + np.log(counts.mean_weight * counts.loss_weights)
    if decision == "posterior":
        return start, decision
    if y_val is not None:  # None: no validation split, or partial_fit
        offsets, tuned = macro_f1_offsets(
            log_proba_val, y_val, start=start, random_state=seed
        )
        if tuned:
            return offsets, decision
    # Nothing (or too few samples of some class) to tune on: the
    # posterior rule, silently (this happens on every small data set),
    # recorded in decision_rule_.
    return start, "posterior"


def prior_frequencies(class_prior, class_counts: np.ndarray, classes) -> np.ndarray:
    """The estimator's ``class_prior`` parameter as class frequencies.

    Parameters
    ----------
    class_prior : None, "balanced" or array-like of shape (n_classes,)
        None: the class frequencies of ``y``; "balanced": uniform; else the
        given frequencies, normalised.
    class_counts : ndarray of shape (n_classes,)
        Samples of each class in ``y``.
    classes : array-like of shape (n_classes,)
        The classes, for the error message.

    Returns
    -------
    ndarray of shape (n_classes,)
        Frequencies in the order of ``classes``, summing to 1.
    """
    n_classes = len(classes)
    if class_prior is None:
        counts = prior_counts(class_counts)
        return counts / counts.sum()
    if isinstance(class_prior, str):
        if class_prior != "balanced":
            raise ValueError(
                "class_prior must be None, 'balanced' or class frequencies; "
                f"got {class_prior!r}."
            )
        return np.full(n_classes, 1.0 / n_classes)
    if isinstance(class_prior, Mapping):
        raise TypeError(
            "class_prior takes class frequencies as a sequence in the order of "
            f"classes_ {np.asarray(classes).tolist()}; got a "
            f"{type(class_prior).__name__}."
        )
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.shape != (n_classes,) or not np.all(np.isfinite(prior) & (prior > 0)):
        raise ValueError(
            f"class_prior must hold {n_classes} positive frequencies, one "
            f"per class of classes_ {np.asarray(classes).tolist()}; got "
            f"{class_prior!r}."
        )
    return prior / prior.sum()
