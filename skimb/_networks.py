"""Pure network builders: hyper-parameters in, an uncompiled ``keras.Model`` out.

The builders know nothing about scikit-learn or training; the classifier calls
them with the shapes it learned from the data.  Every network ends in a linear
layer of ``n_classes`` logits, so that losses and decision rules can work on
log-probabilities; a softmax is appended only for losses that want
probabilities.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from skimb._layers import (
    MaskedPooling,
    PooledMask,
    Standardize,
    StepMask,
    WindowMaxPooling,
    ZeroPadded,
)

ARCHITECTURES = ("dense", "lstm", "gru", "conv1d")
SEQUENCE_ARCHITECTURES = ("lstm", "gru", "conv1d")
# L2 penalty of the flat path's weights (see build_network).
FLAT_PATH_L2 = 1e-3
# Longer sequences are max-pooled to at most this many steps between the
# front convolution and the recurrent layers (see _recurrent_encoder).
RECURRENT_STEPS = 32


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
    kernel_size: int = 3,
    bidirectional: bool = True,
    mean: np.ndarray | None = None,
    variance: np.ndarray | None = None,
    probabilities: bool = False,
    masked: bool = False,
    flat_path: bool = False,
    pooling: bool = False,
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
    kernel_size : int
        Width of the convolutions: those of ``"conv1d"`` (>= 1), and the
        convolutional layer in front of ``"lstm"`` and ``"gru"`` (0: none).
    bidirectional : bool
        Read sequences in both directions in ``"lstm"`` and ``"gru"`` layers,
        ``units // 2`` (at least 1) per direction.
    mean, variance : ndarray of shape (n_features,), optional
        When given, a layer standardises each feature with them.
    probabilities : bool
        Append a softmax; otherwise the network outputs logits.
    masked : bool
        Steps of NaN are padding (sequences of different lengths): the
        network masks them in every layer that reads along time.
    flat_path : bool
        With a sequence architecture, add the logits of a linear layer on
        the flattened, standardised window to those of the temporal encoder.
    pooling : bool
        With a sequence architecture, also pool the first convolution's
        features over time (mean and maximum) beside the encoder's output.

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
    if kernel_size < (1 if architecture == "conv1d" else 0):
        raise ValueError(
            f"kernel_size must be >= 1 with architecture='conv1d' and >= 0 "
            f"otherwise; got {kernel_size} with {architecture!r}."
        )
    if n_layers < 1 and architecture in ("lstm", "gru"):
        # Without a recurrent layer nothing would reduce the time axis.
        raise ValueError(
            f"n_layers must be >= 1 with architecture={architecture!r}; got {n_layers}."
        )
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    x = inputs
    step_mask = None
    if masked:
        x, step_mask = StepMask(name="step_mask")(x)
    x = standardized(x, mean=mean, variance=variance)
    if masked:
        x = ZeroPadded(name="zero_padded")(x, step_mask)
    window = x
    if architecture == "dense":
        if len(input_shape) > 1:
            x = keras.layers.Flatten(name="flatten")(x)
        for i in range(n_layers):
            x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    elif architecture in ("lstm", "gru"):
        x = _recurrent_encoder(
            x,
            step_mask,
            architecture=architecture,
            units=units,
            n_layers=n_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            activation=activation,
            kernel_size=kernel_size,
            bidirectional=bidirectional,
            pooling=pooling,
        )
    else:
        for i in range(n_layers):
            x = keras.layers.Conv1D(
                units,
                kernel_size,
                padding="same",
                activation=activation,
                name=f"conv1d_{i}",
            )(x)
            if masked:
                x = ZeroPadded(name=f"zero_padded_{i}")(x, step_mask)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        x = _pooled(x, step_mask, modes=("mean", "max") if pooling else ("mean",))
    outputs = keras.layers.Dense(n_classes, name="logits")(x)
    if flat_path and architecture in SEQUENCE_ARCHITECTURES:
        # A linear model of the whole standardised window beside the
        # temporal encoder: the network can do at least what logistic
        # regression on the flattened sequence does (docs/benchmarks.rst,
        # "The benchmark suite").  Weight decay keeps its many weights from
        # fitting noise on small data.
        linear = keras.layers.Dense(
            n_classes,
            kernel_regularizer=keras.regularizers.L2(FLAT_PATH_L2),
            name="flat_logits",
        )(keras.layers.Flatten(name="flat_window")(window))
        outputs = keras.layers.Add(name="logits_sum")([outputs, linear])
    return keras.Model(
        inputs,
        output_head(outputs, probabilities=probabilities),
        name=f"skimb_{architecture}",
    )


def standardized(x, *, mean: np.ndarray | None, variance: np.ndarray | None):
    """``x`` through a :class:`~skimb._layers.Standardize` layer holding
    ``mean`` and ``variance``, named ``"standardize"`` (the name the
    estimator and its tests find it by); ``x`` itself when ``mean`` is None."""
    if mean is None:
        return x
    layer = Standardize(name="standardize")
    x = layer(x)
    layer.set_moments(np.asarray(mean), np.asarray(variance))
    return x


# The name of a network's last layer when it ends in a softmax (a loss that
# takes probabilities) rather than in logits.
PROBABILITIES = "probabilities"


def output_head(logits, *, probabilities: bool):
    """A network's output: its logits, or, when the loss takes probabilities,
    their softmax named ``"probabilities"`` (what :func:`ends_in_softmax`
    reads, for instance to average probabilities rather than
    log-probabilities)."""
    if not probabilities:
        return logits
    return keras.layers.Softmax(name=PROBABILITIES)(logits)


def ends_in_softmax(model) -> bool:
    """Whether a network built here ends in probabilities, not logits."""
    return bool(model is not None and model.layers) and (
        model.layers[-1].name == PROBABILITIES
    )


def _recurrent_encoder(
    x,
    step_mask,
    *,
    architecture,
    units,
    n_layers,
    dropout,
    recurrent_dropout,
    activation,
    kernel_size,
    bidirectional,
    pooling,
):
    """Convolution in front, recurrent layers, and optionally pooled
    convolution features beside them."""
    # A convolution in front hands the recurrent layer features of
    # neighbouring time steps, and reading both directions spares it
    # carrying the first steps to the end: on the benchmark sequences the
    # two together lift the default's macro-F1 from 87% to 92.5% of the
    # Bayes-optimal (docs/benchmarks.rst, "The recurrent network").
    front, front_mask = None, step_mask
    if kernel_size > 0:
        x = front = keras.layers.Conv1D(
            units,
            kernel_size,
            padding="same",
            activation=activation,
            name="conv1d_front",
        )(x)
        if step_mask is not None:
            x = front = ZeroPadded(name="zero_padded_front")(x, step_mask)
        pool = math.ceil(x.shape[1] / RECURRENT_STEPS)
        if pool > 1:
            # Long sequences reach the recurrent layer max-pooled to at most
            # RECURRENT_STEPS steps: its cost grows with the steps it reads,
            # and short sequences train better by gradient.  The flat path
            # and the pooled features still see every step.
            # Windows start at step 0 whatever the length (``"same"``
            # padding would centre them), so padding never moves them, and
            # their maximum is of their real steps alone.
            downsample = WindowMaxPooling(pool, name="downsample")
            if step_mask is None:
                x = downsample(x)
            else:
                x = downsample(x, step_mask)
                step_mask = PooledMask(pool, name="downsampled_mask")(step_mask)
    layer = keras.layers.LSTM if architecture == "lstm" else keras.layers.GRU
    for i in range(n_layers):
        recurrent = layer(
            max(units // 2, 1) if bidirectional else units,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=i < n_layers - 1,
            name=f"{architecture}_{i}",
        )
        if bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{i}")
        x = recurrent(x) if step_mask is None else recurrent(x, mask=step_mask)
    if pooling and front is not None:
        # A pattern anywhere in the window (a motif) is found by the maximum
        # over time of a convolution; the recurrent state must carry it.
        x = keras.layers.Concatenate(name="encoded")(
            [x, _pooled(front, front_mask, modes=("mean", "max"))]
        )
    return x


def _pooled(x, step_mask, *, modes):
    """Pool ``x`` over time (over real steps only when masked)."""
    pooled = []
    for mode in modes:
        if step_mask is not None:
            pooled.append(MaskedPooling(mode, name=f"{mode}_pool")(x, step_mask))
        elif mode == "mean":
            pooled.append(keras.layers.GlobalAveragePooling1D(name="mean_pool")(x))
        else:
            pooled.append(keras.layers.GlobalMaxPooling1D(name="max_pool")(x))
    if len(pooled) == 1:
        return pooled[0]
    return keras.layers.Concatenate(name="pooled")(pooled)
