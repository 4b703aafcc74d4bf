"""The network builders: which layers each architecture and setting gives."""

import keras
import numpy as np
import pytest

from skimb import ImbalancedKerasClassifier
from skimb._networks import build_network

SHAPE = (6, 3)


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_recurrent_default_is_conv_front_and_bidirectional(architecture):
    model = build_network(
        architecture=architecture, input_shape=SHAPE, n_classes=4, units=10
    )
    front = model.get_layer("conv1d_front")
    assert front.filters == 10 and front.kernel_size == (3,)
    assert front.padding == "same"
    wrapper = model.get_layer("bidirectional_0")
    assert isinstance(wrapper, keras.layers.Bidirectional)
    assert wrapper.forward_layer.units == 5 and wrapper.backward_layer.units == 5
    assert type(wrapper.forward_layer).__name__ == architecture.upper()
    # Both directions are concatenated: the logits read 2 * 5 features.
    assert model.get_layer("logits").kernel.shape == (10, 4)
    assert model.output_shape == (None, 4)


def test_plain_recurrent_network():
    model = build_network(
        architecture="lstm",
        input_shape=SHAPE,
        n_classes=3,
        units=7,
        kernel_size=0,
        bidirectional=False,
    )
    assert _layer_types(model) == ["InputLayer", "LSTM", "Dense"]
    assert model.get_layer("lstm_0").units == 7


def test_stacked_bidirectional_layers_pass_sequences():
    model = build_network(
        architecture="gru", input_shape=SHAPE, n_classes=2, units=1, n_layers=2
    )
    first, last = model.get_layer("bidirectional_0"), model.get_layer("bidirectional_1")
    assert first.forward_layer.units == 1  # units // 2 is at least 1
    assert first.forward_layer.return_sequences
    assert not last.forward_layer.return_sequences
    assert model.output_shape == (None, 2)


def test_conv1d_kernel_size():
    model = build_network(
        architecture="conv1d", input_shape=SHAPE, n_classes=2, kernel_size=5
    )
    assert model.get_layer("conv1d_0").kernel_size == (5,)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        build_network(
            architecture="conv1d", input_shape=SHAPE, n_classes=2, kernel_size=0
        )


def test_estimator_passes_kernel_size_and_bidirectional(sequences, fast_params):
    clf = ImbalancedKerasClassifier(
        "gru", kernel_size=2, bidirectional=False, **fast_params
    ).fit(*sequences)
    assert clf.model_.get_layer("conv1d_front").kernel_size == (2,)
    assert isinstance(clf.model_.get_layer("gru_0"), keras.layers.GRU)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        ImbalancedKerasClassifier("conv1d", kernel_size=0, **fast_params).fit(
            *sequences
        )
    with pytest.raises(ValueError, match="kernel_size"):
        ImbalancedKerasClassifier("lstm", kernel_size=-1, **fast_params).fit(*sequences)


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_recurrent_network_needs_a_recurrent_layer(architecture):
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        build_network(
            architecture=architecture, input_shape=SHAPE, n_classes=2, n_layers=0
        )


def test_flat_path_adds_a_linear_model_of_the_window():
    model = build_network(
        architecture="lstm", input_shape=SHAPE, n_classes=4, units=4, flat_path=True
    )
    linear = model.get_layer("flat_logits")
    # One weight per (time step, feature) and class: the flattened window.
    assert linear.kernel.shape == (6 * 3, 4)
    assert linear.kernel_regularizer is not None
    # With the encoder's logits at zero, the output is exactly that linear
    # model of the standardised window.
    model.get_layer("logits").kernel.assign(keras.ops.zeros((4, 4)))
    X = np.random.RandomState(0).normal(size=(5, *SHAPE)).astype("float32")
    expected = X.reshape(5, -1) @ keras.ops.convert_to_numpy(linear.kernel)
    expected += keras.ops.convert_to_numpy(linear.bias)
    expected += keras.ops.convert_to_numpy(model.get_layer("logits").bias)
    np.testing.assert_allclose(model.predict_on_batch(X), expected, atol=1e-5)


def test_dense_networks_have_no_flat_path():
    model = build_network(
        architecture="dense", input_shape=(5,), n_classes=2, flat_path=True
    )
    assert "flat_logits" not in [layer.name for layer in model.layers]


def test_pooling_sits_beside_the_recurrent_state():
    model = build_network(
        architecture="gru", input_shape=SHAPE, n_classes=3, units=6, pooling=True
    )
    # 2 x 3 recurrent units, and the mean and maximum of 6 filters.
    assert model.get_layer("logits").kernel.shape == (6 + 12, 3)
    plain = build_network(architecture="gru", input_shape=SHAPE, n_classes=3, units=6)
    assert plain.get_layer("logits").kernel.shape == (6, 3)


@pytest.mark.parametrize(
    ("architecture", "short", "long"),
    [
        ("dense", 3, 5),
        ("lstm", 3, 5),
        ("gru", 3, 5),
        ("conv1d", 3, 5),
        # Long enough to be max-pooled (by 3) before the recurrent layer.
        ("lstm", 66, 70),
    ],
)
def test_masked_networks_read_real_steps_only(architecture, short, long):
    """A sequence padded with NaN steps (the padding inside the network)
    gives what the same weights give it unpadded, in a shorter network."""
    settings = dict(
        architecture=architecture,
        n_classes=3,
        units=4,
        flat_path=True,
        pooling=True,
        mean=np.array([0.5, -1.0]),
        variance=np.array([2.0, 0.5]),
    )
    padded = build_network(input_shape=(long, 2), masked=True, **settings)
    unpadded = build_network(input_shape=(short, 2), **settings)
    for layer in unpadded.layers:
        if layer.weights:
            weights = padded.get_layer(layer.name).get_weights()
            if layer.name in ("flat_logits", "dense_0"):
                # Rows of the flattened window: the real steps'.
                weights[0] = weights[0][: short * 2]
            layer.set_weights(weights)
    X = np.random.RandomState(0).normal(size=(4, short, 2)).astype("float32")
    padding = np.full((4, long - short, 2), np.nan, "float32")
    out = padded.predict_on_batch(np.concatenate([X, padding], axis=1))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, unpadded.predict_on_batch(X), atol=1e-5)


@pytest.mark.parametrize("masked", [True, False])
def test_downsampling_takes_the_maximum_of_real_steps_alone(masked):
    # Padded steps, and the steps filling the last window, were zeros in
    # the maximum: under tanh a window's negative features came out as 0.
    keras.utils.set_random_seed(0)
    network = build_network(
        architecture="lstm",
        input_shape=(80, 2),
        n_classes=3,
        units=4,
        masked=masked,
        activation="tanh",
        flat_path=False,
    )
    front = network.get_layer("zero_padded_front" if masked else "conv1d_front")
    parts = keras.Model(
        network.input, [front.output, network.get_layer("downsample").output]
    )
    X = 3 * np.random.default_rng(1).normal(size=(8, 80, 2)).astype("float32")
    real = 70 if masked else 80
    if masked:
        X[:, real:] = np.nan
    features, pooled = (np.asarray(a) for a in parts.predict_on_batch(X))
    assert pooled.shape == (8, 27, 4)  # 80 steps in windows of 3
    for window in range(27):
        steps = [s for s in range(3 * window, 3 * window + 3) if s < real]
        expected = features[:, steps].max(axis=1) if steps else 0.0
        np.testing.assert_allclose(pooled[:, window], expected, atol=1e-6)
    assert (features[:, :real] < 0).any()  # (else no maximum was clipped)


def test_forward_of_any_number_of_rows_is_each_row_s():
    # (On JAX the rows are padded to a power of two, which compiles a few
    # shapes rather than one per batch size.)
    from skimb._inference import forward

    network = build_network(
        architecture="lstm", input_shape=(4, 2), n_classes=3, units=4
    )
    X = np.random.default_rng(0).normal(size=(9, 4, 2)).astype(np.float32)
    every = forward(network, X)
    for n_rows in (1, 3, 5, 8, 9):
        np.testing.assert_allclose(
            forward(network, X[:n_rows]), every[:n_rows], rtol=1e-5, atol=1e-6
        )
    for row in range(len(X)):
        np.testing.assert_allclose(
            forward(network, X[row : row + 1])[0], every[row], rtol=1e-5, atol=1e-6
        )
