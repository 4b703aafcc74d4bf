"""Estimator parameters routed to a network's build function.

``ImbalancedKerasClassifier(model=build, model__units=32)`` calls
``build(units=32)``, as scikeras routes ``model__`` parameters.  Keras-free,
so that the search can recognise routed names without loading Keras.
"""

from __future__ import annotations

ROUTED_PREFIX = "model__"


def routed_params(params: dict) -> dict:
    """``{"model__units": 8, "loss": ...}`` -> ``{"units": 8}``."""
    return {
        name[len(ROUTED_PREFIX) :]: value
        for name, value in params.items()
        if name.startswith(ROUTED_PREFIX)
    }
