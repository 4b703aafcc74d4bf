"""Resampling of sequences: in pipelines, on training folds only, per epoch."""

import numpy as np
import pytest
from imblearn.combine import SMOTEENN
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

import skimb._schedule
from skimb import ImbalancedKerasClassifier
from skimb._class_sizes import fitting_neighbours
from skimb._splits import validation_split
from skimb.sampling import EpochBatches, SequenceSampler, check_class_counts


def _row_index(X_rows, X):
    """Index in X of each row of X_rows (-1 where the row is not in X)."""
    flat = X.reshape(len(X), -1)
    lookup = {row.tobytes(): i for i, row in enumerate(flat)}
    return np.array(
        [lookup.get(row.tobytes(), -1) for row in X_rows.reshape(len(X_rows), -1)]
    )


def test_sequence_sampler_resamples_3d_without_touching_input(sequences):
    X, y = sequences
    X_before = X.copy()
    sampler = SequenceSampler(SMOTE(k_neighbors=3, random_state=0))
    X_res, y_res = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X, X_before)
    counts = np.bincount(y)
    assert X_res.shape == (4 * counts.max(), *X.shape[1:])
    assert np.bincount(y_res).tolist() == [counts.max()] * 4
    # The original sequences come first, unchanged; each synthetic one lies
    # between two sequences of its class, step by step.
    np.testing.assert_array_equal(X_res[: len(X)], X)
    synthetic, labels = X_res[len(X) :], y_res[len(X) :]
    for row, label in zip(synthetic[:20], labels[:20], strict=True):
        same = X[y == label].reshape(-1, X[0].size)
        low, high = same.min(axis=0), same.max(axis=0)
        assert np.all((row.ravel() >= low - 1e-9) & (row.ravel() <= high + 1e-9))
    assert sampler.n_timesteps_ == X.shape[1]


def test_sequence_sampler_selection_keeps_row_identity(sequences):
    X, y = sequences
    sampler = SequenceSampler(RandomOverSampler(random_state=0))
    X_res, y_res = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X[sampler.sample_indices_])
    np.testing.assert_array_equal(y_res, y[sampler.sample_indices_])
    # An under-sampler that removes nothing regroups rows by class; they come
    # back in their original order, so row-aligned data still matches.
    keep_all = dict(enumerate(np.bincount(y)))
    X_same, y_same = SequenceSampler(
        RandomUnderSampler(sampling_strategy=keep_all)
    ).fit_resample(X, y)
    np.testing.assert_array_equal(X_same, X)
    np.testing.assert_array_equal(y_same, y)


def test_sequence_sampler_is_an_sklearn_estimator(tabular):
    sampler = SequenceSampler(SMOTE(k_neighbors=2))
    cloned = clone(sampler)
    assert cloned.get_params()["sampler"] is not sampler.sampler
    assert cloned.get_params()["sampler__k_neighbors"] == 2
    cloned.set_params(sampler__k_neighbors=4)
    assert cloned.sampler.k_neighbors == 4
    # A table goes to the sampler as it is.
    X, y = tabular
    X_res, _ = SequenceSampler(RandomUnderSampler(random_state=0)).fit_resample(X, y)
    assert X_res.shape == (4 * np.bincount(y).min(), X.shape[1])
    with pytest.raises(InvalidParameterError, match="sampler"):
        SequenceSampler("smote").fit_resample(X, y)
    with pytest.raises(ValueError, match="inconsistent"):
        SequenceSampler(SMOTE()).fit_resample(X, y[:-1])


def test_sequence_sampler_gives_a_table_to_the_sampler_as_it_is(tabular, fast_params):
    pd = pytest.importorskip("pandas")
    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["colour"] = np.where(X[:, 0] > 0, "red", "blue")  # not a number
    labels = pd.Series(y, name="target")
    sampler = SequenceSampler(RandomOverSampler(random_state=0))
    ours = sampler.fit_resample(frame, labels)
    theirs = RandomOverSampler(random_state=0).fit_resample(frame, labels)
    for got, expected in zip(ours, theirs, strict=True):
        assert type(got) is type(expected)
    pd.testing.assert_frame_equal(ours[0], theirs[0])
    pd.testing.assert_series_equal(ours[1], theirs[1])
    # In a pipeline, the classifier after it still learns the column names.
    pipeline = make_pipeline(
        SequenceSampler(SMOTE(k_neighbors=2, random_state=0)),
        ImbalancedKerasClassifier(**fast_params),
    ).fit(frame.drop(columns="colour"), labels)
    assert list(pipeline[-1].feature_names_in_) == list(frame.columns[:-1])


def test_too_few_samples_name_the_class_and_count(sequences):
    X, y = sequences
    few = np.r_[np.flatnonzero(y != 0), np.flatnonzero(y == 0)[:4]]
    with pytest.raises(ValueError, match=r"Class 0 has 4 samples.*k_neighbors=5"):
        SequenceSampler(SMOTE()).fit_resample(X[few], y[few])
    # Inside SMOTEENN too.
    with pytest.raises(ValueError, match=r"Class 0 has 4 samples"):
        SequenceSampler(SMOTEENN()).fit_resample(X[few], y[few])
    # A class that is not over-sampled needs no neighbours.
    sampler = SMOTE(k_neighbors=5, sampling_strategy={2: 200})
    SequenceSampler(sampler).fit_resample(X[few], y[few])
    with pytest.raises(
        ValueError, match="Class 'b' has 2 samples, fewer than n_splits=3"
    ):
        check_class_counts(["a"] * 10 + ["b"] * 2, n_splits=3)
    check_class_counts(["a"] * 10 + ["b"] * 3, n_splits=3, k_neighbors=2)


@pytest.mark.parametrize(
    "counts, strategy",
    [
        ([40, 3, 10, 7], "auto"),
        ([40, 30, 10, 7], "auto"),
        ([40, 3, 10, 7], {2: 50}),
        ([40, 2, 40, 40], "not majority"),
    ],
)
def test_fitting_neighbours_follow_the_rarest_grown_class(counts, strategy):
    y = np.repeat(np.arange(len(counts)), counts)
    sampler = SMOTE(sampling_strategy=strategy)
    # The rule in NumPy: the classes the strategy grows, the rarest of them,
    # five neighbours or one fewer than its rows.
    counts = np.array(counts)
    if isinstance(strategy, dict):
        grown = np.array(list(strategy))
    else:
        grown = np.flatnonzero(counts < counts.max())
    expected = min(5, counts[grown].min() - 1)
    assert fitting_neighbours(sampler, y) == expected


def test_fitting_neighbours_refuse_a_class_of_one_row():
    y = np.repeat(np.arange(4), [40, 1, 10, 7])
    one_row = r"Class 1 has 1 sample .*batch_sampler='over'"
    with pytest.raises(ValueError, match=one_row):
        fitting_neighbours(SMOTE(), y)
    # Not grown, it needs no neighbours.
    assert fitting_neighbours(SMOTE(sampling_strategy={2: 50}), y) == 5


def test_batch_sampler_smote_interpolates_small_classes(sequences, fast_params):
    X, y = sequences
    few = np.r_[np.flatnonzero(y != 0), np.flatnonzero(y == 0)[:5]]
    params = {**fast_params, "epochs": 2, "validation_fraction": 0.2}
    # Five rows of class 0, one held out: four train, too few for SMOTE's
    # five neighbours.  An explicit SMOTE says so ...
    with pytest.raises(ValueError, match=r"Class 0 has 4 samples.*k_neighbors=5"):
        ImbalancedKerasClassifier(batch_sampler=SMOTE(), **params).fit(X[few], y[few])
    # ... while "smote" interpolates with three neighbours, as the same
    # SMOTE with k_neighbors=3 would.
    smote = ImbalancedKerasClassifier(batch_sampler="smote", **params)
    three = ImbalancedKerasClassifier(batch_sampler=SMOTE(k_neighbors=3), **params)
    np.testing.assert_allclose(
        smote.fit(X[few], y[few]).predict_proba(X),
        three.fit(X[few], y[few]).predict_proba(X),
        rtol=1e-5,
    )


class _Recording(ImbalancedKerasClassifier):
    """The classifier, recording every row it is fitted on and predicts."""

    fitted_on: list = []
    predicted_on: list = []

    def fit(self, X, y, sample_weight=None):
        type(self).fitted_on.append(np.array(X, copy=True))
        return super().fit(X, y, sample_weight=sample_weight)

    # predict, predict_proba and decision_function all go through here.
    def predict_log_proba(self, X):
        type(self).predicted_on.append(np.array(X, copy=True))
        return super().predict_log_proba(X)


def test_smote_pipeline_cross_validates_lstm_on_training_folds_only(
    sequences, fast_params
):
    X, y = sequences
    _Recording.fitted_on, _Recording.predicted_on = [], []
    pipeline = make_pipeline(
        SequenceSampler(SMOTE(k_neighbors=3, random_state=0)),
        _Recording("lstm", **fast_params),
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipeline, X, y, cv=cv, scoring="f1_macro")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    folds = list(cv.split(X, y))
    assert len(_Recording.fitted_on) == len(_Recording.predicted_on) == 3
    for (_, test), fitted, scored in zip(
        folds, _Recording.fitted_on, _Recording.predicted_on, strict=True
    ):
        # Training saw synthetic sequences (not rows of X) and no test row.
        fitted_rows = _row_index(fitted, X)
        assert np.any(fitted_rows == -1)
        assert not np.isin(fitted_rows[fitted_rows >= 0], test).any()
        # Scoring saw exactly the original test rows: nothing synthetic.
        np.testing.assert_array_equal(np.sort(_row_index(scored, X)), test)


def test_sample_weight_through_a_resampling_pipeline_is_refused(sequences, fast_params):
    X, y = sequences
    pipeline = make_pipeline(
        SequenceSampler(RandomOverSampler(random_state=0)),
        ImbalancedKerasClassifier("lstm", **fast_params),
    )
    with pytest.raises(ValueError, match="sampler.*step changes the rows"):
        pipeline.fit(X, y, imbalancedkerasclassifier__sample_weight=np.ones(len(y)))


def _batches(y, sampler, *, rows=None, seed=0):
    X = np.random.RandomState(0).normal(size=(len(y), 3)).astype("float32")
    rows = np.arange(len(y)) if rows is None else rows
    weights = np.linspace(1, 2, len(y)).astype("float32")
    return X, EpochBatches(
        X,
        np.eye(4, dtype="float32")[y],
        weights,
        y,
        rows=rows,
        sampler=sampler,
        class_weight=np.array([1.0, 2.0, 3.0, 4.0]),
        batch_size=16,
        seed=seed,
    )


def test_epoch_batches_use_training_rows_only_and_redraw(sequences):
    _, y = sequences
    rows = np.flatnonzero(np.arange(len(y)) % 5 != 0)  # every 5th held out
    X, batches = _batches(y, RandomUnderSampler(), rows=rows)
    epochs = []
    for _ in range(3):
        batches.on_epoch_begin()
        seen = [batches[i] for i in range(len(batches))]
        source = _row_index(np.concatenate([b[0] for b in seen]), X)
        assert np.isin(source, rows).all()
        assert np.bincount(y[source]).tolist() == [np.bincount(y[rows]).min()] * 4
        # Targets and weights travel with their rows.
        np.testing.assert_array_equal(
            np.concatenate([b[1] for b in seen]).argmax(1), y[source]
        )
        np.testing.assert_allclose(
            np.concatenate([b[2] for b in seen]), np.linspace(1, 2, len(y))[source]
        )
        epochs.append(set(source))
    assert epochs[0] != epochs[1] != epochs[2]  # the majority rows change


def test_epoch_batches_of_draws_of_other_sizes_keep_every_row(sequences):
    # A combined sampler draws another number of rows every epoch; Keras
    # takes the first draw's number of batches, and left the rows past
    # them untrained (or ended the epoch short of batches).
    from imblearn.combine import SMOTEENN

    _, y = sequences
    X = np.random.RandomState(0).normal(size=(len(y), 3)).astype("float32")
    batches = EpochBatches(
        X,
        np.eye(4, dtype="float32")[y],
        np.ones(len(y), "float32"),
        y,
        rows=np.arange(len(y)),
        sampler=SMOTEENN(smote=SMOTE(k_neighbors=3)),
        class_weight=np.ones(4),
        batch_size=16,
        seed=0,
    )
    n_batches = len(batches)
    sizes = set()
    for _ in range(4):
        batches.on_epoch_begin()
        assert len(batches) == n_batches
        seen = [batches[i] for i in range(n_batches)]
        trained = np.concatenate([b[0] for b in seen])
        assert sorted(map(bytes, trained)) == sorted(map(bytes, batches.synthetic_))
        sizes.add(len(trained))
    assert len(sizes) > 1  # what the test is about


def test_epoch_batches_with_smote_weigh_synthetic_rows_by_class(sequences):
    _, y = sequences
    X, batches = _batches(y, SMOTE(k_neighbors=3))
    x, targets, weights = (
        np.concatenate(parts)
        for parts in zip(*(batches[i] for i in range(len(batches))), strict=True)
    )
    assert len(x) == 4 * np.bincount(y).max()
    original = _row_index(x, X)
    labels = targets.argmax(1)
    np.testing.assert_allclose(
        weights[original >= 0], np.linspace(1, 2, len(y))[original[original >= 0]]
    )
    np.testing.assert_allclose(weights[original < 0], (labels[original < 0] + 1.0))


@pytest.mark.parametrize("batch_sampler", ["under", SMOTE(k_neighbors=3)])
def test_batch_sampler_never_resamples_the_validation_split(
    sequences, batch_sampler, monkeypatch, fast_params
):
    X, y = sequences
    seen = []
    draw = skimb._schedule.resample_rows

    def spy(*args, rows, **kwargs):
        seen.append(rows.copy())
        return draw(*args, rows=rows, **kwargs)

    monkeypatch.setattr(skimb._schedule, "resample_rows", spy)
    clf = ImbalancedKerasClassifier(
        "dense", batch_sampler=batch_sampler, **{**fast_params, "epochs": 2}
    )
    clf.fit(X, y)
    clf.classes_ = np.unique(y)
    train, val = validation_split(
        y,
        classes=clf.classes_,
        validation_fraction=clf.validation_fraction,
        seed=fast_params["random_state"],
    )
    assert len(seen) == 2  # one draw per epoch, none after the last
    for rows in seen:
        np.testing.assert_array_equal(rows, train)
    assert len(clf.history_["val_macro_f1"]) == 2
    assert clf.predict(X[val]).shape == (len(val),)


def test_batch_sampler_is_seeded_and_validated(sequences, fast_params):
    X, y = sequences
    params = dict(batch_sampler="over", **{**fast_params, "epochs": 1})
    first = ImbalancedKerasClassifier("dense", **params).fit(X, y).predict_proba(X)
    second = ImbalancedKerasClassifier("dense", **params).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(first, second, rtol=1e-5)
    with pytest.raises(InvalidParameterError, match="batch_sampler"):
        ImbalancedKerasClassifier(batch_sampler="smoteen").fit(X, y)


def test_a_sampler_inside_a_sampler_is_seeded_too():
    # SMOTEENN(smote=SMOTE(...)) uses its own SMOTE's seed, which was left
    # unset: the same random_state drew other rows on every run.
    from imblearn.combine import SMOTEENN
    from imblearn.over_sampling import SMOTE

    from skimb.sampling import resample_rows

    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], [60, 15])
    X = (rng.normal(size=(75, 3)) + y[:, None]).astype(np.float32)
    sampler = SMOTEENN(smote=SMOTE(k_neighbors=3))

    def draw(seed):
        return resample_rows(
            X,
            np.ones(75, np.float32),
            y,
            rows=np.arange(75),
            sampler=sampler,
            class_weight=np.ones(2),
            rng=np.random.RandomState(seed),
        )

    first, again, other = draw(7), draw(7), draw(8)
    np.testing.assert_array_equal(first.synthetic, again.synthetic)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.synthetic.shape != other.synthetic.shape or not np.array_equal(
        first.synthetic, other.synthetic
    )
    assert sampler.smote.random_state is None  # the caller's is not changed
