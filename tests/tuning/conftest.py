"""Shared by the search tests: Optuna's per-trial log lines off."""

import pytest

optuna = pytest.importorskip("optuna")


@pytest.fixture(autouse=True)
def _quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(level)
