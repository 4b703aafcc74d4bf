"""Loss strategies and decision rules as estimator parameters."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from scipy.special import log_softmax  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._random import seed_from  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
from skimb.class_weight import effective_number_weights  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402
from skimb.decision import macro_f1_offsets, posterior_offsets  # noqa: E402
from skimb.losses import (  # noqa: E402
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
)
from tests.support import network_log_proba, network_offsets  # noqa: E402

# A validation split large enough for every class to have 5+ samples.


@pytest.fixture(scope="module")
def split_params(fast_params):
    """Fast settings with a validation split large enough to tune on."""
    return dict(fast_params, validation_fraction=0.3)


@pytest.mark.parametrize(
    "loss, kind",
    [
        ("class_balanced", ClassBalancedLoss),
        ("logit_adjusted", LogitAdjustedLoss),
        ("ldam", LDAMLoss),
    ],
)
def test_prior_aware_losses_use_the_counts_of_fit(tabular, loss, kind, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(loss=loss, **fast_params).fit(X, y)
    counts = np.bincount(y)
    np.testing.assert_array_equal(clf.class_counts_, counts)
    assert isinstance(clf.model_.loss, kind)
    if kind is LogitAdjustedLoss:
        np.testing.assert_allclose(clf.model_.loss.class_prior, counts / counts.sum())
    else:
        np.testing.assert_array_equal(clf.model_.loss.class_counts, counts)
    assert clf.predict_proba(X[:5]).sum(axis=1) == pytest.approx(np.ones(5))


def test_class_balanced_loss_is_focal_with_effective_weights(tabular, fast_params):
    # The class-balanced loss multiplies its effective-number weights in:
    # it trains as the focal loss with those weights as its alpha.
    X, y = tabular
    params = dict(fast_params, gamma=1.0, beta=0.99)
    alpha = effective_number_weights(np.bincount(y), beta=0.99)
    balanced = ImbalancedKerasClassifier(loss="class_balanced", **params).fit(X, y)
    focal = ImbalancedKerasClassifier(
        loss=FocalLoss(gamma=1.0, alpha=alpha), **params
    ).fit(X, y)
    np.testing.assert_allclose(balanced.model_.loss.alpha, alpha)
    np.testing.assert_allclose(
        network_log_proba(balanced, X), network_log_proba(focal, X), atol=1e-5
    )


def test_logit_adjusted_predicts_from_the_raw_logits(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss="logit_adjusted", decision="argmax", **fast_params
    )
    clf.fit(X, y)
    logits = keras.ops.convert_to_numpy(clf.model_(X[:20].astype(np.float32)))
    np.testing.assert_array_equal(clf.predict(X[:20]), logits.argmax(axis=1))
    # predict_proba puts the prior the adjustment took out back in: the
    # posterior of the data, at the fitted temperature.
    prior = np.bincount(y) / len(y)
    expected = log_softmax(
        (log_softmax(logits, axis=1) + np.log(prior)) / clf.temperature_
        + clf.calibration_bias_,
        axis=1,
    )
    np.testing.assert_allclose(clf.predict_log_proba(X[:20]), expected, atol=1e-5)
    np.testing.assert_allclose(clf.posterior_offsets_, np.log(prior))


def test_drw_switches_ldam_to_effective_weights(tabular, fast_params):
    X, y = tabular
    params = dict(fast_params, epochs=3, early_stopping=False, beta=0.99)
    clf = ImbalancedKerasClassifier(loss="ldam", drw=1, **params).fit(X, y)
    expected = effective_number_weights(np.bincount(y), beta=0.99)
    weights = keras.ops.convert_to_numpy(clf.model_.loss.class_weight)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    late = ImbalancedKerasClassifier(loss="ldam", drw=5, **params).fit(X, y)
    weights = keras.ops.convert_to_numpy(late.model_.loss.class_weight)
    np.testing.assert_array_equal(weights, np.ones(4))


def test_drw_counts_the_epochs_of_earlier_partial_fit_calls(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(loss="ldam", drw=1, beta=0.99, **fast_params)
    plain = ImbalancedKerasClassifier(loss="ldam", beta=0.99, **fast_params)
    clf.partial_fit(X, y)  # epoch 0: the loss's own weights
    weights = keras.ops.convert_to_numpy(clf.model_.loss.class_weight)
    np.testing.assert_array_equal(weights, np.ones(4))
    # The probabilities undo no re-weighting that has not happened yet.
    plain.partial_fit(X, y)
    np.testing.assert_allclose(clf.posterior_offsets_, plain.posterior_offsets_)
    np.testing.assert_array_equal(clf.loss_weights_, np.ones(4))
    # Without held-out rows the rule is "posterior"; the benchmarks' other
    # rules are set on the same posterior.
    assert clf.decision_rule_ == "posterior"
    np.testing.assert_allclose(clf._rule_offsets("posterior")[0], clf.decision_offsets_)
    for calls in (2, 3):  # epochs 1 and 2: the effective-number weights
        clf.partial_fit(X, y)
        weights = keras.ops.convert_to_numpy(clf.model_.loss.class_weight)
        # Of the rows of every call so far.
        expected = effective_number_weights(calls * np.bincount(y), beta=0.99)
        np.testing.assert_allclose(weights, expected, rtol=1e-6)
        plain.partial_fit(X, y)
        np.testing.assert_allclose(clf.loss_weights_, expected)
        np.testing.assert_allclose(
            clf._rule_offsets("posterior")[0], clf.decision_offsets_
        )
        # Up to a constant, the offsets take the loss's weights out.
        moved = clf.posterior_offsets_ - plain.posterior_offsets_
        np.testing.assert_allclose(
            moved - moved.mean(), np.log(expected).mean() - np.log(expected)
        )


def test_decision_rule_does_not_change_the_network(tabular, split_params):
    X, y = tabular
    probas = [
        ImbalancedKerasClassifier(decision=rule, **split_params)
        .fit(X, y)
        .predict_proba(X)
        for rule in ("argmax", "prior_corrected", "posterior", "macro_f1")
    ]
    for other in probas[1:]:
        np.testing.assert_array_equal(probas[0], other)


def test_argmax_predicts_the_networks_most_probable_class(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(decision="argmax", **dict(fast_params, epochs=1))
    clf.fit(X, y)
    assert clf.decision_rule_ == "argmax"
    np.testing.assert_array_equal(
        clf.predict(X), network_log_proba(clf, X).argmax(axis=1)
    )
    # Crossentropy learns the posterior itself: nothing to undo, and the
    # rule's offsets on predict_log_proba only take the calibration out.
    plain = ImbalancedKerasClassifier(
        loss="crossentropy", decision="argmax", **dict(fast_params, epochs=1)
    ).fit(X, y)
    np.testing.assert_allclose(plain.posterior_offsets_, np.zeros(4), atol=1e-12)
    np.testing.assert_allclose(plain.decision_offsets_, -plain.calibration_bias_)
    np.testing.assert_array_equal(
        plain.predict(X), network_log_proba(plain, X).argmax(axis=1)
    )


def test_prior_corrected_subtracts_tau_log_prior(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss="crossentropy", decision="prior_corrected", tau=0.7, **fast_params
    )
    clf.fit(X, y)
    prior = np.bincount(y) / len(y)
    network = network_log_proba(clf, X)
    expected = network - 0.7 * np.log(prior)
    np.testing.assert_array_equal(clf.predict(X), expected.argmax(axis=1))
    np.testing.assert_allclose(
        clf.decision_function(X),
        clf.predict_log_proba(X)
        + (-0.7 * np.log(prior)) / clf.temperature_
        - clf.calibration_bias_,
        atol=1e-6,
    )
    # The rare classes are predicted at least as often as under argmax.
    argmax = np.bincount(network.argmax(axis=1), minlength=4)
    corrected = np.bincount(clf.predict(X), minlength=4)
    assert corrected[np.argmin(prior)] >= argmax[np.argmin(prior)]


def test_macro_f1_offsets_are_tuned_on_the_validation_split(tabular, split_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(decision="macro_f1", **split_params).fit(X, y)
    assert clf.decision_rule_ == "macro_f1"
    _, val = validation_split(
        np.searchsorted(clf.classes_, y),
        classes=clf.classes_,
        validation_fraction=clf.validation_fraction,
        seed=seed_from(0),
    )
    start = posterior_offsets(np.bincount(y), tau=clf.tau)
    network = network_log_proba(clf, X)
    offsets, tuned = macro_f1_offsets(network[val], y[val], start=start, random_state=0)
    assert tuned
    np.testing.assert_allclose(network_offsets(clf), offsets, atol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), (network + offsets).argmax(axis=1))
    # Never below the network's argmax on the split it was tuned on.
    from sklearn.metrics import f1_score

    argmax = f1_score(y[val], network[val].argmax(axis=1), average="macro")
    assert clf.score(X[val], y[val]) >= argmax


def test_macro_f1_falls_back_to_the_posterior_with_tiny_validation_classes(
    tabular, fast_params
):
    X, y = tabular  # class 0 has 10 samples: 1 or 2 in a 10% validation split
    clf = ImbalancedKerasClassifier(decision="macro_f1", **fast_params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert clf.decision_rule_ == "posterior"
    # The logit-adjusted network's balanced logits, shifted back by log(prior):
    # the argmax of predict_proba.
    prior = np.bincount(y) / len(y)
    np.testing.assert_allclose(network_offsets(clf), np.log(prior))
    np.testing.assert_allclose(clf.decision_offsets_, -clf.calibration_bias_)
    expected = network_log_proba(clf, X) + np.log(prior)
    np.testing.assert_array_equal(clf.predict(X), expected.argmax(axis=1))


def test_macro_f1_keeps_the_posterior_without_a_validation_split(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss="crossentropy",
        decision="macro_f1",
        validation_fraction=0.0,
        early_stopping=False,
        **fast_params,
    ).fit(X, y)
    assert clf.decision_rule_ == "posterior"
    # Plain crossentropy learns the posterior: nothing to undo, and no
    # held-out data to fit a temperature on.
    np.testing.assert_allclose(clf.decision_offsets_, np.zeros(4), atol=1e-12)
    assert clf.temperature_ == 1.0
    np.testing.assert_array_equal(clf.calibration_bias_, np.zeros(4))


def _effective(pi):
    return effective_number_weights(pi * 340, beta=0.999)


@pytest.mark.parametrize(
    "params, posterior, rule",
    [
        # posterior_offsets_: log pi - (1 - tau) log pi', with pi' the
        # weighted classes the loss saw (batches' counts times mean weight);
        # the posterior rule puts the weights back as costs (+ log w).
        ({"loss": "crossentropy"}, lambda pi: 0 * pi, lambda pi: 0 * pi),
        (
            {"loss": "logit_adjusted", "tau": 0.5},
            lambda pi: 0.5 * np.log(pi),
            lambda pi: 0.5 * np.log(pi),
        ),
        (
            {"loss": "crossentropy", "class_weight": "balanced"},
            lambda pi: np.log(pi) - np.log(pi / pi),  # weighted classes: uniform
            # The costs are the weights the network learned with: its argmax.
            lambda pi: 0 * pi,
        ),
        (
            {"loss": "crossentropy", "batch_sampler": "over"},
            lambda pi: np.log(pi) - np.log(0.25),
            lambda pi: np.log(pi) - np.log(0.25),
        ),
        (
            {"loss": "logit_adjusted", "class_weight": "effective"},
            lambda pi: np.log(pi),
            lambda pi: np.log(pi) + np.log(_effective(pi)),
        ),
    ],
)
def test_posterior_rule_undoes_what_the_loss_adjusts(
    tabular, params, posterior, rule, fast_params
):
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        decision="posterior", **dict(fast_params, epochs=1), **params
    ).fit(X, y)
    pi = np.bincount(y) / len(y)

    def same(offsets, reference):  # offsets matter up to a shared constant
        np.testing.assert_allclose(
            offsets - offsets[0], reference - reference[0], atol=1e-9
        )

    same(clf.posterior_offsets_, posterior(pi))
    same(network_offsets(clf), rule(pi))
    np.testing.assert_array_equal(
        clf.predict(X), (network_log_proba(clf, X) + rule(pi)).argmax(axis=1)
    )


def test_partial_fit_keeps_a_rule_without_validation(tabular, fast_params):
    X, y = tabular
    clf = ImbalancedKerasClassifier(decision="macro_f1", **fast_params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(X, y)
    assert clf.decision_rule_ == "posterior"
    prior = ImbalancedKerasClassifier(decision="prior_corrected", **fast_params)
    prior.partial_fit(X[:50], y[:50], classes=np.arange(4))
    assert np.all(np.isfinite(prior.decision_offsets_))


@pytest.mark.parametrize("loss", ["class_balanced", "logit_adjusted", "ldam"])
def test_fitted_strategies_pickle(tabular, loss, fast_params):
    import pickle

    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss=loss,
        decision="prior_corrected",
        drw=1 if loss == "ldam" else None,
        **fast_params,
    ).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert type(restored.model_.loss) is type(clf.model_.loss)
    assert restored.model_.loss.get_config() == clf.model_.loss.get_config()
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


@pytest.mark.parametrize("batch_sampler", ["over", "under"])
def test_priors_follow_the_balanced_batches(tabular, batch_sampler, fast_params):
    # Batches drawn balanced have a uniform prior: adjusting the logits by the
    # prior of y would correct an imbalance the network never sees.
    X, y = tabular
    clf = ImbalancedKerasClassifier(
        loss="logit_adjusted",
        decision="prior_corrected",
        batch_sampler=batch_sampler,
        **dict(fast_params, epochs=1),
    ).fit(X, y)
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y))
    counts = clf.train_class_counts_
    assert len(set(counts.tolist())) == 1
    np.testing.assert_allclose(clf.model_.loss.class_prior, np.full(4, 0.25))
    np.testing.assert_allclose(network_offsets(clf), np.full(4, np.log(4)))
    # predict_proba is still the posterior under the frequencies of y.
    pi = np.bincount(y) / len(y)
    np.testing.assert_allclose(clf.posterior_offsets_, np.log(pi))


@pytest.mark.parametrize(
    "loss, tau",
    [
        ("logit_adjusted", 0.5),
        ("logit_adjusted", 1.0),
        ("logit_adjusted", 2.0),
        ("crossentropy", 0.0),
        ("focal", 0.0),
        ("class_balanced", 0.0),
        ("ldam", 0.0),
    ],
)
def test_class_weights_become_offsets_on_the_logits(
    tabular, fast_params, monkeypatch, loss, tau
):
    # A class's mean weight w_c moves into offsets on the logits,
    # tau log n_c - (1 - tau) log w_c (tau = 0 but for the logit-adjusted
    # loss), and the sample weights the loss multiplies keep only their
    # spread within each class.
    import skimb._fitting

    X, y = tabular
    class_weight = {0: 4.0, 1: 1.0, 2: 2.0, 3: 0.5}
    sample_weight = np.random.RandomState(0).uniform(0.5, 1.5, len(y))
    seen = []
    plan_for = skimb._fitting.plan_for

    def spy(*args, **kwargs):
        seen.append((kwargs["weights"], kwargs["class_weight"]))
        return plan_for(*args, **kwargs)

    monkeypatch.setattr(skimb._fitting, "plan_for", spy)
    clf = ImbalancedKerasClassifier(
        loss=loss,
        tau=tau or 1.0,
        class_weight=class_weight,
        **dict(fast_params, epochs=1, cv=None),
    ).fit(X, y, sample_weight=sample_weight)
    weights = sample_weight * np.array([class_weight[c] for c in y])
    counts = np.bincount(y)
    mean = np.bincount(y, weights=weights) / counts
    np.testing.assert_allclose(seen[0][0], weights / mean[y], rtol=1e-6)
    np.testing.assert_allclose(seen[0][1], list(class_weight.values()) / mean)
    built = clf.model_.loss
    if loss in ("logit_adjusted", "crossentropy"):
        # The logit-adjusted loss holds its offsets as the log-prior of a
        # loss of tau max(tau, 1), taken in logs (never a prior that
        # underflows); crossentropy's, of tau 1.
        assert isinstance(built, LogitAdjustedLoss)
        assert built.tau == max(tau, 1.0)
        offsets = built.tau * np.log(built.class_prior)
    else:
        offsets = np.array(built.offsets)
    if loss == "ldam":
        # Its margins shape the training alone: of the unweighted counts.
        np.testing.assert_array_equal(built.class_counts, counts)
    reference = tau * np.log(counts) - (1 - tau) * np.log(mean)
    np.testing.assert_allclose(
        offsets - offsets[0], reference - reference[0], rtol=1e-6
    )
    # What the network learns is unchanged, so is the posterior's undoing:
    # log pi - (1 - tau) log(n_c * w_c * a_c), up to a constant, a_c the
    # weights the class-balanced loss still multiplies in (else 1).
    alpha = np.array(built.alpha) if loss == "class_balanced" else 1.0
    reference = np.log(counts) - (1 - tau) * np.log(counts * mean * alpha)
    offsets = clf.posterior_offsets_
    np.testing.assert_allclose(
        offsets - offsets[0], reference - reference[0], atol=1e-9
    )


def test_balanced_weights_train_the_logit_adjusted_network_unweighted(
    tabular, fast_params
):
    # With tau = 1 and balanced weights every class's weight is an offset
    # that the adjustment's prior absorbs: the network trains exactly as
    # without weights, and only the decision's costs differ.
    X, y = tabular
    params = dict(fast_params, epochs=3, decision="posterior")
    plain = ImbalancedKerasClassifier(**params).fit(X, y)
    balanced = ImbalancedKerasClassifier(class_weight="balanced", **params).fit(X, y)
    np.testing.assert_allclose(
        network_log_proba(balanced, X), network_log_proba(plain, X), atol=1e-6
    )
    # The costs 1 / pi put back by the posterior rule: the balanced decision.
    pi = np.bincount(y) / len(y)
    moved = network_offsets(balanced) - network_offsets(plain)
    np.testing.assert_allclose(moved - moved[0], -np.log(pi) + np.log(pi[0]), atol=1e-9)


@pytest.mark.parametrize("tau", [0.05, 0.001, 100.0])
def test_an_extreme_tau_with_class_weights_trains_as_tau_one(tau):
    # With balanced weights the offsets tau log n_c - (1 - tau) log w_c are
    # log n_c for every tau, so the network trains as at tau = 1.  The prior
    # n_c w_c^((tau - 1) / tau) they come from is 1e-44 at tau = 0.05 on a
    # class 100 times rarer (0 in float32, a NaN loss) and 0 in float64 at
    # tau = 0.001; the prior n_c^tau of tau = 100 is 1e-200.
    X, y = make_imbalanced_classification(
        400, n_features=5, n_informative=3, weights=(100, 1), random_state=0
    )
    params = dict(
        units=4, n_layers=1, epochs=3, cv=None, validation_fraction=0.0,
        early_stopping=False, class_weight="balanced", random_state=0,
    )  # fmt: skip
    small = ImbalancedKerasClassifier(tau=tau, **params).fit(X, y)
    one = ImbalancedKerasClassifier(tau=1.0, **params).fit(X, y)
    assert np.all(np.isfinite(small.history_["loss"]))
    np.testing.assert_allclose(small.history_["loss"], one.history_["loss"], rtol=1e-5)


@pytest.mark.parametrize("loss", ["crossentropy", "focal", "ldam"])
def test_weights_as_offsets_train_the_network_as_without_them(
    tabular, fast_params, loss
):
    # The bias log w_c and the loss's offsets -log w_c cancel, and LDAM's
    # margins are of the unweighted counts: the network trains exactly as
    # without weights, its logits shifted by log w_c (the minimiser of the
    # weighted crossentropy).
    from skimb._inference import forward

    X, y = tabular
    class_weight = {0: 3.0, 1: 0.5, 2: 1.0, 3: 2.0}
    params = dict(fast_params, loss=loss, epochs=3, early_stopping=False, cv=None)
    plain = ImbalancedKerasClassifier(**params).fit(X, y)
    weighted = ImbalancedKerasClassifier(class_weight=class_weight, **params).fit(X, y)
    X32 = np.asarray(X, dtype=np.float32)
    shift = forward(weighted.model_, X32) - forward(plain.model_, X32)
    log_w = np.log(list(class_weight.values()))
    np.testing.assert_allclose(
        shift, np.tile(log_w - log_w.mean(), (len(X), 1)), atol=1e-4
    )


@pytest.mark.parametrize("loss", ["crossentropy", "focal", "class_balanced", "ldam"])
def test_offset_losses_start_where_the_weighted_loss_started(
    tabular, fast_params, loss
):
    # The offsets -log w_c alone would start the predictions in proportion
    # to 1 / w_c; the logits' bias log w_c starts them uniform.
    X, y = tabular
    class_weight = {0: 0.2, 1: 1.0, 2: 3.0, 3: 1.0}
    clf = ImbalancedKerasClassifier(
        loss=loss, class_weight=class_weight, **fast_params
    ).initialize(X, y)
    bias = clf.model_.get_layer("logits").get_weights()[1]
    log_w = np.log(list(class_weight.values()))
    np.testing.assert_allclose(bias, log_w - log_w.mean(), rtol=1e-6)
    # The loss's offsets and the bias cancel: the logits start as the
    # weighted loss's did, with no class ahead.
    built = clf.model_.loss
    if loss == "crossentropy":
        offsets = np.log(built.class_prior)
    else:
        offsets = np.array(built.offsets)
    start = offsets + bias
    np.testing.assert_allclose(start, np.full(4, start[0]), rtol=1e-6)
