"""Callbacks: per-epoch scores in the logs, the report and the figures."""

import keras
import numpy as np
import optuna
import pytest
from optuna_integration import KerasPruningCallback
from scipy.special import softmax
from sklearn.metrics import f1_score, roc_auc_score

from skimb import ImbalancedKerasClassifier
from skimb._inference import forward
from skimb._inputs import check_features
from skimb.callbacks import ClassificationReport, TrainingFigures, ValidationMetrics
from skimb.metrics import mean_average_precision
from tests.support import network_log_proba


def _recalls(y, pred, n_classes):
    return np.array([np.mean(pred[y == c] == c) for c in range(n_classes)])


def test_validation_metrics_match_numpy_on_the_final_outputs(tabular):
    X, y = tabular
    X = ((X - X.mean(0)) / X.std(0)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(4)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = ["rare", "major", "mid", "minor"]
    metrics = ValidationMetrics(
        X,
        y,
        n_classes=4,
        labels=labels,
        scoring=[
            "macro_f1",
            "balanced_accuracy",
            "g_mean",
            "recall",
            "mean_pr_auc",
            "roc_auc_ovr",
        ],
    )
    history = model.fit(X, y, epochs=2, verbose=0, callbacks=[metrics]).history
    logits = forward(model, X)
    proba = softmax(logits.astype(np.float64), axis=1)
    pred = logits.argmax(1)
    recalls = _recalls(y, pred, 4)
    precisions = np.array(
        [np.mean(y[pred == c] == c) if any(pred == c) else 0 for c in range(4)]
    )
    denominator = precisions + recalls
    f1 = np.divide(
        2 * precisions * recalls, denominator, out=np.zeros(4), where=denominator > 0
    )
    last = {key: values[-1] for key, values in history.items()}
    assert last["val_macro_f1"] == pytest.approx(f1.mean())
    assert last["val_balanced_accuracy"] == pytest.approx(recalls.mean())
    assert last["val_g_mean"] == pytest.approx(np.prod(recalls) ** 0.25)
    for label, recall in zip(labels, recalls, strict=True):
        assert last[f"val_recall_{label}"] == pytest.approx(recall)
    assert last["val_mean_pr_auc"] == pytest.approx(
        mean_average_precision(y, proba), rel=1e-5
    )
    assert last["val_roc_auc_ovr"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr"), rel=1e-5
    )
    assert all(len(values) == 2 for values in history.values())


def test_a_class_missing_from_the_validation_data_scores_zero_quietly(tabular, recwarn):
    X, y = tabular
    X = ((X - X.mean(0)) / X.std(0)).astype("float32")
    keep = y != 0  # no validation sample of class 0
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(4)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # Biased towards class 0, so that the untrained network predicts it too.
    model.layers[-1].bias.assign([1.0, 0.0, 0.0, 0.0])
    metrics = ValidationMetrics(
        X[keep],
        y[keep],
        n_classes=4,
        scoring=["g_mean", "recall", "balanced_accuracy", "macro_f1"],
    )
    metrics.set_model(model)
    logs = {}
    metrics.on_epoch_end(0, logs)
    history = {key: [value] for key, value in logs.items()}
    pred = forward(model, X[keep]).argmax(1)
    assert (pred == 0).any() and (pred != 0).any()
    recalls = _recalls(y[keep], pred, 4)
    # Class 0's recall is undefined and counts as 0, so the g-mean is 0; the
    # balanced accuracy averages the recalls of the classes present.
    assert history["val_recall_0"] == [0.0]
    assert history["val_g_mean"] == [0.0]
    assert history["val_balanced_accuracy"] == [pytest.approx(recalls[1:].mean())]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_a_scorer_the_rows_cannot_give_is_nan_said_once(tabular):
    # roc_auc_ovr needs every class: the fit failed at its first epoch's end.
    X, y = tabular
    X = X.astype("float32")
    keep = y != 0
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(4)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    metrics = ValidationMetrics(
        X[keep], y[keep], n_classes=4, scoring=["roc_auc_ovr", "macro_f1"]
    )
    with pytest.warns(UserWarning, match="val_roc_auc_ovr cannot be computed") as seen:
        history = model.fit(X, y, epochs=3, verbose=0, callbacks=[metrics]).history
    assert len([w for w in seen if "roc_auc_ovr" in str(w.message)]) == 1
    assert np.isnan(history["val_roc_auc_ovr"]).all()
    assert np.isfinite(history["val_macro_f1"]).all()


def test_best_epoch_is_that_of_a_keras_early_stopping_that_restored_its_own():
    # Keras' EarlyStopping restores its best weights after skimb's early
    # stopping: best_epoch_ (and the report's "kept weights") named skimb's.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 4)).astype("float32")
    y = (X[:, 0] > 0.6).astype(int) + (X[:, 1] > 0.8).astype(int) * 2
    keras_stopping = keras.callbacks.EarlyStopping(
        monitor="val_macro_f1", mode="max", patience=5, restore_best_weights=True
    )
    clf = ImbalancedKerasClassifier(
        units=4,
        epochs=2,
        patience=5,
        monitor="val_loss",
        cv=None,
        validation_fraction=0.3,
        learning_rate=0.05,
        callbacks=[keras_stopping],
        random_state=0,
    ).fit(X, y)
    ours = int(np.argmin(clf.history_["val_loss"]))
    theirs = int(np.argmax(clf.history_["val_macro_f1"]))
    assert ours != theirs  # (else the test shows nothing)
    assert clf.best_epoch_ == theirs == keras_stopping.best_epoch


def test_validation_metrics_scoring_dict_and_bad_scoring(tabular):
    X, y = tabular
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(4)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def majority_share(estimator, X, y):
        return float(np.mean(estimator.predict(X) == 1))

    metrics = ValidationMetrics(
        X.astype("float32"), y, scoring={"majority": majority_share}
    )
    history = model.fit(X, y, epochs=1, verbose=0, callbacks=[metrics]).history
    pred = forward(model, X.astype("float32")).argmax(1)
    assert history["val_majority"] == [pytest.approx(np.mean(pred == 1))]
    with pytest.raises(ValueError, match="Unknown scoring 'f3'"):
        ValidationMetrics(X, y, scoring=["f3"])
    with pytest.raises(TypeError, match="dict"):
        ValidationMetrics(X, y, scoring=[majority_share])


@pytest.fixture(scope="module")
def trained_with_callbacks(tabular, tmp_path_factory, fast_params):
    """One fit carrying the report, the figures and Optuna's pruning."""
    X, y = tabular
    labels = np.array(["rare", "major", "mid", "minor"])[y]
    printed = []
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    folder = tmp_path_factory.mktemp("figures")
    report = ClassificationReport(every=2, print_fn=printed.append)
    figures = TrainingFigures(folder)
    clf = ImbalancedKerasClassifier(
        callbacks=[report, figures, KerasPruningCallback(trial, "val_macro_f1")],
        **{**fast_params, "epochs": 4, "patience": 10},
    ).fit(X, labels)
    return clf, report, figures, printed, study


def test_optuna_pruning_reads_val_macro_f1(trained_with_callbacks):
    clf, *_, study = trained_with_callbacks
    reported = study.trials[0].intermediate_values
    assert [reported[epoch] for epoch in sorted(reported)] == pytest.approx(
        clf.history_["val_macro_f1"]
    )


def test_classification_report_on_the_classifier_validation_split(
    trained_with_callbacks,
):
    clf, report, _, printed, _ = trained_with_callbacks
    # Every 2nd epoch, then at the end of training.
    assert [epoch for epoch, _ in report.reports_] == [1, 3, -1]
    assert printed[-1].startswith("Classification report, end of training:")
    text = report.reports_[-1][1]
    # imbalanced-learn's columns, one row per class, by name.
    assert text.split()[:7] == ["pre", "rec", "spe", "f1", "geo", "iba", "sup"]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:] if line}
    supports = {name: int(rows[name][-1]) for name in clf.classes_}
    n_val = int(np.ceil(0.1 * 340))
    assert sum(supports.values()) == n_val
    assert report.X is None  # the split is given back after training


def test_a_callback_reused_for_another_fit_names_that_fit_s_classes(
    tabular, fast_params
):
    X, y = tabular
    report = ClassificationReport(print_fn=None)
    clf = ImbalancedKerasClassifier(callbacks=[report], **fast_params)
    clf.fit(X, np.array(["a", "b", "c", "d"])[y])
    assert report.labels is None  # given back with the data
    clf.fit(X, np.where(y == 0, "no", "yes"))
    text = report.reports_[-1][1]
    rows = [line.split()[0] for line in text.splitlines()[1:] if line.strip()]
    assert {"no", "yes"} <= set(rows) and not {"a", "b", "c", "d"} & set(rows)


def test_training_figures_written_from_the_validation_split(trained_with_callbacks):
    clf, _, figures, _, _ = trained_with_callbacks
    names = sorted(path.name for path in figures.paths_)
    assert names == ["confusion_matrix.png", "history.png", "precision_recall.png"]
    for path in figures.paths_:
        assert path.read_bytes()[:4] == b"\x89PNG"
    # No temporary file left behind.
    assert sorted(p.name for p in figures.paths_[0].parent.iterdir()) == names
    assert figures.history_["val_macro_f1"] == pytest.approx(
        clf.history_["val_macro_f1"]
    )


def test_training_figures_go_on_over_partial_fit_without_stale_files(
    tabular, fast_params, tmp_path
):
    # Each partial_fit call began history.png again at epoch 1, beside the
    # fit's confusion matrix and precision-recall curves, left as they were.
    X, y = tabular
    figures = TrainingFigures(tmp_path)
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "early_stopping": False}, callbacks=[figures]
    )
    clf.fit(X, y)
    assert len(list(tmp_path.iterdir())) == 3
    clf.partial_fit(X, y).partial_fit(X, y)
    assert figures.history_["loss"] == pytest.approx(clf.history_["loss"])
    assert len(figures.history_["loss"]) == fast_params["epochs"] + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.png"]
    clf.fit(X, y)  # a new training: a new history
    assert len(figures.history_["loss"]) == fast_params["epochs"]


def test_report_callbacks_need_both_x_and_y(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="both X and y"):
        ClassificationReport(X)
    with pytest.raises(ValueError, match="both X and y"):
        TrainingFigures("folder", y=y)


@pytest.mark.parametrize("cv", [3, None])
def test_callbacks_with_data_of_their_own_score_the_networks_being_trained(
    tabular, fast_params, cv
):
    # With cross-fitting the model a callback sees takes one input per
    # network: data of the callback's own go through the networks averaged
    # as the fitted model averages them.
    X, y = tabular
    X_own, y_own = X[:80], y[:80]
    report = ClassificationReport(X_own, y_own, print_fn=None)
    # Another prefix than the estimator's own val_* keys (refused below).
    metrics = ValidationMetrics(
        X_own, y_own, n_classes=4, scoring=["macro_f1"], prefix="own_"
    )
    logged = []
    clf = ImbalancedKerasClassifier(
        callbacks=[
            metrics,
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: logged.append(dict(logs))
            ),
            report,
        ],
        **{**fast_params, "epochs": 1, "cv": cv},
    ).fit(X, y)
    # One epoch: the weights kept are those the epoch ended with.
    predicted = forward(clf.model_, X_own.astype(np.float32)).argmax(axis=1)
    expected = f1_score(
        y_own, predicted, average="macro", labels=np.arange(4), zero_division=0
    )
    assert logged[0]["own_macro_f1"] == pytest.approx(expected)
    text = report.reports_[-1][1]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:] if line}
    assert [int(rows[str(c)][-1]) for c in range(4)] == np.bincount(y_own).tolist()
    recall_of_0 = np.mean(predicted[y_own == 0] == 0)
    assert float(rows["0"][2]) == pytest.approx(recall_of_0, abs=0.005)
    assert metrics._network_outputs is None  # given back after training


def test_labels_that_do_not_name_every_class_are_refused(tabular):
    X, y = tabular  # 4 classes
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(4)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for callback in (
        ValidationMetrics(X, y, labels=["a", "b"], scoring=["recall"]),
        ClassificationReport(X, y, labels=["a", "b"], print_fn=None),
    ):
        with pytest.raises(ValueError, match="labels names 2 classes, but there are 4"):
            model.fit(X, y, epochs=1, verbose=0, callbacks=[callback])


def test_callback_data_are_read_as_predict_reads_them(fast_params):
    # A list of sequences and mask_value padding mean in a callback's X what
    # they mean in predict's.
    rng = np.random.RandomState(0)
    y = np.array([0] * 40 + [1] * 20 + [2] * 12)
    X = [rng.normal(size=(rng.randint(2, 7), 2)) + label for label in y]
    padded = np.full((len(X), 6, 2), -1.0)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    params = {"mask_value": -1.0, **fast_params}
    clf = ImbalancedKerasClassifier("lstm", **params).fit(padded, y)
    # The network's own input: padding moved to the end, as NaN steps.
    prepared = check_features(clf, padded, reset=False)
    assert np.isnan(prepared).any()
    expected = ClassificationReport(prepared, y, print_fn=None)
    expected.set_model(clf.model_)
    expected.on_train_end()
    # The same fit (the same seed) with a report of each form of the data,
    # the network's own form too.
    for own in (X, padded, prepared):
        report = ClassificationReport(own, y, print_fn=None)
        ImbalancedKerasClassifier("lstm", callbacks=[report], **params).fit(padded, y)
        assert report.reports_[-1][1] == expected.reports_[-1][1]


def test_a_validation_metrics_that_would_overwrite_val_keys_is_refused(
    tabular, fast_params
):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        callbacks=[ValidationMetrics(X[:40], y[:40])], **fast_params
    )
    with pytest.raises(ValueError, match=r"callbacks\[0\].*'val_macro_f1'.*prefix="):
        clf.fit(X, y)
    # A score the estimator does not log is free under val_.
    ImbalancedKerasClassifier(
        callbacks=[ValidationMetrics(X[:40], y[:40], scoring=["mean_pr_auc"])],
        **fast_params,
    ).fit(X, y)
    # Without validation rows of the estimator's own, val_* is free.
    logged = []
    ImbalancedKerasClassifier(
        callbacks=[
            ValidationMetrics(X[:40], y[:40], n_classes=4),
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: logged.append(dict(logs))
            ),
        ],
        **{**fast_params, "cv": None, "validation_fraction": 0.0,
           "early_stopping": False},
    ).fit(X, y)  # fmt: skip
    assert "val_macro_f1" in logged[-1]


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array(["a", "b"] * 10), "encoded 0 .. n_classes - 1"),
        (np.arange(20) - 1, "it holds -1"),
        (np.arange(19), "inconsistent numbers of samples"),
    ],
)
def test_callback_labels_are_checked_when_given(y, message):
    X = np.zeros((20, 3))
    for make in (ClassificationReport, ValidationMetrics):
        with pytest.raises(ValueError, match=message):
            make(X, y)


def test_a_learning_rate_set_at_an_epoch_s_start_is_the_epoch_s(tabular, fast_params):
    # LearningRateScheduler writes the optimizer's variable in
    # on_epoch_begin: a rate of 0 from the second epoch on leaves the
    # network as one epoch trained it (on JAX too, whose epoch trains on
    # arrays read from the variables).
    X, y = tabular
    params = dict(fast_params, cv=None, early_stopping=False, validation_fraction=0.0)
    frozen = keras.callbacks.LearningRateScheduler(
        lambda epoch, rate: 0.0 if epoch >= 1 else rate
    )
    one = ImbalancedKerasClassifier(**{**params, "epochs": 1}).fit(X, y)
    three = ImbalancedKerasClassifier(
        **{**params, "epochs": 3}, callbacks=[frozen]
    ).fit(X, y)
    np.testing.assert_array_equal(
        forward(three.model_, X.astype(np.float32)),
        forward(one.model_, X.astype(np.float32)),
    )


class _RateAtEpochEnd(keras.callbacks.Callback):
    """Writes the learning rate at each epoch's end, as ReduceLROnPlateau."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(0.5 / (epoch + 1))


def test_a_learning_rate_set_at_the_last_epoch_s_end_is_kept(tabular, fast_params):
    # The write at each epoch's end reaches the next epoch, and the last
    # one's the fitted model (on JAX, the training's final write of its
    # arrays into the variables comes after it).
    X, y = tabular
    params = dict(fast_params, cv=None, early_stopping=False, epochs=3)
    fitted = ImbalancedKerasClassifier(**params, callbacks=[_RateAtEpochEnd()])
    fitted.fit(X, y)
    rate = keras.ops.convert_to_numpy(fitted.model_.optimizer.learning_rate)
    assert float(rate) == pytest.approx(0.5 / 3)


class _ClipAtBatchEnd(keras.callbacks.Callback):
    """Clips the trainable weights at each (epoch's last) batch's end, and
    records the optimizer's steps it reads there."""

    def on_train_begin(self, logs=None):
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(
            int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        )
        for weight in self.model.trainable_weights:
            value = keras.ops.convert_to_numpy(weight)
            weight.assign(np.clip(value, -0.01, 0.01))


def test_batch_hooks_read_and_write_the_trained_state(tabular, fast_params):
    # An epoch runs as one compiled call: the batch hooks see its state at
    # its end and their writes are kept (on JAX, whose epoch trains on
    # arrays outside the variables, too).
    X, y = tabular
    params = dict(fast_params, cv=None, early_stopping=False, epochs=3)
    clip = _ClipAtBatchEnd()
    fitted = ImbalancedKerasClassifier(**params, callbacks=[clip]).fit(X, y)
    steps_per_epoch = clip.steps[0]
    assert steps_per_epoch >= 1
    assert clip.steps == [steps_per_epoch * (epoch + 1) for epoch in range(3)]
    for weight in fitted.model_.trainable_weights:
        assert np.abs(keras.ops.convert_to_numpy(weight)).max() <= 0.01 + 1e-7

    # A learning rate of 0 set at the batch's start from the second epoch on
    # leaves the network as one epoch trained it.
    class Warmup(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch >= 1:
                self.model.optimizer.learning_rate.assign(0.0)

    params["validation_fraction"] = 0.0
    one = ImbalancedKerasClassifier(**{**params, "epochs": 1}).fit(X, y)
    three = ImbalancedKerasClassifier(**params, callbacks=[Warmup()]).fit(X, y)
    np.testing.assert_array_equal(
        forward(three.model_, X.astype(np.float32)),
        forward(one.model_, X.astype(np.float32)),
    )


def test_the_decision_is_fitted_on_the_weights_a_callback_restores(
    tabular, fast_params, monkeypatch
):
    # Keras' EarlyStopping restores its best weights when training ends:
    # the held-out outputs the decision rule is fitted on are those weights'.
    import skimb._fitting
    from skimb._splits import validation_split

    held_out = []
    fit_decision = skimb._fitting.fit_decision_for

    def spied(setting, *args, **kwargs):
        held_out.append(args[0])
        return fit_decision(setting, *args, **kwargs)

    monkeypatch.setattr(skimb._fitting, "fit_decision_for", spied)
    X, y = tabular
    # The "best" loss is the highest: the first epoch's weights come back.
    restore = keras.callbacks.EarlyStopping(
        monitor="loss", mode="max", patience=100, restore_best_weights=True
    )
    from skimb.callbacks import ValidationDataCallback

    class EndOutputs(ValidationDataCallback):
        """What a report callback's end reports on."""

        def on_train_end(self, logs=None):
            self.ending = self._outputs()

    # A report after it in the list reports the restored weights too (its
    # end reported the last epoch's).
    after = EndOutputs()
    params = dict(fast_params, cv=None, early_stopping=False, epochs=4)
    fitted = ImbalancedKerasClassifier(**params, callbacks=[restore, after]).fit(X, y)
    assert restore.best_epoch == 0
    _, val = validation_split(
        y,
        classes=fitted.classes_,
        validation_fraction=fitted.validation_fraction,
        seed=0,
    )
    (log_proba,) = held_out
    restored = network_log_proba(fitted, X[np.sort(val)])
    np.testing.assert_allclose(log_proba, restored, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        after.ending, softmax(restored, axis=1), rtol=1e-5, atol=1e-6
    )


def test_callbacks_see_the_model_fit_returns(tabular, fast_params, tmp_path):
    # With cross-fitting too: a ModelCheckpoint saves a model that predicts,
    # and a callback's own model.predict reads X.
    X, y = tabular

    class Predicts(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.outputs = self.model.predict(X[:5], verbose=0)

    path = tmp_path / "checkpoint.keras"
    predicts = Predicts()
    params = dict(fast_params, cv=3, early_stopping=False, epochs=2)
    fitted = ImbalancedKerasClassifier(
        **params, callbacks=[keras.callbacks.ModelCheckpoint(path), predicts]
    ).fit(X, y)
    assert fitted.n_networks_ == 3
    saved = keras.saving.load_model(path)
    expected = forward(fitted.model_, X.astype(np.float32))
    np.testing.assert_allclose(
        forward(saved, X.astype(np.float32)), expected, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(predicts.outputs, expected[:5], rtol=1e-5, atol=1e-6)


def test_terminate_on_nan_stops_at_the_first_epoch_that_diverges(fast_params):
    # The batch-end hook got no logs: Keras' TerminateOnNaN, which reads
    # the loss there, never fired, and NaN epochs ran until early stopping.
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(120, 4)) * 1e18).astype("float32")
    y = (rng.rand(120) < 0.3).astype(int)
    epochs = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(logs["loss"])

    clf = ImbalancedKerasClassifier(
        **{**fast_params, "epochs": 5, "batch_size": 32},
        standardize=False,
        early_stopping=False,
        learning_rate=1e30,
        callbacks=[keras.callbacks.TerminateOnNaN(), Epochs()],
    )
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, y)
    assert len(epochs) == 1 and np.isnan(epochs[0])
