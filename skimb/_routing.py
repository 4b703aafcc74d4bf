"""Estimator parameters routed to a network's build function.

``ImbalancedKerasClassifier(model=build, model__units=32)`` calls
``build(units=32)``, as scikeras routes ``model__`` parameters.  Keras-free,
so that the search can recognise routed names without loading Keras.
"""

from __future__ import annotations

ROUTED_PREFIX = "model__"

# The parameters only skimb's own networks read: with model= they do nothing.
BUILT_IN_NETWORK_PARAMS = (
    "architecture",
    "units",
    "n_layers",
    "dropout",
    "recurrent_dropout",
    "activation",
    "kernel_size",
    "bidirectional",
    "flat_path",
    "pooling",
)


def routed_params(params: dict) -> dict:
    """``{"model__units": 8, "loss": ...}`` -> ``{"units": 8}``."""
    return {
        name[len(ROUTED_PREFIX) :]: value
        for name, value in params.items()
        if name.startswith(ROUTED_PREFIX)
    }
