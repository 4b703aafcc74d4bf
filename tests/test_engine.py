"""The training engine: k networks in one program, each stopping on its own."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from scipy.special import log_softmax  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

import skimb._schedule  # noqa: E402
from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._inference import forward, log_probabilities  # noqa: E402
from skimb.callbacks import ClassificationReport  # noqa: E402
from skimb.metrics import confusion_scores  # noqa: E402


@pytest.fixture(scope="module")
def stopped_apart(tabular, fast_params):
    # Patience 2 over 40 epochs: the three networks stop at different epochs.
    report = ClassificationReport(print_fn=None)
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "cv": 3, "epochs": 40, "learning_rate": 0.03},
        monitor="val_macro_f1",
        callbacks=[report],
    )
    return clf.fit(*tabular), report


def test_networks_stop_together_on_the_out_of_fold_macro_f1(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "cv": 3, "epochs": 40, "learning_rate": 0.03},
        monitor="oof_macro_f1",
    ).fit(X, y)
    pooled = clf.histories_[0]["oof_macro_f1"]
    # One score for all the networks, and one stop, patience after its best.
    assert all(h["oof_macro_f1"] == pooled for h in clf.histories_)
    best = int(np.argmax(pooled))
    assert len(pooled) == min(best + 1 + fast_params["patience"], 40)
    # The kept weights give that best score: every row scored by the network
    # that did not train on it, against a NumPy/scikit-learn reference.
    y_encoded = np.searchsorted(clf.classes_, y)
    predicted = np.empty(len(y), dtype=int)
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    for i, (_, val) in enumerate(folds):
        network = clf.model_.get_layer(f"network_{i}")
        predicted[val] = forward(network, X[val]).argmax(axis=1)
    kept = f1_score(y_encoded, predicted, average="macro", zero_division=0)
    assert kept == pytest.approx(pooled[best], abs=1e-6)


def test_each_network_stops_on_its_own_and_keeps_its_best_weights(
    stopped_apart, tabular, fast_params
):
    clf, _ = stopped_apart
    X, y = tabular
    y_encoded = np.searchsorted(clf.classes_, y)
    lengths = [len(h["val_macro_f1"]) for h in clf.histories_]
    assert len(set(lengths)) > 1, lengths
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    for i, (_, val) in enumerate(folds):
        history = clf.histories_[i]
        best = int(np.argmax(history["val_macro_f1"]))
        # Stopped `patience` epochs after its best, which it kept.
        assert len(history["val_macro_f1"]) == best + 1 + fast_params["patience"]
        network = clf.model_.get_layer(f"network_{i}")
        predicted = forward(network, X[val]).argmax(axis=1)
        kept = confusion_scores(y_encoded[val], predicted, n_classes=4)["macro_f1"]
        assert kept == pytest.approx(history["val_macro_f1"][best], abs=1e-6)


def test_validation_loss_is_the_mean_over_each_networks_own_rows(tabular, fast_params):
    # Each network's forward pass reads its own held-out rows, padded to the
    # longest fold's: the padding must weigh nothing, and each loss must be
    # the mean over that network's rows (folds of 114, 113 and 113 here).
    # Integer labels, so that a padding row (label 0) has a positive loss
    # (a one-hot row of zeros would have none whatever its weight).
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "cv": 3, "epochs": 6},
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        monitor="val_loss",
    ).fit(X, y)
    y_encoded = np.searchsorted(clf.classes_, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    for i, (_, val) in enumerate(folds):
        history = clf.histories_[i]["val_loss"]
        network = clf.model_.get_layer(f"network_{i}")
        log_proba = log_softmax(forward(network, X[val]), axis=1)
        expected = -np.mean(log_proba[np.arange(len(val)), y_encoded[val]])
        # The kept weights are those of the lowest validation loss.
        assert min(history) == pytest.approx(expected, rel=1e-4)


def test_training_loss_is_each_networks_own(stopped_apart):
    clf, _ = stopped_apart
    first = [h["loss"][0] for h in clf.histories_]
    # Each is a mean over its own rows, as for one network trained alone
    # (about log(4) at the start), not the sum over the networks.
    assert all(0.5 < loss < 3.0 for loss in first), first


def test_report_callbacks_see_the_out_of_fold_predictions(stopped_apart, tabular):
    clf, report = stopped_apart
    X, y = tabular
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    held_out = np.zeros((len(y), 4))
    for i, (_, val) in enumerate(folds):
        network = clf.model_.get_layer(f"network_{i}")
        held_out[val] = log_softmax(forward(network, X[val]), axis=1)
    support = report.reports_[-1][1].split("\n")[-2].split()[-1]
    assert int(support) == len(y)  # every row, once, out of fold
    recall_0 = np.mean(held_out[y == 0].argmax(axis=1) == 0)
    assert f"{recall_0:.2f}" in report.reports_[-1][1].split("\n")[2]
    assert report.X is None  # given back at the end of training


def test_batch_sampler_with_cross_fitting_draws_from_each_training_fold(
    tabular, monkeypatch, fast_params
):
    X, y = tabular
    folds = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    for sampler in ("over", "smote"):
        seen = []
        draw = skimb._schedule.resample_rows

        def spy(*args, rows, draw=draw, seen=seen, **kwargs):
            seen.append(rows.copy())
            return draw(*args, rows=rows, **kwargs)

        monkeypatch.setattr(skimb._schedule, "resample_rows", spy)
        clf = ImbalancedKerasClassifier(
            **{**fast_params, "cv": 2, "epochs": 2}, batch_sampler=sampler
        ).fit(X, y)
        assert clf.n_networks_ == 2
        assert all(len(h["loss"]) == 2 for h in clf.histories_)
        # Every epoch, each network draws from its own training fold only.
        assert len(seen) == 4
        for i, rows in enumerate(seen):
            np.testing.assert_array_equal(rows, folds[i % 2][0])


def test_an_unsupported_backend_is_named(tabular, monkeypatch, fast_params):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(
        RuntimeError, match=r"backends \('tensorflow', 'jax'\).*'torch'"
    ):
        ImbalancedKerasClassifier(**fast_params).fit(*tabular)


def test_log_probabilities_of_a_saturated_softmax_are_finite():
    # float32 softmax outputs with a probability rounded to 0.
    outputs = np.array([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=np.float32)
    log_p = log_probabilities(outputs, probabilities=True)
    assert np.all(np.isfinite(log_p))
    assert log_p[0, 1] == pytest.approx(np.log(np.finfo(np.float32).tiny))
    np.testing.assert_allclose(log_p[1], np.log([0.25, 0.25, 0.5]))


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's gradient registry"
)
def test_a_fit_leaves_no_custom_gradient_registered(tabular, fast_params):
    # A traced optimizer step registers a custom gradient whose closure holds
    # the epoch's graph; left in TensorFlow's global registry, every fit
    # would keep its graph alive for the life of the process.
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry

    def custom_gradients():
        return {name for name in registry if name.startswith("CustomGradient-")}

    before = custom_gradients()
    for seed in (0, 1):
        ImbalancedKerasClassifier(**{**fast_params, "random_state": seed}).fit(*tabular)
    assert custom_gradients() <= before


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing warning"
)
def test_partial_fit_in_a_loop_logs_no_retracing_warning(
    tabular, fast_params, caplog, monkeypatch
):
    # Calls of other sizes, or a loss changed between calls, trace the epoch
    # again: TensorFlow's advice to move a tf.function out of a loop is not
    # the user's to act on.
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    # A fresh count of traces: TensorFlow warns at most twice per function
    # in a process, and earlier tests' fits may have spent both.
    monkeypatch.setattr(
        polymorphic_function,
        "_frequent_tracing_detector_manager",
        polymorphic_function._FrequentTracingDetectorManager(),
    )
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    with caplog.at_level("WARNING", logger="tensorflow"):
        for rows in np.array_split(np.arange(len(y)), 7):
            clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2, 3])
    assert len(clf.history_["loss"]) == 7
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


@pytest.mark.parametrize("loss", ["logit_adjusted", "crossentropy", "ldam"])
def test_partial_fit_goes_on_with_its_compiled_epoch(tabular, fast_params, loss):
    # The class counts grow with every call, and with them the loss's values:
    # the compiled epoch reads them from variables, so later calls neither
    # compile again nor train differently from a freshly compiled epoch.
    X, y = tabular
    params = {**fast_params, "loss": loss, "class_weight": "balanced"}
    chunks = np.array_split(np.arange(300), 3)
    reused, fresh = (ImbalancedKerasClassifier(**params) for _ in range(2))
    targets = np.eye(4, dtype=np.float32)[y]
    programs = []
    for rows in chunks:
        reused.partial_fit(X[rows], y[rows], classes=[0, 1, 2, 3])
        programs.append(reused._program)
        vars(fresh).pop("_program", None)  # compiled anew, as every call was
        fresh.partial_fit(X[rows], y[rows], classes=[0, 1, 2, 3])
        # Keras' own evaluation of the network (compiled by the first call
        # here) reads the loss as it is after each call.
        logits = reused.model_(X.astype(np.float32))
        expected = float(reused.model_.loss(targets, logits))
        evaluated = reused.model_.evaluate(X, targets, verbose=0)
        assert evaluated == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(
        reused.predict_proba(X), fresh.predict_proba(X), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        reused.history_["loss"], fresh.history_["loss"], rtol=1e-5
    )
    assert programs[1] is programs[0] and programs[2] is programs[0]
    if keras.backend.backend() == "tensorflow":
        assert programs[0]._epoch.experimental_get_tracing_count() == 1
    else:
        assert programs[0]._epoch._cache_size() == 1
    # A fit replaces the network, and drops the program compiled for the old one.
    assert not hasattr(reused.fit(X, y), "_program")


def test_partial_fit_goes_on_when_the_weights_start_to_differ(tabular, fast_params):
    # tau = 0.5: the loss holds its offsets tau log n_c - (1 - tau) log w_c
    # as a log-prior of one tau, max(tau, 1), whether the classes' weights
    # are equal (the first call) or not (the second).
    X, y = tabular
    clf = ImbalancedKerasClassifier(**{**fast_params, "tau": 0.5})
    rows = np.arange(200)
    clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2, 3])
    first = clf._program
    weights = np.where(y[rows] == 0, 3.0, 1.0)
    clf.partial_fit(X[rows], y[rows], sample_weight=weights)
    assert clf._program is first
    assert np.all(np.isfinite(clf.history_["loss"]))


def test_partial_fit_compiles_again_for_another_loss(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    clf.partial_fit(X, y)
    first = clf._program
    clf.set_params(loss="focal").partial_fit(X, y)
    assert clf._program is not first
    assert clf._program.plan.loss.name == "focal_loss"
    # A pickled estimator leaves its compiled epoch behind and compiles anew.
    import pickle

    copy = pickle.loads(pickle.dumps(clf))
    assert not hasattr(copy, "_program")
    copy.partial_fit(X, y)
    assert len(copy.history_["loss"]) == 3


def _cpu_only() -> bool:
    return all(d.lower().startswith("cpu") for d in keras.distribution.list_devices())


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or not _cpu_only(),
    reason="JAX's epoch is always XLA's; on a GPU Keras refuses XLA for an LSTM",
)
def test_jit_compile_trains_the_epoch_with_xla_to_the_same_model(
    sequences, fast_params
):
    X, y = sequences
    params = {**fast_params, "architecture": "lstm"}
    proba, programs = {}, {}
    for flag in (True, False):
        clf = ImbalancedKerasClassifier(**params, jit_compile=flag)
        clf.partial_fit(X, y)
        programs[flag] = clf._program
        proba[flag] = clf.fit(X, y).predict_proba(X)
        assert clf.model_.jit_compile is flag
    assert programs[True]._epoch._jit_compile is True
    assert programs[False]._epoch._jit_compile is False
    # The same arithmetic, fused: equal up to the order of float additions.
    np.testing.assert_allclose(proba[True], proba[False], atol=1e-4)
    again = ImbalancedKerasClassifier(**params, jit_compile=True).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), proba[True])


@pytest.mark.skipif(not _cpu_only(), reason="Keras' rule differs on a GPU")
def test_without_jit_compile_the_model_follows_keras_own_rule(tabular, fast_params):
    # Keras' predict_on_batch and evaluate compile only a model compiled
    # with jit_compile: on JAX, where its rule says XLA, a model compiled
    # with False would predict uncompiled.
    X, y = tabular
    expected = keras.backend.backend() == "jax"
    for params in ({}, {"cv": 3}):
        clf = ImbalancedKerasClassifier(**{**fast_params, **params}).fit(X, y)
        assert clf.model_.jit_compile is expected
    clf = ImbalancedKerasClassifier(**fast_params)
    assert clf.initialize(X, y).model_.jit_compile is expected
    assert clf.partial_fit(X, y).model_.jit_compile is expected


def test_partial_fit_compiles_again_when_jit_compile_changes(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params).partial_fit(X, y)
    first = clf._program
    clf.partial_fit(X, y)
    assert clf._program is first
    clf.set_params(jit_compile=True).partial_fit(X, y)
    assert clf._program.plan.jit_compile is True
    # On JAX the epoch is XLA's either way: the program goes on.
    assert (clf._program is first) is (keras.backend.backend() == "jax")


def _short_network_fit(extra_rows: int, **params):
    """Two cross-fitted networks; network 0 trains on 60 rows (2 batches of
    32), network 1 on 30 + ``extra_rows`` (the last rows of X, which
    network 0 holds out)."""
    from sklearn.model_selection import PredefinedSplit

    rng = np.random.RandomState(0)
    n = 60 + extra_rows
    X = rng.normal(size=(n, 5)).astype("float32")
    y = np.arange(n) % 3
    # Rows 0-29 train both networks, 30-59 network 0 (held out by 1), the
    # rest network 1 (held out by 0).
    fold = np.r_[np.full(30, -1), np.full(30, 1), np.full(extra_rows, 0)]
    return ImbalancedKerasClassifier(
        **{
            "units": 8,
            "loss": "crossentropy",
            "learning_rate": 0.05,
            "cv": PredefinedSplit(fold),
            "early_stopping": False,
            "epochs": 1,
            "batch_size": 32,
            "random_state": 0,
            **params,
        }
    ).fit(X, y)


@pytest.mark.parametrize("path", ["shared", "one-model"])
@pytest.mark.parametrize(
    "params",
    [
        # One epoch: in the next, the optimizer's step counter, which the
        # networks share, would be 3 steps on in one fit and 2 in the other
        # (Adam's bias correction reads it).
        {},
        # No counter in its update: two epochs, and dropout's seed state.
        {"optimizer": "rmsprop", "dropout": 0.3, "epochs": 2},
        # Slots of each variable beside a state that all share.
        {"optimizer": "nadam"},
    ],
    ids=["adam", "rmsprop-dropout", "nadam"],
)
def test_a_network_takes_no_step_on_a_batch_that_weighs_nothing(
    path, params, monkeypatch
):
    # Network 1 has 70 rows, 3 batches; network 0 has 60, 2 batches, and sat
    # out the third step of an epoch on a batch of weight 0, which moved it
    # all the same (Adam's momentum on a gradient of zero) and counted a
    # loss of 0 in its logged mean.  Against the same network 0 beside a
    # network 1 of 2 batches: the same weights, slots and losses.
    import skimb._program
    from skimb._skipped_steps import own_slots

    if path == "one-model":
        if keras.backend.backend() != "tensorflow":
            pytest.skip("JAX trains the networks as one model either way")
        monkeypatch.setattr(skimb._program, "pays_to_share", lambda *args: False)
    uneven, even = _short_network_fit(40, **params), _short_network_fit(34, **params)

    def state(clf):
        network = clf.model_.get_layer("network_0")
        slots = own_slots(clf.model_.optimizer, network.trainable_variables)
        assert slots  # (else the slots are not compared)
        return [
            keras.ops.convert_to_numpy(v)
            for v in (*network.weights, *network.non_trainable_variables, *slots)
        ]

    for clf in (uneven, even):
        assert clf.n_networks_ == 2
    for a, b in zip(state(uneven), state(even), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        uneven.histories_[0]["loss"], even.histories_[0]["loss"], rtol=1e-5
    )


def test_padding_rows_are_the_networks_own_not_a_held_out_row():
    # A partial last batch was filled with row 0 at weight 0: no loss, but
    # BatchNormalization (in a network of one's own) read it into its batch
    # statistics, and row 0 is here a held-out row.
    from sklearn.model_selection import PredefinedSplit

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype("float32")
    y = np.tile([0, 1, 1], 20)
    held_out = np.where(np.arange(60) < 12, 0, -1)  # rows 0-11; 48 train

    def network(meta):
        inputs = keras.Input(meta["input_shape_"])
        normed = keras.layers.BatchNormalization(name="bn")(inputs)
        outputs = keras.layers.Dense(meta["n_classes_"], activation="softmax")(normed)
        return keras.Model(inputs, outputs)

    moving = []
    for shift in (0.0, 100.0):
        shifted = X.copy()
        shifted[0] += shift
        clf = ImbalancedKerasClassifier(
            model=network,
            cv=PredefinedSplit(held_out),
            early_stopping=False,
            epochs=1,
            batch_size=32,
            random_state=0,
        ).fit(shifted, y)
        (bn,) = [
            layer
            for inner in clf.model_.layers
            for layer in getattr(inner, "layers", [inner])
            if layer.name == "bn"
        ]
        moving.append(keras.ops.convert_to_numpy(bn.moving_mean))
    np.testing.assert_array_equal(moving[0], moving[1])
