"""The public functions' numeric and shape arguments: a value that is NaN,
infinite, of the wrong type, out of range or of the wrong length gets an
error that names it, never a NaN result or a NumPy error from deep inside."""

import numpy as np
import pytest

from skimb._checks import check_number
from skimb.calibration import estimate_prior
from skimb.datasets import make_imbalanced_classification, make_imbalanced_sequences
from skimb.decision import (
    decide,
    macro_f1_offsets,
    posterior_offsets,
    prior_frequencies,
    prior_offsets,
)
from skimb.losses import (
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    ldam_margins,
    resolve_loss,
)
from skimb.metrics import confusion_scores
from skimb.plots import plot_history
from skimb.report import Report

UNIFORM = np.log(np.full((6, 3), 1 / 3))
TRAIN_PRIOR = [0.7, 0.2, 0.1]
HISTORY = {"loss": [1.0, 0.5]}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: LogitAdjustedLoss([1, 1], tau=np.nan),
            ValueError,
            "tau must be finite",
        ),
        (
            lambda: LogitAdjustedLoss([1, 1], tau=np.inf),
            ValueError,
            "tau must be finite",
        ),
        (lambda: LDAMLoss([10, 1], scale=np.inf), ValueError, "scale must be finite"),
        (lambda: LDAMLoss([10, 1], max_margin=np.inf), ValueError, "max_margin"),
        (lambda: ldam_margins([10, 1], max_margin=-1), ValueError, r"max_margin .*\(0"),
        (lambda: ldam_margins([10, 1], max_margin=np.nan), ValueError, "max_margin"),
        (lambda: FocalLoss(gamma="2"), TypeError, "gamma must be a number"),
        (lambda: FocalLoss(gamma=True), TypeError, "gamma must be a number"),
        (lambda: prior_offsets([0.5, 0.5], tau=-1), ValueError, "tau"),
        (lambda: prior_offsets([0.5, 0.5], tau=np.nan), ValueError, "tau"),
        (lambda: posterior_offsets([1, 2], tau=np.nan), ValueError, "tau"),
        (
            lambda: estimate_prior(UNIFORM[:0], train_prior=TRAIN_PRIOR),
            ValueError,
            "no rows",
        ),
        (
            lambda: estimate_prior(UNIFORM, train_prior=TRAIN_PRIOR, max_iter=-3),
            ValueError,
            "max_iter",
        ),
        (
            lambda: estimate_prior(UNIFORM, train_prior=TRAIN_PRIOR, tol="a"),
            TypeError,
            "tol must be a number",
        ),
        (
            lambda: macro_f1_offsets(UNIFORM, [0, 1, 2] * 2, n_bootstrap=-1),
            ValueError,
            "n_bootstrap",
        ),
        (
            lambda: macro_f1_offsets(UNIFORM, [0, 1, 2] * 2, n_rounds=-1),
            ValueError,
            "n_rounds",
        ),
        (
            lambda: decide(np.zeros((2, 2)), np.zeros(3)),
            ValueError,
            "offsets must hold 2 finite values, one per class",
        ),
        (
            lambda: decide(np.array([[np.nan, 0.0]]), np.zeros(2)),
            ValueError,
            "NaN .*training diverged",
        ),
        (
            lambda: decide(np.zeros((2, 2)), [0.0, np.inf]),
            ValueError,
            "offsets must hold 2 finite values",
        ),
        (
            lambda: confusion_scores([0, 1], [0, 1], n_classes=2.0),
            TypeError,
            "n_classes must be an integer",
        ),
        (
            lambda: make_imbalanced_sequences(100, n_timesteps=2.5),
            TypeError,
            "n_timesteps",
        ),
        (
            lambda: make_imbalanced_classification(100, n_features=np.inf),
            TypeError,
            "n_features",
        ),
        (
            lambda: resolve_loss("crossentropy", offsets=[np.nan, 0.0]),
            ValueError,
            "offsets must hold 2 finite values",
        ),
        (
            lambda: DeferredReweighting(LDAMLoss([10, 1]), [1, np.nan], 2),
            ValueError,
            "class_weight",
        ),
        (
            lambda: DeferredReweighting(LDAMLoss([10, 1]), [1, 2], 1.5),
            TypeError,
            "start_epoch",
        ),
        (
            lambda: confusion_scores([0, 1, 1], [0, 1], n_classes=2),
            ValueError,
            "got 3 and 2",
        ),
        (
            lambda: prior_frequencies(
                {0: 0.2, 1: 0.8}, np.array([3, 1]), np.array([0, 1])
            ),
            TypeError,
            r"class_prior takes .* in the order of classes_ \[0, 1\]; got a dict",
        ),
        (
            lambda: make_imbalanced_classification(100, weights=(1, np.nan)),
            ValueError,
            "finite, positive class sizes",
        ),
        (
            lambda: make_imbalanced_sequences(100, weights=(1, np.inf)),
            ValueError,
            "finite, positive class sizes",
        ),
        (
            lambda: make_imbalanced_classification(100, weights={0: 1, 1: 2}),
            TypeError,
            "weights must be a sequence",
        ),
        (
            lambda: make_imbalanced_classification(100, class_sep=np.nan),
            ValueError,
            "class_sep must be finite",
        ),
        (lambda: make_imbalanced_classification(100.7), TypeError, "n_samples"),
        (lambda: make_imbalanced_sequences("100"), TypeError, "n_samples"),
        (
            lambda: plot_history(HISTORY, best_epoch=1.5),
            TypeError,
            "best_epoch must be an integer",
        ),
        (
            lambda: plot_history(HISTORY, best_epoch=True),
            TypeError,
            "best_epoch must be an integer",
        ),
        (
            lambda: Report("r").add_table("t", [{"a": 1.0}], highlight=7),
            ValueError,
            "highlight",
        ),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_check_number_takes_what_numbers_are_passed_as():
    assert check_number(np.float32(0.5), "x") == 0.5
    assert check_number(np.array(2.0), "x") == 2.0  # a 0-d array
    assert check_number(np.int64(3), "n", integer=True) == 3
    assert check_number(10**20, "n", integer=True) == 10**20  # beyond int64
    with pytest.raises(TypeError, match="x must be a number; got True"):
        check_number(True, "x")
    with pytest.raises(ValueError, match=r"x must be in \(0, 1\]; got 0"):
        check_number(0, "x", low_open=True, high=1, high_open=False)


def test_checks_leave_good_values_as_they_were():
    # The same results as before the checks: integers stay integers where
    # they count, and -inf (a log-probability of 0) is still decided on.
    assert decide(np.array([[-np.inf, 0.0]]), np.zeros(2)).tolist() == [1]
    # One EM step: the mean of the posteriors.
    one_step = estimate_prior(UNIFORM, train_prior=TRAIN_PRIOR, max_iter=np.int64(1))
    np.testing.assert_allclose(one_step, [1 / 3] * 3)
    X, y = make_imbalanced_classification(np.int64(300), random_state=0)
    assert X.shape == (300, 20)
    # A negative class_sep mirrors the layout; 0 EM steps or ascent rounds
    # leave the start as it is.
    make_imbalanced_sequences(100, class_sep=-0.4, random_state=0)
    np.testing.assert_allclose(
        estimate_prior(UNIFORM, train_prior=TRAIN_PRIOR, max_iter=0), TRAIN_PRIOR
    )
    assert plot_history(HISTORY, best_epoch=np.int64(1)) is not None
    Report("r").add_table("t", [{"a": 1.0}], highlight=np.int64(0))


def test_offsets_of_no_class_or_of_two_dimensions_are_refused():
    from skimb._checks import check_offsets

    for offsets in ([], [[0.0, 1.0]]):
        with pytest.raises(ValueError, match="offsets must be a vector"):
            check_offsets(offsets, "offsets")
    assert check_offsets([0, 1], "offsets").tolist() == [0.0, 1.0]
