"""OptunaSearchCV refuses what would make its result wrong: a resumed study
of another estimator, data or direction, a space that cannot act, and
storages it cannot open; and it draws conditional parameters whatever the
order of the space."""

import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from skimb import OptunaSearchCV  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402
from skimb.tuning import storage_from  # noqa: E402
from skimb.tuning._pruning import epoch_log_key  # noqa: E402

DEPTH = {"max_depth": IntDistribution(1, 6)}


@pytest.fixture(scope="module")
def table():
    return make_imbalanced_classification(
        240, n_features=6, weights=(20, 100, 40), random_state=0
    )


def _search(estimator, space=DEPTH, **params):
    return OptunaSearchCV(
        estimator, space, **{"n_trials": 3, "cv": 2, "random_state": 0, **params}
    )


def test_a_resumed_study_of_another_estimator_is_refused(table, tmp_path):
    X, y = table
    storage = str(tmp_path / "search.journal")
    tree = DecisionTreeClassifier(random_state=0)
    _search(tree, storage=storage, study_name="s").fit(X, y)
    other = DecisionTreeClassifier(random_state=0, min_samples_leaf=20)
    with pytest.raises(ValueError, match=r"another estimator.*min_samples_leaf"):
        _search(other, storage=storage, study_name="s", n_trials=5).fit(X, y)
    # The same estimator resumes.
    _search(tree, storage=storage, study_name="s", n_trials=4).fit(X, y)
    study = optuna.load_study(study_name="s", storage=storage_from(storage))
    assert len(study.trials) == 4


def test_a_failed_fit_leaves_the_search_as_it_was(table, tmp_path):
    # The second fit, on other folds, is refused after setting its folds
    # and scorer: they sat beside the first fit's trials and best_params_.
    from sklearn.base import clone

    X, y = table
    storage = str(tmp_path / "search.journal")
    search = _search(DecisionTreeClassifier(random_state=0), storage=storage)
    search.set_params(study_name="s").fit(X, y)
    before = {name: value for name, value in vars(search).items() if name.endswith("_")}
    with pytest.raises(ValueError, match="other folds"):
        search.set_params(cv=4).fit(X, y)
    after = {name: value for name, value in vars(search).items() if name.endswith("_")}
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)
    assert search.n_splits_ == 2
    # Unfitted before, unfitted after.
    fresh = clone(search).set_params(study_name="s")
    with pytest.raises(ValueError, match="other folds"):
        fresh.fit(X, y)
    assert not [name for name in vars(fresh) if name.endswith("_")]


class _RefitFails(DecisionTreeClassifier):
    """Fails on every row of the table (the refit), not on a fold's."""

    def fit(self, X, y, **params):
        if len(X) == 240:
            raise MemoryError("the refit ran out of memory")
        return super().fit(X, y, **params)


def test_a_failed_refit_keeps_the_finished_search(table):
    # The refit, after the trials, undid them too: with storage=None the
    # study and every finished trial were lost.
    from sklearn.exceptions import NotFittedError

    X, y = table
    search = _search(_RefitFails(random_state=0))
    with pytest.raises(MemoryError, match="refit"):
        search.fit(X, y)
    assert len(search.study_.trials) == 3
    assert len(search.cv_results_["params"]) == 3
    assert search.best_params_ == search.study_.best_params
    assert not hasattr(search, "best_estimator_")
    with pytest.raises(NotFittedError, match="its refit on the whole data failed"):
        search.predict(X)


def test_a_resumed_study_whose_estimator_splits_otherwise_is_refused(table, tmp_path):
    """A splitter given as an estimator's cv is recorded by its parameters:
    other folds are another estimator (3 and 4 cross-fitted networks, say)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    X, y = table
    storage = str(tmp_path / "search.journal")
    space = {"estimator__max_depth": IntDistribution(1, 4)}

    def model(k, seed=0):
        folds = StratifiedKFold(k, shuffle=True, random_state=seed)
        tree = DecisionTreeClassifier(random_state=0)
        return CalibratedClassifierCV(tree, cv=folds)

    _search(model(3), space, storage=storage, study_name="s", n_trials=1).fit(X, y)
    for other in (model(4), model(3, seed=1)):
        with pytest.raises(ValueError, match=r"another estimator.*\['cv'\]"):
            _search(other, space, storage=storage, study_name="s", n_trials=2).fit(X, y)
    _search(model(3), space, storage=storage, study_name="s", n_trials=2).fit(X, y)


def test_splitters_are_recorded_by_parameters_arrays_by_content():
    from sklearn.model_selection import PredefinedSplit, RepeatedStratifiedKFold

    from skimb.tuning._study import _described_value

    def described(splitter):
        return _described_value(splitter)

    # The repeated splitters keep n_splits apart (cvargs), as their repr reads.
    assert described(RepeatedStratifiedKFold(n_splits=3)) != described(
        RepeatedStratifiedKFold(n_splits=4)
    )
    assert "n_splits=3" in described(RepeatedStratifiedKFold(n_splits=3))
    # A splitter's array, by its content.
    assert described(PredefinedSplit([0, 1, 0])) == described(
        PredefinedSplit([0, 1, 0])
    )
    assert described(PredefinedSplit([0, 1, 0])) != described(
        PredefinedSplit([1, 0, 0])
    )
    # An unseeded generator is described by its class, the same everywhere.
    assert "random_state=<RandomState>" in described(
        RepeatedStratifiedKFold(random_state=np.random.RandomState(0))
    )


def test_a_resumed_study_of_other_features_is_refused(table, tmp_path):
    X, y = table
    storage = str(tmp_path / "search.journal")
    tree = DecisionTreeClassifier(random_state=0)
    _search(tree, storage=storage, study_name="s").fit(X, y)
    with pytest.raises(ValueError, match="other data"):
        _search(tree, storage=storage, study_name="s", n_trials=5).fit(X * 2, y)


def test_a_study_that_minimises_is_refused(table, tmp_path):
    X, y = table
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    optuna.create_study(storage=storage, study_name="made")  # Optuna minimises
    with pytest.raises(ValueError, match=r"directions \['minimize'\]"):
        _search(DecisionTreeClassifier(), storage=storage, study_name="made").fit(X, y)


def test_storages_that_cannot_open_are_named(table, tmp_path, monkeypatch):
    X, y = table
    tree = DecisionTreeClassifier(random_state=0)
    missing = tmp_path / "no-such-folder" / "search.db"
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        _search(tree, storage=f"sqlite:///{missing}", study_name="s").fit(X, y)
    with pytest.raises(ValueError, match="storage 'nosuchdb://host/x'"):
        _search(tree, storage="nosuchdb://host/x", study_name="s").fit(X, y)
    # "~" is the user's home folder, as in a shell.
    monkeypatch.setenv("HOME", str(tmp_path))
    _search(tree, storage="~/search.journal", study_name="s").fit(X, y)
    assert (tmp_path / "search.journal").is_file()


class LossLike(ClassifierMixin, BaseEstimator):
    """A cheap classifier with skimb's conditional parameter names."""

    def __init__(self, loss: str = "crossentropy", gamma: float = 2.0):
        self.loss = loss
        self.gamma = gamma

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize("own_loss", ["crossentropy", "focal"])
def test_a_condition_reads_the_trial_whatever_the_order_of_the_space(table, own_loss):
    X, y = table
    space = {  # gamma before the loss it depends on
        "gamma": FloatDistribution(0.5, 5.0),
        "loss": CategoricalDistribution(["crossentropy", "focal"]),
    }
    search = _search(
        LossLike(loss=own_loss), space, n_trials=8, refit=False, scoring="accuracy"
    ).fit(X, y)
    params = search.cv_results_["params"]
    assert {p["loss"] for p in params} == {"crossentropy", "focal"}
    for drawn in params:
        assert ("gamma" in drawn) == (drawn["loss"] == "focal"), drawn


class RowsSeen(ClassifierMixin, BaseEstimator):
    """Records the groups of the rows each fit sees (column 0 of X); its fit
    takes no groups."""

    seen: list = []

    def __init__(self, depth: int = 1):
        self.depth = depth

    def fit(self, X, y):
        RowsSeen.seen.append(set(np.asarray(X)[:, 0].astype(int)))
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_group_folds_take_the_groups_and_the_estimator_does_not(table):
    X, y = table
    groups = np.arange(len(y)) % 6
    X = np.column_stack([groups, X])
    RowsSeen.seen.clear()
    search = _search(RowsSeen(), {"depth": IntDistribution(1, 3)}, cv=GroupKFold(3))
    search.fit(X, y, groups=groups)
    # Each trial's folds hold out two whole groups; the refit sees them all.
    assert [len(seen) for seen in RowsSeen.seen] == [4] * 3 * 3 + [6]


def test_the_folds_of_an_unseeded_search_are_given_again(table):
    X, y = table
    search = _search(DecisionTreeClassifier(), random_state=None).fit(X, y)
    first, second = (
        [test.tolist() for _, test in search.cv_splitter_.split(X, y)] for _ in range(2)
    )
    assert first == second


def test_spaces_that_cannot_act_are_refused(table):
    from skimb import ImbalancedKerasClassifier

    X, y = table
    with pytest.raises(ValueError, match="empty"):
        _search(DecisionTreeClassifier(), {}).fit(X, y)

    def build(meta):  # never called: the space is refused first
        raise AssertionError

    own = ImbalancedKerasClassifier(model=build)
    with pytest.raises(ValueError, match=r"\['units'\].*model__<name>"):
        _search(own, {"units": IntDistribution(4, 16)}).fit(X, y)


def test_a_study_whose_every_trial_was_pruned_says_why(table):
    X, y = table
    search = _search(
        DecisionTreeClassifier(random_state=0),
        cv=3,
        pruner=optuna.pruners.ThresholdPruner(lower=1.5),
    )
    with pytest.raises(ValueError, match="first error: Pruned at step 0: mean"):
        search.fit(X, y)


def test_the_first_trial_is_the_estimator_only_where_the_space_holds_it(table):
    X, y = table
    # min_samples_leaf=50 is outside the space (max_depth=3 inside): no
    # trial can be the estimator, which one drawing a leaf size would claim.
    space = {**DEPTH, "min_samples_leaf": IntDistribution(1, 10)}
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=50, random_state=0)
    outside = _search(tree, space).fit(X, y)
    assert not any(outside.cv_results_["start"])
    assert math.isnan(outside.default_score_)
    inside = _search(DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    assert inside.cv_results_["start"][0]
    assert inside.cv_results_["params"][0] == {"max_depth": 3}
    # A gamma the space cannot draw is not drawn by a crossentropy trial.
    space = {
        "loss": CategoricalDistribution(["crossentropy", "focal"]),
        "gamma": FloatDistribution(3.0, 5.0),
    }
    unused = _search(LossLike(gamma=2.0), space, scoring="accuracy").fit(X, y)
    assert unused.cv_results_["params"][0] == {"loss": "crossentropy"}
    assert unused.cv_results_["start"][0]


@pytest.mark.parametrize("step", [None, "passthrough"])
def test_a_sampler_step_of_none_is_passthrough_in_the_first_trial(table, step):
    # scikit-learn reads a step of None as "passthrough"; the first trial
    # did not, and so had no estimator's trial (nor default_score_).
    from imblearn.pipeline import Pipeline

    X, y = table
    pipe = Pipeline(
        [
            ("sampler", step),
            ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ]
    )
    space = {
        "sampler": CategoricalDistribution(["passthrough", "random_over"]),
        "tree__max_depth": IntDistribution(2, 5),
    }
    search = _search(pipe, space).fit(X, y)
    assert search.cv_results_["start"][0]
    assert search.cv_results_["params"][0] == {
        "sampler": "passthrough",
        "tree__max_depth": 3,
    }
    assert math.isfinite(search.default_score_)


def test_folds_report_without_epochs_whatever_the_scoring():
    # A scikit-learn estimator logs no epochs: pruning reads the folds.
    assert epoch_log_key("f1_macro", DecisionTreeClassifier()) is None
    assert epoch_log_key(None, DecisionTreeClassifier()) is None


def test_a_file_that_is_no_journal_is_named(tmp_path):
    data = tmp_path / "table.csv"
    data.write_text("x,label\n1,a\n")
    with pytest.raises(ValueError, match=r"not an Optuna journal.*sqlite:///"):
        storage_from(str(data))
    assert data.read_text() == "x,label\n1,a\n"


def test_what_changes_only_where_a_fit_runs_does_not_refuse_a_study(table):
    # Workers may each use their own cores, devices or logging, hold X as a
    # DataFrame or an array, and run another library version (whose new
    # parameters one record lacks); what a fit learns must be the same.
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold

    from skimb.tuning import OtherSearchError
    from skimb.tuning._study import SEARCH_RECORD, check_same_search

    X, y = table
    study = optuna.create_study(direction="maximize")
    same = dict(
        splits=list(StratifiedKFold(2).split(X, y)), y=y, space=DEPTH, scoring=None
    )
    check_same_search(study, X=X, estimator=RandomForestClassifier(n_jobs=1), **same)
    forest = RandomForestClassifier(n_jobs=2, verbose=1)
    check_same_search(study, X=pd.DataFrame(X), estimator=forest, **same)
    record = study.user_attrs[SEARCH_RECORD]
    del record["estimator"]["ccp_alpha"]
    study.set_user_attr(SEARCH_RECORD, record)
    check_same_search(study, X=X, estimator=RandomForestClassifier(), **same)
    with pytest.raises(OtherSearchError, match=r"\['n_estimators'\]"):
        check_same_search(
            study, X=X, estimator=RandomForestClassifier(n_estimators=5), **same
        )
    with pytest.raises(OtherSearchError, match=r"\['<scoring>'\]"):
        check_same_search(
            study,
            X=X,
            estimator=RandomForestClassifier(),
            **{**same, "scoring": "accuracy"},
        )
