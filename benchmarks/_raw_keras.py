"""The plain-Keras contenders of the benchmarks.

``compiled_network`` (``bench_overhead.py``, ``bench_scale.py``,
``bench_engine.py``): a skimb network of 64 units (dropout 0.1,
standardised inputs, logits; the default before the benchmark suite, or
another shape: ``bench_engine.py``'s default fits take today's default's)
built by the same builder, then compiled and trained with ``keras.Model.fit``
alone, so the benchmarks compare skimb's fit with the Keras work it wraps.

``plain_scikeras`` (``bench_strategies.py``, ``bench_suite.py``): the network
a scikeras user writes, softmax and crossentropy.
"""

from __future__ import annotations

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier

from skimb._networks import build_network


def compiled_network(
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    architecture: str,
    mean: np.ndarray,
    variance: np.ndarray,
    steps_per_execution: int = 1,
    units: int = 64,
    n_layers: int = 1,
) -> keras.Model:
    """skimb's network, by the same builder, compiled for Model.fit (64
    units in one layer unless ``units`` and ``n_layers`` say otherwise)."""
    model = build_network(
        architecture=architecture,
        input_shape=input_shape,
        n_classes=n_classes,
        units=units,
        n_layers=n_layers,
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
    callbacks: list | None = None,
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
        callbacks=callbacks,
        verbose=0,
    )
    return model


def plain_scikeras(
    *,
    lstm_units: int | None,
    dense_units: tuple[int, ...],
    epochs: int,
    seed: int,
    batch_size: int | None = None,
) -> KerasClassifier:
    """A scikeras ``KerasClassifier``: an optional LSTM layer, ReLU dense
    layers, a softmax, sparse crossentropy, Adam (``batch_size=None``: Keras'
    32)."""

    def model(meta):
        inputs = keras.Input(meta["X_shape_"][1:])
        hidden = inputs
        if lstm_units is not None:
            hidden = keras.layers.LSTM(lstm_units)(hidden)
        for units in dense_units:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
        outputs = keras.layers.Dense(meta["n_classes_"], activation="softmax")(hidden)
        return keras.Model(inputs, outputs)

    return KerasClassifier(
        model=model,
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        random_state=seed,
    )
