"""OptunaSearchCV: stratified, pruned, failure-tolerant and resumable."""

import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
optuna = pytest.importorskip("optuna")

from imblearn.over_sampling import SMOTE  # noqa: E402
from imblearn.pipeline import Pipeline  # noqa: E402
from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.tree import DecisionTreeClassifier  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402

from skimb import ImbalancedKerasClassifier, OptunaSearchCV  # noqa: E402
from skimb._random import seed_from  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402
from skimb.decision import DECISIONS  # noqa: E402
from skimb.losses import LOSSES  # noqa: E402
from skimb.sampling import BATCH_SAMPLERS, SequenceSampler  # noqa: E402
from skimb.tuning import SAMPLER_CHOICES, default_search_space  # noqa: E402
from skimb.tuning._pruning import pruning_callback_class  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N_CLASSES = 4
LOGS: dict[str, list] = {}


class Recorder(ClassifierMixin, BaseEstimator):
    """A cheap classifier that records the rows and classes each fit sees.

    Column 0 of X holds each row's id; ``log`` names a list of ``LOGS``
    (a name, because clones deep-copy their parameters).  ``mode="raise"``
    fails in ``fit``.
    """

    def __init__(self, c: float = 1.0, mode: str = "ok", log: str | None = None):
        self.c = c
        self.mode = mode
        self.log = log

    def fit(self, X, y):
        if self.mode == "raise":
            raise RuntimeError("this configuration cannot be fitted")
        if self.log is not None:
            LOGS[self.log].append(
                (set(np.asarray(X)[:, 0].astype(int)), np.bincount(y))
            )
        self.classes_ = np.unique(y)
        self.majority_ = np.bincount(y).argmax()
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def _ids(X):
    return np.column_stack([np.arange(len(X)), X])


def _by_c(estimator, X, y):
    """A score that peaks at ``c == 3``, whatever the data."""
    return 1.0 - abs(estimator.c - 3.0) / 10.0


# ---------------------------------------------------------- search space


def test_default_space_is_keyed_by_existing_params_and_always_settable():
    clf = ImbalancedKerasClassifier()
    space = default_search_space(clf)
    params = clf.get_params()
    assert {"units", "n_layers", "dropout", "learning_rate", "batch_size"} <= set(space)
    assert set(space) <= set(params)
    # Every strategy of the estimator is searched.
    assert set(space["loss"].choices) == set(LOSSES)
    assert set(space["decision"].choices) == set(DECISIONS)
    assert set(space["batch_sampler"].choices) == {None, *BATCH_SAMPLERS}
    assert space["class_weight"].choices == (None, "balanced", "effective")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        drawn = study.ask(space).params
        clone(clf).set_params(**drawn)._validate_params()


def test_default_space_of_an_own_network_leaves_out_what_it_does_not_read():
    def build(meta, units=8):
        return keras.Sequential(
            [keras.Input((meta["n_features_in_"],)), keras.layers.Dense(units)]
        )

    space = default_search_space(ImbalancedKerasClassifier(model=build))
    assert not {"units", "n_layers", "dropout"} & set(space)
    assert {"learning_rate", "loss", "class_weight"} <= set(space)


def test_default_space_in_a_pipeline_prefixes_and_adds_the_sampler():
    pipe = Pipeline([("sampler", "passthrough"), ("clf", ImbalancedKerasClassifier())])
    space = default_search_space(pipe)
    assert space["sampler"].choices == SAMPLER_CHOICES
    assert "clf__units" in space and "units" not in space
    assert set(space) <= set(pipe.get_params())


def test_default_space_needs_a_known_estimator():
    with pytest.raises(ValueError, match="no default search space for Recorder"):
        default_search_space(Recorder())


def test_bad_param_distributions_are_named(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match=r"\['nope'\]"):
        OptunaSearchCV(Recorder(), {"nope": FloatDistribution(0, 1)}).fit(X, y)
    with pytest.raises(TypeError, match=r"param_distributions\['c'\]"):
        OptunaSearchCV(Recorder(), {"c": [1, 2]}).fit(X, y)


def test_a_sampler_step_takes_sampler_names(tabular):
    pipe = Pipeline([("sampler", "passthrough"), ("clf", Recorder())])
    space = {"sampler": CategoricalDistribution(["passthrough", "adasyn"])}
    with pytest.raises(ValueError, match="'sampler' is searched over"):
        OptunaSearchCV(pipe, space).fit(*tabular)


def test_sampler_steps_on_3d_sequences(sequences):
    X, y = sequences
    pipe = Pipeline([("sampler", "passthrough"), ("clf", ImbalancedKerasClassifier())])
    search = OptunaSearchCV(
        pipe, {"sampler": CategoricalDistribution(SAMPLER_CHOICES)}, n_trials=1
    )
    for choice in ("smote", "random_over"):
        configured = search._configure({"sampler": choice}, three_d=True, seed=0)
        assert isinstance(configured.named_steps["sampler"], SequenceSampler)


def test_a_searched_smote_step_interpolates_small_classes(tabular):
    from skimb.tuning._space import make_sampler

    X, y = tabular
    few = np.r_[np.flatnonzero(y != 0), np.flatnonzero(y == 0)[:4]]
    step = make_sampler("smote", current="passthrough", three_d=False, seed=0)
    # Four rows of class 0: three neighbours, as an explicit SMOTE of three.
    expected = SMOTE(k_neighbors=3, random_state=0).fit_resample(X[few], y[few])
    for got, want in zip(step.fit_resample(X[few], y[few]), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert step.sampler_.k_neighbors == 3


# --------------------------------------------------- sklearn behaviour


def test_is_a_classifier_with_the_estimators_tags():
    search = OptunaSearchCV(ImbalancedKerasClassifier())
    assert is_classifier(search)
    assert get_tags(search).input_tags.three_d_array
    pipe = Pipeline([("sampler", "passthrough"), ("clf", ImbalancedKerasClassifier())])
    assert is_classifier(OptunaSearchCV(pipe))


def test_integer_cv_is_stratified_shuffled_and_seeded(tabular):
    X, y = tabular
    X = _ids(X)
    space = {"c": FloatDistribution(0.0, 6.0)}
    runs = []
    for random_state in (0, 0, 1):
        log = LOGS[f"seeded{len(runs)}"] = []
        OptunaSearchCV(
            Recorder(log=f"seeded{len(runs)}"),
            space,
            n_trials=2,
            cv=3,
            random_state=random_state,
            refit=False,
        ).fit(X, y)
        runs.append(log)
    counts = np.array([seen for _, seen in runs[0]])
    # Stratified: each training fold holds each class in proportion, +-1.
    assert np.all(counts.max(axis=0) - counts.min(axis=0) <= 1)
    assert len(counts) == 2 * 3
    first_fold = sorted(runs[0][0][0])
    unshuffled = next(StratifiedKFold(3).split(X, y))[0]
    assert first_fold != sorted(unshuffled)
    assert sorted(runs[1][0][0]) == first_fold  # same seed, same folds
    assert sorted(runs[2][0][0]) != first_fold  # another seed, other folds


def test_each_fit_runs_a_fresh_study_and_fills_the_results(tabular):
    X, y = tabular
    search = OptunaSearchCV(
        Recorder(), {"c": FloatDistribution(0.0, 6.0)}, n_trials=3, cv=2
    )
    search.set_params(scoring=_by_c, random_state=0)
    first = search.fit(X, y).study_
    second = search.fit(X, y).study_
    assert first is not second
    assert len(second.trials) == 3
    results = search.cv_results_
    assert list(results["state"]) == ["COMPLETE"] * 3
    best = int(np.argmax(results["mean_test_score"]))
    assert search.best_index_ == best
    assert results["rank_test_score"][best] == 1
    assert search.best_params_ == results["params"][best]
    assert search.best_score_ == pytest.approx(_by_c(search.best_estimator_, X, y))
    np.testing.assert_allclose(
        results["mean_test_score"],
        (results["split0_test_score"] + results["split1_test_score"]) / 2,
    )
    restored = pickle.loads(pickle.dumps(search))
    assert len(restored.study_.trials) == 3
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))


def test_the_first_trial_is_the_estimator_as_given(tabular, tmp_path):
    X, y = tabular
    space = {
        "c": FloatDistribution(0.0, 6.0),
        "mode": CategoricalDistribution(["ok", "other"]),
    }
    # c=5.5 and mode="ok" are inside the space and start the study.
    search = OptunaSearchCV(
        Recorder(c=5.5, mode="ok"),
        space,
        n_trials=3,
        cv=2,
        scoring=_by_c,
        random_state=0,
    ).fit(X, y)
    first = search.study_.trials[0]
    assert first.params == {"c": 5.5, "mode": "ok"}
    assert search.best_score_ >= _by_c(Recorder(c=5.5), X, y)
    # mode="raise" is not one of the space's choices: a trial drawing a mode
    # would not be the estimator as given, so none claims to be.
    outside = clone(search).set_params(estimator=Recorder(c=5.5, mode="raise"))
    outside.fit(X, y)
    assert not any(outside.cv_results_["start"])
    assert np.isnan(outside.default_score_)
    # Without it, every trial is drawn: seeded TPE never lands on 5.5.
    drawn = clone(search).set_params(start_from_estimator=False).fit(X, y)
    assert all(t.params["c"] != 5.5 for t in drawn.study_.trials)
    # A resumed study is not given the estimator's trial again.
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    resumable = clone(search).set_params(
        n_trials=2, storage=storage, study_name="again"
    )
    resumable.fit(X, y)
    resumable.set_params(n_trials=4).fit(X, y)
    values = [t.params["c"] for t in resumable.study_.trials]
    assert values.count(5.5) == 1 and values[0] == 5.5
    # Nor is a study created before the search (as for several workers,
    # which would each see it empty and each add the trial).
    optuna.create_study(storage=storage, study_name="shared", direction="maximize")
    shared = clone(search).set_params(storage=storage, study_name="shared").fit(X, y)
    assert all(t.params["c"] != 5.5 for t in shared.study_.trials)
    assert np.isnan(shared.default_score_)


def test_a_study_resumes_only_on_the_same_folds_and_space(tabular, tmp_path):
    # Scores of other folds would not compare; another space would fail
    # every trial that draws a changed parameter.
    X, y = tabular
    space = {"c": FloatDistribution(0.0, 6.0)}
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    search = OptunaSearchCV(
        Recorder(), space, n_trials=2, cv=2, scoring=_by_c, random_state=0,
        storage=storage, study_name="s",
    )  # fmt: skip
    search.fit(X, y)
    clone(search).set_params(n_trials=3).fit(X, y)  # the same: resumed
    for changed in ({"cv": 3}, {"random_state": 1}):
        with pytest.raises(ValueError, match="'s' was scored on other folds"):
            clone(search).set_params(n_trials=4, **changed).fit(X, y)
    with pytest.raises(ValueError, match=r"searched another space: \['c', 'mode'\]"):
        clone(search).set_params(
            n_trials=4,
            param_distributions={
                "c": FloatDistribution(0.0, 7.0),
                "mode": CategoricalDistribution(["ok"]),
            },
        ).fit(X, y)
    with pytest.raises(ValueError, match="other folds"):
        clone(search).set_params(n_trials=4).fit(X[:-20], y[:-20])
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 3


def test_the_study_record_is_one_attribute_and_takes_object_choices():
    # One attribute, written at once: a worker reading between two writes
    # would see folds without a space.  Choices that are objects (a loss
    # instance) are left unchecked, as no storage holds them.
    from skimb.tuning._study import SEARCH_RECORD, check_same_search

    study = optuna.create_study()
    splits = [(np.arange(2, 4), np.arange(2)), (np.arange(2), np.arange(2, 4))]
    y = np.array([0, 1, 0, 1])
    with pytest.warns(UserWarning, match="persistent storage"):  # Optuna's
        space = {"loss": CategoricalDistribution([object(), object()])}
    X, tree = np.eye(4), DecisionTreeClassifier()
    same = dict(splits=splits, X=X, space=space, estimator=tree, scoring=None)
    check_same_search(study, y=y, **same)
    assert list(study.user_attrs) == [SEARCH_RECORD]
    check_same_search(study, y=y, **same)  # the same again
    with pytest.raises(ValueError, match="other folds"):
        check_same_search(study, y=y[::-1], **same)


def test_timeout_stops_starting_trials(tabular):
    def slow_score(estimator, X, y):
        time.sleep(0.1)
        return _by_c(estimator, X, y)

    search = OptunaSearchCV(
        Recorder(),
        {"c": FloatDistribution(0.0, 6.0)},
        n_trials=100,
        timeout=0.5,
        cv=2,
        scoring=slow_score,
        refit=False,
    ).fit(*tabular)
    assert 1 <= len(search.study_.trials) < 10


def test_nested_cross_validation_does_not_leak(tabular):
    X, y = tabular
    X = _ids(X)
    log = LOGS["nested"] = []
    search = OptunaSearchCV(
        Recorder(log="nested"),
        {"c": FloatDistribution(0.0, 6.0)},
        n_trials=2,
        cv=2,
        random_state=0,
    )
    outer = list(StratifiedKFold(2, shuffle=True, random_state=1).split(X, y))
    scores = cross_val_score(search, X, y, cv=outer)
    assert np.all(np.isfinite(scores))
    fits_per_outer_fold = 2 * 2 + 1  # trials x inner folds + refit
    assert len(log) == 2 * fits_per_outer_fold
    for k, (train, test) in enumerate(outer):
        for rows, _ in log[k * fits_per_outer_fold : (k + 1) * fits_per_outer_fold]:
            assert rows <= set(train)
            assert not rows & set(test)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_failed_trials_are_recorded_and_the_search_goes_on(tabular):
    X, y = tabular

    def score(estimator, X, y):
        return math.nan if estimator.c == 2 else _by_c(estimator, X, y)

    search = OptunaSearchCV(
        Recorder(),
        {
            "mode": CategoricalDistribution(["ok", "raise"]),
            "c": IntDistribution(1, 3),
        },
        n_trials=6,
        cv=2,
        scoring=score,
        sampler=optuna.samplers.BruteForceSampler(seed=0),
    ).fit(X, y)
    states = {
        (p["mode"], p["c"]): s
        for p, s in zip(
            search.cv_results_["params"], search.cv_results_["state"], strict=True
        )
    }
    assert states == {
        ("ok", 1): "COMPLETE",
        ("ok", 2): "FAIL",  # a NaN score
        ("ok", 3): "COMPLETE",
        ("raise", 1): "FAIL",
        ("raise", 2): "FAIL",
        ("raise", 3): "FAIL",
    }
    errors = [t.user_attrs.get("error", "") for t in search.study_.trials]
    assert sum("cannot be fitted" in e for e in errors) == 3
    assert sum("FloatingPointError" in e for e in errors) == 1
    assert search.best_params_ == {"mode": "ok", "c": 3}
    assert np.isnan(search.cv_results_["mean_test_score"]).sum() == 4


def test_a_search_where_every_trial_fails_says_so(tabular):
    X, y = tabular
    search = OptunaSearchCV(
        Recorder(mode="raise"), {"c": FloatDistribution(0, 1)}, n_trials=2, cv=2
    )
    with pytest.raises(ValueError, match="No trial of the study completed"):
        search.fit(X, y)


def test_pruning_callback_fails_a_non_finite_loss():
    with pytest.raises(FloatingPointError, match="nan"):
        pruning_callback_class()(reporter=None).on_epoch_end(0, {"loss": float("nan")})


# ---------------------------------------------- Keras: pruning, pipelines


class PruneTrialOne(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return trial.number == 1 and len(trial.intermediate_values) >= 2


def test_trials_report_epochs_and_folds_and_pruned_trials_are_recorded(
    tabular, fast_params
):
    X, y = tabular
    mine = keras.callbacks.History()
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "epochs": 2}, early_stopping=False, callbacks=[mine]
    )
    search = OptunaSearchCV(
        clf,
        {"units": IntDistribution(4, 8)},
        n_trials=3,
        cv=2,
        pruner=PruneTrialOne(),
        random_state=0,
    ).fit(X, y)
    first, pruned, last = search.study_.trials
    assert [t.state.name for t in (first, pruned, last)] == [
        "COMPLETE",
        "PRUNED",
        "COMPLETE",
    ]
    # Two epochs, the first fold's score, two epochs of the second fold.
    values = first.intermediate_values
    assert sorted(values) == [0, 1, 2, 3, 4]
    split0 = search.cv_results_["split0_test_score"][0]
    assert values[2] == pytest.approx(split0)
    for step in (3, 4):  # mean of the first fold and the epoch's macro-F1
        assert 0.0 <= 2 * values[step] - split0 <= 1.0
    assert sorted(pruned.intermediate_values) == [0, 1]
    # Completed trials rank first; the pruned one after them, with the
    # running score it last reported.
    results = search.cv_results_
    assert results["rank_test_score"][1] == 3
    assert np.isnan(results["mean_test_score"][1])
    assert results["last_intermediate_value"][1] == pruned.intermediate_values[1]
    # Pruned in its first fold, it finished no fit to time.
    assert np.isnan(results["mean_fit_time"][1])
    assert np.all(results["mean_fit_time"][[0, 2]] > 0)
    assert search.study_.best_trial.number in (0, 2)
    # The estimator's own callbacks are kept and its parameters untouched.
    assert search.estimator.callbacks == [mine]
    (kept,) = search.best_estimator_.callbacks
    assert isinstance(kept, keras.callbacks.History)
    assert search.predict(X[:5]).shape == (5,)
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))
    # The scorer takes sample weights, as GridSearchCV.score passes them.
    weights = np.where(y == y[0], 3.0, 1.0)
    assert search.score(X, y, sample_weight=weights) == pytest.approx(
        search.best_estimator_.score(X, y, sample_weight=weights)
    )
    # Feature names only where the best estimator has them (a DataFrame).
    assert not hasattr(search, "feature_names_in_")


@pytest.mark.parametrize("scoring, n_reports", [("neg_log_loss", 1), ("g_mean", 5)])
def test_every_value_reported_is_on_the_scale_of_the_scoring(
    tabular, fast_params, scoring, n_reports
):
    # The epochs log macro-F1, balanced accuracy and g-mean: with another
    # scoring they report nothing, and only the folds do.
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "epochs": 2}, early_stopping=False
    )
    search = OptunaSearchCV(
        clf, {"units": IntDistribution(4, 8)}, n_trials=1, cv=2, scoring=scoring
    ).fit(X, y)
    values = search.study_.trials[0].intermediate_values
    split0 = search.cv_results_["split0_test_score"][0]
    assert len(values) == n_reports
    assert values[n_reports // 2] == pytest.approx(split0)
    if scoring == "neg_log_loss":
        assert split0 < 0
    else:  # the epochs' validation g-mean, between 0 and 1 like the folds'
        assert all(0.0 <= v <= 1.0 for v in values.values())


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_pipeline_with_a_sampler_step_reports_through_the_final_step(
    tabular, fast_params
):
    X, y = tabular
    pipe = Pipeline(
        [
            ("sampler", "passthrough"),
            ("clf", ImbalancedKerasClassifier(**{**fast_params, "epochs": 2})),
        ]
    )
    search = OptunaSearchCV(
        pipe,
        {
            "sampler": CategoricalDistribution(["passthrough", "smote"]),
            "clf__class_weight": CategoricalDistribution([None, "balanced"]),
        },
        n_trials=2,
        cv=2,
        sampler=optuna.samplers.BruteForceSampler(seed=0),
        random_state=0,
        refit=False,
    ).fit(X, y)
    assert {p["sampler"] for p in search.cv_results_["params"]} <= {
        "passthrough",
        "smote",
    }
    assert all(len(t.intermediate_values) >= 3 for t in search.study_.trials)
    assert not hasattr(search, "best_estimator_")
    configured = search._configure(search.best_params_, three_d=False, seed=0)
    step = configured.named_steps["sampler"]
    assert (step == "passthrough") == (search.best_params_["sampler"] == "passthrough")


def test_the_first_trial_keeps_the_pipelines_own_sampler_step(tabular):
    # A SMOTE(...) step is no name of the space's choices: the trial of the
    # estimator as given keeps it instead of drawing one.
    X, y = tabular
    pipe = Pipeline(
        [
            ("sampler", SMOTE(k_neighbors=3, random_state=0)),
            ("clf", DecisionTreeClassifier(random_state=0)),
        ]
    )
    space = {
        "sampler": CategoricalDistribution(SAMPLER_CHOICES),
        "clf__min_samples_leaf": IntDistribution(1, 10),
    }
    search = OptunaSearchCV(pipe, space, n_trials=1, cv=2, random_state=0).fit(X, y)
    assert search.cv_results_["start"][0]
    assert search.cv_results_["params"][0] == {"clf__min_samples_leaf": 1}
    assert isinstance(search.best_estimator_.named_steps["sampler"], SMOTE)


@pytest.mark.parametrize(
    "make_search",
    [
        lambda clf: GridSearchCV(clf, {"units": [4]}, cv=2, refit=False),
        lambda clf: RandomizedSearchCV(
            clf, {"units": [4, 6]}, n_iter=1, cv=2, refit=False, random_state=0
        ),
    ],
    ids=["grid", "randomized"],
)
def test_sklearn_searches_over_the_classifier_stratify(
    tabular, make_search, fast_params
):
    X, y = tabular
    seen = []

    class Spy(ImbalancedKerasClassifier):
        def fit(self, X, y, sample_weight=None):
            seen.append(np.bincount(y, minlength=N_CLASSES))
            return super().fit(X, y, sample_weight=sample_weight)

    search = make_search(Spy(**{**fast_params, "epochs": 1})).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    counts = np.array(seen)
    assert len(counts) == 2
    assert np.all(counts.max(axis=0) - counts.min(axis=0) <= 1)


# ------------------------------------------------------------ resuming

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    import optuna
    from sklearn.base import BaseEstimator, ClassifierMixin
    from skimb.datasets import make_imbalanced_classification
    from skimb.tuning import OptunaSearchCV

    storage, name, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    fits = []

    class Recorder(ClassifierMixin, BaseEstimator):
        # The class, parameters and scorer of the test's: a study resumes
        # only with the same estimator and scoring.
        def __init__(self, c=1.0, mode="ok", log=None):
            self.c, self.mode, self.log = c, mode, log

        def fit(self, X, y):
            fits.append(1)
            if len(fits) == 5:  # the third trial's first fold
                marker.write_text("in trial")
                time.sleep(120)
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    def _by_c(estimator, X, y):
        return 1.0 - abs(estimator.c - 3.0) / 10.0

    X, y = make_imbalanced_classification(200, random_state=0)
    OptunaSearchCV(
        Recorder(), {"c": optuna.distributions.FloatDistribution(0, 6)},
        n_trials=4, cv=2, storage=storage, study_name=name,
        scoring=_by_c, random_state=0,
    ).fit(X, y)
    """
)


def test_a_killed_search_resumes_with_its_completed_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, storage, "resumed", str(marker)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the worker never reached trial 2"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stderr.close()
    before = optuna.load_study(study_name="resumed", storage=storage).trials
    assert [t.state.name for t in before] == ["COMPLETE", "COMPLETE", "RUNNING"]

    # The worker's data: a study resumes on the same folds only.
    X, y = make_imbalanced_classification(200, random_state=0)
    search = OptunaSearchCV(
        Recorder(),
        {"c": FloatDistribution(0.0, 6.0)},
        n_trials=4,
        cv=2,
        storage=storage,
        study_name="resumed",
        scoring=_by_c,
        random_state=0,
    ).fit(X, y)
    after = search.study_.trials
    # The completed trials are kept as they were; the killed one does not
    # count, and the search ran on to 4 completed trials.
    for old, new in zip(before[:2], after[:2], strict=True):
        assert (new.params, new.value, new.state) == (old.params, old.value, old.state)
    assert [t.state.name for t in after] == [
        "COMPLETE",
        "COMPLETE",
        "RUNNING",
        "COMPLETE",
        "COMPLETE",
    ]
    assert search.best_score_ == max(t.value for t in after if t.value is not None)
    assert list(search.cv_results_["state"]).count("COMPLETE") == 4
    # The resumed run explores: it does not replay the first run's parameters.
    first = {t.params["c"] for t in before}
    assert first.isdisjoint(t.params["c"] for t in after[3:])


def test_a_class_smaller_than_the_folds_is_named(tabular):
    X, y = tabular
    y = y.copy()
    y[np.flatnonzero(y == 0)[3:]] = 1  # leave 3 samples of class 0
    search = OptunaSearchCV(
        Recorder(), {"c": FloatDistribution(0.0, 6.0)}, n_trials=1, cv=5
    )
    with pytest.raises(
        ValueError, match=r"Class 0 has 3 samples, fewer than n_splits=5"
    ):
        search.fit(X, y)


def _asked(space, defaults, n=300):
    """Parameters of n trials drawn by run from ``space`` (no fits)."""
    from skimb.tuning._space import conflict, draw

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(n):
        trial = study.ask()
        params = draw(trial, space, defaults)
        drawn.append((params, conflict(params, defaults)))
        study.tell(trial, 0.0)
    return drawn


def test_the_estimators_own_trial_keeps_a_string_the_space_cannot_draw():
    from skimb.tuning._space import draw

    space = {
        "learning_rate": FloatDistribution(3e-4, 1e-2, log=True),
        "mode": CategoricalDistribution(["ok", "other"]),
    }
    defaults = {"learning_rate": "auto", "mode": "raise"}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    own = draw(study.ask(), space, defaults, own=True)
    # "auto" is kept (not drawn); a value outside a categorical's choices
    # is drawn like any other trial's.
    assert set(own) == {"mode"} and own["mode"] in ("ok", "other")
    other = draw(study.ask(), space, defaults)
    assert set(other) == {"learning_rate", "mode"}


def test_a_trial_draws_only_the_parameters_it_uses():
    estimator = ImbalancedKerasClassifier()
    space = default_search_space(estimator)
    drawn = _asked(space, estimator.get_params())
    for params, conflict in drawn:
        loss, decision = params["loss"], params["decision"]
        assert ("gamma" in params) == (loss in ("focal", "class_balanced"))
        assert ("tau" in params) == (
            loss == "logit_adjusted" or decision == "prior_corrected"
        )
        assert ("class_weight" in params) == (params["batch_sampler"] is None)
        assert ("beta" in params) == (
            params.get("class_weight") == "effective" or loss == "class_balanced"
        )
        assert (conflict is not None) == (
            loss == "logit_adjusted" and decision == "prior_corrected"
        )
    # Every conditional parameter is drawn by some trials and not by others.
    for name in ("gamma", "tau", "beta", "class_weight"):
        assert 0 < sum(name in params for params, _ in drawn) < len(drawn)


def test_deferred_reweighting_keeps_its_ldam_loss():
    # drw applies to loss="ldam" only: the default space drew other losses,
    # and most trials failed in fit.
    from skimb.tuning._space import conflict

    estimator = ImbalancedKerasClassifier(loss="ldam", drw=1)
    space = default_search_space(estimator)
    assert "loss" not in space and "beta" in space
    defaults = estimator.get_params()
    for params, reason in _asked(space, defaults, n=60):
        assert reason is None
        assert "beta" in params  # drw reads it
    # A space of one's own that draws the loss: the other losses are pruned.
    assert "ldam only" in conflict({"loss": "focal"}, defaults)
    assert conflict({"loss": "ldam"}, defaults) is None


def test_conditions_follow_a_pipeline_prefix_and_spare_other_estimators():
    from imblearn.over_sampling import RandomOverSampler

    pipeline = Pipeline(
        [("sampler", RandomOverSampler()), ("clf", ImbalancedKerasClassifier())]
    )
    space = default_search_space(pipeline)
    for params, _ in _asked(space, pipeline.get_params(), n=60):
        assert ("clf__gamma" in params) == (
            params["clf__loss"] in ("focal", "class_balanced")
        )
    # Another estimator's "gamma" (an SVC's) has no loss to depend on.
    from sklearn.svm import SVC

    space = {"gamma": FloatDistribution(0.1, 1.0), "C": FloatDistribution(0.1, 1)}
    assert all("gamma" in p for p, _ in _asked(space, SVC().get_params(), n=20))


def test_a_trial_that_corrects_twice_is_skipped_before_it_fits(
    tabular, fast_params, tmp_path
):
    from skimb.tuning import storage_from

    space = {
        "loss": CategoricalDistribution(["logit_adjusted"]),
        "decision": CategoricalDistribution(["prior_corrected"]),
    }
    storage = str(tmp_path / "search.journal")
    search = OptunaSearchCV(
        ImbalancedKerasClassifier(**fast_params),
        space,
        n_trials=2,
        cv=2,
        random_state=0,
        storage=storage,
        study_name="s",
    )
    with pytest.raises(ValueError, match="skipped: loss logit_adjusted already"):
        search.fit(*tabular)
    # The search is left unfitted; its storage keeps the trials.
    assert not hasattr(search, "study_")
    trials = optuna.load_study(study_name="s", storage=storage_from(storage)).trials
    assert len(trials) == 2
    assert all(t.state.name == "PRUNED" for t in trials)
    assert all("fit_times" not in t.user_attrs for t in trials)


def test_results_say_why_a_trial_failed(tabular, fast_params):
    X, y = tabular
    search = OptunaSearchCV(
        ImbalancedKerasClassifier(**fast_params),
        {
            "loss": CategoricalDistribution(["logit_adjusted"]),
            "decision": CategoricalDistribution(["prior_corrected", "posterior"]),
        },
        n_trials=4,
        cv=2,
        random_state=0,
        start_from_estimator=False,
    ).fit(X, y)
    results = search.cv_results_
    for state, decision, error in zip(
        results["state"], results["param_decision"], results["error"], strict=True
    ):
        skipped = decision == "prior_corrected"
        assert (state == "PRUNED") == skipped
        assert error.startswith("skipped: loss logit_adjusted") == skipped


def test_the_default_is_the_first_trial_and_the_score_to_beat(tabular):
    X, y = tabular
    estimator = ImbalancedKerasClassifier(epochs=2, cv=None, random_state=0)
    search = OptunaSearchCV(
        estimator, n_trials=2, cv=2, pruner=None, random_state=0
    ).fit(X, y)
    first = search.study_.trials[0]
    defaults = estimator.get_params()
    assert first.params == {name: defaults[name] for name in first.params}
    # Every parameter the default uses is in its trial; none it does not.
    # learning_rate="auto" is not a number the space can draw: the trial
    # keeps it instead of drawing one.
    assert set(first.params) == {
        "units",
        "n_layers",
        "dropout",
        "batch_size",
        "loss",
        "batch_sampler",
        "class_weight",
        "decision",
        "tau",
    }
    results = search.cv_results_
    assert results["start"].tolist() == [True, False]
    assert search.default_score_ == results["mean_test_score"][0]
    # Other models are scored on the very same folds.
    folds = [test.tolist() for _, test in search.cv_splitter_.split(X, y)]
    again = [test.tolist() for _, test in search.cv_splitter_.split(X, y)]
    assert folds == again
    expected = StratifiedKFold(2, shuffle=True, random_state=seed_from(0))
    assert folds == [test.tolist() for _, test in expected.split(X, y)]


def test_the_default_is_the_first_trial_when_it_keeps_all_it_is_given(tabular):
    X, y = tabular
    estimator = ImbalancedKerasClassifier(epochs=2, cv=None, random_state=0)
    # The space holds none of the estimator's values: its one parameter is
    # a number, the estimator's "auto", which the first trial keeps.
    space = {"learning_rate": FloatDistribution(1e-3, 1e-2, log=True)}
    search = OptunaSearchCV(
        estimator, space, n_trials=2, cv=2, pruner=None, random_state=0
    ).fit(X, y)
    first, second = search.study_.trials
    assert first.params == {} and first.user_attrs["start"] == "estimator"
    assert set(second.params) == {"learning_rate"}
    assert search.cv_results_["start"].tolist() == [True, False]
    assert np.isfinite(search.default_score_)


def _results(start_scores, other_scores) -> dict:
    """cv_results_ of two completed trials: the estimator's own, another."""
    splits = np.array([start_scores, other_scores])
    return {
        "start": np.array([True, False]),
        "state": np.array(["COMPLETE", "COMPLETE"], dtype=object),
        **{f"split{k}_test_score": splits[:, k] for k in range(splits.shape[1])},
    }


@pytest.mark.parametrize(
    "other, kept",
    [
        # Gains 0.03, -0.01, 0.06: mean 0.027 above their standard error 0.020.
        ([0.83, 0.81, 0.84], 1),
        # Gains 0.05, -0.03, 0.02: mean 0.013 within their standard error 0.023.
        ([0.85, 0.79, 0.80], 0),
    ],
)
def test_a_trial_replaces_the_default_only_beyond_the_folds_noise(other, kept):
    from skimb.tuning._results import chosen_index

    start = [0.80, 0.82, 0.78]
    results = _results(start, other)
    gains = np.subtract(other, start)
    standard_error = gains.std(ddof=1) / np.sqrt(len(gains))
    assert (gains.mean() > standard_error) == (kept == 1)
    assert chosen_index(results, 1, n_splits=3, min_gain="std_error") == kept
    # A number is the margin itself; 0 keeps the highest mean.
    assert chosen_index(results, 1, n_splits=3, min_gain=0.0) == 1
    assert chosen_index(results, 1, n_splits=3, min_gain=0.05) == 0


def test_min_gain_keeps_the_estimators_own_parameters(tabular):
    X, y = tabular
    space = {"max_depth": IntDistribution(1, 12)}
    tree = DecisionTreeClassifier(max_depth=1, random_state=0)
    common = dict(n_trials=6, cv=3, random_state=0)
    greedy = OptunaSearchCV(tree, space, min_gain=0.0, **common).fit(X, y)
    results = greedy.cv_results_
    # The depth-1 stump (the estimator as given) is not the best trial here.
    assert (
        greedy.best_index_
        == greedy.top_index_
        == np.nanargmax(results["mean_test_score"])
    )
    assert greedy.best_params_ != {"max_depth": 1}
    # No trial beats it by a whole macro-F1 point of 1: the stump is kept,
    # refitted, and its score is the one reported.
    kept = OptunaSearchCV(tree, space, min_gain=1.0, **common).fit(X, y)
    assert kept.top_index_ == greedy.top_index_
    assert kept.best_index_ == 0 and kept.best_params_ == {"max_depth": 1}
    assert kept.best_score_ == kept.default_score_
    assert kept.best_estimator_.get_depth() == 1


def test_tied_scores_share_a_rank_and_unscored_trials_share_the_last():
    # scikit-learn's ranking (rankdata with method="min").
    from optuna.trial import create_trial

    from skimb.tuning._results import cv_results

    def trial(number, value, state=optuna.trial.TrialState.COMPLETE):
        made = create_trial(
            state=state,
            value=value,
            user_attrs={"split_test_scores": [value, value]} if value else {},
        )
        made.number = number
        return made

    trials = [
        trial(0, 0.5),
        trial(1, 0.7),
        trial(2, 0.5),
        trial(3, None, optuna.trial.TrialState.PRUNED),
        trial(4, None, optuna.trial.TrialState.FAIL),
    ]
    assert cv_results(trials, n_splits=2)["rank_test_score"].tolist() == [2, 1, 2, 4, 4]


def test_epochs_report_the_scoring_in_whatever_form_it_is_given():
    from skimb.metrics import SCORERS
    from skimb.tuning._pruning import epoch_log_key
    from skimb.tuning._space import keeps

    clf = ImbalancedKerasClassifier()
    pipe = Pipeline([("sampler", "passthrough"), ("clf", clf)])
    # scoring=None: the estimator's score, which is macro-F1 for skimb's.
    assert epoch_log_key(None, clf) == epoch_log_key(None, pipe) == "val_macro_f1"
    assert epoch_log_key(SCORERS["g_mean"], clf) == "val_g_mean"
    assert epoch_log_key("balanced_accuracy", clf) == "val_balanced_accuracy"
    assert epoch_log_key("neg_log_loss", clf) is None
    assert epoch_log_key(None, DecisionTreeClassifier()) is None

    class OwnScore(ImbalancedKerasClassifier):
        def score(self, X, y, sample_weight=None):
            return 0.0

    # A subclass's own score is not macro-F1: no epoch log reports it.
    assert epoch_log_key(None, OwnScore()) is None
    # A sampler object given as batch_sampler is kept by the first trial too.
    batch = default_search_space(clf)["batch_sampler"]
    assert keeps(batch, SMOTE()) and not keeps(batch, "over")


def test_the_search_delegates_decision_function_and_names_refit_false(tabular):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = tabular
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    space = {"logisticregression__C": FloatDistribution(0.1, 10.0, log=True)}
    search = OptunaSearchCV(model, space, n_trials=2, cv=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(
        search.decision_function(X), search.best_estimator_.decision_function(X)
    )
    unrefitted = clone(search).set_params(refit=False).fit(X, y)
    for method in (unrefitted.predict, unrefitted.predict_proba):
        with pytest.raises(NotFittedError, match="fitted with refit=False"):
            method(X)
    # A study left empty (a timeout that ran out before the first trial)
    # says so, where it said "first error: None".
    from skimb.tuning._results import cv_results

    with pytest.raises(ValueError, match="No trial ran"):
        cv_results([], n_splits=2)


def test_feature_names_are_the_best_estimator_s(tabular):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    search = OptunaSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": IntDistribution(1, 3)},
        n_trials=2,
        cv=2,
        random_state=0,
    )
    assert not hasattr(search, "feature_names_in_")  # not fitted
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    search.fit(frame, y)
    assert list(search.feature_names_in_) == list(frame.columns)
    # Fitted again without a refit: the former fit's best estimator is gone.
    search.set_params(refit=False).fit(frame, y)
    assert not hasattr(search, "best_estimator_")
    assert not hasattr(search, "feature_names_in_")


@pytest.mark.parametrize("in_pipeline", [False, True], ids=["alone", "pipeline"])
def test_groups_reach_an_estimator_that_cross_fits_by_group(in_pipeline):
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.preprocessing import StandardScaler

    X, y = make_imbalanced_classification(
        240, n_features=4, n_informative=3, weights=(20, 100, 40), random_state=0
    )
    groups = np.arange(len(y)) // 4
    clf = ImbalancedKerasClassifier(
        units=4, epochs=1, cv=StratifiedGroupKFold(2), random_state=0
    )
    estimator = (
        Pipeline([("scale", StandardScaler()), ("clf", clf)]) if in_pipeline else clf
    )
    space = {("clf__" if in_pipeline else "") + "units": IntDistribution(2, 8)}
    search = OptunaSearchCV(
        estimator, space, n_trials=1, cv=StratifiedGroupKFold(2), random_state=0
    ).fit(X, y, groups=groups)
    # Each fold's fits and the refit read the groups (without them the
    # estimator's group-wise splitter refuses to fit: every trial would fail).
    assert np.isfinite(search.best_score_)
    refitted = search.best_estimator_[-1] if in_pipeline else search.best_estimator_
    assert refitted.n_networks_ == 2


def test_groups_go_to_a_nested_step_and_not_after_a_sampler():
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import Pipeline as SkPipeline
    from sklearn.preprocessing import StandardScaler

    from skimb.tuning._search import _groups_for_estimator

    X, y = make_imbalanced_classification(
        120, n_features=4, n_informative=3, weights=(20, 100, 40), random_state=0
    )
    groups = np.arange(len(y)) // 4
    clf = ImbalancedKerasClassifier(units=4, epochs=1, cv=StratifiedGroupKFold(2))
    inner = SkPipeline([("scale", StandardScaler()), ("clf", clf)])
    nested = SkPipeline([("scale", "passthrough"), ("model", inner)])
    assert list(_groups_for_estimator(nested, groups)) == ["model__clf__groups"]
    # A search over integer folds of the estimator's own: no groups for it.
    assert _groups_for_estimator(ImbalancedKerasClassifier(cv=5), groups) == {}
    resampled = Pipeline([("over", SMOTE(k_neighbors=2)), ("clf", clf)])
    search = OptunaSearchCV(resampled, {"clf__units": IntDistribution(2, 8)}, cv=2)
    with pytest.raises(ValueError, match="step 'over' resamples the rows before"):
        search.fit(X, y, groups=groups)
    assert not hasattr(search, "study_")
