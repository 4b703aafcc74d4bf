"""Keras callbacks that report what matters on imbalanced data."""

from __future__ import annotations

import keras
import numpy as np
from sklearn.metrics import f1_score

from skimb._networks import forward

__all__ = ["ValidationMetrics"]


class ValidationMetrics(keras.callbacks.Callback):
    """Add ``val_loss`` and ``val_macro_f1`` to the epoch logs.

    One inference pass over the validation data gives both numbers, so the
    usual Keras validation pass is not needed.  Callbacks placed after this
    one (``EarlyStopping``, ``ReduceLROnPlateau``, the ``History``) see
    ``val_macro_f1`` like any other log entry.

    Parameters
    ----------
    X : ndarray
        Validation inputs, as the network takes them.
    y : ndarray of shape (n_samples,)
        Validation labels encoded ``0 .. n_classes - 1``.
    loss : keras loss, optional
        When given, ``val_loss`` is ``loss(targets, outputs, sample_weight)``.
    targets : ndarray, optional
        ``y`` in the encoding the loss takes (one-hot or integer).
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the validation loss (class weights included).
    n_classes : int, optional
        Number of classes, so that a class missing from the predictions
        still counts in the macro average.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> from skimb.callbacks import ValidationMetrics
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    >>> history = model.fit(X, y, epochs=2, verbose=0,
    ...                     callbacks=[ValidationMetrics(X, y, n_classes=2)])
    >>> len(history.history["val_macro_f1"])
    2
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss=None,
        targets: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        n_classes: int | None = None,
    ):
        super().__init__()
        self.X = X
        self.y = np.asarray(y)
        self.loss = loss
        self.targets = targets
        self.sample_weight = sample_weight
        self.n_classes = n_classes

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        outputs = forward(self.model, self.X)
        if self.loss is not None:
            logs["val_loss"] = float(
                self.loss(self.targets, outputs, sample_weight=self.sample_weight)
            )
        labels = None if self.n_classes is None else np.arange(self.n_classes)
        logs["val_macro_f1"] = float(
            f1_score(
                self.y,
                outputs.argmax(axis=1),
                labels=labels,
                average="macro",
                zero_division=0,
            )
        )
