"""Shared data and fitted models: built once, read by many tests."""

import pytest

from skimb.datasets import make_imbalanced_classification, make_imbalanced_sequences

# Milder imbalance than the defaults keeps every class present in tiny
# folds while staying clearly imbalanced (1 : 10 at the extremes).
WEIGHTS = (10, 100, 40, 20)

# Small and fast: tests check behaviour, not accuracy.  One network per fit:
# on these small classes cv="auto" would train five (tests/test_cross_fit.py
# covers cross-fitting).
FAST = dict(units=8, epochs=3, batch_size=64, patience=2, cv=None, random_state=0)


@pytest.fixture(scope="session")
def tabular():
    X, y = make_imbalanced_classification(
        340, n_features=6, n_informative=3, weights=WEIGHTS, random_state=0
    )
    return X, y


@pytest.fixture(scope="session")
def sequences():
    X, y = make_imbalanced_sequences(
        340,
        n_timesteps=6,
        n_features=3,
        n_informative=2,
        weights=WEIGHTS,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="session")
def fitted_dense(tabular):
    from skimb import ImbalancedKerasClassifier

    return ImbalancedKerasClassifier(class_weight="balanced", **FAST).fit(*tabular)


@pytest.fixture(scope="session")
def fitted_lstm(sequences):
    from skimb import ImbalancedKerasClassifier

    return ImbalancedKerasClassifier("lstm", **FAST).fit(*sequences)


def network_log_proba(clf, X):
    """The network's own log-probabilities, before ``predict_proba`` undoes
    the loss's adjustment and applies the temperature."""
    import numpy as np

    from skimb._networks import forward, log_probabilities

    return log_probabilities(
        forward(clf.model_, np.asarray(X, dtype=np.float32)),
        probabilities=clf.model_.layers[-1].name == "probabilities",
    )


def network_offsets(clf):
    """``decision_offsets_`` as offsets on the network's log-probabilities
    (``predict`` is the argmax of those plus these)."""
    return (
        clf.decision_offsets_ + clf.calibration_bias_
    ) * clf.temperature_ + clf.posterior_offsets_
