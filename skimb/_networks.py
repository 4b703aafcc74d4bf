"""Pure network builders: hyper-parameters in, an uncompiled ``keras.Model`` out.

The builders know nothing about scikit-learn or training; the classifier calls
them with the shapes it learned from the data.  Every network ends in a linear
layer of ``n_classes`` logits, so that losses and decision rules can work on
log-probabilities; a softmax is appended only for losses that want
probabilities.
"""

from __future__ import annotations

import keras
import numpy as np

ARCHITECTURES = ("dense", "lstm", "gru", "conv1d")
SEQUENCE_ARCHITECTURES = ("lstm", "gru", "conv1d")


def build_network(
    *,
    architecture: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    units: int = 64,
    n_layers: int = 1,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    activation: str = "relu",
    mean: np.ndarray | None = None,
    variance: np.ndarray | None = None,
    probabilities: bool = False,
) -> keras.Model:
    """Build the network for one architecture.

    Parameters
    ----------
    architecture : {"dense", "lstm", "gru", "conv1d"}
        ``"dense"`` is a multi-layer perceptron (a 3-D input is flattened
        after standardisation); the others read ``(timesteps, features)``.
    input_shape : tuple of int
        Shape of one sample: ``(n_features,)`` or ``(n_timesteps, n_features)``.
    n_classes : int
        Width of the output layer.
    units : int
        Width of each hidden layer (dense units, recurrent units or filters).
    n_layers : int
        Number of hidden layers; 0 is allowed for ``"dense"`` (a linear model).
    dropout, recurrent_dropout : float
        Dropout after each hidden layer, and on the recurrent state.
    activation : str
        Activation of dense and convolutional hidden layers.
    mean, variance : ndarray of shape (n_features,), optional
        When given, a ``Normalization`` layer standardises each feature.
    probabilities : bool
        Append a softmax; otherwise the network outputs logits.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> from skimb._networks import build_network
    >>> model = build_network(architecture="lstm", input_shape=(20, 18), n_classes=4)
    >>> model.output_shape
    (None, 4)
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"architecture must be one of {ARCHITECTURES}; got {architecture!r}."
        )
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = inputs
    if mean is not None:
        x = keras.layers.Normalization(
            axis=-1, mean=mean, variance=variance, name="standardize"
        )(x)
    if architecture == "dense":
        if len(input_shape) > 1:
            x = keras.layers.Flatten(name="flatten")(x)
        for i in range(n_layers):
            x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    elif architecture in ("lstm", "gru"):
        layer = keras.layers.LSTM if architecture == "lstm" else keras.layers.GRU
        for i in range(n_layers):
            x = layer(
                units,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                return_sequences=i < n_layers - 1,
                name=f"{architecture}_{i}",
            )(x)
    else:
        for i in range(n_layers):
            x = keras.layers.Conv1D(
                units, 3, padding="same", activation=activation, name=f"conv1d_{i}"
            )(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(n_classes, name="logits")(x)
    if probabilities:
        outputs = keras.layers.Softmax(name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=f"skimb_{architecture}")


def forward(model: keras.Model, X: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Run the network in inference mode and return its outputs as NumPy.

    ``predict_on_batch`` reuses one traced graph, so a single row costs well
    under a millisecond; ``Model.predict`` builds a dataset and a progress
    loop on every call (tens of milliseconds), which dominates small batches.
    """
    if len(X) <= batch_size:
        return np.asarray(model.predict_on_batch(X))
    return np.concatenate(
        [
            np.asarray(model.predict_on_batch(X[start : start + batch_size]))
            for start in range(0, len(X), batch_size)
        ]
    )
