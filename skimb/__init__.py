"""skimb: Keras networks as first-class scikit-learn classifiers for
imbalanced multi-class data."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["ImbalancedKerasClassifier", "OptunaSearchCV", "__version__"]

# The classifier pulls in Keras and its backend; loading it on first use keeps
# ``import skimb`` and ``skimb --help`` fast and free of side effects.
_LAZY = {
    "ImbalancedKerasClassifier": "skimb._classifier",
    "OptunaSearchCV": "skimb.tuning",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skimb' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
