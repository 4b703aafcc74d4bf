"""Keras callbacks that report what matters on imbalanced data.

:class:`ValidationMetrics` puts per-epoch validation scores in the Keras
logs, where ``EarlyStopping``, ``ReduceLROnPlateau``, Optuna's pruning
callback and the ``History`` read them.  :class:`ClassificationReport` and
:class:`TrainingFigures` show the per-class picture as text and as figures.

Inside :class:`~skimb.ImbalancedKerasClassifier`, callbacks given without
validation data (:class:`ValidationDataCallback`) receive the rows the
classifier held out from training, through their ``set_validation_data``
method.

The hook protocol: a callback that subclasses
:class:`ValidationDataCallback` receives the held-out rows before training
(``set_validation_data(X, y, labels=..., outputs=...)``, ``outputs`` a
function giving their current probabilities) and gives them back at its
end (``release_validation_data()``); its ``X``, ``y`` and ``_outputs()``
are then what to score.  A callback given data of its own
(:class:`NetworkOutputs`: :class:`ValidationMetrics` and the two above) is
lent a function giving the outputs of the networks being trained, averaged
as the fitted model averages them (``set_network_outputs(function)``), and
gives it back at the end (``release_network_outputs()``).  Any other Keras
callback sees the epoch logs, which :class:`ValidationMetrics` fills with
the validation scores.

Modules: ``_validation`` (the protocol), ``_scoring`` (the epoch's
scores), ``_reporting`` (the text report and the figures).
"""

from skimb.callbacks._reporting import ClassificationReport, TrainingFigures
from skimb.callbacks._scoring import ValidationMetrics
from skimb.callbacks._validation import NetworkOutputs, ValidationDataCallback

__all__ = [
    "ClassificationReport",
    "NetworkOutputs",
    "TrainingFigures",
    "ValidationDataCallback",
    "ValidationMetrics",
]
