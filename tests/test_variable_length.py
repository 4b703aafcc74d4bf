"""Sequences of different lengths: a list of arrays, or padded with mask_value."""

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skimb import ImbalancedKerasClassifier
from skimb.sampling import SequenceSampler

MASK = -99.0


@pytest.fixture(scope="module")
def ragged():
    """120 sequences of 3 to 8 steps; the class shifts the mean."""
    rng = np.random.RandomState(0)
    y = np.array([0] * 70 + [1] * 35 + [2] * 15)
    X = [
        (rng.normal(size=(rng.randint(3, 9), 2)) + label).astype("float32")
        for label in y
    ]
    return X, y


def _padded(X, length=8):
    out = np.full((len(X), length, X[0].shape[1]), MASK, dtype="float32")
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


@pytest.mark.parametrize("architecture", ["lstm", "gru", "conv1d", "dense"])
def test_list_and_mask_value_give_the_same_model(ragged, architecture, fast_params):
    X, y = ragged
    listed = ImbalancedKerasClassifier(architecture, **fast_params).fit(X, y)
    padded = ImbalancedKerasClassifier(architecture, mask_value=MASK, **fast_params)
    padded.fit(_padded(X), y)
    assert listed.variable_length_ and padded.variable_length_
    assert listed.input_shape_ == padded.input_shape_ == (8, 2)
    np.testing.assert_array_equal(
        listed.predict_proba(X), padded.predict_proba(_padded(X))
    )
    assert np.isfinite(listed.predict_proba(X)).all()


def test_padding_never_changes_a_prediction(ragged, fast_params):
    X, y = ragged
    clf = ImbalancedKerasClassifier("lstm", **fast_params).fit(X, y)
    alone = clf.predict_proba(X[:4])
    # The same sequences in a batch with a full-length one: more padding.
    batch = clf.predict_proba([*X[:4], np.zeros((8, 2), "float32")])
    np.testing.assert_allclose(batch[:4], alone, atol=1e-6)


def test_padding_at_the_start_or_anywhere_reads_as_padding_at_the_end(
    ragged, fast_params
):
    # Keras' masking rule: a step of mask_value is padding wherever it is.
    # With the flat path reading the window by position, start padding was
    # read as another sequence (probabilities apart by up to 0.95).
    X, y = ragged
    clf = ImbalancedKerasClassifier("lstm", mask_value=MASK, **fast_params)
    clf.fit(_padded(X), y)
    start = np.full((len(X), 8, 2), MASK, dtype="float32")
    middle = start.copy()
    for i, x in enumerate(X):
        start[i, 8 - len(x) :] = x
        middle[i, 0] = x[0]
        middle[i, 8 - len(x) + 1 :] = x[1:]
    before = start.copy()
    expected = clf.predict_proba(_padded(X))
    np.testing.assert_array_equal(clf.predict_proba(start), expected)
    np.testing.assert_array_equal(clf.predict_proba(middle), expected)
    np.testing.assert_array_equal(start, before)
    # A mask value given in another precision is the same value.
    wide = ImbalancedKerasClassifier("lstm", mask_value=np.float64(-0.1), **fast_params)
    wide.fit(np.where(_padded(X) == MASK, np.float32(-0.1), _padded(X)), y)
    assert wide.variable_length_
    np.testing.assert_array_equal(
        wide.predict_proba(X), wide.predict_proba(np.where(start == MASK, -0.1, start))
    )
    # The sampler reads the same sequences, and gives them back end-padded.
    sampler = SequenceSampler(RandomOverSampler(random_state=0), mask_value=MASK)
    X_res, _ = sampler.fit_resample(start, y)
    np.testing.assert_array_equal(X_res[: len(X)], _padded(X))


def test_sequences_of_the_fitted_length_need_no_mask(ragged, fast_params):
    X, y = ragged
    fixed = ImbalancedKerasClassifier("lstm", **fast_params).fit(_padded(X), y)
    full = _padded(X)[:5]
    np.testing.assert_array_equal(
        fixed.predict_proba(list(full)), fixed.predict_proba(full)
    )


def test_n_timesteps_sets_the_padded_length(ragged, fast_params):
    X, y = ragged
    clf = ImbalancedKerasClassifier("gru", n_timesteps=12, **fast_params).fit(X, y)
    assert clf.input_shape_ == (12, 2)
    assert clf.predict([np.ones((11, 2))]).shape == (1,)


def test_ragged_input_errors_name_the_problem(ragged, fast_params):
    X, y = ragged
    clf = ImbalancedKerasClassifier("lstm", **fast_params).fit(X, y)
    with pytest.raises(
        ValueError, match="9 time steps, more than the 8 .*fit with n_timesteps set"
    ):
        clf.predict([np.ones((9, 2))])
    with pytest.raises(ValueError, match="9 time steps, more than n_timesteps=8"):
        ImbalancedKerasClassifier("lstm", n_timesteps=8, **fast_params).fit(
            [*X[:-1], np.ones((9, 2))], y
        )
    with pytest.raises(ValueError, match="2 features per step; sequence 1 has 3"):
        clf.predict([np.ones((4, 2)), np.ones((4, 3))])
    with pytest.raises(ValueError, match="Sequence 1 of X contains NaN"):
        clf.predict([np.ones((4, 2)), np.full((4, 2), np.nan)])
    with pytest.raises(ValueError, match="at least one step"):
        clf.predict([np.ones((4, 2)), np.ones((0, 2))])
    fixed = ImbalancedKerasClassifier("lstm", **fast_params).fit(_padded(X), y)
    with pytest.raises(ValueError, match="fitted on sequences of one length"):
        fixed.predict(X[:3])
    masked = ImbalancedKerasClassifier("lstm", mask_value=MASK, **fast_params)
    empty = _padded(X)
    empty[5] = MASK
    with pytest.raises(ValueError, match="Sequence 5 of X has no step"):
        masked.fit(empty, y)


def test_callers_arrays_are_not_modified(ragged, fast_params):
    X, y = ragged
    X_padded = _padded(X)
    before = [x.copy() for x in X], X_padded.copy()
    ImbalancedKerasClassifier("lstm", **fast_params).fit(X, y)
    ImbalancedKerasClassifier("lstm", mask_value=MASK, **fast_params).fit(X_padded, y)
    assert all(np.array_equal(a, b) for a, b in zip(X, before[0], strict=True))
    np.testing.assert_array_equal(X_padded, before[1])


def test_sequence_sampler_keeps_lengths(ragged):
    X, y = ragged
    X_res, y_res = SequenceSampler(SMOTE(k_neighbors=3, random_state=0)).fit_resample(
        X, y
    )
    assert isinstance(X_res, list) and np.bincount(y_res).tolist() == [70, 70, 70]
    # The original sequences come back untouched; new ones have lengths
    # between the shortest and the longest.
    assert all(np.array_equal(a, b) for a, b in zip(X, X_res, strict=False))
    lengths = {len(x) for x in X_res[len(X) :]}
    assert lengths <= set(range(3, 9)) and len(lengths) > 1
    X_over, _ = SequenceSampler(RandomOverSampler(random_state=0)).fit_resample(X, y)
    indices = SequenceSampler(RandomOverSampler(random_state=0)).fit(X, y)
    assert [len(x) for x in X_over] == [len(X[i]) for i in indices.sample_indices_]


def test_sequence_sampler_on_padded_sequences(ragged):
    X, y = ragged
    sampler = SequenceSampler(SMOTE(k_neighbors=3, random_state=0), mask_value=MASK)
    X_res, y_res = sampler.fit_resample(_padded(X), y)
    assert X_res.shape == (210, 8, 2)
    np.testing.assert_array_equal(X_res[: len(X)], _padded(X))
    # Every synthetic sequence is real steps, then padding.
    real = ~np.all(X_res == MASK, axis=-1)
    assert all(np.all(np.diff(r.astype(int)) <= 0) and r[0] for r in real)


def test_smote_pipeline_and_cross_validation_on_ragged_sequences(ragged, fast_params):
    X, y = ragged
    pipeline = make_pipeline(
        SequenceSampler(SMOTE(k_neighbors=3, random_state=0)),
        ImbalancedKerasClassifier("lstm", n_timesteps=8, **fast_params),
    )
    scores = cross_val_score(
        pipeline, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0)
    )
    assert scores.shape == (3,) and np.isfinite(scores).all()


@pytest.mark.parametrize("form", ["list", "mask_value"])
def test_smote_batches_take_sequences_of_several_lengths(ragged, fast_params, form):
    # The padding is no data to interpolate: SMOTE sees each sequence at its
    # own length, as SequenceSampler gives them (it refused NaN padding).
    X, y = ragged
    params = {**fast_params, "batch_sampler": "smote", "epochs": 2}
    if form == "list":
        clf = ImbalancedKerasClassifier("lstm", **params).fit(X, y)
    else:
        clf = ImbalancedKerasClassifier("lstm", mask_value=MASK, **params)
        clf.fit(_padded(X), y)
    assert np.isfinite(clf.predict_proba(X)).all()
    assert len(clf.history_["loss"]) == 2


def test_a_list_of_padded_sequences_is_masked_as_padded_3d_input(ragged, fast_params):
    X, y = ragged
    clf = ImbalancedKerasClassifier("lstm", mask_value=MASK, **fast_params)
    clf.fit(_padded(X), y)
    padded = _padded(X[:10])
    np.testing.assert_array_equal(
        clf.predict_proba(list(padded)), clf.predict_proba(padded)
    )
    # SequenceSampler alike: a list's mask_value steps are padding.
    sampler = SequenceSampler(RandomOverSampler(random_state=0), mask_value=MASK)
    resampled, _ = sampler.fit_resample(list(_padded(X)), y)
    assert all(MASK not in x for x in resampled)
    assert sorted(map(len, resampled[: len(X)])) == sorted(map(len, X))


def test_a_sequence_of_padding_only_is_named(ragged):
    X, y = ragged
    padded = _padded(X)
    padded[5] = MASK
    sampler = SequenceSampler(RandomOverSampler(random_state=0), mask_value=MASK)
    for form in (padded, list(padded)):
        with pytest.raises(ValueError, match=r"Sequence 5 of X .*mask_value=-99"):
            sampler.fit_resample(form, y)


def test_oversampling_with_shrinkage_perturbs_sequences(ragged, fast_params):
    # Random over-sampling with shrinkage makes new rows, not copies: in a
    # SequenceSampler they are kept, and as batch_sampler they are trained on.
    X, y = ragged
    smoothed = RandomOverSampler(shrinkage=1.0, random_state=0)
    resampled, y_res = SequenceSampler(smoothed).fit_resample(X, y)
    added = resampled[len(X) :]
    assert len(added) == len(y_res) - len(y) > 0
    assert not any(any(np.array_equal(a, x) for x in X) for a in added)
    clf = ImbalancedKerasClassifier(
        "lstm", batch_sampler=smoothed, mask_value=MASK, **{**fast_params, "epochs": 1}
    )
    assert np.isfinite(clf.fit(_padded(X), y).predict_proba(_padded(X))).all()


def test_a_search_takes_a_list_of_sequences(ragged, fast_params):
    # np.ndim could not take the list (its arrays differ in length), and the
    # searched oversampler must be the one that resamples whole sequences.
    from imblearn.pipeline import Pipeline
    from optuna.distributions import CategoricalDistribution

    from skimb import OptunaSearchCV

    X, y = ragged
    pipe = Pipeline(
        [
            ("sampler", "passthrough"),
            ("clf", ImbalancedKerasClassifier(**dict(fast_params, epochs=1))),
        ]
    )
    search = OptunaSearchCV(
        pipe,
        {"sampler": CategoricalDistribution(["random_over"])},
        n_trials=1,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert search.cv_results_["state"].tolist() == ["COMPLETE"]
    assert isinstance(search.best_estimator_.named_steps["sampler"], SequenceSampler)
    assert search.predict(X).shape == (len(y),)
