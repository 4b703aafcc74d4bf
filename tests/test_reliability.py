"""Bad and edge inputs across the library, each tried as a user would.

Every case either raises an error whose message names the problem, or works
and gives a correct result; and the caller's arrays and DataFrames are never
modified.  The cases are data (one row each), so adding one is one line.
"""

import re
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from imblearn.over_sampling import SMOTE, RandomOverSampler
from optuna.distributions import IntDistribution
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score

from skimb import ImbalancedKerasClassifier, OptunaSearchCV, persistence
from skimb.callbacks import ValidationMetrics
from skimb.class_weight import effective_number_weights
from skimb.decision import posterior_offsets, prior_frequencies, prior_offsets
from skimb.losses import FocalLoss, LDAMLoss, LogitAdjustedLoss
from skimb.metrics import confusion_scores, expected_calibration_error, get_scorer
from skimb.plots import plot_history, plot_precision_recall
from skimb.sampling import SequenceSampler
from tests.support import FAST_PARAMS


def _snapshot(value):
    """A deep copy of arrays, DataFrames and lists of arrays, to compare with."""
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=True)
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _unchanged(before, after) -> None:
    if isinstance(before, pd.DataFrame | pd.Series):
        assert before.equals(after)
    elif isinstance(before, list):
        for b, a in zip(before, after, strict=True):
            _unchanged(b, a)
    elif isinstance(before, np.ndarray) and before.dtype == object:
        assert [repr(v) for v in before.ravel()] == [repr(v) for v in after.ravel()]
    elif isinstance(before, np.ndarray):
        np.testing.assert_array_equal(before, after)


def _check(call, arguments, error, match):
    """Run ``call(*arguments)``: it raises ``error`` matching ``match``, or
    (``error=None``) returns; the arguments are unchanged either way."""
    before = [_snapshot(a) for a in arguments]
    if error is None:
        result = call(*arguments)
    else:
        with pytest.raises(error, match=match):
            call(*arguments)
        result = None
    for b, a in zip(before, arguments, strict=True):
        _unchanged(b, a)
    return result


@pytest.fixture(scope="module")
def data(tabular):
    X, y = tabular
    return X.copy(), y.copy()


def _partial_fit_then(**params):
    def fit(X, y):
        clf = ImbalancedKerasClassifier(**{**FAST_PARAMS, "loss": "ldam", "drw": 1})
        return clf.partial_fit(X, y).set_params(**params).partial_fit(X, y)

    return fit


def _fit(method="fit", **params):
    def fit(X, y, *rest):
        clf = ImbalancedKerasClassifier(**{**FAST_PARAMS, **params})
        return getattr(clf, method)(X, y, *rest)

    return fit


RNG = np.random.RandomState(0)
X0 = RNG.normal(size=(60, 4))
Y0 = np.repeat([0, 1, 2], 20)
S0 = np.repeat(["a", "b", "c"], 20).astype(object)

# (id, call, arguments, error, message) for fit; X0/Y0 are small and clean.
FIT_CASES = [
    (
        "nan-in-X",
        _fit(),
        [np.where(np.eye(60, 4) > 0, np.nan, X0), Y0],
        ValueError,
        "NaN",
    ),
    (
        "inf-in-X",
        _fit(),
        [np.where(np.eye(60, 4) > 0, np.inf, X0), Y0],
        ValueError,
        "infinity",
    ),
    ("empty-X", _fit(), [np.empty((0, 4)), np.empty(0)], ValueError, "0 sample"),
    ("no-features", _fit(), [np.empty((60, 0)), Y0], ValueError, "0 feature"),
    (
        "sequences-of-no-step",
        _fit(architecture="lstm"),
        [np.empty((60, 0, 3)), Y0],
        ValueError,
        "at least one time step and one feature",
    ),
    (
        "steps-of-no-feature",
        _fit(architecture="lstm"),
        [np.empty((60, 3, 0)), Y0],
        ValueError,
        r"shape \(3, 0\): a sequence needs",
    ),
    (
        "list-of-featureless-sequences",
        _fit(architecture="lstm"),
        [[np.empty((3, 0))] * 60, Y0],
        ValueError,
        "at least one time step and one feature",
    ),
    ("empty-list", _fit(architecture="lstm"), [[], []], ValueError, "X is empty"),
    ("one-class", _fit(), [X0, np.zeros(60, int)], ValueError, "at least 2 classes"),
    ("1-D-X", _fit(), [X0[:, 0], Y0], ValueError, "2-D"),
    ("4-D-X", _fit(), [X0.reshape(60, 2, 2, 1), Y0], ValueError, "4-D"),
    ("sparse-X", _fit(), [sp.csr_matrix(X0), Y0], TypeError, "Sparse input"),
    (
        "length-mismatch",
        _fit(),
        [X0, Y0[:-1]],
        ValueError,
        "inconsistent numbers of samples",
    ),
    ("y-none", _fit(), [X0, None], ValueError, "requires y"),
    (
        "continuous-y",
        _fit(),
        [X0, RNG.normal(size=60)],
        ValueError,
        "Unknown label type",
    ),
    (
        "nan-in-numeric-y",
        _fit(),
        [X0, np.where(np.arange(60) == 3, np.nan, Y0)],
        ValueError,
        "NaN",
    ),
    (
        "nan-among-string-labels",
        _fit(),
        [X0, np.where(np.arange(60) == 3, np.nan, S0)],
        ValueError,
        r"missing labels \(NaN or None\), at rows \[3\]",
    ),
    (
        "none-among-string-labels",
        _fit(),
        [X0, np.where(np.arange(60) == 7, None, S0)],
        ValueError,
        r"missing labels .* at rows \[7\]",
    ),
    (
        "strings-and-numbers-in-y",
        _fit(),
        [X0, np.where(np.arange(60) == 5, 3, S0).astype(object)],
        ValueError,
        r"y mixes strings and other labels \(for example 'a' and 3\)",
    ),
    (
        "ragged-1-D-sequences",
        _fit(architecture="lstm"),
        [[np.zeros(3 + i % 2) for i in range(60)], Y0],
        ValueError,
        r"x.reshape\(-1, 1\)",
    ),
    (
        "ragged-1-D-sequences-in-a-series",
        _fit(architecture="lstm"),
        [pd.Series([np.zeros(3 + i % 2) for i in range(60)]), Y0],
        ValueError,
        r"x.reshape\(-1, 1\)",
    ),
    ("huge-values", _fit(), [X0 * 1e20, Y0], ValueError, "overflows float32"),
    (
        "strings-in-X",
        _fit(),
        [np.full((60, 4), "x"), Y0],
        ValueError,
        "could not convert",
    ),
    ("complex-X", _fit(), [X0 + 1j, Y0], ValueError, "Complex"),
    (
        "sample-weight-length",
        _fit(),
        [X0, Y0, np.ones(59)],
        ValueError,
        "sample_weight has shape",
    ),
    (
        "negative-sample-weight",
        _fit(),
        [X0, Y0, -np.ones(60)],
        ValueError,
        "Negative values",
    ),
    (
        "zero-weight-class",
        _fit(),
        [X0, Y0, (Y0 != 1) * 1.0],
        ValueError,
        r"Every sample of class \[1\] has weight 0",
    ),
    (
        "class-weight-unknown-label",
        _fit(class_weight={9: 2.0}),
        [X0, Y0],
        ValueError,
        r"labels \[9\]",
    ),
    (
        "class-prior-length",
        _fit(class_prior=[0.5, 0.5]),
        [X0, Y0],
        ValueError,
        "class_prior must hold 3 positive",
    ),
    (
        "class-prior-negative",
        _fit(class_prior=[1, -1, 1]),
        [X0, Y0],
        ValueError,
        "class_prior must hold 3 positive",
    ),
    ("lstm-on-2-D", _fit(architecture="lstm"), [X0, Y0], ValueError, "needs 3-D X"),
    (
        "n-timesteps-not-dividing",
        _fit(architecture="lstm", n_timesteps=3),
        [X0, Y0],
        ValueError,
        "not a multiple of n_timesteps=3",
    ),
    (
        "sequence-list-feature-count",
        _fit(architecture="lstm"),
        [[RNG.normal(size=(5, 2))] * 30 + [RNG.normal(size=(5, 3))] * 30, Y0[:60]],
        ValueError,
        "feature",
    ),
    (
        "drw-without-ldam",
        _fit(drw=2),
        [X0, Y0],
        ValueError,
        "drw applies to loss='ldam'",
    ),
    (
        "drw-without-ldam-partial-fit",
        _fit("partial_fit", drw=2),
        [X0, Y0],
        ValueError,
        "drw applies to loss='ldam'",
    ),
    (
        "drw-without-ldam-initialize",
        _fit("initialize", drw=2),
        [X0, Y0],
        ValueError,
        "drw applies to loss='ldam'",
    ),
    (
        "drw-without-ldam-later-partial-fit",
        _partial_fit_then(loss="focal"),
        [X0, Y0],
        ValueError,
        "drw applies to loss='ldam'",
    ),
    (
        # The network partial_fit would train on is the one units=8 built.
        "partial-fit-after-the-network-changed",
        _partial_fit_then(units=16),
        [X0, Y0],
        ValueError,
        r"set_params changed \['units'\] since the network was built",
    ),
    (
        "partial-fit-after-the-optimizer-changed",
        _partial_fit_then(optimizer="sgd", learning_rate=0.5),
        [X0, Y0],
        ValueError,
        r"changed \['learning_rate', 'optimizer'\]",
    ),
    (
        "partial-fit-with-an-invalid-value-set-later",
        _partial_fit_then(learning_rate=-5.0),
        [X0, Y0],
        ValueError,
        "'learning_rate' parameter",
    ),
    (
        "partial-fit-after-class-weight-changed-works",
        _partial_fit_then(class_weight="balanced"),
        [X0, Y0],
        None,
        None,
    ),
    (
        "an-iterator",
        _fit(),
        [iter(X0), Y0],
        TypeError,
        "X is an iterator .* read only once",
    ),
    (
        "two-dimensional-sample-weight",
        _fit(),
        [X0, Y0, np.ones((60, 1))],
        ValueError,
        r"sample_weight must be 1-D, one weight per sample; got shape \(60, 1\)",
    ),
    (
        # partial_fit holds no rows out, whatever early_stopping says.
        "partial-fit-without-validation-works",
        _fit("partial_fit", validation_fraction=0.0),
        [X0, Y0],
        None,
        None,
    ),
    (
        "early-stopping-without-validation",
        _fit(validation_fraction=0.0),
        [X0, Y0],
        ValueError,
        "early_stopping=True needs validation_fraction > 0",
    ),
    (
        "too-few-for-the-folds",
        _fit(cv=5),
        [X0[:12], np.array([0] * 8 + [1] * 4)],
        ValueError,
        "cv=5 needs at least 5 samples of every class",
    ),
    (
        "class-of-one-sample",
        _fit(),
        [X0[:21], np.r_[np.zeros(20, int), 1]],
        ValueError,
        "1 sample",
    ),
    (
        "dataframe-works",
        _fit(),
        [pd.DataFrame(X0, columns=list("abcd")), pd.Series(S0)],
        None,
        None,
    ),
    (
        "read-only-arrays-work",
        _fit(),
        [np.require(X0, requirements="C"), Y0],
        None,
        None,
    ),
    ("string-labels-work", _fit(), [X0, S0], None, None),
    ("two-classes-work", _fit(), [X0[:40], Y0[:40]], None, None),
    ("float32-extremes-work", _fit(), [X0 * 1e15, Y0], None, None),
    (
        "pandas-NA-in-object-columns",
        _fit(),
        [pd.DataFrame(X0.astype(object)).mask(np.eye(60, 4) > 0, pd.NA), Y0],
        ValueError,
        r"X contains missing values .* in columns \[0, 1, 2, 3\]",
    ),
    (
        # pandas 3's text columns: named, and without pandas' warning that
        # select_dtypes("object") takes them in only for now.
        "missing-text-in-str-columns",
        _fit(),
        [pd.DataFrame(X0).astype(str).mask(np.eye(60, 4) > 0, None), Y0],
        ValueError,
        r"X contains missing values .* in columns \[0, 1, 2, 3\]",
    ),
    ("str-columns-work", _fit(), [pd.DataFrame(X0).astype(str), Y0], None, None),
    (
        "pandas-NA-in-string-columns",
        _fit(),
        [pd.DataFrame(X0).astype("string").mask(np.eye(60, 4) > 0, pd.NA), Y0],
        ValueError,
        r"X contains missing values .* in columns \[0, 1, 2, 3\]",
    ),
    ("object-integer-labels-work", _fit(), [X0, Y0.astype(object)], None, None),
    (
        "not-a-callback",
        _fit(callbacks=[1]),
        [X0, Y0],
        TypeError,
        r"callbacks must be a list of keras.callbacks.Callback; got 1 \(int\)",
    ),
    # A grid given as a NumPy array hands out NumPy scalars; Keras refused
    # them (and an int learning rate).
    (
        "numpy-scalar-parameters-work",
        _fit(
            units=np.int64(8), batch_size=np.uint16(16), learning_rate=np.float32(0.01)
        ),
        [X0, Y0],
        None,
        None,
    ),
    ("integer-learning-rate-works", _fit(learning_rate=1), [X0, Y0], None, None),
    (
        "numpy-kernel-size-works",
        _fit(architecture="conv1d", kernel_size=np.int64(2)),
        [X0.reshape(60, 2, 2), Y0],
        None,
        None,
    ),
    (
        "routed-setting-without-a-build-function",
        _fit(model__units=4),
        [X0, Y0],
        ValueError,
        r"\['model__units'\] are routed to a build function, but model=None",
    ),
]


@pytest.mark.parametrize(
    "call, arguments, error, match",
    [pytest.param(*case[1:], id=case[0]) for case in FIT_CASES],
)
def test_fit(call, arguments, error, match):
    result = _check(call, arguments, error, match)
    if error is None:  # a correct result: every row gets one of the classes
        predicted = result.predict(arguments[0])
        assert set(np.unique(predicted)) <= set(np.unique(arguments[1]))
        np.testing.assert_allclose(
            result.predict_proba(arguments[0]).sum(axis=1), 1.0, rtol=1e-5
        )


# ------------------------------------------------------------- parameters

PARAMETER_CASES = [
    ("units", True, "'units' parameter .* not a bool"),
    ("units", 0, "units"),
    ("units", "big", "units"),
    ("n_layers", False, "'n_layers' parameter .* not a bool"),
    ("dropout", True, "'dropout' parameter"),
    ("tau", True, "'tau' parameter .* not a bool"),
    ("dropout", 1.0, "dropout"),
    ("epochs", True, "'epochs' parameter .* not a bool"),
    ("batch_size", 0, "batch_size"),
    ("learning_rate", 0.0, "learning_rate"),
    ("monitor", "val_accuracy", "monitor"),
    ("batch_sampler", "tomek", "batch_sampler"),
    ("class_prior", "uniform", "class_prior"),
    ("patience", 0, "patience"),
    ("cv", 1, "cv"),
    ("kernel_size", -1, "kernel_size"),
    ("random_state", True, "'random_state' parameter .* not a bool"),
    ("mask_value", float("nan"), "'mask_value' parameter .* Got nan"),
]


@pytest.mark.parametrize(
    "name, value, match",
    PARAMETER_CASES,
    ids=[f"{c[0]}={c[1]!r}" for c in PARAMETER_CASES],
)
def test_parameters(name, value, match):
    _check(_fit(**{name: value}), [X0, Y0], ValueError, match)


def test_verbose_true_is_still_accepted():
    # scikit-learn's verbose convention takes bools.
    _check(_fit(verbose=False), [X0, Y0], None, None)


# ---------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def fitted(data, fast_params):
    X, y = data
    return ImbalancedKerasClassifier(**fast_params).fit(X, y)


PREDICT_CASES = [
    ("wrong-feature-count", "predict", lambda X: [X[:, :4]], ValueError, "features"),
    (
        "3-D-into-dense",
        "predict",
        lambda X: [X[:, :, None]],
        ValueError,
        r"fitted on samples of shape \(6,\)",
    ),
    (
        "nan-at-predict",
        "predict_proba",
        lambda X: [np.where(X > 2, np.nan, X)],
        ValueError,
        "NaN",
    ),
    ("empty-at-predict", "predict", lambda X: [X[:0]], ValueError, "0 sample"),
    ("sparse-at-predict", "predict", lambda X: [sp.csr_matrix(X)], TypeError, "Sparse"),
    (
        "unseen-labels-at-score",
        "score",
        lambda X: [X, np.full(len(X), 9)],
        ValueError,
        r"labels \[9\] that are not among the classes seen in fit",
    ),
    ("one-row-works", "predict_proba", lambda X: [X[:1]], None, None),
    ("list-of-lists-works", "predict", lambda X: [X[:3].tolist()], None, None),
    (
        "fit-class-prior-wrong-count",
        "fit_class_prior",
        lambda X: [X[:, :2]],
        ValueError,
        "features",
    ),
]


@pytest.mark.parametrize(
    "method, arguments, error, match",
    [pytest.param(*case[1:], id=case[0]) for case in PREDICT_CASES],
)
def test_predict(fitted, data, method, arguments, error, match):
    X, _ = data
    result = _check(getattr(fitted, method), arguments(X), error, match)
    if method == "predict_proba" and error is None:
        np.testing.assert_allclose(result.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "decision_function", "fit_class_prior"]
)
def test_unfitted(method):
    _check(
        getattr(ImbalancedKerasClassifier(), method), [X0], NotFittedError, "not fitted"
    )


def test_fit_class_prior_without_a_shift_keeps_the_prior(fitted, data):
    X, y = data
    clf = persistence_copy(fitted)
    clf.fit_class_prior(X)
    np.testing.assert_allclose(clf.class_prior_, np.bincount(y) / len(y), atol=0.05)


def persistence_copy(estimator):
    import pickle

    return pickle.loads(pickle.dumps(estimator))


# ------------------------------------------------------------ persistence


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda p: p, IsADirectoryError, "is a folder, not a model file"),
        (lambda p: p / "missing.skimb", FileNotFoundError, "No model file"),
        (
            lambda p: _write(p / "t.skimb", b"plain text"),
            ValueError,
            "not a skimb model file",
        ),
        (lambda p: _write(p / "e.skimb", b""), ValueError, "not a skimb model file"),
    ],
    ids=["folder", "missing", "text-file", "empty-file"],
)
def test_load(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        persistence.load(make(tmp_path))


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def test_truncated_model_file_is_refused(fitted, tmp_path):
    path = persistence.save(fitted, tmp_path / "m.skimb")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or damaged"):
        persistence.load(path)


def test_save_into_a_missing_folder_leaves_nothing(fitted, tmp_path):
    with pytest.raises(OSError):
        persistence.save(fitted, tmp_path / "no" / "such" / "m.skimb")
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_folder_names_it(fitted, tmp_path):
    (tmp_path / "m.skimb").mkdir()
    with pytest.raises(IsADirectoryError, match=r"m.skimb' is a folder: give the"):
        persistence.save(fitted, tmp_path / "m.skimb")
    assert [p.name for p in tmp_path.iterdir()] == ["m.skimb"]


def test_saved_model_predicts_the_same(fitted, data, tmp_path):
    X, _ = data
    loaded = persistence.load(persistence.save(fitted, tmp_path / "m.skimb"))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.temperature_ == fitted.temperature_


# ---------------------------------------------------------- OptunaSearchCV


def _search(**params):
    def fit(X, y):
        return OptunaSearchCV(
            ImbalancedKerasClassifier(**{**FAST_PARAMS, "epochs": 1}),
            {"units": IntDistribution(4, 8)},
            **{"n_trials": 1, "cv": 2, "random_state": 0, **params},
        ).fit(X, y)

    return fit


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"scoring": "nonsense"}, ValueError, "scoring"),
        ({"n_trials": 0}, ValueError, "n_trials"),
        ({"cv": 50}, ValueError, "n_splits=50"),
    ],
    ids=["unknown-scoring", "no-trials", "more-folds-than-samples"],
)
def test_search_errors(data, params, error, match):
    _check(_search(**params), list(data), error, match)


@pytest.mark.parametrize("scoring", ["macro_f1", "g_mean", "neg_log_loss"])
def test_search_takes_skimbs_scorer_names(data, scoring):
    X, y = data
    search = _check(_search(scoring=scoring), [X, y], None, None)
    assert search.best_score_ == pytest.approx(
        get_scorer(scoring)(search.best_estimator_, X, y), abs=1.0
    )
    assert np.isfinite(search.best_score_)
    if scoring == "macro_f1":
        assert search.score(X, y) == pytest.approx(
            f1_score(y, search.predict(X), average="macro")
        )


# --------------------------------------------------------- SequenceSampler

SEQ = RNG.normal(size=(30, 5, 2))
SEQ_Y = np.r_[np.zeros(25, int), np.ones(5, int)]


@pytest.mark.parametrize(
    "sampler, X, y, error, match",
    [
        (SMOTE(k_neighbors=10), SEQ, SEQ_Y, ValueError, "too few for k_neighbors"),
        (
            RandomOverSampler(),
            SEQ,
            SEQ_Y[:-1],
            ValueError,
            "inconsistent numbers of samples",
        ),
        (RandomOverSampler(), SEQ, np.zeros(30, int), ValueError, "class"),
        (
            RandomOverSampler(),
            SEQ,
            np.where(np.arange(30) == 0, np.nan, SEQ_Y),
            ValueError,
            "NaN",
        ),
        ("smote", SEQ, SEQ_Y, ValueError, "sampler"),
        (RandomOverSampler(random_state=0), SEQ, SEQ_Y, None, None),
        (
            RandomOverSampler(random_state=0),
            [SEQ[i, : 3 + i % 3] for i in range(30)],
            SEQ_Y,
            None,
            None,
        ),
        (
            SMOTE(k_neighbors=3),
            [SEQ[i, : 3 + i % 3] for i in range(29)] + [SEQ[29, 0]],
            SEQ_Y,
            ValueError,
            r"2-D \(n_timesteps_i, n_features\) array .*sequence 29 has shape \(2,\)",
        ),
    ],
    ids=[
        "smote-too-few",
        "length-mismatch",
        "one-class",
        "nan-label",
        "sampler-by-name",
        "3-D-works",
        "ragged-list-works",
        "1-D-sequence-in-list",
    ],
)
def test_sequence_sampler(sampler, X, y, error, match):
    result = _check(
        lambda X, y: SequenceSampler(sampler).fit_resample(X, y), [X, y], error, match
    )
    if error is None:
        X_res, y_res = result
        assert len(X_res) == len(y_res) and np.bincount(y_res).tolist() == [25, 25]


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: expected_calibration_error([0, 1], [[1.0, 0.0]]), "y_proba must"),
        (
            lambda: expected_calibration_error([0, 1], [[1, 0], [0, 1]], n_bins=0),
            "n_bins",
        ),
        (lambda: get_scorer("accuracy_of_rare"), "Unknown scoring"),
        (
            lambda: expected_calibration_error([0, 1], [[1, 0], [0, 1]], n_bins=15.0),
            "n_bins must be a positive integer; got 15.0",
        ),
        (
            lambda: expected_calibration_error([0, 1], [[3.0, 0.1], [0.2, 0.8]]),
            "must sum to 1",
        ),
        (
            lambda: expected_calibration_error([0, 1], [[np.nan, 1.0], [0.2, 0.8]]),
            "finite, non-negative",
        ),
        (
            lambda: expected_calibration_error(
                [0, 1], [[1, 0], [0, 1]], sample_weight=[0, 0]
            ),
            "zero for every row",
        ),
        (
            lambda: confusion_scores([0, 1], [0, 2], n_classes=2),
            r"y_pred must hold labels encoded 0 .. 1; got \[2\]",
        ),
        (lambda: effective_number_weights([1, np.nan], beta=0.9), "finite, positive"),
        (lambda: prior_offsets([0.5, np.nan]), "finite and positive"),
        (lambda: posterior_offsets([1, np.nan]), "finite, positive"),
        (lambda: LogitAdjustedLoss([1, np.inf]), "finite, positive"),
        (lambda: LogitAdjustedLoss([0.9, -0.1]), "class_prior must hold a finite"),
        (lambda: LDAMLoss([10, 1], class_weight=[1, np.inf]), "class_weight must be"),
        (lambda: LDAMLoss([10, 1], class_weight=[1]), "class_weight must hold one"),
        (lambda: FocalLoss(gamma=np.nan), "gamma must be finite"),
        (lambda: FocalLoss(alpha=[1, np.nan]), "alpha must be finite"),
        (
            lambda: plot_history({"loss": [1.0, 0.5]}, best_epoch=2),
            r"best_epoch=2 is not one of the history's epochs \(0 .. 1\)",
        ),
        (
            lambda: ValidationMetrics(np.zeros((4, 2)), [0, 1, 0, 1], loss=FocalLoss()),
            "loss needs targets",
        ),
        (
            lambda: plot_precision_recall([0, 5], [[0.5, 0.5]] * 2, classes=[0, 1]),
            r"labels \[5\] that are not among classes",
        ),
        (
            lambda: prior_frequencies("balanced_", np.array([3, 1]), np.array([0, 1])),
            "class_prior must be None, 'balanced'",
        ),
    ],
    ids=[
        "ece-shape",
        "ece-bins",
        "unknown-scorer",
        "ece-float-bins",
        "ece-not-probabilities",
        "ece-nan",
        "ece-zero-weights",
        "confusion-out-of-range",
        "effective-weights-nan",
        "prior-offsets-nan",
        "posterior-offsets-nan",
        "logit-adjusted-inf",
        "logit-adjusted-negative-prior",
        "ldam-weight-inf",
        "ldam-weight-count",
        "focal-gamma-nan",
        "focal-alpha-nan",
        "history-best-epoch-out-of-range",
        "validation-loss-without-targets",
        "pr-curves-unknown-label",
        "class-prior-typo",
    ],
)
def test_metrics(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------ command line


def _skimb(*argv, cwd):
    return subprocess.run(
        [sys.executable, "-m", "skimb.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_cli_prints_only_its_own_line_after_loading_keras(tmp_path):
    # A non-model file: the command loads Keras to read it, and TensorFlow's
    # start-up lines must not reach the user's terminal.
    (tmp_path / "not_a_model.skimb").write_text("a,b\n1,2\n")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    result = _skimb(
        "predict", "not_a_model.skimb", "t.csv", "--out", "p.csv", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "skimb predict: error: 'not_a_model.skimb' is not a skimb model file, or "
        "it is truncated or damaged (its end is missing)."
    ]
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["predict", ".", "t.csv", "--out", "p.csv"], "is a folder, not a model file"),
        (["tune", "missing.csv", "--target", "y"], "missing.csv"),
        (["tune", "t.csv", "--target", "nope"], "no column 'nope'"),
        (["tune", "t.csv", "--target", "b", "--trials", "0"], "--trials"),
        (["tune", "t.csv", "--target", "b", "--out", "t.csv"], "is a file: give a"),
    ],
    ids=[
        "folder-as-model",
        "missing-data",
        "missing-column",
        "zero-trials",
        "out-file",
    ],
)
def test_cli_errors(tmp_path, argv, match):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    result = _skimb(*argv, cwd=tmp_path)
    assert result.returncode in (1, 2)
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and re.search(match, lines[0]), result.stderr


# ------------------------------------------- state, scale and integration


def test_a_failed_fit_leaves_the_fitted_model_as_it_was():
    clf = ImbalancedKerasClassifier(**FAST_PARAMS).fit(X0, Y0)
    proba, state = clf.predict_proba(X0), dict(vars(clf))
    # Refused after the checks had set classes_ and the counts (a class of
    # one sample), and interrupted during training (other features).
    with pytest.raises(ValueError, match="1 sample"):
        clf.fit(X0, np.r_[Y0[:-1], 7])

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    clf.set_params(callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(np.c_[X0, X0], S0)
    assert vars(clf).keys() - {"callbacks"} == state.keys() - {"callbacks"}
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X0), proba)


def test_a_constant_feature_is_centred_not_blown_up():
    # The standardisation divides by max(std, 1e-7): a feature constant in
    # the training rows (or in partial_fit's first chunk) was multiplied by
    # 1e7 where it later varied, and the logits with it.
    X = X0.copy()
    X[:, 3] = 0.0
    clf = ImbalancedKerasClassifier(**FAST_PARAMS).fit(X, Y0)
    moved = X.copy()
    moved[:, 3] = 1.0
    assert np.abs(clf.decision_function(moved)).max() < 20
    stream = ImbalancedKerasClassifier(**FAST_PARAMS)
    stream.partial_fit(X0[:1], Y0[:1], classes=[0, 1, 2])  # a one-row chunk
    for i in range(1, 20):
        stream.partial_fit(X0[i : i + 1], Y0[i : i + 1])
    assert np.abs(stream.decision_function(X0)).max() < 20


@pytest.mark.parametrize("scale", [1e-7, 1e20])
def test_the_scale_of_sample_weights_does_not_change_the_fit(scale):
    # Only the weights' ratios are costs: 1e-7 trained nothing (under Adam's
    # epsilon), 1e20 overflowed float32.  Uniform weights, which the loss
    # multiplies in (unequal class means become offsets on the logits).
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 4)), np.repeat([0, 1, 2], 100)
    X[:, 0] += 3 * y
    params = dict(units=8, epochs=40, patience=40, cv=None, random_state=0)
    reference = ImbalancedKerasClassifier(**params).fit(X, y)
    scaled = ImbalancedKerasClassifier(**params).fit(
        X, y, sample_weight=np.full(300, scale)
    )
    assert reference.score(X, y) > 0.7  # 0.35 with weights of 1e-7, before
    np.testing.assert_allclose(
        scaled.predict_proba(X), reference.predict_proba(X), atol=1e-5
    )


def test_a_class_weight_dict_may_name_a_declared_class_not_yet_seen():
    clf = ImbalancedKerasClassifier(**FAST_PARAMS, class_weight={2: 3.0})
    clf.partial_fit(X0[:40], Y0[:40], classes=[0, 1, 2])  # no class 2 yet
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 1.0, 3.0])
    clf.partial_fit(X0, Y0)
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 1.0, 3.0])


def test_partial_fit_refuses_a_loss_the_network_cannot_take():
    clf = ImbalancedKerasClassifier(**{**FAST_PARAMS, "loss": "crossentropy"})
    clf.partial_fit(X0, Y0)  # a network ending in logits
    clf.set_params(loss=keras.losses.CategoricalCrossentropy())  # probabilities
    with pytest.raises(ValueError, match="takes probabilities, but the network"):
        clf.partial_fit(X0, Y0)


def test_callbacks_count_the_epochs_of_earlier_partial_fit_calls():
    seen = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    clf = ImbalancedKerasClassifier(**FAST_PARAMS, callbacks=[Epochs()])
    for _ in range(3):
        clf.partial_fit(X0, Y0)
    assert seen == [0, 1, 2] and len(clf.history_["loss"]) == 3


def test_a_mistyped_parameter_survives_clone_and_is_refused():
    from sklearn.base import clone

    clf = ImbalancedKerasClassifier(unitz=64, **FAST_PARAMS)
    assert "unitz=64" in repr(clf)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['unitz'\]"):
        clone(clf).fit(X0, Y0)
    with pytest.raises(ValueError, match="Invalid parameter 'learnin_rate'"):
        ImbalancedKerasClassifier().set_params(learnin_rate=0.5)


def test_score_is_scikit_learns_f1_macro_on_rows_missing_a_class():
    clf = ImbalancedKerasClassifier(**FAST_PARAMS).fit(X0, Y0)
    predicted = clf.predict(X0)
    rows = (Y0 != 2) & (predicted != 2)  # class 2 neither true nor predicted
    assert clf.score(X0[rows], Y0[rows]) == pytest.approx(
        f1_score(Y0[rows], predicted[rows], average="macro")
    )


def test_sequence_sampler_returns_copies_of_the_callers_sequences():
    sequences = [RNG.normal(size=(2 + i % 3, 2)) for i in range(30)]
    before = _snapshot(sequences)
    resampled, _ = SequenceSampler(RandomOverSampler(random_state=0)).fit_resample(
        sequences, np.r_[[0] * 20, [1] * 10]
    )
    for x in resampled:
        x += 1.0
    _unchanged(before, sequences)
    assert len({id(x) for x in resampled}) == len(resampled)


def test_flattened_sequences_are_taken_after_a_fit_on_3d_input():
    X = RNG.normal(size=(60, 6, 3))
    clf = ImbalancedKerasClassifier(
        **{**FAST_PARAMS, "architecture": "lstm", "n_timesteps": 6}
    ).fit(X, Y0)
    np.testing.assert_allclose(
        clf.predict_proba(X.reshape(60, -1)), clf.predict_proba(X), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"shape \(6, 2\), but .* \(6, 3\)"):
        clf.predict(X.reshape(60, -1)[:, :12])


def test_saving_into_a_file_or_through_a_link(tmp_path):
    clf = ImbalancedKerasClassifier(**FAST_PARAMS).fit(X0, Y0)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        persistence.save(clf, tmp_path / "a_file" / "m.skimb")
    target = tmp_path / "model.skimb"
    persistence.save(clf, target)
    link = tmp_path / "link.skimb"
    link.symlink_to(target)
    refit = ImbalancedKerasClassifier(**FAST_PARAMS).fit(X0, S0)
    persistence.save(refit, link)  # writes the file the link names
    assert link.is_symlink()
    assert persistence.load(target).classes_.tolist() == ["a", "b", "c"]


def test_an_adapted_layer_of_a_sequential_without_input_keeps_its_state():
    # Cloned unbuilt: the state had no weights to go to.
    X = X0 * 100 + 5
    normalization = keras.layers.Normalization(name="users_scaling")
    normalization.adapt(X)
    model = keras.Sequential([normalization, keras.layers.Dense(3)])
    clf = ImbalancedKerasClassifier(model=model, epochs=2, cv=None).fit(X, Y0)
    (users,) = [layer for layer in clf.model_.layers if isinstance(layer, keras.Model)]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(users.get_layer("users_scaling").mean),
        keras.ops.convert_to_numpy(normalization.mean),
    )


def _weights_seen(monkeypatch):
    import skimb._fitting

    seen, plan_for = [], skimb._fitting.plan_for

    def spy(*args, **kwargs):
        seen.append((kwargs["weights"], kwargs["class_weight"]))
        return plan_for(*args, **kwargs)

    monkeypatch.setattr(skimb._fitting, "plan_for", spy)
    return seen


def test_partial_fit_keeps_the_ratio_of_chunks_weighted_unlike(monkeypatch):
    # The weights multiply the loss here (tau=0): rescaled over every row
    # counted, not each call's alone, a chunk weighted 0.1 stays lighter.
    seen = _weights_seen(monkeypatch)
    clf = ImbalancedKerasClassifier(**FAST_PARAMS, tau=0.0)
    clf.partial_fit(X0, Y0, sample_weight=np.ones(60))
    clf.partial_fit(X0, Y0, sample_weight=np.full(60, 0.1))
    (first, _), (second, _) = seen
    np.testing.assert_allclose(first, 1.0)
    np.testing.assert_allclose(second, 0.1 / 0.55, rtol=1e-6)


def test_a_sampler_that_drops_rows_takes_rescaled_class_weights(monkeypatch):
    # The synthetic rows' class weights scale as the rows' weights do, so a
    # sampler that does not return the original rows first still agrees.
    from imblearn.combine import SMOTEENN

    seen = _weights_seen(monkeypatch)
    clf = ImbalancedKerasClassifier(
        **FAST_PARAMS,
        tau=0.0,
        class_weight={0: 3.0},
        batch_sampler=SMOTEENN(random_state=0),
    ).fit(X0, Y0)
    ((weights, class_weight),) = seen
    np.testing.assert_allclose(weights, class_weight[Y0], rtol=1e-6)
    assert np.mean(weights) == pytest.approx(1.0)
    assert clf.predict(X0).shape == (60,)


def test_a_constant_feature_is_found_among_many_rows():
    # A variance from sums of squares kept a rounding error that grew with
    # the rows: 6,700 float64 epsilons of the mean square at 300,000 rows.
    from skimb._moments import MomentSums

    X = np.random.default_rng(0).normal(size=(300_000, 3)).astype(np.float32)
    X[:, 1] = 1000.3
    _, variance = MomentSums().add(X).moments()
    assert variance[1] == 1.0 and abs(variance[0] - 1.0) < 0.01


def test_a_small_spread_about_a_large_level_keeps_its_variance():
    # A sum of squares less the squared mean cancelled: this feature (1 in
    # a thousand rows one above 4,000,000) got a variance of 0, and a scale
    # of 1e7.  Blocks and row sets merged as one pass over all the rows.
    from skimb._moments import MomentSums

    rng = np.random.RandomState(0)
    X = np.c_[
        np.float32(4e6) + (rng.rand(100_000) < 0.001),
        rng.normal(5.0, 2.0, size=100_000),
    ].astype(np.float32)
    expected = X.astype(np.float64).var(axis=0)
    mean, variance = MomentSums().add(X, chunk=7_000).moments()
    np.testing.assert_allclose(variance, expected, rtol=1e-9)
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    merged = MomentSums().add(X[:30_000]) + MomentSums() + MomentSums().add(X[30_000:])
    np.testing.assert_allclose(merged.moments()[1], expected, rtol=1e-9)
