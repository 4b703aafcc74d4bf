"""Behaviour of ImbalancedKerasClassifier in scikit-learn workflows."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from imblearn.over_sampling import RandomOverSampler  # noqa: E402
from imblearn.pipeline import make_pipeline  # noqa: E402
from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
)

import skimb._classifier  # noqa: E402
import skimb._engine  # noqa: E402
import skimb._fitting  # noqa: E402
from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._plan import encode_targets  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
from skimb.losses import FocalLoss, resolve_loss  # noqa: E402


def test_is_a_classifier_so_integer_cv_stratifies(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    assert is_classifier(clf)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)


def test_cross_val_score_uses_stratified_folds(tabular, fast_params):
    X, y = tabular
    seen = []

    class Spy(ImbalancedKerasClassifier):
        def fit(self, X, y, sample_weight=None):
            seen.append(np.bincount(y, minlength=4))
            return super().fit(X, y, sample_weight=sample_weight)

    scores = cross_val_score(Spy(**fast_params), X, y, cv=3, scoring="f1_macro")
    assert scores.shape == (3,)
    # Stratified folds hold each class in the same proportion, +-1 sample.
    counts = np.array(seen)
    assert np.all(counts.max(axis=0) - counts.min(axis=0) <= 1)


def test_grid_search_refits_best_and_clone_keeps_params(tabular, fast_params):
    X, y = tabular
    search = GridSearchCV(
        ImbalancedKerasClassifier(**fast_params),
        {"class_weight": [None, "balanced"]},
        cv=2,
        scoring="f1_macro",
    )
    search.fit(X, y)
    assert search.best_params_["class_weight"] in (None, "balanced")
    assert search.predict(X).shape == y.shape
    cloned = clone(search.best_estimator_)
    assert cloned.get_params() == search.best_estimator_.get_params()
    assert not hasattr(cloned, "model_")


def test_fitted_attributes(fitted_dense, tabular, fast_params):
    X, y = tabular
    np.testing.assert_array_equal(fitted_dense.classes_, [0, 1, 2, 3])
    assert fitted_dense.n_features_in_ == X.shape[1]
    assert fitted_dense.input_shape_ == (X.shape[1],)
    assert set(fitted_dense.history_) == {
        "loss",
        "val_loss",
        "val_macro_f1",
        "val_balanced_accuracy",
        "val_g_mean",
        *(f"val_recall_{label}" for label in range(4)),
    }
    assert len(fitted_dense.history_["val_macro_f1"]) == fast_params["epochs"]


def test_string_labels_round_trip(tabular, fast_params):
    X, y = tabular
    labels = np.array(["rare", "major", "mid", "minor"])[y]
    clf = ImbalancedKerasClassifier(**fast_params).fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    assert list(clf.classes_) == sorted(set(labels))


def test_single_row_shapes(fitted_dense, fitted_lstm, tabular, sequences):
    assert fitted_dense.predict(tabular[0][:1]).shape == (1,)
    assert fitted_dense.predict_proba(tabular[0][:1]).shape == (1, 4)
    assert fitted_lstm.predict_proba(sequences[0][:1]).shape == (1, 4)
    proba = fitted_dense.predict_proba(tabular[0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(
        fitted_dense.predict_log_proba(tabular[0]), np.log(proba), rtol=1e-9
    )


def test_score_is_macro_f1(fitted_dense, tabular):
    from sklearn.metrics import f1_score

    X, y = tabular
    expected = f1_score(y, fitted_dense.predict(X), average="macro")
    assert fitted_dense.score(X, y) == pytest.approx(expected)
    # scikeras' scorer attribute gives the same figure (its own: accuracy).
    assert fitted_dense.scorer(y, fitted_dense.predict(X)) == pytest.approx(expected)


def test_validation_split_is_stratified_and_shuffled(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(validation_fraction=0.2, **fast_params)
    clf.classes_ = np.unique(y)
    train, val = validation_split(
        y, classes=clf.classes_, validation_fraction=clf.validation_fraction, seed=0
    )
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(y)
    # Every class is in validation, in its training proportion.
    expected = np.bincount(y) * len(val) / len(y)
    assert np.all(np.abs(np.bincount(y[val]) - expected) <= 1)
    # Shuffled: not the last rows, as Keras' validation_split would take.
    assert not np.array_equal(val, np.arange(len(y) - len(val), len(y)))


@pytest.mark.parametrize("fraction", [0.1, 0.95])
def test_validation_split_holds_every_class_on_both_sides(fraction):
    # 3 rows of class 2 among 263: StratifiedShuffleSplit's share of a split
    # of 27 rounds to 0 rows of it (of 250, to all 3).
    y = np.r_[np.zeros(200, int), np.ones(60, int), np.full(3, 2)]
    for seed in range(20):
        train, val = validation_split(
            y, classes=np.arange(3), validation_fraction=fraction, seed=seed
        )
        assert set(y[train]) == set(y[val]) == {0, 1, 2}, seed
        assert np.array_equal(np.sort(np.r_[train, val]), np.arange(len(y)))
        again = validation_split(
            y, classes=np.arange(3), validation_fraction=fraction, seed=seed
        )
        assert all(map(np.array_equal, (train, val), again))


def test_early_stopping_scores_a_class_of_three_rows():
    # Without a validation row of class 2 its F1 was 0 at every epoch: the
    # validation macro-F1 could not pass 2/3, whatever the network learned.
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(200, int), np.ones(60, int), np.full(3, 2)]
    X = rng.normal(size=(len(y), 4)) + 3 * y[:, None]
    clf = ImbalancedKerasClassifier(cv=None, epochs=40, random_state=0).fit(X, y)
    assert max(clf.history_["val_macro_f1"]) > 2 / 3


def test_early_stopping_restores_best_epoch(tabular):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        units=8, epochs=40, patience=3, learning_rate=0.05, cv=None, random_state=0
    ).fit(X, y)
    scores = clf.history_["val_macro_f1"]
    assert len(scores) < 40, "patience should have stopped training"
    assert clf.best_epoch_ == int(np.argmax(scores))
    # The kept weights are those of the best epoch: recompute its score.
    from skimb.callbacks import ValidationMetrics

    train, val = validation_split(
        np.searchsorted(clf.classes_, y),
        classes=clf.classes_,
        validation_fraction=clf.validation_fraction,
        seed=0,
    )
    check = ValidationMetrics(
        X[val].astype(np.float32), np.searchsorted(clf.classes_, y[val]), n_classes=4
    )
    check.set_model(clf.model_)
    logs = {}
    check.on_epoch_end(0, logs)
    assert logs["val_macro_f1"] == pytest.approx(max(scores))


def test_early_stopping_needs_validation(tabular, fast_params):
    with pytest.raises(ValueError, match="validation_fraction"):
        ImbalancedKerasClassifier(validation_fraction=0.0, **fast_params).fit(*tabular)


def test_same_seed_same_predictions(tabular, fast_params):
    X, y = tabular
    first = ImbalancedKerasClassifier(**fast_params).fit(X, y).predict_proba(X)
    second = ImbalancedKerasClassifier(**fast_params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = ImbalancedKerasClassifier(**{**fast_params, "random_state": 1}).fit(X, y)
    assert not np.array_equal(first, other.predict_proba(X))


def test_seeding_restores_global_random_state(tabular, fast_params):
    state = np.random.get_state()[1].copy()
    ImbalancedKerasClassifier(**fast_params).fit(*tabular)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


# One process (each start imports TensorFlow, seconds of a test): the pickle
# loads before anything else has run there, and the fit comes after it, so
# it also shows that a fit does not depend on what ran before it.
_FRESH_PROCESS = """
import pickle, sys
import numpy as np
from skimb.datasets import make_imbalanced_classification
from skimb import ImbalancedKerasClassifier
X, y = make_imbalanced_classification(
    340, n_features=6, n_informative=3, weights=(10, 100, 40, 20), random_state=0
)
with open(sys.argv[1], "rb") as f:
    loaded = pickle.load(f)
np.save(sys.argv[2], loaded.predict_proba(X))
clf = ImbalancedKerasClassifier(units=8, epochs=3, batch_size=64, patience=2,
                                cv=None, random_state=0).fit(X, y)
np.save(sys.argv[3], clf.predict_proba(X))
"""


def _in_fresh_process(*args):
    subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, *map(str, args)],
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_seed_reproducible_across_processes_and_pickle_loads_fresh(
    tabular, tmp_path, fast_params
):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params).fit(X, y)
    pipe = make_pipeline(RandomOverSampler(random_state=0), clone(clf)).fit(X, y)
    model_file = tmp_path / "pipe.pkl"
    model_file.write_bytes(pickle.dumps(pipe))

    _in_fresh_process(model_file, tmp_path / "load.npy", tmp_path / "fit.npy")

    np.testing.assert_array_equal(np.load(tmp_path / "fit.npy"), clf.predict_proba(X))
    np.testing.assert_array_equal(np.load(tmp_path / "load.npy"), pipe.predict_proba(X))


def test_pickle_round_trip_in_process(fitted_lstm, sequences):
    X, _ = sequences
    restored = pickle.loads(pickle.dumps(fitted_lstm))
    np.testing.assert_array_equal(
        restored.predict_proba(X), fitted_lstm.predict_proba(X)
    )
    # Pickling leaves the original usable.
    assert isinstance(fitted_lstm.model_, keras.Model)


def test_class_weight_is_computed_from_the_y_fit_receives(tabular, fast_params):
    X, y = tabular
    pipe = make_pipeline(
        RandomOverSampler(random_state=0),
        ImbalancedKerasClassifier(class_weight="balanced", **fast_params),
    ).fit(X, y)
    # After oversampling every class is equally frequent: balanced weights are 1.
    np.testing.assert_allclose(pipe[-1].class_weight_, np.ones(4))
    alone = ImbalancedKerasClassifier(class_weight="balanced", **fast_params).fit(X, y)
    counts = np.bincount(y)
    np.testing.assert_allclose(alone.class_weight_, len(y) / (4 * counts))


def test_sample_weight_combines_with_class_weight_without_writing(
    tabular, monkeypatch, fast_params
):
    X, y = tabular
    sample_weight = np.linspace(0.5, 2.0, len(y))
    original = sample_weight.copy()
    X_before, y_before = X.copy(), y.copy()
    received = {}
    train = skimb._engine.train

    def spy(networks, X, splits, plan):
        received["weights"] = plan.weights
        return train(networks, X, splits, plan)

    monkeypatch.setattr(skimb._fitting, "train", spy)
    # A Keras loss of the user's multiplies the weights in (skimb's losses
    # take each class's mean as an offset: test_strategies).
    clf = ImbalancedKerasClassifier(
        loss=FocalLoss(gamma=2.0),
        class_weight={0: 4.0},
        validation_fraction=0.0,
        early_stopping=False,
        **fast_params,
    ).fit(X, y, sample_weight=sample_weight)
    np.testing.assert_array_equal(sample_weight, original)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    expected = original * np.where(y == 0, 4.0, 1.0)
    # Rescaled to mean 1: only their ratios are costs.
    np.testing.assert_allclose(
        received["weights"], expected / expected.mean(), rtol=1e-6
    )
    np.testing.assert_allclose(clf.class_weight_, [4.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "loss, target_shape, probabilities",
    [
        ("focal", (None, 4), False),
        (keras.losses.CategoricalFocalCrossentropy(), (None, 4), True),
        (keras.losses.CategoricalCrossentropy(from_logits=True), (None, 4), False),
        (keras.losses.SparseCategoricalCrossentropy(), (None,), True),
        # Loss functions too (their held-out loss takes sample weights).
        (keras.losses.categorical_crossentropy, (None, 4), True),
        (keras.losses.sparse_categorical_crossentropy, (None,), True),
    ],
)
def test_targets_and_outputs_match_the_loss(
    tabular, loss, target_shape, probabilities, fast_params
):
    X, y = tabular
    params = {
        **fast_params,
        "epochs": 30,
        "learning_rate": 0.02,
        "early_stopping": False,
    }
    clf = ImbalancedKerasClassifier(loss=loss, **params).fit(X, y)
    _, logits, sparse = resolve_loss(clf.loss)
    assert logits is not probabilities
    targets = encode_targets(
        np.searchsorted(clf.classes_, y), len(clf.classes_), sparse=sparse
    )
    assert targets.shape[1:] == target_shape[1:]
    if not sparse:
        np.testing.assert_array_equal(targets.argmax(axis=1), y)
    ends_in_softmax = clf.model_.layers[-1].name == "probabilities"
    assert ends_in_softmax is probabilities
    # Correctly encoded targets train: macro-F1 far above the 0.2 of always
    # predicting the majority class (ordinal labels fed to a one-hot loss
    # would not learn at all).
    assert clf.score(X, y) > 0.5


def test_focal_loss_is_the_compiled_loss(tabular, fast_params):
    clf = ImbalancedKerasClassifier(loss="focal", gamma=3.0, **fast_params).fit(
        *tabular
    )
    assert isinstance(clf.model_.loss, FocalLoss)
    assert clf.model_.loss.gamma == 3.0


def test_standardize_adapts_to_training_split(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params).fit(X, y)
    layer = clf.model_.get_layer("standardize")
    train, _ = validation_split(
        y, classes=clf.classes_, validation_fraction=clf.validation_fraction, seed=0
    )
    np.testing.assert_allclose(
        np.ravel(layer.mean), X[train].mean(axis=0), rtol=1e-4, atol=1e-3
    )
    raw = ImbalancedKerasClassifier(standardize=False, **fast_params).fit(X, y)
    with pytest.raises(ValueError):
        raw.model_.get_layer("standardize")


@pytest.mark.parametrize("architecture", ["lstm", "gru", "conv1d", "dense"])
def test_sequence_architectures_take_3d_and_flattened(
    sequences, architecture, fast_params
):
    X, y = sequences
    n, t, f = X.shape
    clf3 = ImbalancedKerasClassifier(architecture, **fast_params).fit(X, y)
    flat = ImbalancedKerasClassifier(architecture, n_timesteps=t, **fast_params).fit(
        X.reshape(n, t * f), y
    )
    if architecture != "dense":
        assert flat.input_shape_ == (t, f)
        np.testing.assert_allclose(
            flat.predict_proba(X.reshape(n, t * f)), clf3.predict_proba(X), rtol=1e-5
        )
    assert clf3.input_shape_ == (t, f)


def test_partial_fit_trains_one_epoch_per_call(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2, 3])
    clf.partial_fit(X[100:], y[100:])
    assert len(clf.history_["loss"]) == 2
    assert clf.predict(X).shape == y.shape
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X[:10], np.full(10, 7))
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] is not the same"):
        clf.partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    clf.partial_fit(X[:10], y[:10], classes=[3, 2, 1, 0])  # the same, in any order


def test_partial_fit_counts_every_row_trained_on(tabular, fast_params, monkeypatch):
    # A call whose rows miss the rarest class leaves its count, its weight
    # and the prior behind predict_proba as the rows seen so far give them,
    # not as that call's y alone would (a prior of nothing).
    X, y = tabular
    rare = np.bincount(y).argmin()
    first, later = np.arange(120), np.flatnonzero(np.arange(len(y)) >= 120)
    later = later[y[later] != rare]
    clf = ImbalancedKerasClassifier(**{**fast_params, "class_weight": "balanced"})
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2, 3])
    clf.partial_fit(X[later], y[later])
    counts = np.bincount(y[first], minlength=4) + np.bincount(y[later], minlength=4)
    np.testing.assert_array_equal(clf.class_counts_, counts)
    np.testing.assert_allclose(clf.class_weight_, counts.sum() / (4 * counts))
    np.testing.assert_allclose(clf.class_prior_, counts / counts.sum())
    # Today's class weights apply to every row counted, as in a fit on them
    # all: balanced weights balance the weighted counts.
    np.testing.assert_allclose(clf.weighted_class_counts_, np.full(4, counts.sum() / 4))
    # Sample weights add up across calls too: without class weights, each
    # class's weighted count is the sum of its rows' weights.
    plain = ImbalancedKerasClassifier(**fast_params)
    plain.partial_fit(X[first], y[first], classes=[0, 1, 2, 3])
    plain.partial_fit(X[later], y[later], sample_weight=np.full(len(later), 2.0))
    weighted = np.bincount(y[first], minlength=4) + 2 * np.bincount(
        y[later], minlength=4
    )
    np.testing.assert_allclose(plain.weighted_class_counts_, weighted)
    # A model saved before the totals were kept recovers them from its
    # weighted counts.
    del plain._weight_totals
    plain.partial_fit(X[first], y[first])
    np.testing.assert_array_equal(plain.class_counts_, counts + np.bincount(y[first]))
    np.testing.assert_allclose(
        plain.weighted_class_counts_, weighted + np.bincount(y[first], minlength=4)
    )
    # A call that fails counts none of its rows.
    before = plain.class_counts_.copy()

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(skimb._classifier, "train_epoch", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        plain.partial_fit(X[first], y[first])
    np.testing.assert_array_equal(plain.class_counts_, before)


def test_partial_fit_after_initialize_counts_only_trained_rows(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params).initialize(X, y)
    clf.partial_fit(X[:100], y[:100])
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y[:100], minlength=4))
    assert len(clf.history_["loss"]) == 1
    # After a fit too: initialize's new network has trained on nothing (the
    # fit's history made partial_fit count its rows twice, from a later
    # epoch's seed).
    refitted = ImbalancedKerasClassifier(**fast_params).fit(X, y).initialize(X, y)
    assert not hasattr(refitted, "history_") and not hasattr(refitted, "best_epoch_")
    refitted.partial_fit(X[:100], y[:100])
    np.testing.assert_array_equal(refitted.class_counts_, clf.class_counts_)
    np.testing.assert_array_equal(refitted.predict_proba(X), clf.predict_proba(X))
    # An initialize that fails leaves the fitted estimator as it was.
    with pytest.raises(ValueError, match="at least 2 classes"):
        refitted.initialize(np.zeros((20, 9)), np.zeros(20))
    assert refitted.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(refitted.predict_proba(X), clf.predict_proba(X))


def test_a_first_partial_fit_that_fails_leaves_nothing_fitted(tabular, fast_params):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.partial_fit(X[:10], np.zeros(10))
    assert not [name for name in vars(clf) if name.endswith("_")]
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_the_largest_random_state_seeds_every_epoch_and_network(tabular, fast_params):
    # scikit-learn accepts random_state up to 2**32 - 1; the seeds of later
    # epochs, networks and calls went past NumPy's and Keras' limit.
    X, y = tabular
    params = dict(fast_params, cv=2, batch_sampler="smote", random_state=2**32 - 1)
    proba = [
        ImbalancedKerasClassifier(**params).fit(X, y).partial_fit(X, y).predict_proba(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(proba[0], proba[1])


def test_partial_fit_calls_are_reproducible(tabular, fast_params):
    # Later calls draw their shuffle and dropout from random_state too, not
    # from the global NumPy state, which the first estimator's calls moved.
    X, y = tabular
    probabilities = []
    for _ in range(2):
        clf = ImbalancedKerasClassifier(**{**fast_params, "dropout": 0.3})
        for _ in range(3):
            clf.partial_fit(X, y)
        probabilities.append(clf.predict_proba(X))
    np.testing.assert_array_equal(probabilities[0], probabilities[1])


def test_partial_fit_after_loading_is_reproducible(tabular, fast_params, tmp_path):
    # Keras saves no dropout state, and a loaded model draws its own: the
    # calls after loading draw it from random_state, as without loading.
    from skimb import persistence

    X, y = tabular
    clf = ImbalancedKerasClassifier(**{**fast_params, "dropout": 0.3}).fit(X, y)
    blob = pickle.dumps(clf)
    persistence.save(clf, tmp_path / "model.skimb")
    copies = [
        pickle.loads(blob),
        pickle.loads(blob),
        persistence.load(tmp_path / "model.skimb"),
        clf,
    ]
    probabilities = []
    for copy in copies:
        for _ in range(2):
            copy.partial_fit(X, y)
        probabilities.append(copy.predict_proba(X))
    for other in probabilities[1:]:
        np.testing.assert_array_equal(probabilities[0], other)


def test_user_callbacks_can_monitor_val_macro_f1(tabular, fast_params):
    X, y = tabular
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="val_macro_f1", mode="max", patience=1, factor=0.5
    )
    clf = ImbalancedKerasClassifier(callbacks=[reduce], **fast_params).fit(X, y)
    assert "val_macro_f1" in clf.history_
    assert reduce.best > 0


class _Steps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = self.params["steps"]


@pytest.mark.parametrize(
    ("n_samples", "batch"),
    # One network's training rows // 32, between 32 and 128.
    [(200, 32), (3000, 84), (10_000, 128)],
)
def test_auto_batch_size_gives_small_data_enough_steps(n_samples, batch, fast_params):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(n_samples, 3)), np.arange(n_samples) % 2
    steps = _Steps()
    params = {**fast_params, "epochs": 1, "batch_size": "auto"}
    ImbalancedKerasClassifier(callbacks=[steps], **params).fit(X, y)
    train, _ = validation_split(
        y, classes=np.arange(2), validation_fraction=0.1, seed=0
    )
    assert len(train) // 32 == batch or batch in (32, 128)
    assert steps.steps == -(-len(train) // batch)


@pytest.mark.parametrize(
    ("learning_rate", "n_samples", "expected"),
    [
        # "auto": 1e-3 up to 4,096 training rows, then 1e-3 * sqrt(4096 / n).
        ("auto", 200, 1e-3),
        ("auto", 4096, 1e-3),
        ("auto", 16_384, 5e-4),
        ("auto", 95_000, 1e-3 * np.sqrt(4096 / 95_000)),
        (0.05, 95_000, 0.05),
        # partial_fit (no early stopping): 1e-3 whatever the rows.
        ("auto", None, 1e-3),
    ],
)
def test_resolve_learning_rate(learning_rate, n_samples, expected):
    from skimb._params import resolve_learning_rate

    resolved = resolve_learning_rate(learning_rate, n_samples)
    assert resolved == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n_samples", [500, 10_000])
def test_auto_learning_rate_is_that_of_the_training_rows(n_samples, fast_params):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(n_samples, 3)), np.arange(n_samples) % 2
    params = {**fast_params, "epochs": 1}
    clf = ImbalancedKerasClassifier(**params).fit(X, y)
    train, _ = validation_split(
        y, classes=np.arange(2), validation_fraction=0.1, seed=0
    )
    expected = 1e-3 * min(1.0, np.sqrt(4096 / len(train)))
    rate = float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))
    assert rate == pytest.approx(expected, rel=1e-6)
    # A rate given as a number is used as it is.
    clf = ImbalancedKerasClassifier(learning_rate=0.02, **params).fit(X, y)
    rate = float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))
    assert rate == pytest.approx(0.02, rel=1e-6)
    # partial_fit does not stop early: a network it builds trains at 1e-3
    # whatever the rows; after a fit it goes on at the fit's rate.
    clf = ImbalancedKerasClassifier(**params).partial_fit(X, y, classes=[0, 1])
    rate = float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))
    assert rate == pytest.approx(1e-3, rel=1e-6)
    clf = ImbalancedKerasClassifier(**params).fit(X, y).partial_fit(X, y)
    rate = float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))
    assert rate == pytest.approx(expected, rel=1e-6)
    # Cross-fitted networks: the rows each one trains on (half of them).
    clf = ImbalancedKerasClassifier(**{**params, "cv": 2}).fit(X, y)
    rate = float(keras.ops.convert_to_numpy(clf.model_.optimizer.learning_rate))
    assert rate == pytest.approx(1e-3 * min(1.0, np.sqrt(8192 / n_samples)), rel=1e-6)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_wrong_class_prior_is_refused_before_training(
    tabular, monkeypatch, fast_params, method
):
    def train(*args, **kwargs):
        raise AssertionError("trained before checking class_prior")

    X, y = tabular
    fitted = ImbalancedKerasClassifier(**fast_params).fit(X[y < 2], y[y < 2])
    before = {key: value for key, value in vars(fitted).items() if key.endswith("_")}
    monkeypatch.setattr(skimb._fitting, "train", train)
    clf = ImbalancedKerasClassifier(class_prior=[0.5, 0.5], **fast_params)
    with pytest.raises(ValueError, match="class_prior must hold 4 positive"):
        getattr(clf, method)(X, y)
    # A refit that fails so leaves the fitted estimator as it was.
    fitted.set_params(class_prior=[0.5, 0.5])
    with pytest.raises(ValueError, match="class_prior must hold 4 positive"):
        fitted.fit(X, y)
    for key, value in before.items():
        after = getattr(fitted, key)
        # Arrays, the network and the histories the same objects; the input
        # shape (checked again before the labels) the same values.
        same = after is value or (isinstance(value, tuple | int) and after == value)
        assert same, key


def test_a_loss_function_saves_loads_and_trains_on(tabular, fast_params, tmp_path):
    from functools import partial

    from skimb import persistence

    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss=keras.losses.categorical_crossentropy, **fast_params
    ).fit(X, y)
    expected = clf.predict_proba(X)
    for copy in (
        pickle.loads(pickle.dumps(clf)),
        persistence.load(persistence.save(clf, tmp_path / "model.skimb")),
    ):
        np.testing.assert_array_equal(copy.predict_proba(X), expected)
    # A function of no name (a partial) trains on, call after call.
    loss = partial(keras.losses.categorical_crossentropy, label_smoothing=0.1)
    online = ImbalancedKerasClassifier(loss=loss, **fast_params)
    for _ in range(2):
        online.partial_fit(X, y)
    assert len(online.history_["loss"]) == 2


def test_a_keras_loss_name_trains_as_its_function(tabular, fast_params, tmp_path):
    # scikeras' loss="categorical_crossentropy" carries over: the same fit
    # as Keras' function of that name, into a model file and back.
    from skimb import persistence

    X, y = tabular
    by_name = ImbalancedKerasClassifier(loss="categorical_crossentropy", **fast_params)
    expected = ImbalancedKerasClassifier(
        loss=keras.losses.categorical_crossentropy, **fast_params
    ).fit(X, y)
    proba = by_name.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(proba, expected.predict_proba(X))
    loaded = persistence.load(persistence.save(by_name, tmp_path / "model.skimb"))
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    assert loaded.get_params()["loss"] == "categorical_crossentropy"
    sparse = ImbalancedKerasClassifier(
        loss="sparse_categorical_crossentropy", **fast_params
    ).fit(X, y)
    assert np.isfinite(sparse.history_["loss"]).all()


def test_partial_fit_after_fit_keeps_the_fit_s_validation_curves(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params).fit(X, y)
    fitted = {key: list(value) for key, value in clf.history_.items()}
    assert "val_macro_f1" in fitted
    clf.partial_fit(X, y)
    assert set(clf.history_) == set(fitted)
    for key, value in fitted.items():
        assert clf.history_[key][: len(value)] == value
    # The epoch of partial_fit has a training loss and no validation.
    assert np.isfinite(clf.history_["loss"][-1])
    assert np.isnan(clf.history_["val_macro_f1"][-1])
