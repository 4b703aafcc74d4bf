"""The raw-Keras contender of ``bench_overhead.py`` and ``bench_scale.py``.

skimb's default network (64 units, dropout 0.1, standardised inputs, logits)
built by the same builder, then compiled and trained with ``keras.Model.fit``
alone, so the benchmarks compare skimb's fit with the Keras work it wraps.
"""

from __future__ import annotations

import keras
import numpy as np

from skimb._networks import build_network


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
    model = build_network(
        architecture=architecture,
        input_shape=X_train.shape[1:],
        n_classes=y_train.shape[1],
        units=64,
        n_layers=1,
        dropout=0.1,
        mean=mean,
        variance=variance,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
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
