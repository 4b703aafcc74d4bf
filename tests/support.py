"""What test modules share besides fixtures: the class proportions of the
shared data, the settings of fast estimators, and two views of a fitted
network."""

from types import MappingProxyType

import numpy as np

# Milder imbalance than the defaults keeps every class present in tiny
# folds while staying clearly imbalanced (1 : 10 at the extremes).
WEIGHTS = (10, 100, 40, 20)

# Small and fast (the fast_params fixture; read-only): tests check behaviour,
# not accuracy.  One network per fit:
# on these small classes cv="auto" would train five (tests/test_cross_fit.py
# covers cross-fitting).
FAST_PARAMS = MappingProxyType(
    dict(units=8, epochs=3, batch_size=64, patience=2, cv=None, random_state=0)
)


def network_log_proba(clf, X):
    """The network's own log-probabilities, before ``predict_proba`` undoes
    the loss's adjustment and applies the temperature."""
    from skimb._inference import forward, log_probabilities
    from skimb._networks import ends_in_softmax

    return log_probabilities(
        forward(clf.model_, np.asarray(X, dtype=np.float32)),
        probabilities=ends_in_softmax(clf.model_),
    )


def network_offsets(clf):
    """``decision_offsets_`` as offsets on the network's log-probabilities
    (``predict`` is the argmax of those plus these)."""
    return (
        clf.decision_offsets_ + clf.calibration_bias_
    ) * clf.temperature_ + clf.posterior_offsets_
