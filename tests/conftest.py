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
