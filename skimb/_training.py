"""One Keras training run of a classifier's network: its callbacks and batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from skimb._random import seed_from
from skimb.callbacks import ValidationMetrics
from skimb.class_weight import effective_number_weights
from skimb.losses import DeferredReweighting
from skimb.sampling import EpochBatches, resolve_batch_sampler

if TYPE_CHECKING:
    from skimb._classifier import ImbalancedKerasClassifier


def targets(y_encoded: np.ndarray, n_classes: int, *, sparse: bool) -> np.ndarray:
    """Integer labels for sparse losses, one-hot rows for the others."""
    if sparse:
        return y_encoded.astype(np.int32)
    return np.eye(n_classes, dtype=np.float32)[y_encoded]


def train_network(
    estimator: ImbalancedKerasClassifier,
    X: np.ndarray,
    y_encoded: np.ndarray,
    weights: np.ndarray,
    train: np.ndarray,
    val: np.ndarray | None,
    *,
    epochs: int,
) -> tuple[dict, int | None]:
    """Fit ``estimator.model_`` on the ``train`` rows, validating on ``val``.

    Returns the per-epoch logs and the best epoch of early stopping (None
    without it).
    """
    model, classes = estimator.model_, estimator.classes_
    # The validation loss is the compiled loss; only the target encoding
    # is read from the loss parameter.
    loss = model.loss
    sparse = not isinstance(estimator.loss, str) and estimator._loss()[2]
    y_targets = targets(y_encoded, len(classes), sparse=sparse)
    callbacks = []
    if estimator.drw is not None and estimator.loss == "ldam":
        counts = estimator._prior_counts(estimator.train_class_counts_)
        callbacks.append(
            DeferredReweighting(
                loss,
                effective_number_weights(counts, beta=estimator.beta),
                start_epoch=estimator.drw,
            )
        )
    early_stopping = None
    if val is not None:
        callbacks.append(
            ValidationMetrics(
                X[val],
                y_encoded[val],
                loss=loss,
                targets=y_targets[val],
                sample_weight=weights[val],
                n_classes=len(classes),
                labels=classes.tolist(),
            )
        )
        # Report and figure callbacks without data of their own get the
        # validation split.
        for callback in estimator.callbacks or []:
            if hasattr(callback, "set_validation_data"):
                callback.set_validation_data(
                    X[val], y_encoded[val], labels=classes.tolist()
                )
        if estimator.early_stopping:
            early_stopping = keras.callbacks.EarlyStopping(
                monitor="val_macro_f1",
                mode="max",
                patience=estimator.patience,
                restore_best_weights=True,
            )
            callbacks.append(early_stopping)
    callbacks.extend(estimator.callbacks or [])
    if estimator.batch_sampler is None and len(train) == len(X):
        inputs = (X, y_targets)
        options = dict(
            sample_weight=weights, batch_size=estimator.batch_size, shuffle=True
        )
    else:
        # Batches gathered from the training rows of X (resampled every
        # epoch with batch_sampler): Keras given X[train] would hold it
        # twice more, as a NumPy copy and as its own tensor.
        inputs = (
            EpochBatches(
                X,
                y_targets,
                weights,
                y_encoded,
                rows=train,
                sampler=resolve_batch_sampler(estimator.batch_sampler),
                class_weight=estimator.class_weight_,
                batch_size=estimator.batch_size,
                seed=seed_from(estimator.random_state),
            ),
        )
        options = {}
    history = model.fit(
        *inputs,
        **options,
        epochs=epochs,
        verbose=estimator.verbose,
        callbacks=callbacks,
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    return logs, None if early_stopping is None else early_stopping.best_epoch
