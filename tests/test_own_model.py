"""A user's own Keras network (``model=``), with every skimb strategy applied."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from optuna.distributions import IntDistribution  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

from skimb import ImbalancedKerasClassifier, OptunaSearchCV, persistence  # noqa: E402
from skimb._inference import forward  # noqa: E402

OWN = dict(epochs=3, batch_size=64, patience=2, cv=None, random_state=0)
SEEN_META: list[dict] = []


def lstm_time_distributed(meta, units=8, dropout=0.1):
    """What users write: an LSTM, a per-step Dense(1), Flatten, a softmax."""
    SEEN_META.append(meta)
    return keras.Sequential(
        [
            keras.Input(meta["input_shape_"]),
            keras.layers.LSTM(units, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(1)),
            keras.layers.Dropout(dropout),
            keras.layers.Flatten(),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


def dense_logits(meta, units=8):
    """A network that outputs logits (no softmax)."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(units, activation="relu", name="hidden"),
            keras.layers.Dense(meta["n_classes_"]),
        ]
    )


def _user_network(model: keras.Model) -> keras.Model:
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def _hidden_units(clf) -> int:
    return _user_network(clf.model_).get_layer("hidden").units


def test_a_build_function_gets_meta_and_its_routed_parameters(sequences):
    X, y = sequences
    SEEN_META.clear()
    clf = ImbalancedKerasClassifier(
        model=lstm_time_distributed, model__units=4, **OWN
    ).fit(X, y)
    (meta,) = SEEN_META
    assert meta["n_classes_"] == 4 and meta["input_shape_"] == X.shape[1:]
    assert meta["n_features_in_"] == X.shape[2]
    np.testing.assert_array_equal(meta["classes_"], np.arange(4))
    user = _user_network(clf.model_)
    assert user.layers[0].units == 4  # the LSTM of the routed width
    proba = clf.predict_proba(X[:10])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_routed_parameters_are_estimator_parameters(tabular):
    X, y = tabular
    clf = ImbalancedKerasClassifier(model=dense_logits, model__units=3, **OWN)
    assert clf.get_params()["model__units"] == 3
    copy = clone(clf)
    assert copy.get_params()["model__units"] == 3 and copy.model is dense_logits
    copy.set_params(model__units=5)
    assert _hidden_units(copy.fit(X, y)) == 5
    assert _hidden_units(clf.fit(X, y)) == 3
    assert "model__units=3" in repr(clf)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['layers'\]"):
        ImbalancedKerasClassifier(model=dense_logits, layers=3, **OWN).fit(X, y)


def test_grid_and_optuna_searches_tune_a_routed_parameter(tabular):
    X, y = tabular
    clf = ImbalancedKerasClassifier(model=dense_logits, **OWN)
    grid = GridSearchCV(clf, {"model__units": [2, 6]}, cv=2, scoring="f1_macro")
    grid.fit(X, y)
    assert grid.best_params_["model__units"] in (2, 6)
    assert _hidden_units(grid.best_estimator_) == grid.best_params_["model__units"]
    search = OptunaSearchCV(
        clf, {"model__units": IntDistribution(2, 6)}, n_trials=2, cv=2, random_state=0
    ).fit(X, y)
    units = search.best_params_["model__units"]
    assert _hidden_units(search.best_estimator_) == units
    assert set(search.study_.trials[0].params) == {"model__units"}


def test_a_model_instance_is_cloned_for_every_network(tabular):
    X, y = tabular
    mine = dense_logits({"n_features_in_": X.shape[1], "n_classes_": 4})
    mine.compile(optimizer="sgd", loss="categorical_crossentropy")
    before = [w.copy() for w in mine.get_weights()]
    clf = ImbalancedKerasClassifier(model=mine, **{**OWN, "cv": 3}).fit(X, y)
    assert clf.n_networks_ == 3
    kernels = [
        _user_network(clf.model_.get_layer(f"network_{i}")).get_layer("hidden").kernel
        for i in range(3)
    ]
    values = [keras.ops.convert_to_numpy(k) for k in kernels]
    assert not np.allclose(values[0], values[1])
    # The user's own network is left as it was.
    for old, new in zip(before, mine.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_own_network_sees_x_as_given_unless_standardize_is_true(tabular):
    X, y = tabular
    X = X * np.array([1000.0] + [1.0] * (X.shape[1] - 1))
    as_given = ImbalancedKerasClassifier(model=dense_logits, **OWN).fit(X, y)
    with pytest.raises(ValueError, match="standardize"):
        as_given.model_.get_layer("standardize")
    # The user's network alone maps X to the logits.
    np.testing.assert_allclose(
        forward(as_given.model_, X[:5]),
        forward(_user_network(as_given.model_), X[:5]),
        rtol=1e-5,
    )
    scaled = ImbalancedKerasClassifier(model=dense_logits, standardize=True, **OWN).fit(
        X, y
    )
    # The moments of the training split (X less the validation rows).
    variance = keras.ops.convert_to_numpy(
        scaled.model_.get_layer("standardize").variance
    ).ravel()
    assert variance.shape == (X.shape[1],)
    assert 0.8 < variance[0] / X[:, 0].var() < 1.25


def test_a_final_softmax_is_turned_into_log_probabilities(sequences):
    X, y = sequences
    clf = ImbalancedKerasClassifier(model=lstm_time_distributed, **OWN).fit(X, y)
    names = [layer.name for layer in clf.model_.layers]
    assert names[-2:] == ["log_of_probabilities", "logits"]
    probabilities = forward(_user_network(clf.model_), X[:5])
    np.testing.assert_allclose(
        forward(clf.model_, X[:5]), np.log(probabilities), rtol=1e-4, atol=1e-5
    )
    logits = ImbalancedKerasClassifier(model=dense_logits, **OWN).fit(
        X.reshape(len(X), -1), y
    )
    names = [layer.name for layer in logits.model_.layers]
    assert "log_of_probabilities" not in names and names[-1] == "logits"


def test_every_strategy_applies_to_an_own_network(tabular):
    X, y = tabular
    history = keras.callbacks.History()
    clf = ImbalancedKerasClassifier(
        model=dense_logits,
        class_weight="balanced",
        batch_sampler="over",
        loss="ldam",
        callbacks=[history],
        **{**OWN, "epochs": 4, "cv": 2},
    ).fit(X, y)
    assert clf.n_networks_ == 2
    assert "oof_macro_f1" in clf.history_ and "val_macro_f1" in clf.history_
    assert history.history["loss"]
    assert clf.decision_rule_ in ("macro_f1", "posterior")
    # A Keras loss that takes probabilities gets a softmax on top.
    plain = ImbalancedKerasClassifier(
        model=dense_logits, loss=keras.losses.CategoricalCrossentropy(), **OWN
    ).fit(X, y)
    assert plain.model_.layers[-1].name == "probabilities"


def test_an_own_network_pickles_saves_and_loads_in_a_fresh_process(tabular, tmp_path):
    X, y = tabular
    mine = dense_logits({"n_features_in_": X.shape[1], "n_classes_": 4})
    clf = ImbalancedKerasClassifier(model=mine, **OWN).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    path = persistence.save(clf, tmp_path / "own.skimb")
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys, numpy as np; from skimb import persistence\n"
        "clf = persistence.load(sys.argv[1])\n"
        "np.save(sys.argv[2], clf.predict_proba(np.load(sys.argv[3])))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, path, tmp_path / "p.npy", tmp_path / "X.npy"],
        check=True,
        capture_output=True,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"), clf.predict_proba(X), rtol=1e-6
    )
    # A build function cannot be stored without running code on loading.
    built = ImbalancedKerasClassifier(model=dense_logits, **OWN).fit(X, y)
    with pytest.raises(TypeError, match="pass the keras.Model it builds"):
        persistence.save(built, tmp_path / "built.skimb")
    assert not (tmp_path / "built.skimb").exists()


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x


def test_an_unregistered_custom_layer_is_named_before_saving(tabular, tmp_path):
    X, y = tabular
    mine = keras.Sequential(
        [keras.Input((X.shape[1],)), Unregistered(name="twice"), keras.layers.Dense(4)]
    )
    clf = ImbalancedKerasClassifier(model=mine, **OWN).fit(X, y)
    with pytest.raises(TypeError, match="layer 'twice' is a Unregistered"):
        persistence.save(clf, tmp_path / "m.skimb")
    assert list(tmp_path.iterdir()) == []


def _dense(n_features, n_outputs):
    return keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(n_outputs)])


def _two_outputs(meta):
    inputs = keras.Input((meta["n_features_in_"],))
    return keras.Model(
        inputs, [keras.layers.Dense(4)(inputs), keras.layers.Dense(4)(inputs)]
    )


def _dict_output(meta):
    inputs = keras.Input((meta["n_features_in_"],))
    return keras.Model(inputs, {"scores": keras.layers.Dense(4)(inputs)})


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"model": lambda meta: _dense(6, 3)},
            ValueError,
            r"output has shape \(3,\), but y has 4 classes",
        ),
        (
            {"model": lambda meta: _dense(5, 4)},
            ValueError,
            r"takes samples of shape \(5,\), but X has samples of shape \(6,\)",
        ),
        (
            {"model": lambda meta: "a network"},
            TypeError,
            "returned a str, not a keras.Model",
        ),
        (
            {"model": dense_logits, "model__width": 3},
            ValueError,
            r"dense_logits\(\) has no parameter 'width'",
        ),
        ({"model": _two_outputs}, ValueError, "1 inputs and 2 outputs"),
        (
            {"model": _dict_output},
            ValueError,
            r"output is or holds a dict; .* return the tensor itself",
        ),
        (
            {"model": _dense(6, 4), "model__units": 3},
            ValueError,
            "route to a build function, but model is a keras.Model",
        ),
        ({"model": 42}, ValueError, "'model' parameter"),
        # Settings no network reads, which would be ignored without a word.
        (
            {"model": dense_logits, "units": 4, "dropout": 0.2},
            ValueError,
            r"\['units', 'dropout'\] shape skimb's own networks",
        ),
        (
            {"model__units": 4},
            ValueError,
            r"\['model__units'\] are routed to a build function, but model=None",
        ),
    ],
    ids=[
        "output-width",
        "input-shape",
        "not-a-model",
        "unknown-routed",
        "two-outputs",
        "dict-output",
        "routed-to-an-instance",
        "not-callable",
        "built-in-settings-beside-model",
        "routed-without-model",
    ],
)
def test_bad_own_models_are_named(tabular, params, error, match, fast_params):
    # fast_params' units shape skimb's own network only.
    fast = {k: v for k, v in fast_params.items() if k != "units"}
    with pytest.raises(error, match=match):
        ImbalancedKerasClassifier(**{**fast, **params}).fit(*tabular)


def test_own_networks_take_sequences_of_one_length(sequences):
    X, y = sequences
    ragged = [x[: 3 + i % 3] for i, x in enumerate(X)]
    with pytest.raises(ValueError, match="model= takes sequences of one length"):
        ImbalancedKerasClassifier(model=lstm_time_distributed, **OWN).fit(ragged, y)


def test_flattened_sequences_are_reshaped_for_an_own_network(sequences):
    # What a sampler in a pipeline returns: 2-D rows of flattened sequences.
    X, y = sequences
    flat = X.reshape(len(X), -1)
    clf = ImbalancedKerasClassifier(
        model=lstm_time_distributed, n_timesteps=X.shape[1], **OWN
    ).fit(flat, y)
    assert clf.input_shape_ == X.shape[1:]
    assert clf.predict(flat[:3]).shape == (3,)


def test_folds_are_stratified_for_an_own_network(tabular):
    from sklearn.model_selection import cross_val_score

    X, y = tabular
    clf = ImbalancedKerasClassifier(model=dense_logits, **OWN)
    scores = cross_val_score(
        clf, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0)
    )
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def _softmax_by_op():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.ops.softmax(keras.layers.Dense(4)(hidden)))


def _softmax_in_a_nested_head():
    head = keras.Sequential([keras.layers.Dense(4, activation="softmax")])
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), head])


def _relu_outputs():
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(4, activation="relu")(inputs))


@pytest.mark.parametrize(
    "make, softmax",
    [(_softmax_by_op, True), (_softmax_in_a_nested_head, True), (_relu_outputs, False)],
)
def test_a_softmax_anywhere_at_the_end_is_detected(make, softmax):
    # Probabilities taken for logits would train through a softmax twice.
    from skimb._user_model import build_user_network

    network = build_user_network(
        make(), routed={}, meta={}, input_shape=(6,), n_classes=4
    )
    names = [layer.name for layer in network.layers]
    assert ("log_of_probabilities" in names) is softmax


# ------------------------------------------ networks cloning loses nothing


class _Scale(keras.layers.Layer):
    """A custom layer, not registered with Keras."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _double(x):
    return x * 2.0


def _custom_layers(meta):
    inputs = keras.Input(meta["input_shape_"])
    x = keras.layers.Lambda(_double)(_Scale(0.5)(inputs))
    return keras.Model(inputs, keras.layers.Dense(meta["n_classes_"])(x))


class _Subclassed(keras.Model):
    """A subclassed network: no inputs or outputs until called."""

    def __init__(self, n_classes=4, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = n_classes
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(n_classes)

    def call(self, x):
        return self.out(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


def _subclassed(meta):
    return _Subclassed(meta["n_classes_"])


def test_unregistered_layers_and_lambda_functions_survive_pickle(tabular):
    # pickle.dumps took such a fit, and pickle.loads refused it (safe mode,
    # without the classes): "could not be deserialized properly".
    X, y = tabular
    clf = ImbalancedKerasClassifier(model=_custom_layers, **OWN).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("given", ["instance", "build-function"])
def test_a_subclassed_network_trains(tabular, given):
    X, y = tabular
    model = _Subclassed(4) if given == "instance" else _subclassed
    clf = ImbalancedKerasClassifier(model=model, **OWN).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 4)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_an_adapted_preprocessing_layer_keeps_its_state(tabular):
    # clone_model builds layers from their config, which leaves out what
    # adapt() learned: the network trained on X unscaled.
    X, y = tabular
    X = X * 100 + 5
    normalization = keras.layers.Normalization(name="users_scaling")
    normalization.adapt(X)
    inputs = keras.Input((X.shape[1],))
    model = keras.Model(inputs, keras.layers.Dense(4)(normalization(inputs)))
    clf = ImbalancedKerasClassifier(model=model, **OWN).fit(X, y)
    (users,) = [layer for layer in clf.model_.layers if isinstance(layer, keras.Model)]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(users.get_layer("users_scaling").mean),
        keras.ops.convert_to_numpy(normalization.mean),
    )


def _layers(model):
    """Every layer of ``model``, those of nested models included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def _pretrained(layer, scale=0.01):
    """``layer``'s weights set to constants, as if trained, and frozen."""
    layer.set_weights(
        [np.full_like(w, scale * (i + 1)) for i, w in enumerate(layer.get_weights())]
    )
    layer.trainable = False
    return [w.copy() for w in layer.get_weights()]


@pytest.mark.parametrize("cv", [None, 3])
@pytest.mark.parametrize("nested", [False, True])
def test_a_frozen_pretrained_layer_keeps_its_weights(tabular, cv, nested):
    # clone_model draws every layer's weights afresh, and a frozen layer
    # would stay random: transfer learning's pretrained feature extractor
    # (a layer, or a base model frozen whole) keeps its weights in every
    # network, frozen, and the head trains.
    X, y = tabular
    inputs = keras.Input((X.shape[1],))
    pretrained = keras.layers.Dense(5, activation="relu", name="pretrained")
    head = keras.layers.Dense(4, name="head")
    if nested:
        base = keras.Sequential([keras.Input((X.shape[1],)), pretrained], name="base")
        model = keras.Model(inputs, head(base(inputs)))
        given = _pretrained(pretrained)
        base.trainable = False
    else:
        model = keras.Sequential([inputs, pretrained, head])
        given = _pretrained(pretrained)
    clf = ImbalancedKerasClassifier(model=model, **{**OWN, "cv": cv}).fit(X, y)
    frozen = [layer for layer in _layers(clf.model_) if layer.name == "pretrained"]
    heads = [layer for layer in _layers(clf.model_) if layer.name == "head"]
    assert len(frozen) == len(heads) == (1 if cv is None else 3)
    before = [h.get_weights()[0].copy() for h in heads]
    clf.partial_fit(X, y)  # one more epoch: the heads move, the frozen not
    for layer, trained, start in zip(frozen, heads, before, strict=True):
        assert not layer.trainable
        for kept, original in zip(layer.get_weights(), given, strict=True):
            np.testing.assert_array_equal(kept, original)
        assert not np.allclose(trained.get_weights()[0], start)
    # The caller's model is left as it was.
    for now, original in zip(pretrained.get_weights(), given, strict=True):
        np.testing.assert_array_equal(now, original)


def test_a_frozen_wrapped_layer_keeps_its_weights(sequences):
    # A wrapper of a frozen layer is trainable itself, with no weight it
    # trains.
    X, y = sequences
    step = keras.layers.Dense(2, name="per_step")
    wrapper = keras.layers.TimeDistributed(step, name="wrapper")
    model = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            wrapper,
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    given = _pretrained(step)
    clf = ImbalancedKerasClassifier(model=model, **OWN).fit(X, y)
    (kept,) = [layer for layer in _layers(clf.model_) if layer.name == "wrapper"]
    for now, original in zip(kept.get_weights(), given, strict=True):
        np.testing.assert_array_equal(now, original)


def test_partial_fit_refuses_settings_the_network_was_not_built_with(tabular):
    X, y = tabular
    fitted = ImbalancedKerasClassifier(model=dense_logits, model__units=4, **OWN)
    fitted.fit(X, y)
    loaded = pickle.loads(pickle.dumps(fitted))
    for clf in (fitted, ImbalancedKerasClassifier(**OWN).initialize(X, y)):
        changed = "model__units" if clf is fitted else "units"
        with pytest.raises(ValueError, match=rf"changed \['{changed}'\] since"):
            clf.set_params(**{changed: 16}).partial_fit(X, y)
    # A pickled copy does not hold the settings: its first call records them.
    loaded.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"changed \['learning_rate'\] since"):
        loaded.set_params(learning_rate=0.5).partial_fit(X, y)
