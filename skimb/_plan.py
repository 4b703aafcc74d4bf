"""The training plan: what one fit's training needs, as plain values.

The estimator resolves its parameters into a :class:`TrainingPlan`; the
training engine (:mod:`skimb._engine`) reads nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np


def encode_targets(
    y_encoded: np.ndarray, n_classes: int, *, sparse: bool
) -> np.ndarray:
    """Integer labels for sparse losses, one-hot rows for the others."""
    if sparse:
        return y_encoded.astype(np.int32)
    return np.eye(n_classes, dtype=np.float32)[y_encoded]


def keras_jit_compile(jit_compile: bool) -> bool | str:
    """``keras.Model.compile``'s ``jit_compile`` for skimb's: True, or Keras'
    own rule ("auto": XLA on JAX, and on a TensorFlow GPU where every layer
    supports it), which also decides whether Keras' ``predict_on_batch``
    and ``evaluate`` compile (on JAX they run uncompiled with False)."""
    return True if jit_compile else "auto"


@dataclass(frozen=True)
class TrainingPlan:
    """What one fit's training needs, resolved from the estimator's parameters.

    Parameters
    ----------
    loss : keras loss
        Compiled for every network; its per-network value is the validation
        loss too.
    optimizer : keras.optimizers.Optimizer
        Shared by the networks (each variable has its own slots); an
        optimizer already built keeps its state (``partial_fit``).
    targets : ndarray
        Targets in the loss's encoding: integer labels ``(n,)`` or one-hot
        rows ``(n, n_classes)``.
    weights : ndarray of shape (n,)
        Sample weights, class weights included.
    y : ndarray of shape (n,)
        Labels encoded ``0 .. n_classes - 1``.
    labels : list
        Class names, for the ``val_recall_<label>`` keys.
    batch_size : int
        Training rows of each network per step.
    epochs : int
        Maximum number of epochs.
    early_stopping : bool
        Stop each network when its ``monitor`` has not improved for
        ``patience`` epochs, and give it back the weights of its best epoch.
    patience : int
    monitor : {"val_macro_f1", "oof_macro_f1", "val_loss"}
        The validation score early stopping follows (the loss downwards).
    sampler : imbalanced-learn sampler or None
        Redraws each network's training rows at every epoch.
    class_weight : ndarray of shape (n_classes,)
        Weight of a synthetic row of each class.
    reweighting : (int, ndarray) or None
        Deferred re-weighting: from this epoch on (counted from the first
        epoch the network trained, earlier ``partial_fit`` calls included),
        the loss's per-class ``class_weight`` variable takes these weights.
    first_epoch : int
        Epochs the networks trained before this plan's (by earlier
        ``partial_fit`` calls): the number of its first epoch.
    callbacks : sequence of keras.callbacks.Callback
        The user's callbacks.
    seed : int or None
        Seed of the row order and the samplers' draws.
    verbose : int
        Keras progress output.
    distribution : keras.distribution.DataParallel or None
        The devices a step's batch is split across (:mod:`skimb._devices`);
        None: one device.
    jit_compile : bool
        Whether TensorFlow compiles the epoch with XLA.  On JAX every epoch
        is compiled by XLA.
    read_features : callable or None
        Reads features that callbacks score the networks on into their
        input, as ``predict`` does; None: as a float32 array.
    """

    loss: object
    optimizer: keras.optimizers.Optimizer
    targets: np.ndarray
    weights: np.ndarray
    y: np.ndarray
    labels: list
    batch_size: int
    epochs: int
    early_stopping: bool
    patience: int
    monitor: str
    sampler: object
    class_weight: np.ndarray
    reweighting: tuple[int, np.ndarray] | None
    first_epoch: int
    callbacks: Sequence[keras.callbacks.Callback]
    seed: int | None
    verbose: int
    distribution: keras.distribution.DataParallel | None
    jit_compile: bool
    read_features: Callable[[object], np.ndarray] | None = None
