"""The network builders: which layers each architecture and setting gives."""

import keras
import pytest

from skimb import ImbalancedKerasClassifier
from skimb._networks import build_network

from .conftest import FAST

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


def test_estimator_passes_kernel_size_and_bidirectional(sequences):
    clf = ImbalancedKerasClassifier(
        "gru", kernel_size=2, bidirectional=False, **FAST
    ).fit(*sequences)
    assert clf.model_.get_layer("conv1d_front").kernel_size == (2,)
    assert isinstance(clf.model_.get_layer("gru_0"), keras.layers.GRU)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        ImbalancedKerasClassifier("conv1d", kernel_size=0, **FAST).fit(*sequences)
    with pytest.raises(ValueError, match="kernel_size"):
        ImbalancedKerasClassifier("lstm", kernel_size=-1, **FAST).fit(*sequences)


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_recurrent_network_needs_a_recurrent_layer(architecture):
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        build_network(
            architecture=architecture, input_shape=SHAPE, n_classes=2, n_layers=0
        )
