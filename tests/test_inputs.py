"""Bad input gets a clear error naming the problem; caller data is untouched."""

import numpy as np
import pytest
import scipy.sparse as sp

keras = pytest.importorskip("keras")

from sklearn.exceptions import NotFittedError  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402


@pytest.fixture
def clf(fast_params):
    return ImbalancedKerasClassifier(**fast_params)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_at_fit_and_predict(clf, tabular, fitted_dense, bad):
    X, y = tabular
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        clf.fit(X_bad, y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        fitted_dense.predict(X_bad)


def test_non_finite_sequences(sequences, fast_params):
    X, y = sequences
    X_bad = X.copy()
    X_bad[0, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ImbalancedKerasClassifier("lstm", **fast_params).fit(X_bad, y)


def test_nan_labels(clf, tabular):
    X, y = tabular
    y_bad = y.astype(float)
    y_bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, y_bad)


def test_empty_data(clf):
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(np.empty((0, 3)), np.empty(0))


def test_one_class(clf, tabular):
    X, _ = tabular
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        clf.fit(X, np.zeros(len(X), dtype=int))


def test_continuous_target(clf, tabular):
    X, _ = tabular
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'"):
        clf.fit(X, np.linspace(0, 1, len(X)))


def test_length_mismatch(clf, tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])


def test_unseen_labels_at_score(fitted_dense, tabular):
    X, y = tabular
    y_new = y.copy()
    y_new[:5] = 9
    unseen = r"labels \[9\] that are not among the classes seen in fit"
    with pytest.raises(ValueError, match=unseen):
        fitted_dense.score(X, y_new)


def test_wrong_feature_count(fitted_dense, tabular):
    X, _ = tabular
    with pytest.raises(ValueError, match="X has 5 features, but .* expecting 6"):
        fitted_dense.predict(X[:, :5])


def test_wrong_rank(fitted_dense, fitted_lstm, tabular, sequences):
    X, _ = tabular
    with pytest.raises(ValueError, match="got a 1-D input"):
        fitted_dense.predict(X[0])
    with pytest.raises(ValueError, match="got a 4-D input"):
        fitted_dense.predict(X[:, :, None, None])
    with pytest.raises(ValueError, match="samples of shape"):
        fitted_dense.predict(X[:, :, None])
    with pytest.raises(ValueError, match="samples of shape"):
        fitted_lstm.predict(sequences[0][:, :-1])


def test_sequence_network_needs_3d_or_n_timesteps(tabular, fast_params):
    X, y = tabular
    with pytest.raises(ValueError, match="needs 3-D X"):
        ImbalancedKerasClassifier("lstm", **fast_params).fit(X, y)
    with pytest.raises(ValueError, match="not a multiple of n_timesteps=4"):
        ImbalancedKerasClassifier("lstm", n_timesteps=4, **fast_params).fit(X, y)


def test_n_timesteps_disagrees_with_3d_input(sequences, fast_params):
    X, y = sequences
    with pytest.raises(ValueError, match="6 time steps but n_timesteps=5"):
        ImbalancedKerasClassifier("lstm", n_timesteps=5, **fast_params).fit(X, y)


@pytest.mark.parametrize("make", [sp.csr_matrix, sp.csr_array])
def test_sparse_input(clf, tabular, make):
    X, y = tabular
    with pytest.raises(TypeError, match="Sparse input is not supported"):
        clf.fit(make(X), y)


def test_too_few_samples_for_validation(clf, tabular):
    X, y = tabular
    y = y.copy()
    keep = np.r_[np.flatnonzero(y != 0), np.flatnonzero(y == 0)[:1]]
    with pytest.raises(ValueError, match="Class 0 has 1 sample"):
        clf.fit(X[keep], y[keep])


def test_not_fitted(clf, tabular):
    with pytest.raises(NotFittedError):
        clf.predict(tabular[0])


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("architecture", "transformer", "architecture"),
        ("loss", "hinge", "loss"),
        ("class_weight", "inverse", "class_weight"),
        ("beta", 1.0, "beta"),
        ("beta", -0.1, "beta"),
        ("gamma", -1.0, "gamma"),
        ("tau", -0.5, "tau"),
        ("ldam_scale", 0.0, "ldam_scale"),
        ("drw", -1, "drw"),
        ("decision", "majority", "decision"),
        ("validation_fraction", 1.0, "validation_fraction"),
        ("optimizer", "lbfgs", "optimizer"),
        ("epochs", 0, "epochs"),
    ],
)
def test_invalid_parameters_are_named(tabular, param, value, match, fast_params):
    clf = ImbalancedKerasClassifier(**{**fast_params, param: value})
    with pytest.raises(ValueError, match=match):
        clf.fit(*tabular)


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({7: 2.0}, r"labels \[7\] that are not in y"),
        ({0: -1.0}, "finite and >= 0"),
        ({0: np.nan}, "finite and >= 0"),
        ({0: [1.0, 2.0]}, "class_weight value for label 0"),
        ({0: "heavy"}, "class_weight value for label 0"),
    ],
)
def test_bad_class_weight_dict(tabular, class_weight, match, fast_params):
    with pytest.raises(ValueError, match=match):
        ImbalancedKerasClassifier(class_weight=class_weight, **fast_params).fit(
            *tabular
        )


def test_drw_needs_the_ldam_loss(tabular, fast_params):
    with pytest.raises(ValueError, match="drw applies to loss='ldam'"):
        ImbalancedKerasClassifier(loss="focal", drw=2, **fast_params).fit(*tabular)


def test_bad_sample_weight(clf, tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(len(y) + 1))
    with pytest.raises(ValueError, match="Negative values in data"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))


def test_caller_arrays_are_not_modified(tabular, sequences, fast_params):
    for X, y, arch in [(*tabular, "dense"), (*sequences, "lstm")]:
        X_ro, y_ro = X.copy(), y.copy()
        X_ro.flags.writeable = False
        y_ro.flags.writeable = False
        clf = ImbalancedKerasClassifier(arch, class_weight="balanced", **fast_params)
        clf.fit(X_ro, y_ro).predict(X_ro)
        np.testing.assert_array_equal(X_ro, X)
        np.testing.assert_array_equal(y_ro, y)


def test_a_list_of_sequences_for_a_model_of_a_table_is_named(fitted_dense):
    # It raised IndexError: tuple index out of range.
    with pytest.raises(ValueError, match="fitted on a table of 6 features"):
        fitted_dense.predict([np.ones((3, 6)), np.ones((2, 6))])


def test_2d_input_for_a_dense_model_of_sequences_is_named(sequences, fast_params):
    # The first error named the features of a step ("expecting 3 features"),
    # and following it gave a second.
    X, y = sequences
    clf = ImbalancedKerasClassifier(**fast_params).fit(X, y)
    for flat in (X.reshape(len(X), -1), X[:, 0]):
        with pytest.raises(ValueError, match=r"fitted on sequences of shape \(6, 3\)"):
            clf.predict(flat)


def test_groups_with_missing_values_or_of_another_rank_are_named(tabular, clf):
    # NaN groups were one group; 2-D groups raised "unhashable type".
    from sklearn.model_selection import StratifiedGroupKFold

    from skimb.model_selection import StratifiedGroupShuffleSplit

    X, y = tabular
    groups = (np.arange(len(y)) % 10).astype(float)
    groups[[3, 7]] = np.nan
    clf.set_params(cv=StratifiedGroupKFold(2))
    for given in (groups, list(groups.astype(object)), [*groups[:-1], None]):
        with pytest.raises(ValueError, match=r"groups has \d missing values"):
            clf.fit(X, y, groups=given)
        with pytest.raises(ValueError, match=r"groups has \d missing values"):
            next(StratifiedGroupShuffleSplit().split(X, y, given))
    with pytest.raises(ValueError, match=r"groups must be 1-D.*\(340, 1\)"):
        clf.fit(X, y, groups=np.arange(len(y))[:, None] % 10)


def test_partial_fit_refuses_a_missing_value_among_the_classes(tabular, clf):
    # NaN became a class of its own, with a probability.
    X, y = tabular
    with pytest.raises(ValueError, match="classes holds missing values"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3, np.nan])
    assert not hasattr(clf, "classes_")


def test_sample_weights_whose_sums_overflow_are_named(tabular, clf):
    # The error named class_prior, which the caller never set.
    X, y = tabular
    with pytest.raises(ValueError, match="sample_weight is too large"):
        clf.fit(X, y, sample_weight=np.full(len(y), 1e307))


def test_score_refuses_negative_sample_weights(fitted_dense, tabular):
    X, y = tabular
    weights = np.ones(len(y))
    weights[:10] = -1
    with pytest.raises(ValueError, match="Negative values in data"):
        fitted_dense.score(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match="sample_weight"):
        fitted_dense.score(X, y, sample_weight=np.ones(len(y) + 1))


def test_sequence_sampler_refuses_a_list_as_the_classifier_does():
    # NaN sequences came back resampled; sparse ones raised "len() of
    # unsized object".
    from imblearn.over_sampling import RandomOverSampler

    from skimb.sampling import SequenceSampler

    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(1 + i % 5, 2)) for i in range(30)]
    y = np.repeat([0, 1], [22, 8])
    sampler = SequenceSampler(RandomOverSampler(random_state=0))
    with pytest.raises(ValueError, match="Sequence 29 of X contains NaN"):
        sampler.fit_resample([*seqs[:-1], np.full((2, 2), np.nan)], y)
    with pytest.raises(TypeError, match="Sequence 0 of X is a sparse matrix"):
        sampler.fit_resample([sp.csr_matrix(s) for s in seqs], y)
    with pytest.raises(ValueError, match="Sequence 3 of X cannot be read as numbers"):
        sampler.fit_resample([*seqs[:3], [["a", "b"]], *seqs[4:]], y)


@pytest.mark.parametrize("labels", [("common", "rare"), (0, 2)])
def test_a_batch_samplers_class_too_small_is_named_as_given(fast_params, labels):
    # The epochs resample encoded labels: the error named class 1, which
    # for labels (0, 2) is no class of the caller's.
    from imblearn.over_sampling import SMOTE

    rng = np.random.RandomState(0)
    X = rng.normal(size=(43, 4))
    y = np.repeat(np.array(labels, dtype=object), [40, 3]).tolist()
    clf = ImbalancedKerasClassifier(
        **{**fast_params, "validation_fraction": 0.0, "early_stopping": False},
        batch_sampler=SMOTE(),
    )
    rare = repr(labels[1])
    with pytest.raises(ValueError, match=f"Class {rare} has 3 samples, too few"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=f"Class {rare} has 3 samples, too few"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match=f"Class {rare} has 1 sample among"):
        clf.set_params(batch_sampler="smote").fit(X[:41], y[:41])


def test_columns_that_are_no_numbers_are_named(tabular, fitted_dense):
    # scikit-learn's "could not convert string to float: 'x'" named neither
    # the column nor what to do.
    pd = pytest.importorskip("pandas")
    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["f2"] = np.where(X[:, 2] > 0, "high", "low")
    frame["f4"] = pd.Categorical(np.where(X[:, 4] > 0, "up", "down"))
    message = r"X has columns that are not numbers: \['f2', 'f4'\]"
    with pytest.raises(ValueError, match=message):
        ImbalancedKerasClassifier(units=4, epochs=1).fit(frame, y)
    with pytest.raises(ValueError, match=message):
        fitted_dense.predict(frame)
    # Numbers held as objects, or as categories, are numbers.
    from skimb._inputs import _check_numeric_columns

    numbers = pd.DataFrame(X, columns=frame.columns).astype(object)
    numbers["f4"] = pd.Categorical(np.round(X[:, 4]))
    _check_numeric_columns(numbers)
