"""Samples with their true log-posterior, and the Bayes-optimal macro-F1 on
a test sample, for the benchmarks whose generating density is known
(``bench_suite.py``'s synthetic families and seed scenario,
``bench_learning_rate.py``)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from skimb.decision import macro_f1_offsets


def with_log_posterior(make, n: int, *, random_state: int):
    """``n`` samples of a :mod:`skimb.datasets` generator ``make``: X (as
    float32), y and the true log-posterior."""
    X, y, posterior = make(n, random_state=random_state, return_posterior=True)
    tiny = np.finfo(np.float64).tiny
    return X.astype(np.float32), y, np.log(np.maximum(posterior, tiny))


def bayes_test_sample(sample, n_test: int):
    """The test sample of ``sample(n, random_state=...)`` (X, y and the true
    log-posterior) and the Bayes-optimal macro-F1 on it: the true posterior
    with per-class offsets tuned for macro-F1 on another sample.

    Returns X_test, y_test and that macro-F1.
    """
    X_test, y_test, log_posterior = sample(n_test, random_state=2)
    _, y_tune, log_tune = sample(n_test, random_state=1)
    offsets, _ = macro_f1_offsets(log_tune, y_tune, n_bootstrap=0)
    predicted = np.argmax(log_posterior + offsets, axis=1)
    return X_test, y_test, f1_score(y_test, predicted, average="macro")
