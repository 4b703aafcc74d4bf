"""One network's training step traced once for cross-fitted networks
(TensorFlow): the same training as the networks traced as one model."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import skimb._network_step  # noqa: E402
import skimb._program  # noqa: E402
from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._inference import (  # noqa: E402
    _shared_ensemble_call,
    average_networks,
    forward,
)
from skimb._network_step import (  # noqa: E402
    _shared_update,
    _slot_finder,
    one_function,
    pays_to_share,
)
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


def _fit_both(monkeypatch, X, y, *, per_network_update: bool = True, **params):
    """The same fit with the shared step and with one model's step;
    ``per_network_update``: whether the shared step's optimizer update is
    traced for one network and called for each (else one update of every
    network's variables, as for an optimizer with shared state)."""
    shared_calls, updates = [], []
    original = skimb._program.shared_epoch
    original_update = skimb._network_step._shared_update

    def spied(*args, **kwargs):
        shared_calls.append(args)
        return original(*args, **kwargs)

    def spied_update(*args, **kwargs):
        updates.append(original_update(*args, **kwargs))
        return updates[-1]

    monkeypatch.setattr(skimb._program, "shared_epoch", spied)
    monkeypatch.setattr(skimb._network_step, "_shared_update", spied_update)
    shared = ImbalancedKerasClassifier(**params).fit(X, y)
    assert len(shared_calls) == 1  # the shared step trained these networks
    assert len(updates) == 1
    assert (updates[0] is not None) == per_network_update
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
    _same_training(shared, one_model, X)


def _same_training(shared, one_model, X) -> None:
    """The same histories, predictions, weights and optimizer state."""
    for ours, theirs in zip(shared.histories_, one_model.histories_, strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        shared.predict_proba(X), one_model.predict_proba(X), rtol=1e-4, atol=1e-6
    )
    # The optimizer's state too: its step counter, each variable's slots.
    for ours, theirs in (
        (shared.model_.weights, one_model.model_.weights),
        (shared.model_.optimizer.variables, one_model.model_.optimizer.variables),
    ):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a),
                keras.ops.convert_to_numpy(b),
                rtol=1e-4,
                atol=1e-6,
            )


@tensorflow_only
@pytest.mark.parametrize(
    "optimizer, per_network_update",
    # Nadam keeps a product of every step's momentum decay, shared by all
    # variables: one update of them all, as the one model's.
    [("adamw", True), ("rmsprop", True), ("sgd", True), ("nadam", False)],
)
def test_every_optimizer_updates_the_shared_networks_as_the_one_model(
    monkeypatch, sequences, optimizer, per_network_update
):
    X, y = sequences
    X = X.reshape(len(X), -1)
    common = dict(
        architecture="dense", units=4, cv=3, epochs=2, batch_size=64, random_state=0
    )
    shared, one_model = _fit_both(
        monkeypatch,
        X,
        y,
        per_network_update=per_network_update,
        optimizer=optimizer,
        **common,
    )
    _same_training(shared, one_model, X)


@tensorflow_only
def test_one_networks_update_is_traced_once_and_called_for_each():
    import tensorflow as tf

    networks = [_dense(units=3), _dense(units=3), _dense(units=3)]
    variables = [v for n in networks for v in n.trainable_variables]
    reference = [_dense(units=3) for _ in networks]
    for ours, theirs in zip(networks, reference, strict=True):
        theirs.set_weights(ours.get_weights())
    optimizer, theirs = keras.optimizers.Adam(0.1), keras.optimizers.Adam(0.1)
    optimizer.build(variables)
    theirs.build([v for n in reference for v in n.trainable_variables])
    # Each network's own slots (Adam's momentums, then its velocities), in
    # the order of its variables.
    slots = [_slot_finder(optimizer)(n.trainable_variables) for n in networks]
    shapes = [v.shape for v in networks[1].trainable_variables]
    assert [s.shape for s in slots[1]] == shapes * 2
    ids = [{id(s) for s in each} for each in slots]
    assert not ids[1] & (ids[0] | ids[2])
    update = _shared_update(optimizer, networks)
    traced = []
    apply = optimizer.apply
    optimizer.apply = lambda *args, **kwargs: traced.append(1) or apply(*args, **kwargs)
    rng = np.random.default_rng(0)
    gradients = [
        [rng.normal(size=v.shape).astype("float32") for v in n.trainable_variables]
        for n in networks
    ]
    step = tf.function(lambda g, takes: update(g, takes), autograph=False)
    for _ in range(3):
        step(gradients, [tf.constant(True)] * 3)
        theirs.apply(
            [g for each in gradients for g in each],
            [v for n in reference for v in n.trainable_variables],
        )
    # One trace of the update, for the first network, called for all three.
    assert len(traced) == 1
    for a, b in zip(optimizer.variables, theirs.variables, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6
        )
    for ours, other in zip(networks, reference, strict=True):
        for a, b in zip(ours.get_weights(), other.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)

    # A network that takes no step keeps its weights and slots; the others
    # move, and so does the step counter, the first network's too.
    def state(j):
        values = [*networks[j].trainable_variables, *slots[j]]
        return [keras.ops.convert_to_numpy(v).copy() for v in values]

    for skipped in (1, 0):
        before = [state(j) for j in range(3)]
        counter = int(optimizer.iterations.numpy())
        step(gradients, [tf.constant(j != skipped) for j in range(3)])
        assert int(optimizer.iterations.numpy()) == counter + 1
        for j in range(3):
            after = state(j)
            moved = any(
                not np.array_equal(a, b) for a, b in zip(before[j], after, strict=True)
            )
            assert moved is (j != skipped), (skipped, j)
    # An optimizer whose state is shared by its variables updates them
    # whole, as does one whose settings reach across variables.
    nadam = keras.optimizers.Nadam()
    nadam.build(variables)
    assert _slot_finder(nadam) is None
    assert _shared_update(nadam, networks) is None
    for settings in (
        dict(use_ema=True),
        dict(global_clipnorm=1.0),
        dict(gradient_accumulation_steps=2),
    ):
        other = keras.optimizers.Adam(**settings)
        other.build(variables)
        assert _shared_update(other, networks) is None, settings
    one_by_one = keras.optimizers.AdamW()
    one_by_one.exclude_from_weight_decay(var_list=networks[0].trainable_variables[:1])
    one_by_one.build(variables)
    assert _shared_update(one_by_one, networks) is None
    by_name = keras.optimizers.AdamW()
    by_name.exclude_from_weight_decay(var_names=["bias"])
    by_name.build(variables)
    assert _shared_update(by_name, networks) is not None
    # Networks of other shapes than the first's are not updated by its trace.
    wider = [_dense(units=3), _dense(units=5)]
    adam = keras.optimizers.Adam()
    adam.build([v for n in wider for v in n.trainable_variables])
    assert _shared_update(adam, wider) is None


@tensorflow_only
def test_the_update_of_each_network_is_bitwise_one_update_of_all(
    monkeypatch, sequences
):
    X, y = sequences
    params = dict(
        architecture="lstm", units=4, cv=3, epochs=3, batch_size=32, random_state=0
    )
    shipped, made = skimb._network_step._shared_update, []

    def spied(*args):
        made.append(shipped(*args))
        return made[-1]

    monkeypatch.setattr(skimb._network_step, "_shared_update", spied)
    ours = ImbalancedKerasClassifier(**params).fit(X, y)
    assert made and made[0] is not None
    monkeypatch.setattr(
        skimb._network_step, "_shared_update", lambda optimizer, networks: None
    )
    theirs = ImbalancedKerasClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
    for a, b in zip(
        ours.model_.get_weights(), theirs.model_.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)


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
