"""The hook by which callbacks receive the rows held out from training."""

from __future__ import annotations

import keras
import numpy as np
from scipy.special import softmax
from sklearn.utils.validation import _num_samples

from skimb._inference import are_probabilities, forward
from skimb._networks import ends_in_softmax


def class_names(labels, n_classes: int) -> list[str]:
    """A name for each of ``n_classes`` classes: ``labels``, or their codes."""
    labels = range(n_classes) if labels is None else list(labels)
    if len(labels) != n_classes:
        # (A class left nameless would drop out of the report, or its recall
        # out of the logs.)
        raise ValueError(
            f"labels names {len(labels)} classes, but there are {n_classes}: "
            "give one name per class."
        )
    return [str(label) for label in labels]


def encoded_labels(X, y) -> np.ndarray:
    """A callback's ``y``, checked when it is given rather than at the end
    of training: labels encoded ``0 .. n_classes - 1``, one per row of
    ``X`` (None: rows streamed from files, whose outputs come given)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        whole = y.dtype.kind == "f" and y.ndim == 1 and np.all(np.mod(y, 1) == 0)
        if not whole:
            raise ValueError(
                "y must be 1-D labels encoded 0 .. n_classes - 1 (as "
                "np.searchsorted(clf.classes_, labels) gives them); got "
                f"{y.dtype} values of shape {y.shape}."
            )
    y = y.astype(np.int64)
    if (y < 0).any():
        raise ValueError(
            f"y must be labels encoded 0 .. n_classes - 1; it holds {y.min()}."
        )
    if X is not None and len(y) != _num_samples(X):
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {_num_samples(X)} "
            f"and {len(y)}."
        )
    return y


class NetworkOutputs:
    """The hook by which a callback scores data of its own inside the
    classifier.

    The classifier hands such callbacks a function
    (:meth:`set_network_outputs`) giving the outputs, on any ``X``, of the
    networks as training stands, averaged as the fitted model averages them,
    with ``X`` read as ``predict`` reads it (a list of sequences of several
    lengths, ``mask_value`` padding, flattened sequences), which the model's
    own ``predict`` would not; it takes the function back at the end of
    training (:meth:`release_network_outputs`).  Given to Keras' own
    ``Model.fit``, the callback runs its model, as before.
    """

    _network_outputs = None

    def set_network_outputs(self, outputs) -> None:
        """Score ``X`` with ``outputs(X)``: the logits, or the probabilities
        of networks ending in a softmax, of the networks being trained."""
        self._network_outputs = outputs

    def release_network_outputs(self) -> None:
        """Forget the function of :meth:`set_network_outputs`."""
        self._network_outputs = None

    def _forward(self, X) -> np.ndarray:
        """The outputs of the model being trained on ``X``."""
        if self._network_outputs is not None:
            return self._network_outputs(X)
        return forward(self.model, X)


def probabilities(model: keras.Model, outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from the network's outputs (logits or softmax)."""
    if ends_in_softmax(model):
        return outputs
    if are_probabilities(outputs):
        return outputs
    return softmax(outputs.astype(np.float64), axis=1)


class ValidationDataCallback(NetworkOutputs, keras.callbacks.Callback):
    """Base of callbacks that work on validation data, given or received.

    Inside :class:`~skimb.ImbalancedKerasClassifier`, a callback of this kind
    given without data receives the rows held out from training (the
    validation split, or every row with cross-fitting) through
    :meth:`set_validation_data`, with the out-of-fold probabilities of the
    networks being trained, and gives them back at the end of training
    (:meth:`release_validation_data`), so the fitted estimator keeps no copy.
    A callback given data of its own scores it with the networks being
    trained (:class:`NetworkOutputs`), cross-fitted or not.

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
        self.y = None if y is None else encoded_labels(X, y)
        self.labels = labels
        self._received = False
        self._received_outputs = None
        self._received_labels = False

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
            self._received_labels = self.labels is None
            if self._received_labels:
                self.labels = labels

    def release_validation_data(self) -> None:
        """Forget data (and class names) received through
        :meth:`set_validation_data`, so that the next fit's are used."""
        if self._received:
            self.X = self.y = self._received_outputs = None
            if self._received_labels:
                self.labels = None
            self._received = self._received_labels = False

    def _names(self, n_classes: int) -> list[str]:
        return class_names(self.labels, n_classes)

    def _outputs(self) -> np.ndarray:
        if self._received_outputs is not None:
            return self._received_outputs()
        return probabilities(self.model, self._forward(self.X))
