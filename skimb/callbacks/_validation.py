"""The hook by which callbacks receive the rows held out from training."""

from __future__ import annotations

import keras
import numpy as np
from scipy.special import softmax

from skimb._networks import ends_in_softmax, forward


def probabilities(model: keras.Model, outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from the network's outputs (logits or softmax)."""
    if ends_in_softmax(model):
        return outputs
    if outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1, atol=1e-4):
        return outputs
    return softmax(outputs.astype(np.float64), axis=1)


class ValidationDataCallback(keras.callbacks.Callback):
    """Base of callbacks that work on validation data, given or received.

    Inside :class:`~skimb.ImbalancedKerasClassifier`, a callback of this kind
    given without data receives the rows held out from training (the
    validation split, or every row with cross-fitting) through
    :meth:`set_validation_data`, with the out-of-fold probabilities of the
    networks being trained, and gives them back at the end of training
    (:meth:`release_validation_data`), so the fitted estimator keeps no copy.

    Parameters
    ----------
    X, y : ndarray, optional
        Validation inputs and labels encoded ``0 .. n_classes - 1``.
    labels : sequence, optional
        Class names, in the order of the encoding.
    """

    def __init__(self, X=None, y=None, *, labels=None):
        super().__init__()
        if (X is None) != (y is None):
            raise ValueError("Give both X and y, or neither.")
        self.X = X
        self.y = None if y is None else np.asarray(y)
        self.labels = labels
        self._received = False
        self._received_outputs = None

    def set_validation_data(self, X, y, *, labels=None, outputs=None) -> None:
        """Use ``X, y`` (``y`` encoded ``0 .. n_classes - 1``) unless data
        were given to the constructor.

        ``outputs``, when given, is a function of no argument returning the
        class probabilities of ``X`` as training stands (the out-of-fold
        probabilities of cross-fitted networks); otherwise they come from
        the callback's model.
        """
        if self.X is None:
            self.X, self.y, self._received = X, np.asarray(y), True
            self._received_outputs = outputs
            if self.labels is None:
                self.labels = labels

    def release_validation_data(self) -> None:
        """Forget data received through :meth:`set_validation_data`."""
        if self._received:
            self.X = self.y = self._received_outputs = None
            self._received = False

    def _names(self, n_classes: int) -> list[str]:
        labels = range(n_classes) if self.labels is None else self.labels
        return [str(label) for label in labels]

    def _outputs(self) -> np.ndarray:
        if self._received_outputs is not None:
            return self._received_outputs()
        return probabilities(self.model, forward(self.model, self.X))
