"""Running networks: the averaged model of cross-fitted networks, and
inference on NumPy batches.

What a fitted estimator predicts through; building the networks is
:mod:`skimb._networks`' concern.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from scipy.special import log_softmax

from skimb._network_step import pays_to_share, shared_outputs
from skimb._networks import PROBABILITIES, ends_in_softmax

# The name of the model of average_networks.
ENSEMBLE = "skimb_ensemble"


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
    >>> from skimb._inference import average_networks
    >>> from skimb._networks import build_network
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
