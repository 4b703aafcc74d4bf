"""Shared data and fitted models: built once, read by many tests."""

import pytest

from skimb.datasets import make_imbalanced_classification, make_imbalanced_sequences
from tests.support import FAST_PARAMS, WEIGHTS


def pytest_collection_modifyitems(config, items):
    """The tests marked slow first (the order is otherwise kept): run last,
    with one test process per core, they would keep one core busy for a
    minute while the other has nothing left to run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def fast_params():
    """Estimator settings of fast tests (read-only): tests check behaviour,
    not accuracy."""
    return FAST_PARAMS


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
def fitted_dense(tabular, fast_params):
    from skimb import ImbalancedKerasClassifier

    return ImbalancedKerasClassifier(class_weight="balanced", **fast_params).fit(
        *tabular
    )


@pytest.fixture(scope="session")
def fitted_lstm(sequences, fast_params):
    from skimb import ImbalancedKerasClassifier

    return ImbalancedKerasClassifier("lstm", **fast_params).fit(*sequences)
