"""Pure network builders: hyper-parameters in, an uncompiled ``keras.Model`` out.

The builders know nothing about scikit-learn or training; the classifier calls
them with the shapes it learned from the data.  Every network ends in a linear
layer of ``n_classes`` logits, so that losses and decision rules can work on
log-probabilities; a softmax is appended only for losses that want
probabilities.
"""

from __future__ import annotations

import math
import weakref

import keras
import numpy as np
from scipy.special import log_softmax

from skimb._layers import MaskedPooling, PooledMask, Standardize, StepMask, ZeroPadded
from skimb._network_step import pays_to_share, shared_outputs

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
# The name of the model of average_networks.
ENSEMBLE = "skimb_ensemble"


def output_head(logits, *, probabilities: bool):
    """A network's output: its logits, or, when the loss takes probabilities,
    their softmax named ``"probabilities"`` (what :func:`ends_in_softmax`
    reads, for instance to average probabilities rather than
    log-probabilities)."""
    if not probabilities:
        return logits
    return keras.layers.Softmax(name=PROBABILITIES)(logits)


def are_probabilities(outputs: np.ndarray) -> bool:
    """Whether a network's outputs are class probabilities (non-negative
    rows summing to 1) rather than logits."""
    outputs = np.asarray(outputs)
    # Half precision (a mixed_float16 policy) sums a softmax less exactly.
    atol = 1e-2 if outputs.dtype == np.float16 else 1e-4
    return bool(
        outputs.min() >= 0
        and np.allclose(outputs.astype(np.float64).sum(axis=1), 1, atol=atol)
    )


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
            # padding would centre them), so padding never moves them.
            extra = pool * math.ceil(x.shape[1] / pool) - x.shape[1]
            if extra:
                x = keras.layers.ZeroPadding1D((0, extra), name="pad_to_pool")(x)
            x = keras.layers.MaxPooling1D(pool, name="downsample")(x)
            if step_mask is not None:
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


def average_networks(networks: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of several networks' outputs.

    Networks ending in logits are averaged as log-probabilities (a normalised
    geometric mean of their probabilities; the output is again logits), and
    networks ending in a softmax as probabilities.  Each network keeps its own
    standardisation layer and weights, under the name ``network_i``.

    Parameters
    ----------
    networks : list of keras.Model
        Networks built by :func:`build_network` with the same input shape,
        number of classes and output kind.

    Returns
    -------
    keras.Model
        Uncompiled; its last layer is ``"logits"`` or ``"probabilities"`` as
        the networks' is.

    Examples
    --------
    >>> from skimb._networks import average_networks, build_network
    >>> networks = [
    ...     build_network(architecture="dense", input_shape=(3,), n_classes=2)
    ...     for _ in range(3)
    ... ]
    >>> [layer.name for layer in average_networks(networks).layers][-2:]
    ['log_proba_2', 'logits']
    """
    probabilities = ends_in_softmax(networks[0])
    inputs = keras.Input(shape=networks[0].input_shape[1:], name="features")
    outputs = []
    for i, network in enumerate(networks):
        # Nested models must have distinct names within the ensemble.
        network.name = f"network_{i}"
        x = network(inputs)
        if not probabilities:
            x = keras.layers.Activation("log_softmax", name=f"log_proba_{i}")(x)
        outputs.append(x)
    outputs = keras.layers.Average(name=PROBABILITIES if probabilities else "logits")(
        outputs
    )
    return keras.Model(inputs, outputs, name=ENSEMBLE)


def log_probabilities(outputs: np.ndarray, *, probabilities: bool) -> np.ndarray:
    """Float64 log-probabilities of a network's outputs: logits, or the
    probabilities of a network ending in a softmax (``probabilities``)."""
    outputs = outputs.astype(np.float64)
    if not probabilities:
        return log_softmax(outputs, axis=1)
    # A float32 softmax rounds probabilities below its range to 0: their log
    # is at most log(tiny) (about -87), not -inf, which would poison the
    # calibration and the decision rule fitted on these outputs.
    outputs = np.maximum(outputs, np.finfo(np.float32).tiny)
    return np.log(outputs / outputs.sum(axis=1, keepdims=True))


def feature_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and variance over every axis but the last, in float64,
    a chunk of rows at a time so that no float64 copy of X is made.  Padded
    steps (rows of NaN) are left out."""
    return MomentSums().add(X).moments()


class MomentSums:
    """Running per-feature sums, sums of squares, minima and maxima, in
    float64, of rows given a window at a time (streamed data); those of
    row sets add."""

    def __init__(
        self,
        total=0.0,
        total_sq=0.0,
        count: int = 0,
        low=np.inf,
        high=-np.inf,
    ):
        self.total, self.total_sq, self.count = total, total_sq, count
        self.low, self.high = low, high

    def add(self, X: np.ndarray, chunk: int = 65_536) -> MomentSums:
        """Add the steps of ``X`` (every axis but the last), NaN steps left out."""
        rows = X.reshape(-1, X.shape[-1])
        for start in range(0, len(rows), chunk):
            block = rows[start : start + chunk].astype(np.float64)
            block = block[~np.isnan(block).any(axis=1)]
            if not len(block):
                continue
            self.total = self.total + block.sum(axis=0)
            self.total_sq = self.total_sq + np.square(block).sum(axis=0)
            self.count += len(block)
            self.low = np.minimum(self.low, block.min(axis=0))
            self.high = np.maximum(self.high, block.max(axis=0))
        return self

    def __add__(self, other: MomentSums) -> MomentSums:
        return MomentSums(
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.count + other.count,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and variance; a variance of 1 for a constant feature.

        The standardisation divides by ``max(std, 1e-7)``: a feature
        constant on these rows (an indicator never set in a first
        ``partial_fit`` chunk, a column constant in ``fit``) would be
        multiplied by 1e7 wherever it later varies, and the logits with it.
        As scikit-learn's ``StandardScaler`` does, such a feature is
        centred and left unscaled.  Constant is told by its minimum and
        maximum, exactly: the variance from the sums keeps a rounding error
        that grows with the rows (6,700 float64 epsilons of the mean square
        for a column of 1000.3 over 300,000 rows).
        """
        mean = self.total / self.count
        mean_square = self.total_sq / self.count
        variance = np.maximum(mean_square - mean**2, 0.0)
        constant = np.broadcast_to(self.low >= self.high, np.shape(variance))
        return mean, np.where(constant, 1.0, variance)


def held_out_moments(windows, group: np.ndarray, n_networks: int) -> list[tuple]:
    """Each network's training feature moments, from one pass over
    ``windows`` (``(ids, X)``, X checked) where ``group[i]`` is the network
    row ``i`` is held out from (-1: none): a network's moments are those of
    every group's rows but its own."""
    # The last sums: of the rows no network holds out.
    sums = [MomentSums() for _ in range(n_networks + 1)]
    for ids, X in windows:
        window_group = group[ids]
        for g, member in enumerate(sums):
            member.add(X[window_group == (g if g < n_networks else -1)])
    # Added, not the total less the group: minima and maxima do not subtract.
    return [
        sum((m for g, m in enumerate(sums) if g != j), start=MomentSums()).moments()
        for j in range(n_networks)
    ]


# One inference function per live model; weak keys let models be collected.
_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_function(model: keras.Model):
    """A function running ``model`` in inference mode on a float32 batch.

    ``Model.predict`` builds a dataset and a progress loop on every call
    (tens of milliseconds), which dominates small batches.  On TensorFlow a
    concrete graph function with a fixed signature skips even the dispatch of
    ``predict_on_batch`` (about half a millisecond); other backends use
    ``predict_on_batch``.
    """
    function = _INFERENCE.get(model)
    if function is not None:
        return function
    # Weak references, so that this cache does not keep the model alive.
    model_ref = weakref.ref(model)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # The traced graph holds the model's variables, not the model.
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        call = _shared_ensemble_call(model)
        if call is None:

            def call(x):
                return model_ref()(x, training=False)

        # Without autograph, which cannot read a function's source in every
        # process (a joblib worker's) and warns; there is no loop to convert.
        concrete = tf.function(
            call, input_signature=[spec], autograph=False
        ).get_concrete_function()

        def function(X):
            return concrete(X).numpy()

    else:
        # JAX compiles for each shape: rows are padded to a power of two, so
        # that a server's or a cross-validation's many batch sizes compile
        # a few times, not once each (a dense network's first call at a new
        # size took about 0.2 s, against 1.5 ms at a known one).
        # (Not a network of a fixed batch size, which takes no other.)
        fixed = model.inputs[0].shape[0] is not None if model.inputs else False

        def function(X):
            n_rows = len(X)
            padded = 1 << max(n_rows - 1, 0).bit_length()
            if padded != n_rows and not fixed:
                X = np.concatenate(
                    [X, np.zeros((padded - n_rows, *X.shape[1:]), X.dtype)]
                )
            return np.asarray(model_ref().predict_on_batch(X))[:n_rows]

    _INFERENCE[model] = function
    return function


def _shared_ensemble_call(model: keras.Model):
    """For a model of :func:`average_networks` whose networks compute one
    function of their weights (TensorFlow's shared step would train them
    together): its inference
    with one network's forward pass traced once and called for each
    (:func:`skimb._network_step.shared_outputs`), through the model's own
    averaging layers.  Traced whole, the five cross-fitted default LSTMs'
    first prediction spent about 2 s tracing five copies.  None for any
    other model."""
    if model.name != ENSEMBLE:
        return None
    k = sum(isinstance(layer, keras.Model) for layer in model.layers)
    try:
        networks = [model.get_layer(f"network_{i}") for i in range(k)]
    except ValueError:  # Not named as average_networks names them.
        return None
    if k < 2 or not pays_to_share(networks):
        return None
    names = {layer.name for layer in model.layers}
    logs = [
        model.get_layer(name) if name in names else None
        for name in (f"log_proba_{i}" for i in range(k))
    ]
    average = model.layers[-1]
    outputs_of = shared_outputs(networks)

    def call(x):
        outputs = outputs_of(x)
        return average(
            [y if log is None else log(y) for y, log in zip(outputs, logs, strict=True)]
        )

    return call


def forward(model: keras.Model, X: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Run the network in inference mode on float32 ``X``; return NumPy outputs."""
    function = _inference_function(model)
    if len(X) <= batch_size:
        return function(X)
    return np.concatenate(
        [
            function(X[start : start + batch_size])
            for start in range(0, len(X), batch_size)
        ]
    )
