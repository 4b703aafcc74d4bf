"""One network's training step traced once for cross-fitted networks
(TensorFlow): the same training as the networks traced as one model."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import skimb._program  # noqa: E402
from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._inference import (  # noqa: E402
    _shared_ensemble_call,
    average_networks,
    forward,
)
from skimb._network_step import one_function, pays_to_share  # noqa: E402
from skimb._networks import build_network  # noqa: E402

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the shared step is TensorFlow's (JAX compiles the epoch with XLA)",
)


def conv_with_batch_norm(meta):
    """A user's network with state that training updates besides its
    weights (batch normalisation's moving statistics)."""
    return keras.Sequential(
        [
            keras.Input(meta["X_shape_"][1:]),
            keras.layers.Conv1D(4, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(meta["n_classes_"]),
        ]
    )


def _fit_both(monkeypatch, X, y, **params):
    """The same fit with the shared step and with one model's step."""
    shared_calls = []
    original = skimb._program.shared_epoch

    def spied(*args, **kwargs):
        shared_calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(skimb._program, "shared_epoch", spied)
    shared = ImbalancedKerasClassifier(**params).fit(X, y)
    assert len(shared_calls) == 1  # the shared step trained these networks
    monkeypatch.setattr(
        skimb._program, "pays_to_share", lambda networks, optimizer: False
    )
    one_model = ImbalancedKerasClassifier(**params).fit(X, y)
    assert len(shared_calls) == 1
    return shared, one_model


@tensorflow_only
@pytest.mark.parametrize(
    "params",
    [
        # Dropout (the seeds' state), the flat path's L2 penalty, and the
        # standardisation's moments, each network's own.
        dict(architecture="lstm", units=4, dropout=0.3),
        dict(model=conv_with_batch_norm, standardize=True),
        # Dense networks, with sample weights from class_weight.
        dict(architecture="dense", class_weight="balanced"),
    ],
    ids=["lstm", "own-conv1d-batch-norm", "dense"],
)
def test_cross_fitted_networks_train_as_one_model_trains_them(
    monkeypatch, sequences, params
):
    X, y = sequences
    common = dict(cv=3, epochs=3, batch_size=32, random_state=0, **params)
    shared, one_model = _fit_both(monkeypatch, X, y, **common)
    for ours, theirs in zip(shared.histories_, one_model.histories_, strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        shared.predict_proba(X), one_model.predict_proba(X), rtol=1e-4, atol=1e-6
    )
    for ours, theirs in zip(
        shared.model_.weights, one_model.model_.weights, strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ours),
            keras.ops.convert_to_numpy(theirs),
            rtol=1e-4,
            atol=1e-6,
        )


def _network(units: int = 4, mean: float = 0.0, **params):
    return build_network(
        architecture="lstm",
        input_shape=(5, 2),
        n_classes=3,
        units=units,
        n_layers=1,
        mean=np.full(2, mean),
        variance=np.ones(2),
        **params,
    )


def test_networks_of_one_architecture_are_one_function_of_their_weights():
    # Standardised by other moments (weights), still one function.
    assert one_function([_network(), _network(mean=1.0), _network(mean=2.0)])
    adam = keras.optimizers.Adam()
    assert pays_to_share([_network(), _network(mean=1.0)], adam)
    # Mixed precision's scaled loss: the one model's step keeps it.
    scaled = keras.optimizers.LossScaleOptimizer(adam)
    assert not pays_to_share([_network(), _network(mean=1.0)], scaled)
    # Other widths, other layers, or a Lambda (whose code the config may not
    # tell apart): not shared.
    assert not one_function([_network(units=4), _network(units=6)])
    assert not one_function([_network(), _network(dropout=0.5)])
    lambdas = [
        keras.Sequential(
            [
                keras.Input((5, 2)),
                keras.layers.LSTM(3),
                keras.layers.Lambda(lambda x, s=scale: x * s),
            ]
        )
        for scale in (1.0, 2.0)
    ]
    assert not one_function(lambdas)
    # Dense networks too.
    assert pays_to_share([_dense(), _dense()], adam)
    # An adapted Normalization computes from constants, not from weights.
    adapted = []
    for shift in (0.0, 5.0):
        normalization = keras.layers.Normalization()
        normalization.adapt(np.arange(10.0).reshape(5, 2) + shift)
        adapted.append(
            keras.Sequential([keras.Input((5, 2)), normalization, keras.layers.LSTM(3)])
        )
    assert not one_function(adapted)


def _numpy(values) -> list:
    return [keras.ops.convert_to_numpy(v) for v in values]


def _predicts_as_whole(model, X) -> None:
    """``forward`` gives the whole model's outputs, and moves its state (the
    dropout seeds Keras' recurrent layers draw in inference too) as the
    whole model's call moves it."""
    start = _numpy(model.non_trainable_variables)
    whole = keras.ops.convert_to_numpy(model(X, training=False))
    moved = _numpy(model.non_trainable_variables)
    for variable, value in zip(model.non_trainable_variables, start, strict=True):
        variable.assign(value)
    np.testing.assert_allclose(forward(model, X), whole, rtol=1e-5, atol=1e-6)
    for value, now in zip(moved, _numpy(model.non_trainable_variables), strict=True):
        np.testing.assert_array_equal(value, now)


@tensorflow_only
def test_cross_fitted_networks_predict_as_their_averaged_model_computes(sequences):
    X, y = sequences
    clf = ImbalancedKerasClassifier(
        "lstm", units=4, dropout=0.3, cv=3, epochs=2, batch_size=32, random_state=0
    ).fit(X, y)
    # The fitted model averages the three networks, each's forward traced
    # once and called for each.
    assert _shared_ensemble_call(clf.model_) is not None
    _predicts_as_whole(clf.model_, X.astype(np.float32))


@tensorflow_only
@pytest.mark.parametrize("architecture", ["lstm", "dense"])
@pytest.mark.parametrize("probabilities", [False, True], ids=["logits", "softmax"])
def test_averaged_networks_predict_as_the_whole_model(architecture, probabilities):
    networks = [  # of their own initial weights
        build_network(
            architecture=architecture,
            input_shape=(5, 2),
            n_classes=3,
            units=4,
            probabilities=probabilities,
        )
        for _ in range(3)
    ]
    ensemble = average_networks(networks)
    assert _shared_ensemble_call(ensemble) is not None
    X = np.random.default_rng(0).normal(size=(7, 5, 2)).astype(np.float32)
    _predicts_as_whole(ensemble, X)
    # Any other model predicts whole.
    assert _shared_ensemble_call(networks[0]) is None
    other_widths = [_dense(), _dense(units=4)]
    assert _shared_ensemble_call(average_networks(other_widths)) is None


def _dense(**params):
    return build_network(architecture="dense", input_shape=(4,), n_classes=3, **params)
