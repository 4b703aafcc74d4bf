r"""Calibrated probabilities: temperature scaling and shifts of class prior.

The classifier's :meth:`~skimb.ImbalancedKerasClassifier.predict_proba` is
built in three steps, each a function here:

1. the network's log-probabilities plus the offsets that undo what its loss,
   class weights and batch sampler did to the class prior
   (:func:`skimb.decision.posterior_offsets`): the posterior under the
   class frequencies of the training data;
2. divided by a temperature and shifted by per-class biases fitted on
   held-out predictions (:func:`fit_temperature_and_bias`; temperature
   scaling of Guo et al., 2017, with the bias correction of Alexandari et
   al., 2020), so that the probabilities are as confident as the network is
   right and each class is as frequent as in the data;
3. moved to another class prior where one is given or estimated
   (:func:`shift_prior`, :func:`estimate_prior`; Saerens et al., 2002).

Keras-free: it works on arrays of log-probabilities.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, logsumexp

from skimb._checks import (
    check_encoded_labels,
    check_log_proba,
    check_number,
    check_prior,
)

__all__ = [
    "estimate_prior",
    "fit_temperature",
    "fit_temperature_and_bias",
    "shift_prior",
]


# A held-out row whose true class trails its top class by more than this many
# times the median row's spread of log-probabilities (and by more than this
# many nats) is left out of the fits.
_OUTLIER_SPREAD = 100.0


def _typical_rows(log_proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which rows a calibration fits on: all but those whose true class
    trails the top class by more than ``_OUTLIER_SPREAD`` times the median
    row's spread.

    Such a row is an input far outside what the network was trained on (one
    value of 1e6 among standard-normal features gave logits apart by about
    1e5), predicted wrong: its log-loss alone would set the temperature,
    thousands of times too high, and flatten every other row's probabilities
    to the prior.  Over-confident networks spread their rows a few times
    more than calibrated ones, never a hundred times more than their median
    row.  A wild row predicted right costs nothing at any temperature and
    stays.
    """
    top = log_proba.max(axis=1)
    spread = top - log_proba.min(axis=1)
    gap = top - log_proba[np.arange(len(y)), y]
    return gap <= _OUTLIER_SPREAD * max(float(np.median(spread)), 1.0)


# The log-temperature's bounds.  scikit-learn's are (-10, 10); the lower
# one is raised to a temperature of 0.1 (logits at most 10 times sharper):
# on held-out rows that the network separates, the log-loss falls without
# end as the temperature falls, and a network that was nearly uniform on
# them was sharpened 1,200-fold into probabilities of exactly 0 and 1 (a
# 3-class blob problem, 300 rows).  The fits of docs/benchmarks.rst stay
# above 0.6.
_LOG_TEMPERATURE_BOUNDS = (float(np.log(0.1)), 10.0)


def _fit_temperature(log_proba: np.ndarray, y: np.ndarray) -> float:
    """scikit-learn's temperature fit, on the rows given."""
    rows = np.arange(len(y))

    def log_loss(log_temperature: float) -> float:
        scaled = log_proba * np.exp(-log_temperature)
        return float(np.mean(logsumexp(scaled, axis=1) - scaled[rows, y]))

    result = minimize_scalar(log_loss, bounds=_LOG_TEMPERATURE_BOUNDS, method="bounded")
    return float(np.exp(result.x))


def fit_temperature(log_proba, y) -> float:
    r"""The temperature :math:`T` that minimises the log-loss of
    :math:`\mathrm{softmax}(z / T)` on held-out data.

    The same fit as scikit-learn's ``CalibratedClassifierCV(method=
    "temperature")`` (which the tests use as the reference); that one wraps a
    fitted estimator and cross-validates it, where the classifier already has
    the held-out or out-of-fold log-probabilities, so the one-parameter fit is
    done here on them.  Unlike scikit-learn's, it leaves out the rows whose
    true class trails the top class by more than 100 times the median row's
    spread of log-probabilities (and by over 100 nats): inputs far outside
    the training data, predicted wrong, whose log-loss alone would set the
    temperature; and it is at least 0.1, where scikit-learn's goes down to
    :math:`e^{-10}` (on rows the network separates the log-loss falls
    without end as :math:`T` falls).

    Parameters
    ----------
    log_proba : array-like of shape (n_samples, n_classes)
        Held-out log-probabilities (or logits) :math:`z`.
    y : array-like of shape (n_samples,)
        Held-out labels, encoded ``0 .. n_classes - 1``.

    Returns
    -------
    float
        :math:`T > 0`; above 1 where the predictions were over-confident.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.calibration import fit_temperature
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=20000)
    >>> x = rng.normal(4.0 * y - 2.0)  # unit-variance classes at -2 and 2
    >>> calibrated = np.c_[np.zeros(20000), 4.0 * x]  # the true log-odds
    >>> round(fit_temperature(3 * calibrated, y), 1)  # over-confident 3 times
    3.0
    """
    log_proba = check_log_proba(log_proba)
    y = check_encoded_labels(y, log_proba)
    typical = _typical_rows(log_proba, y)
    return _fit_temperature(log_proba[typical], y[typical])


def fit_temperature_and_bias(log_proba, y) -> tuple[float, np.ndarray]:
    r"""Bias-corrected temperature scaling: the temperature :math:`T` and
    per-class biases :math:`b` that minimise the log-loss of
    :math:`\mathrm{softmax}(z / T + b)` on held-out data.

    Temperature scaling alone fixes how confident the probabilities are, but
    where the class prior is part of :math:`z` a temperature above 1 also
    flattens it, so the mean probability of a rare class drifts above its
    frequency.  The biases put the frequencies back: at the optimum the mean
    held-out probability of each class is its held-out frequency (over the
    rows fitted on), which the
    estimate of a new class prior (:func:`estimate_prior`) relies on
    (Alexandari, Kundaje and Shrikumar, 2020).  A class without held-out
    rows has no such optimum (its bias would fall without end): its bias is
    the mean of the others', so it keeps some probability, and the other
    classes' means fall short of their frequencies by equal shares of it.
    scikit-learn has no such calibration.  Rows are left out as in
    :func:`fit_temperature`, and the temperature is bounded as there.

    Parameters
    ----------
    log_proba : array-like of shape (n_samples, n_classes)
        Held-out log-probabilities (or logits) :math:`z`.
    y : array-like of shape (n_samples,)
        Held-out labels, encoded ``0 .. n_classes - 1``.

    Returns
    -------
    temperature : float
    bias : ndarray of shape (n_classes,)
        Centred on 0.  A class with no row in ``y`` (none held out) has no
        frequency to match: its bias is the mean of the others', so that
        its probabilities move only with the temperature.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.calibration import fit_temperature_and_bias
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=20000)
    >>> x = rng.normal(4.0 * y - 2.0)
    >>> calibrated = np.c_[np.zeros(20000), 4.0 * x]
    >>> temperature, bias = fit_temperature_and_bias(3 * calibrated + [0, 6], y)
    >>> round(temperature, 1), float(np.round(bias[1] - bias[0], 1))
    (3.0, -2.0)
    """
    log_proba = check_log_proba(log_proba)
    y = check_encoded_labels(y, log_proba)
    typical = _typical_rows(log_proba, y)
    log_proba, y = log_proba[typical], y[typical]
    n_classes = log_proba.shape[1]
    onehot = np.eye(n_classes)[y]
    # A class with no rows here has no finite optimum: its bias would slide
    # towards minus infinity (its held-out frequency is 0), and with it its
    # probability, the prior estimate of label shift and its predictions
    # under a moved prior.  Only the classes present get a bias, centred
    # among them; the others keep 0, their average.
    present = np.bincount(y, minlength=n_classes) > 0

    def biases(free: np.ndarray) -> np.ndarray:
        bias = np.zeros(n_classes)
        bias[present] = free if present.all() else free - free.mean()
        return bias

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        inverse = np.exp(-theta[0])
        log_p = log_softmax(log_proba * inverse + biases(theta[1:]), axis=1)
        residual = (np.exp(log_p) - onehot) / len(y)
        bias_gradient = residual.sum(axis=0)[present]
        if not present.all():
            bias_gradient -= bias_gradient.mean()
        gradient = np.concatenate(
            [[-np.sum(residual * log_proba) * inverse], bias_gradient]
        )
        return -np.sum(onehot * log_p) / len(y), gradient

    start = np.zeros(1 + present.sum())
    start[0] = np.log(_fit_temperature(log_proba, y))
    # The temperature within fit_temperature's bounds.
    bounds = [_LOG_TEMPERATURE_BOUNDS] + [(None, None)] * present.sum()
    result = minimize(
        loss_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds
    )
    bias = biases(result.x[1:])
    return float(np.exp(result.x[0])), bias - bias.mean()


def shift_prior(log_proba, *, from_prior, to_prior) -> np.ndarray:
    r"""Log-posteriors under another class prior (Bayes' rule).

    .. math:: \log p'(c \mid x) = \log p(c \mid x) + \log \pi'_c
              - \log \pi_c - \text{normaliser}

    Parameters
    ----------
    log_proba : array-like of shape (n_samples, n_classes)
        Log-posteriors under ``from_prior``.
    from_prior, to_prior : array-like of shape (n_classes,)
        Positive class frequencies (normalised here).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.calibration import shift_prior
    >>> p = shift_prior(np.log([[0.5, 0.5]]), from_prior=[0.9, 0.1],
    ...                 to_prior=[0.5, 0.5])
    >>> np.exp(p).round(2)
    array([[0.1, 0.9]])
    """
    log_proba = check_log_proba(log_proba)
    n_classes = log_proba.shape[1]
    source = check_prior(from_prior, n_classes, "from_prior")
    target = check_prior(to_prior, n_classes, "to_prior")
    return log_softmax(log_proba + np.log(target) - np.log(source), axis=1)


def estimate_prior(
    log_proba, *, train_prior, max_iter: int = 1000, tol: float = 1e-8
) -> np.ndarray:
    r"""Class frequencies of unlabelled data, by expectation-maximisation
    (Saerens, Latinne and Decaestecker, 2002).

    Under label shift the class-conditional densities stay and only the
    class frequencies change.  Starting from the training prior, each step
    moves the posteriors to the current estimate (:func:`shift_prior`) and
    takes their mean as the next estimate; it converges to the maximum-
    likelihood prior of the unlabelled rows.  The posteriors must be
    calibrated (the classifier's :meth:`predict_proba` is temperature-scaled
    for this).

    Parameters
    ----------
    log_proba : array-like of shape (n_samples, n_classes)
        Log-posteriors of the unlabelled rows under ``train_prior``.
    train_prior : array-like of shape (n_classes,)
        Class frequencies the posteriors are under.
    max_iter : int, default=1000
        Most EM steps (``0``: the training prior).
    tol : float, default=1e-8
        Stop once every frequency changes by less than this (``>= 0``;
        ``0`` runs all ``max_iter`` steps).

    Returns
    -------
    ndarray of shape (n_classes,)
        The estimated class frequencies (summing to 1).

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.calibration import estimate_prior
    >>> rng = np.random.RandomState(0)
    >>> y = (rng.uniform(size=5000) < 0.5).astype(int)  # trained at 10% of 1s
    >>> x = rng.normal(2.0 * y)
    >>> logit = 2.0 * x - 2.0 + np.log(0.1 / 0.9)
    >>> log_proba = -np.logaddexp(0, np.c_[logit, -logit])
    >>> estimate_prior(log_proba, train_prior=[0.9, 0.1]).round(1)
    array([0.5, 0.5])
    """
    log_proba = check_log_proba(log_proba)
    if len(log_proba) == 0:
        raise ValueError("log_proba holds no rows: no class frequencies to estimate.")
    source = check_prior(train_prior, log_proba.shape[1], "train_prior")
    max_iter = check_number(max_iter, "max_iter", integer=True)
    tol = check_number(tol, "tol")
    prior = source
    for _ in range(max_iter):
        posterior = np.exp(log_proba + np.log(prior) - np.log(source))
        posterior /= posterior.sum(axis=1, keepdims=True)
        new = posterior.mean(axis=0)
        # A class the rows never point to would reach 0 and stop the
        # posteriors from moving back: keep every frequency positive.
        new = np.maximum(new, 1e-12)
        new /= new.sum()
        converged = np.max(np.abs(new - prior)) < tol
        prior = new
        if converged:
            break
    return prior
