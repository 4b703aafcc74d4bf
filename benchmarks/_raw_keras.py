"""The raw-Keras contender of ``bench_overhead.py``, ``bench_scale.py`` and
``bench_engine.py``.

skimb's default network (64 units, dropout 0.1, standardised inputs, logits)
built by the same builder, then compiled and trained with ``keras.Model.fit``
alone, so the benchmarks compare skimb's fit with the Keras work it wraps.
"""

from __future__ import annotations

import keras
import numpy as np

from skimb._networks import build_network


def compiled_network(
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    architecture: str,
    mean: np.ndarray,
    variance: np.ndarray,
    steps_per_execution: int = 1,
) -> keras.Model:
    """skimb's default network, by the same builder, compiled for Model.fit."""
    model = build_network(
        architecture=architecture,
        input_shape=input_shape,
        n_classes=n_classes,
        units=64,
        n_layers=1,
        dropout=0.1,
        mean=mean,
        variance=variance,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    return model


def fit_raw_keras(
    X_train: np.ndarray,
    y_train: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    *,
    architecture: str,
    mean: np.ndarray,
    variance: np.ndarray,
    batch_size: int,
    epochs: int,
) -> keras.Model:
    """Build, compile and fit the network on one-hot ``y_train``."""
    model = compiled_network(
        X_train.shape[1:],
        y_train.shape[1],
        architecture=architecture,
        mean=mean,
        variance=variance,
    )
    model.fit(
        X_train,
        y_train,
        validation_data=validation_data,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
    )
    return model
