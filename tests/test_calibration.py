"""Probabilities that are the posterior, class weights that compose with every
loss, and shifts of class prior (label shift)."""

import keras
import numpy as np
import pytest
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import f1_score, log_loss

from skimb import ImbalancedKerasClassifier
from skimb._random import seed_from
from skimb._splits import validation_split
from skimb.calibration import (
    estimate_prior,
    fit_temperature,
    fit_temperature_and_bias,
    shift_prior,
)
from skimb.class_weight import effective_number_weights
from skimb.datasets import make_imbalanced_classification
from skimb.decision import macro_f1_offsets
from skimb.losses import ldam_margins
from tests.support import WEIGHTS, network_log_proba

# Enough data and epochs for probabilities worth comparing, still seconds.
CALIBRATION = dict(units=16, epochs=40, batch_size=64, patience=10, cv=None)


@pytest.fixture(scope="module")
def known_posterior():
    """A training set, and a test set with its true posterior."""
    X, y = make_imbalanced_classification(
        2000, n_features=6, n_informative=3, weights=WEIGHTS, random_state=1
    )
    X_test, y_test, posterior = make_imbalanced_classification(
        6000,
        n_features=6,
        n_informative=3,
        weights=WEIGHTS,
        random_state=2,
        return_posterior=True,
    )
    return X, y, X_test, y_test, posterior


# ------------------------------------------------------------ the functions


class _Logits(ClassifierMixin, BaseEstimator):
    """A 'fitted' classifier whose decision function is a stored table of
    logits, row i for X = [[i]]: scikit-learn's calibration as reference."""

    def __init__(self, logits):
        self.logits = logits

    def fit(self, X, y):
        self.classes_ = np.arange(self.logits.shape[1])
        return self

    def decision_function(self, X):
        return self.logits[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X):
        return self.decision_function(X).argmax(axis=1)


def test_fit_temperature_matches_scikit_learns_temperature_scaling():
    rng = np.random.RandomState(0)
    true_logits = rng.normal(scale=1.5, size=(3000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(true_logits, axis=1)])
    overconfident = 2.5 * true_logits
    temperature = fit_temperature(log_softmax(overconfident, axis=1), y)
    assert temperature == pytest.approx(2.5, rel=0.1)
    rows = np.arange(len(y))[:, None]
    reference = CalibratedClassifierCV(
        FrozenEstimator(_Logits(overconfident).fit(rows, y)), method="temperature"
    ).fit(rows, y)
    np.testing.assert_allclose(
        softmax(overconfident / temperature, axis=1),
        reference.predict_proba(rows),
        atol=1e-4,
    )


def test_shift_prior_is_bayes_rule():
    rng = np.random.RandomState(0)
    proba = softmax(rng.normal(size=(50, 3)), axis=1)
    source, target = np.array([0.7, 0.2, 0.1]), np.array([0.2, 0.3, 0.5])
    expected = proba * target / source
    expected /= expected.sum(axis=1, keepdims=True)
    shifted = shift_prior(np.log(proba), from_prior=source, to_prior=target)
    np.testing.assert_allclose(np.exp(shifted), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="to_prior must hold 3 finite, positive"):
        shift_prior(np.log(proba), from_prior=source, to_prior=[0.5, 0.5])


def test_estimate_prior_recovers_a_known_shift():
    # Three unit Gaussians on a line: the exact posterior under any prior.
    rng = np.random.RandomState(0)
    means = np.array([-2.0, 0.0, 2.0])
    train, test = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    y = rng.choice(3, size=20_000, p=test)
    x = rng.normal(means[y])
    log_likelihood = -0.5 * (x[:, None] - means) ** 2
    log_posterior = log_softmax(log_likelihood + np.log(train), axis=1)
    estimate = estimate_prior(log_posterior, train_prior=train)
    np.testing.assert_allclose(estimate, test, atol=0.02)
    assert estimate.sum() == pytest.approx(1.0)


# ------------------------------------------------------ predict_proba


def test_predict_proba_is_the_posterior_whatever_the_loss(known_posterior):
    X, y, X_test, y_test, posterior = known_posterior
    losses = {}
    for loss in ("logit_adjusted", "crossentropy"):
        clf = ImbalancedKerasClassifier(loss=loss, random_state=0, **CALIBRATION)
        losses[loss] = log_loss(y_test, clf.fit(X, y).predict_proba(X_test))
    truth = log_loss(y_test, posterior)
    # The logit-adjusted network's own probabilities are those of a balanced
    # prior (log-loss far above); undone, they are as good as crossentropy's.
    assert losses["logit_adjusted"] <= losses["crossentropy"] + 0.02
    assert losses["logit_adjusted"] < 1.5 * truth


def test_balanced_class_prior_gives_balanced_probabilities(
    known_posterior, fast_params
):
    X, y, X_test, _, _ = known_posterior
    params = dict(fast_params, validation_fraction=0.3)
    posterior = ImbalancedKerasClassifier(**params).fit(X, y)
    balanced = ImbalancedKerasClassifier(class_prior="balanced", **params).fit(X, y)
    prior = np.bincount(y) / len(y)
    np.testing.assert_allclose(
        balanced.predict_log_proba(X_test),
        shift_prior(
            posterior.predict_log_proba(X_test), from_prior=prior, to_prior=np.ones(4)
        ),
        atol=1e-6,
    )
    np.testing.assert_allclose(balanced.class_prior_, np.full(4, 0.25))
    # The decision rule applies on top of the probabilities it is given.
    np.testing.assert_allclose(
        balanced.decision_function(X_test),
        balanced.predict_log_proba(X_test) + balanced.decision_offsets_,
    )
    # Classes in the order of classes_, as frequencies.
    given = ImbalancedKerasClassifier(class_prior=[1, 1, 1, 1], **params).fit(X, y)
    np.testing.assert_allclose(
        given.predict_proba(X_test), balanced.predict_proba(X_test)
    )


def test_under_a_moved_prior_predict_decides_on_the_calibrated_posterior(
    known_posterior, fast_params
):
    X, y, X_test, _, _ = known_posterior
    # Trained long enough to be worth a temperature (3 epochs learn so
    # little that T reaches its bound, and a shift counts T times).
    params = dict(fast_params, epochs=30, patience=5, validation_fraction=0.3)
    clf = ImbalancedKerasClassifier(decision="posterior", **params).fit(X, y)
    assert clf.temperature_ < 10
    train = np.bincount(y) / len(y)
    network = network_log_proba(clf, X_test) + clf.posterior_offsets_
    unshifted = clf.classes_[np.argmax(network, axis=1)]

    def argmax_proba():
        return clf.classes_[np.argmax(clf.predict_proba(X_test), axis=1)]

    # Without a shift, the rule is on the network's own log-probabilities:
    # the calibration's bias changes no prediction.
    np.testing.assert_array_equal(clf.predict(X_test), unshifted)
    assert not np.array_equal(unshifted, argmax_proba())  # else it could not fail
    # A prior moved by a rounding moves next to no prediction.
    rounded = train * (1 + 1e-6 * np.arange(4))
    clf._set_class_prior(rounded / rounded.sum())
    assert np.mean(clf.predict(X_test) != unshifted) < 1e-3
    # Moved far (some class twice or half as frequent), "posterior" is
    # Bayes' rule: the argmax of predict_proba; after label shift too.
    clf._set_class_prior(np.full(4, 0.25))
    np.testing.assert_array_equal(clf.predict(X_test), argmax_proba())
    clf.fit_class_prior(X_test[X_test[:, 0] > np.median(X_test[:, 0])])
    assert np.max(np.abs(np.log(clf.class_prior_ / train))) > np.log(2.0)
    np.testing.assert_array_equal(clf.predict(X_test), argmax_proba())
    # And back.
    clf._set_class_prior(train)
    np.testing.assert_array_equal(clf.predict(X_test), unshifted)


@pytest.mark.parametrize("class_prior", [[0.5, 0.5], [1, 1, 1, -1], [0, 1, 1, 1]])
def test_class_prior_must_match_the_classes(tabular, class_prior, fast_params):
    with pytest.raises(ValueError, match="class_prior must hold 4 positive"):
        ImbalancedKerasClassifier(class_prior=class_prior, **fast_params).fit(*tabular)


def test_fit_temperature_and_bias_keeps_the_class_frequencies():
    # A temperature alone flattens a prior that is part of the logits: the
    # rare class's mean probability drifts above its frequency.  The biases
    # put it back (the optimum's first-order condition).
    rng = np.random.RandomState(0)
    y = rng.choice(3, size=5000, p=[0.8, 0.15, 0.05])
    logits = 0.6 * np.eye(3)[y] + rng.normal(scale=1.0, size=(5000, 3))
    logits = 3 * (logits + np.log([0.8, 0.15, 0.05]))  # over-confident
    temperature, bias = fit_temperature_and_bias(log_softmax(logits, axis=1), y)
    proba = softmax(logits / temperature + bias, axis=1)
    np.testing.assert_allclose(proba.mean(axis=0), np.bincount(y) / len(y), atol=1e-4)
    alone = softmax(logits / fit_temperature(logits, y), axis=1)
    frequency = np.mean(y == 2)
    assert abs(alone.mean(axis=0)[2] - frequency) > 0.01
    assert bias.sum() == pytest.approx(0.0, abs=1e-9)


def test_a_class_without_held_out_rows_keeps_its_probability():
    # No held-out row of class 2: its frequency there is 0, and a free bias
    # slid towards minus infinity (to -7 here), taking its probability to
    # about 1e-6.  It gets the mean of the other biases instead, and the
    # two classes present are fitted as without it.
    rng = np.random.RandomState(0)
    y = rng.choice(2, size=3000, p=[0.7, 0.3])
    logits = np.c_[0.8 * np.eye(2)[y] + rng.normal(size=(3000, 2)), np.zeros(3000)]
    logits = 2 * (logits + np.log([0.7, 0.27, 0.03]))
    temperature, bias = fit_temperature_and_bias(logits, y)
    assert bias[2] == pytest.approx(bias[:2].mean(), abs=1e-9)
    assert bias.sum() == pytest.approx(0.0, abs=1e-9)
    proba = softmax(logits / temperature + bias, axis=1)
    alone = softmax(logits / temperature, axis=1)
    assert proba[:, 2].mean() > 0.5 * alone[:, 2].mean() > 0.005
    # The optimum's first-order condition for the classes present: each
    # one's mean probability is below its frequency by the same amount (the
    # absent class's probability, shared out).
    shortfall = np.bincount(y) / len(y) - proba.mean(axis=0)[:2]
    assert shortfall[0] == pytest.approx(shortfall[1], abs=1e-4)
    assert shortfall.sum() == pytest.approx(proba[:, 2].mean(), abs=1e-4)


def test_rows_the_network_separates_do_not_sharpen_without_end():
    # Every held-out row right by a hair: the log-loss falls without end as
    # the temperature falls, and a nearly uniform network was sharpened
    # into probabilities of exactly 0 and 1 (T near scikit-learn's e^-10).
    y = np.repeat([0, 1, 2], 50)
    logits = np.eye(3)[y] * 0.05
    assert fit_temperature(logits, y) == pytest.approx(0.1, rel=1e-3)
    temperature, _ = fit_temperature_and_bias(logits, y)
    assert temperature == pytest.approx(0.1, rel=1e-3)


def test_one_row_of_wild_logits_does_not_set_the_temperature():
    # An input far outside the training data (one value of 1e6) gets logits
    # apart by about 1e5: its log-loss alone would set the temperature.
    rng = np.random.RandomState(0)
    y = rng.randint(2, size=2000)
    logits = 3 * np.c_[np.zeros(2000), 4.0 * rng.normal(4.0 * y - 2.0)]
    wild = np.r_[logits, [[0.0, -1e5]]]  # confidently wrong
    y_wild = np.r_[y, 1]
    assert fit_temperature(wild, y_wild) == pytest.approx(
        fit_temperature(logits, y), rel=1e-6
    )
    temperature, bias = fit_temperature_and_bias(wild, y_wild)
    expected, expected_bias = fit_temperature_and_bias(logits, y)
    assert temperature == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(bias, expected_bias, atol=1e-4)
    assert 2.5 < temperature < 3.5
    # Every row alike: the temperature stays within scikit-learn's bounds.
    hopeless = np.c_[np.zeros(300), np.where(y[:300] == 1, -1e6, 1e6)]
    assert fit_temperature_and_bias(hopeless, y[:300])[0] <= np.exp(10.0) * 1.0001


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1, -1], "encoded 0 .. 1"),  # read as the last class by indexing
        ([0, 1, 2], "encoded 0 .. 1"),
        ([0.0, 1.0, 1.0], "encoded 0 .. 1"),
        ([0, 1], "3 encoded labels"),
    ],
)
def test_fits_on_held_out_predictions_name_bad_labels(y, match):
    log_proba = np.log([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    for fit in (fit_temperature, fit_temperature_and_bias, macro_f1_offsets):
        with pytest.raises(ValueError, match=match):
            fit(log_proba, y)
        with pytest.raises(ValueError, match="no rows"):
            fit(np.empty((0, 2)), np.empty(0, dtype=int))
        with pytest.raises(ValueError, match="log_proba holds NaN"):
            fit(np.where([[True, False]] * 3, np.nan, log_proba), [0, 1, 1])
        with pytest.raises(ValueError, match="log_proba holds infinite"):
            fit(np.where([[True, False]] * 3, -np.inf, log_proba), [0, 1, 1])


@pytest.mark.parametrize("prior", [[1.0, np.inf], [1.0, np.nan], [1.0, 0.0]])
def test_shift_prior_refuses_a_prior_that_is_not_finite_and_positive(prior):
    log_proba = np.log([[0.9, 0.1], [0.2, 0.8]])
    for priors in (
        {"from_prior": prior, "to_prior": [0.5, 0.5]},
        {"from_prior": [0.5, 0.5], "to_prior": prior},
    ):
        with pytest.raises(ValueError, match="finite, positive class frequencies"):
            shift_prior(log_proba, **priors)


def test_calibration_is_fitted_on_the_held_out_predictions(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**dict(fast_params, validation_fraction=0.3)).fit(
        X, y
    )
    _, val = validation_split(
        y,
        classes=clf.classes_,
        validation_fraction=clf.validation_fraction,
        seed=seed_from(0),
    )
    held_out = network_log_proba(clf, X[val]) + clf.posterior_offsets_
    temperature, bias = fit_temperature_and_bias(held_out, y[val])
    assert clf.temperature_ == pytest.approx(temperature)
    np.testing.assert_allclose(clf.calibration_bias_, bias, atol=1e-8)
    expected = log_softmax(
        (network_log_proba(clf, X) + clf.posterior_offsets_) / temperature + bias,
        axis=1,
    )
    np.testing.assert_allclose(clf.predict_log_proba(X), expected, atol=1e-6)
    # Calibrated on the held-out rows: each class's mean probability there
    # is its frequency.
    np.testing.assert_allclose(
        clf.predict_proba(X[val]).mean(axis=0),
        np.bincount(y[val]) / len(val),
        atol=1e-3,
    )


# ------------------------------------------------------ class weights


def _counts(y, weights):
    return np.bincount(y) * np.asarray(weights)


def _own_logits(meta):
    """A network of the user's, outputting logits."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(meta["n_classes_"]),
        ]
    )


@pytest.mark.parametrize(
    "loss, own",
    [
        ("logit_adjusted", False),
        ("ldam", False),
        ("class_balanced", False),
        ("ldam", True),
        ("class_balanced", True),
    ],
)
def test_losses_adjust_for_the_weighted_class_counts(tabular, loss, own, fast_params):
    X, y = tabular
    weights = {0: 3.0, 1: 0.5, 2: 1.0, 3: 2.0}
    params = dict(fast_params)
    if own:
        del params["units"]  # skimb's own network's
    clf = ImbalancedKerasClassifier(
        loss=loss,
        class_weight=weights,
        model=_own_logits if own else None,
        **params,
    ).fit(X, y)
    counts = _counts(y, list(weights.values()))
    np.testing.assert_allclose(clf.weighted_class_counts_, counts)
    built = clf.model_.loss
    # The class-balanced weights are costs the decision puts back beside the
    # class weights: of the weighted counts, so that the two do not
    # compound.  On skimb's networks the weights are offsets on the logits
    # and LDAM's margins, which shape the training alone, are of the
    # unweighted counts: the network trains as without the weights
    # (test_strategies).  On a network of the user's the weights multiply
    # the loss, and the margins are of the weighted counts.
    loss_counts = np.bincount(y) if loss == "ldam" and not own else counts
    if loss != "logit_adjusted":
        # Offsets on skimb's networks only.
        assert (built.offsets is None) == own
    if loss == "logit_adjusted":
        # tau = 1: the weights are offsets the adjustment's prior absorbs
        # (n_c * w_c ** 0), and the network learns what the weighted counts
        # would have taught it (test_strategies has the formula for any tau).
        np.testing.assert_allclose(built.class_prior, np.bincount(y) / len(y))
    elif loss == "ldam":
        np.testing.assert_allclose(built.margins, ldam_margins(loss_counts))
    else:
        np.testing.assert_allclose(
            built.alpha, effective_number_weights(loss_counts, beta=clf.beta)
        )


def test_balanced_weights_leave_nothing_to_adjust(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(class_weight="balanced", **fast_params).fit(X, y)
    # Balanced weights already equalise the classes: no logit adjustment on
    # top of them (the double correction).  The adjustment takes the weights
    # as offsets, which cancel its prior's: the network trains unweighted
    # with the plain adjustment, and predict_proba undoes the weights.
    np.testing.assert_allclose(clf.model_.loss.class_prior, np.bincount(y) / len(y))
    np.testing.assert_allclose(clf.posterior_offsets_, np.log(np.bincount(y) / len(y)))


def test_sample_weight_and_class_weight_agree(tabular, fast_params):
    X, y = tabular
    weights = np.array([4.0, 0.5, 1.0, 2.0])
    by_class = ImbalancedKerasClassifier(
        class_weight=dict(enumerate(weights)), **fast_params
    ).fit(X, y)
    by_sample = ImbalancedKerasClassifier(**fast_params).fit(
        X, y, sample_weight=weights[y]
    )
    np.testing.assert_allclose(
        by_class.weighted_class_counts_, by_sample.weighted_class_counts_
    )
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X))
    np.testing.assert_array_equal(by_class.predict(X), by_sample.predict(X))


@pytest.mark.parametrize(
    "loss", ["crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam"]
)
def test_a_larger_class_weight_moves_predictions_to_its_class(known_posterior, loss):
    # Documented: a weight is a cost on that class's errors, so with the
    # posterior rule a larger weight predicts its class more often.
    X, y, X_test, _, _ = known_posterior
    params = dict(CALIBRATION, loss=loss, decision="posterior", random_state=0)
    counts = []
    for weight in (0.2, 1.0, 5.0):
        clf = ImbalancedKerasClassifier(
            class_weight={0: weight, 1: 1.0, 2: 1.0, 3: 1.0}, **params
        ).fit(X, y)
        counts.append(np.sum(clf.predict(X_test) == 0))
    assert counts[0] < counts[1] < counts[2]


def test_zero_weight_for_a_whole_class_is_refused(tabular, fast_params):
    X, y = tabular
    with pytest.raises(ValueError, match=r"Every sample of class \[2\] has weight 0"):
        ImbalancedKerasClassifier(**fast_params).fit(X, y, sample_weight=(y != 2) * 1.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss", ["crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam"]
)
def test_balanced_class_weight_does_not_lower_macro_f1(known_posterior, loss):
    X, y, X_test, y_test, _ = known_posterior
    scores = {}
    for class_weight in (None, "balanced"):
        scores[class_weight] = np.mean(
            [
                f1_score(
                    y_test,
                    ImbalancedKerasClassifier(
                        loss=loss,
                        class_weight=class_weight,
                        random_state=seed,
                        **CALIBRATION,
                    )
                    .fit(X, y)
                    .predict(X_test),
                    average="macro",
                )
                for seed in (0, 1)
            ]
        )
    # Seed noise of a two-seed mean here is about 0.01.
    assert scores["balanced"] >= scores[None] - 0.025, scores


# ------------------------------------------------------ label shift


@pytest.mark.slow
def test_fit_class_prior_follows_a_shift_of_class_frequencies(known_posterior):
    X, y, _, _, _ = known_posterior
    shifted = WEIGHTS[::-1]  # class 2 becomes the most frequent, 1 the second
    X_new, y_new = make_imbalanced_classification(
        4000, n_features=6, n_informative=3, weights=shifted, random_state=3
    )
    # The default estimator: EM needs well-calibrated probabilities.
    clf = ImbalancedKerasClassifier(random_state=0).fit(X, y)
    before = log_loss(y_new, clf.predict_proba(X_new))
    predicted_before = np.bincount(clf.predict(X_new), minlength=4)
    true_prior = np.bincount(y_new) / len(y_new)
    training_error = np.abs(clf.class_prior_ - true_prior).sum()
    clf.fit_class_prior(X_new)
    error = np.abs(clf.class_prior_ - true_prior).sum()
    assert error < 0.25 * training_error
    assert log_loss(y_new, clf.predict_proba(X_new)) < before
    # Predictions follow: the class that became frequent is predicted more
    # often, the one that became rarer less often.
    predicted = np.bincount(clf.predict(X_new), minlength=4)
    assert predicted[2] > predicted_before[2]
    assert predicted[1] < predicted_before[1]
    # fit restores class_prior.
    np.testing.assert_allclose(
        clf.fit(X, y).class_prior_, np.bincount(y) / len(y), rtol=1e-12
    )


def test_a_class_missing_from_the_held_out_rows_keeps_its_probabilities():
    # Held-out rows without class 2 (the classifier now holds out a row of
    # every class; the function is public).  Its bias once slid towards
    # minus infinity, which no frequency of 0 in the held-out rows justifies:
    # predict_proba gave the class about 0, and label shift estimated its
    # frequency as 0.  It is the mean of the other classes' biases.
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    y = np.repeat([0, 1], [400, 200])
    X = centres[y] + rng.normal(size=(600, 2))
    # Log-likelihoods of the three Gaussians, doubled: over-confident.
    logits = -((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    temperature, bias = fit_temperature_and_bias(logits, y)
    assert np.isfinite(bias).all()
    assert bias[2] == pytest.approx(bias[:2].mean())
    assert bias.sum() == pytest.approx(0.0, abs=1e-9)
    # New rows of class 2 keep most of their probability.
    X_new = centres[2] + rng.normal(size=(300, 2))
    new = -((X_new[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert softmax(new / temperature + bias, axis=1)[:, 2].mean() > 0.5


def test_class_prior_undoes_a_sampler_in_front(tabular, fast_params):
    # A sampler in a pipeline resamples y before the estimator sees it, so
    # the estimator's posterior is that of the balanced data; class_prior
    # given the frequencies before the sampler puts them back.
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.pipeline import make_pipeline

    X, y = tabular
    frequencies = np.bincount(y) / len(y)
    params = dict(fast_params, epochs=20, validation_fraction=0.3)
    balanced = make_pipeline(
        RandomOverSampler(random_state=0), ImbalancedKerasClassifier(**params)
    ).fit(X, y)
    restored = make_pipeline(
        RandomOverSampler(random_state=0),
        ImbalancedKerasClassifier(class_prior=frequencies, **params),
    ).fit(X, y)
    np.testing.assert_allclose(
        restored.predict_log_proba(X),
        shift_prior(
            balanced.predict_log_proba(X),
            from_prior=np.ones(4),
            to_prior=frequencies,
        ),
        atol=1e-6,
    )
    # On the training rows, the mean probability of the rarest class is near
    # its frequency again, where the resampled model puts it near 1/4.
    rarest = np.argmin(frequencies)
    assert abs(restored.predict_proba(X).mean(axis=0)[rarest] - frequencies[rarest]) < (
        abs(balanced.predict_proba(X).mean(axis=0)[rarest] - frequencies[rarest]) / 2
    )
