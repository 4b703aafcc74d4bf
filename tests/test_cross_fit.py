"""Cross-fitting (``cv``): several networks, a rule tuned out of fold, one model."""

import pickle

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.model_selection import (
    PredefinedSplit,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
    cross_val_score,
)

import skimb._fitting
from skimb import ImbalancedKerasClassifier
from skimb._inference import forward
from skimb.calibration import fit_temperature_and_bias
from skimb.datasets import make_imbalanced_classification
from skimb.decision import macro_f1_offsets
from skimb.persistence import load, save
from tests.support import network_log_proba, network_offsets


@pytest.fixture(scope="module")
def cross_fitted(tabular, fast_params):
    return ImbalancedKerasClassifier(**{**fast_params, "cv": 3}).fit(*tabular)


def test_networks_are_trained_on_stratified_folds(cross_fitted, tabular):
    X, y = tabular
    assert cross_fitted.n_networks_ == 3
    assert len(cross_fitted.histories_) == 3
    assert cross_fitted.history_ is cross_fitted.histories_[0]
    # Each network stopped early on its own held-out fold.
    for history in cross_fitted.histories_:
        assert len(history["val_macro_f1"]) == len(history["loss"]) >= 1
    # Each network standardises with the moments of its own training folds.
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    for i, (train, _) in enumerate(folds):
        layer = cross_fitted.model_.get_layer(f"network_{i}").get_layer("standardize")
        np.testing.assert_allclose(
            np.ravel(layer.mean), X[train].mean(axis=0), rtol=1e-5, atol=1e-4
        )


def test_model_outputs_the_mean_of_the_networks_log_probabilities(
    cross_fitted, tabular
):
    X, _ = tabular
    networks = [cross_fitted.model_.get_layer(f"network_{i}") for i in range(3)]
    expected = log_softmax(
        np.mean([log_softmax(forward(n, X), axis=1) for n in networks], axis=0),
        axis=1,
    )
    np.testing.assert_allclose(
        network_log_proba(cross_fitted, X), expected, rtol=1e-5, atol=1e-5
    )
    # predict_proba: the same, adjustment undone, at the fitted temperature.
    calibrated = log_softmax(
        (expected + cross_fitted.posterior_offsets_) / cross_fitted.temperature_
        + cross_fitted.calibration_bias_,
        axis=1,
    )
    np.testing.assert_allclose(
        cross_fitted.predict_log_proba(X), calibrated, rtol=1e-5, atol=1e-5
    )


def test_rule_is_tuned_on_every_sample_out_of_fold(cross_fitted, tabular):
    X, y = tabular
    y_encoded = np.searchsorted(cross_fitted.classes_, y)
    held_out = np.zeros((len(y), len(cross_fitted.classes_)))
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)
    for i, (_, val) in enumerate(folds):
        network = cross_fitted.model_.get_layer(f"network_{i}")
        held_out[val] = log_softmax(forward(network, X[val]), axis=1)
    prior = np.bincount(y_encoded) / len(y)
    expected, tuned = macro_f1_offsets(
        held_out, y_encoded, start=np.log(prior), random_state=0
    )
    # 20 samples of the rarest class out of fold: enough to tune on, where a
    # 10% validation split (2 samples) would fall back to the posterior rule.
    assert tuned and cross_fitted.decision_rule_ == "macro_f1"
    np.testing.assert_allclose(network_offsets(cross_fitted), expected, atol=1e-6)
    # The temperature is fitted on the same out-of-fold predictions.
    temperature, bias = fit_temperature_and_bias(held_out + np.log(prior), y_encoded)
    assert cross_fitted.temperature_ == pytest.approx(temperature, rel=1e-4)
    np.testing.assert_allclose(cross_fitted.calibration_bias_, bias, atol=1e-6)


def test_auto_cross_fits_only_small_classes_with_a_validation_split(
    tabular, fast_params
):
    X, y = tabular
    auto = {**fast_params, "epochs": 1, "cv": "auto"}
    # The rarest class has 20 samples: five networks.
    assert ImbalancedKerasClassifier(**auto).fit(X, y).n_networks_ == 5
    assert (
        ImbalancedKerasClassifier(**auto, validation_fraction=0, early_stopping=False)
        .fit(X, y)
        .n_networks_
        == 1
    )
    X_big, y_big = make_imbalanced_classification(
        2100, n_features=3, n_informative=2, weights=(1, 1), random_state=0
    )
    assert np.bincount(y_big).min() >= 1000
    assert ImbalancedKerasClassifier(**auto).fit(X_big, y_big).n_networks_ == 1


def test_auto_uses_fewer_folds_than_the_rarest_class(tabular, fast_params):
    X, y = tabular
    keep = np.r_[np.flatnonzero(y == 0)[:3], np.flatnonzero(y != 0)]
    clf = ImbalancedKerasClassifier(**{**fast_params, "epochs": 1, "cv": "auto"})
    assert clf.fit(X[keep], y[keep]).n_networks_ == 3


def test_too_many_folds_for_the_rarest_class_names_cv(tabular, fast_params):
    X, y = tabular
    with pytest.raises(ValueError, match=r"cv=21 needs at least 21 .*class 0.* 20"):
        ImbalancedKerasClassifier(**{**fast_params, "cv": 21}).fit(X, y)


def test_errors_name_a_class_of_text_labels_held_as_objects(tabular, fast_params):
    # (pandas' text columns: labels of an object array, which have no tolist.)
    X, y = tabular
    labels = np.array(["low", "mid", "high", "top"], dtype=object)[y]
    with pytest.raises(ValueError, match=r"cv=21 needs .*class 'low' has 20"):
        ImbalancedKerasClassifier(**{**fast_params, "cv": 21}).fit(X, labels)
    groups = np.where(y == 0, 0, 1 + np.arange(len(y)) % 9)
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": StratifiedGroupKFold(3)})
    with pytest.raises(ValueError, match="no sample of class 'low' in the training"):
        clf.fit(X, labels, groups=groups)


def test_integer_cv_early_stops_without_a_validation_fraction(tabular, fast_params):
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "cv": 2, "validation_fraction": 0}
    )
    assert clf.fit(*tabular).n_networks_ == 2
    assert clf.best_epoch_ is not None


def test_same_seed_same_predictions_and_clone_refits_alike(cross_fitted, tabular):
    X, y = tabular
    again = clone(cross_fitted).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), cross_fitted.predict(X))
    np.testing.assert_allclose(
        again.predict_proba(X), cross_fitted.predict_proba(X), atol=1e-6
    )


def test_pickle_and_model_file_round_trips(cross_fitted, tabular, tmp_path, recwarn):
    X, _ = tabular
    for loaded in (
        pickle.loads(pickle.dumps(cross_fitted)),
        load(save(cross_fitted, tmp_path / "cross_fitted.skimb")),
    ):
        np.testing.assert_allclose(
            loaded.predict_proba(X), cross_fitted.predict_proba(X), atol=1e-6
        )
        assert loaded.n_networks_ == 3 and len(loaded.histories_) == 3
    # Keras warns when a saved optimizer misses variables; none may be missing.
    assert not [w for w in recwarn if "optimizer" in str(w.message)]


def test_partial_fit_trains_the_averaged_model_on(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": 2}).fit(X, y)
    before = clf.predict_proba(X)
    epochs = len(clf.history_["loss"])
    clf.partial_fit(X, y)
    assert clf.n_networks_ == 2
    assert len(clf.history_["loss"]) == epochs + 1
    assert clf.histories_[0] is clf.history_
    assert not np.allclose(clf.predict_proba(X), before)


def test_progress_counts_the_networks_of_a_fit_as_one_fit(tabular, fast_params):
    from skimb.cli._progress import EpochProgress, StatusLine

    X, y = tabular
    progress = EpochProgress(StatusLine())
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": 3}, callbacks=[progress])
    clf.fit(X, y)
    assert progress.fits == 1
    # A later partial_fit is a fit of its own, not a fourth network.
    clf.partial_fit(X, y)
    assert progress.fits == 2


# ------------------------------------------------------ a splitter as cv


def _row_groups(n: int) -> np.ndarray:
    """Groups of five consecutive rows (a recording's windows, say)."""
    return np.arange(n) // 5


def test_a_group_splitter_trains_one_network_per_split(
    tabular, fast_params, monkeypatch
):
    X, y = tabular
    groups = _row_groups(len(y))
    groups_before = groups.copy()
    seen = {}
    train = skimb._fitting.train

    def spy(networks, X, splits, plan):
        seen["splits"] = splits
        return train(networks, X, splits, plan)

    monkeypatch.setattr(skimb._fitting, "train", spy)
    splitter = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": splitter})
    clf.fit(X, y, groups=groups)
    np.testing.assert_array_equal(groups, groups_before)
    assert clf.n_networks_ == len(clf.histories_) == 3
    expected = list(splitter.split(X, y, groups))
    assert len(seen["splits"]) == 3
    for i, ((train_rows, held_out), (want_train, want_test)) in enumerate(
        zip(seen["splits"], expected, strict=True)
    ):
        np.testing.assert_array_equal(train_rows, np.sort(want_train))
        np.testing.assert_array_equal(held_out, np.sort(want_test))
        # No network validates on a group it trained on.
        assert not set(groups[train_rows]) & set(groups[held_out])
        # Each network standardises with the moments of its own rows.
        layer = clf.model_.get_layer(f"network_{i}").get_layer("standardize")
        np.testing.assert_allclose(
            np.ravel(layer.mean), X[train_rows].mean(axis=0), rtol=1e-5, atol=1e-4
        )


def test_the_integer_folds_as_a_splitter_give_the_same_model(cross_fitted, tabular):
    # cv=3 is StratifiedKFold(3, shuffle=True) seeded by random_state.
    X, y = tabular
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    again = clone(cross_fitted).set_params(cv=splitter).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), cross_fitted.predict_proba(X))


def _overlapping_split(n):
    return check_cv([(np.arange(n), np.arange(10))])


def _class_0_held_out_whole(y):
    # Split 1 holds out every sample of class 0: its network never sees one.
    return PredefinedSplit(np.where(y == 0, 0, 1 + np.arange(len(y)) % 2))


def _class_0_never_held_out(y):
    # -1: rows in no test fold, which every network trains on.
    return PredefinedSplit(np.where(y == 0, -1, np.arange(len(y)) % 2))


def _unequal_halves(y):
    # Training rows about 40% and 60% of the rows.
    return PredefinedSplit((np.random.RandomState(0).rand(len(y)) < 0.6).astype(int))


@pytest.mark.parametrize(
    "cv, groups, message",
    [
        (
            lambda y: ShuffleSplit(3, test_size=0.3, random_state=0),
            None,
            r"holds out some rows in more than one split \(split 2",
        ),
        (
            lambda y: StratifiedGroupKFold(3),
            None,
            r"splits by group; pass each row's group to fit",
        ),
        (lambda y: 3, _row_groups, r"groups are read by .* cv=3 does not read them"),
        (
            lambda y: StratifiedGroupKFold(3),
            lambda n: _row_groups(n)[:-1],
            r"groups has 339 entries for 340 training rows",
        ),
        (_class_0_held_out_whole, None, r"no sample of class 0 .* split 1"),
        (
            lambda y: _overlapping_split(len(y)),
            None,
            "trains on rows it holds out in its split 1",
        ),
        (
            lambda y: StratifiedKFold(3),
            _row_groups,
            r"groups are read by .* cv=StratifiedKFold.* does not read them",
        ),
        (_class_0_never_held_out, None, r"holds out no sample of class 0 in any"),
        (_unequal_halves, None, r"trains its networks on 1\d\d to 2\d\d rows"),
        (
            lambda y: check_cv([(np.r_[np.arange(50, len(y)), 60], np.arange(50))]),
            None,
            "gave some training rows twice in one split",
        ),
        (
            lambda y: check_cv([(np.arange(50, len(y)), [])]),
            None,
            "gave no test row in one of its splits",
        ),
        (
            lambda y: check_cv([(np.arange(50, len(y) + 3), np.arange(50))]),
            None,
            r"gave training rows outside the 340 training rows \(50 to 342\)",
        ),
    ],
    ids=[
        "rows-held-out-twice",
        "groups-missing",
        "groups-without-splitter",
        "groups-wrong-length",
        "class-missing-from-training",
        "train-and-test-overlap",
        "groups-not-read",
        "class-never-held-out",
        "unequal-training-rows",
        "training-row-twice",
        "empty-split",
        "row-out-of-range",
    ],
)
def test_splitter_problems_are_named(tabular, fast_params, cv, groups, message):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": cv(y)})
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, groups=None if groups is None else groups(len(y)))
    assert not hasattr(clf, "model_")


class _OddAndEvenGroups:
    """A splitter of the user's own (scikit-learn's protocol, no base
    class): two splits, by the parity of the group."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return 2

    def split(self, X, y=None, groups=None):
        odd = np.asarray(groups) % 2 == 1
        yield np.flatnonzero(~odd), np.flatnonzero(odd)
        yield np.flatnonzero(odd), np.flatnonzero(~odd)


def test_a_splitter_of_ones_own_that_takes_groups_gets_them(tabular, fast_params):
    X, y = tabular
    groups = _row_groups(len(y))
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": _OddAndEvenGroups()})
    assert clf.fit(X, y, groups=groups).n_networks_ == 2


def test_a_splitter_class_is_not_a_splitter(tabular, fast_params):
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": StratifiedGroupKFold})
    with pytest.raises(TypeError, match=r"cv=StratifiedGroupKFold is a class"):
        clf.fit(*tabular)


def test_a_splitter_cv_clones_pickles_and_saves(tabular, fast_params, tmp_path):
    X, y = tabular
    splitter = StratifiedGroupKFold(2, shuffle=True, random_state=0)
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": splitter})
    groups = _row_groups(len(y))
    clf.fit(X, y, groups=groups)
    cloned = clone(clf).cv
    assert cloned is not splitter and repr(cloned) == repr(splitter)
    for loaded in (
        pickle.loads(pickle.dumps(clf)),
        load(save(clf, tmp_path / "grouped.skimb")),
    ):
        assert repr(loaded.cv) == repr(splitter)
        for ours, theirs in zip(
            loaded.cv.split(X, y, groups), splitter.split(X, y, groups), strict=True
        ):
            np.testing.assert_array_equal(ours[1], theirs[1])
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # A splitter with an array parameter.
    predefined = PredefinedSplit(np.arange(len(y)) % 2)
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": predefined}).fit(X, y)
    loaded = load(save(clf, tmp_path / "predefined.skimb"))
    np.testing.assert_array_equal(loaded.cv.test_fold, predefined.test_fold)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_cross_validation_passes_the_groups_to_both_splitters(tabular, fast_params):
    # scikit-learn hands fit's params over sliced to each training fold.
    X, y = tabular
    groups = _row_groups(len(y))
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "epochs": 1, "cv": StratifiedGroupKFold(2)}
    )
    scores = cross_val_score(
        clf,
        X,
        y,
        groups=groups,
        cv=StratifiedGroupKFold(2),
        params={"groups": groups},
        scoring="f1_macro",
    )
    assert scores.shape == (2,) and np.isfinite(scores).all()
