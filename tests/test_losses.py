"""Each loss against a NumPy reference of its formula."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from scipy.special import log_softmax  # noqa: E402

from skimb._loss_values import assign_loss  # noqa: E402
from skimb.losses import (  # noqa: E402
    KERAS_LOSS_NAMES,
    ClassBalancedLoss,
    DeferredReweighting,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    ldam_margins,
    resolve_loss,
)

RNG = np.random.RandomState(0)
N, C = 64, 4
LOGITS = (3 * RNG.normal(size=(N, C))).astype(np.float32)
LABELS = RNG.randint(C, size=N)
ONE_HOT = np.eye(C, dtype=np.float32)[LABELS]


def focal_reference(labels, logits, gamma, alpha=None, weights=None):
    """-alpha_y (1 - p_y)^gamma log p_y, averaged over the batch."""
    log_p = log_softmax(logits.astype(np.float64), axis=1)[
        np.arange(len(labels)), labels
    ]
    loss = -((1 - np.exp(log_p)) ** gamma) * log_p
    if alpha is not None:
        loss = loss * np.asarray(alpha)[labels]
    if weights is not None:
        loss = loss * weights
    return loss.mean()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, [0.25, 1.0, 2.0, 4.0]])
def test_focal_matches_reference(gamma, alpha):
    value = float(FocalLoss(gamma=gamma, alpha=alpha)(ONE_HOT, LOGITS))
    assert value == pytest.approx(
        focal_reference(LABELS, LOGITS, gamma, alpha), rel=1e-5
    )


def test_focal_with_probabilities_matches_reference():
    proba = np.exp(log_softmax(LOGITS, axis=1)).astype(np.float32)
    value = float(FocalLoss(gamma=2.0, from_logits=False)(ONE_HOT, proba))
    assert value == pytest.approx(focal_reference(LABELS, LOGITS, 2.0), rel=1e-4)


def test_focal_scales_probabilities_to_sum_to_one_as_keras_does():
    # Rows that do not sum to 1: Keras' crossentropy rescales them first.
    proba = np.exp(log_softmax(LOGITS, axis=1)).astype(np.float32)
    proba *= RNG.uniform(0.5, 1.5, size=(N, 1)).astype(np.float32)
    crossentropy = keras.losses.CategoricalCrossentropy()
    value = float(FocalLoss(gamma=0.0, from_logits=False)(ONE_HOT, proba))
    assert value == pytest.approx(float(crossentropy(ONE_HOT, proba)), rel=1e-5)


def test_focal_sample_weight_follows_keras_reduction():
    weights = RNG.uniform(0, 2, size=N).astype(np.float32)
    value = float(FocalLoss(gamma=2.0)(ONE_HOT, LOGITS, sample_weight=weights))
    expected = focal_reference(LABELS, LOGITS, 2.0, weights=weights)
    assert value == pytest.approx(expected, rel=1e-5)


def test_focal_gamma_zero_is_crossentropy():
    crossentropy = keras.losses.CategoricalCrossentropy(from_logits=True)
    assert float(FocalLoss(gamma=0.0)(ONE_HOT, LOGITS)) == pytest.approx(
        float(crossentropy(ONE_HOT, LOGITS)), rel=1e-6
    )


def numeric_gradient(reference):
    """Central finite differences of a NumPy reference at LOGITS."""
    numeric = np.zeros_like(LOGITS, dtype=np.float64)
    eps = 1e-3
    for i in range(N):
        for j in range(C):
            up, down = LOGITS.astype(np.float64), LOGITS.astype(np.float64)
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = (reference(up) - reference(down)) / (2 * eps)
    return numeric


def gradient(loss, y_true, logits):
    """The loss's gradient in the logits, by the backend's autodiff."""
    logits = np.asarray(logits, dtype=np.float32)
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(lambda z: loss(y_true, z))(logits))
    import tensorflow as tf

    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(y_true, variable)
    return tape.gradient(value, variable).numpy()


def keras_gradient(loss):
    return gradient(loss, ONE_HOT, LOGITS)


def assert_pushes_the_true_class_up(grad):
    # A gradient step raises the true-class logit, lowers the others.
    assert np.all(grad[np.arange(N), LABELS] <= 0)
    assert np.all(grad[ONE_HOT == 0] >= 0)


def test_focal_gradient_matches_reference_and_pushes_the_true_class_up():
    gamma, alpha = 2.0, [0.5, 1.0, 1.5, 2.0]
    grad = keras_gradient(FocalLoss(gamma=gamma, alpha=alpha))
    numeric = numeric_gradient(lambda z: focal_reference(LABELS, z, gamma, alpha))
    np.testing.assert_allclose(grad, numeric, atol=2e-5)
    assert_pushes_the_true_class_up(grad)


def test_focal_down_weights_easy_examples():
    easy = np.array([[6.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    hard = np.array([[0.5, 0.0, 0.0, 0.0]], dtype=np.float32)
    target = np.eye(C, dtype=np.float32)[[0]]
    ce = keras.losses.CategoricalCrossentropy(from_logits=True)
    ratio_easy = float(FocalLoss()(target, easy)) / float(ce(target, easy))
    ratio_hard = float(FocalLoss()(target, hard)) / float(ce(target, hard))
    assert ratio_easy < 1e-4 < ratio_hard


def test_focal_serializes():
    loss = FocalLoss(gamma=1.5, alpha=[1.0, 2.0, 3.0, 4.0])
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, FocalLoss)
    assert restored.get_config() == loss.get_config()
    assert float(restored(ONE_HOT, LOGITS)) == float(loss(ONE_HOT, LOGITS))


@pytest.mark.parametrize(
    "kwargs, match", [({"gamma": -0.1}, "gamma"), ({"alpha": [1, -1]}, "alpha")]
)
def test_focal_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FocalLoss(**kwargs)


@pytest.mark.parametrize(
    "loss, logits, sparse",
    [
        ("crossentropy", True, False),
        ("focal", True, False),
        (keras.losses.CategoricalCrossentropy(), False, False),
        (keras.losses.CategoricalFocalCrossentropy(from_logits=True), True, False),
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True), True, True),
        (keras.losses.sparse_categorical_crossentropy, False, True),
    ],
)
def test_resolve_loss_reads_what_the_loss_takes(loss, logits, sparse):
    _, got_logits, got_sparse = resolve_loss(loss)
    assert (got_logits, got_sparse) == (logits, sparse)


def test_resolve_loss_rejects_unknown_names():
    # "hinge" is a Keras name too, of a binary loss: refused.
    for name in ("hinge", "mse", "cross_entropy"):
        with pytest.raises(ValueError, match="loss must be one of"):
            resolve_loss(name)


@pytest.mark.parametrize("name", KERAS_LOSS_NAMES)
def test_keras_loss_names_are_keras_functions_of_those_names(name):
    built, logits, sparse = resolve_loss(name)
    function = keras.losses.get(name)
    assert built.fn is function
    assert (logits, sparse) == resolve_loss(function)[1:]
    assert sparse is (name == "sparse_categorical_crossentropy")
    targets = LABELS if sparse else ONE_HOT
    probabilities = keras.ops.softmax(LOGITS)
    expected = keras.ops.mean(function(targets, probabilities))
    assert float(built(targets, probabilities)) == pytest.approx(float(expected))


@pytest.mark.parametrize("loss", ["class_balanced", "logit_adjusted", "ldam"])
def test_resolve_loss_needs_class_counts_for_prior_aware_losses(loss):
    with pytest.raises(ValueError, match="class_counts"):
        resolve_loss(loss)
    built, logits, sparse = resolve_loss(loss, class_counts=COUNTS)
    assert (logits, sparse) == (True, False)
    assert isinstance(built, (ClassBalancedLoss, LogitAdjustedLoss, LDAMLoss))


# --------------------------------------------------------- class-balanced

COUNTS = np.array([5000.0, 300.0, 900.0, 40.0])


def effective_reference(counts, beta):
    """(1 - beta) / (1 - beta^n_c), normalised to sum to C (Cui et al.)."""
    weights = (1 - beta) / (1 - beta ** np.asarray(counts, dtype=np.float64))
    return weights / weights.sum() * len(counts)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("beta", [0.9, 0.999, 0.9999])
def test_class_balanced_matches_reference(beta, gamma):
    loss = ClassBalancedLoss(COUNTS, beta=beta, gamma=gamma)
    alpha = effective_reference(COUNTS, beta)
    np.testing.assert_allclose(loss.alpha, alpha, rtol=1e-10)
    assert alpha.sum() == pytest.approx(C)
    expected = focal_reference(LABELS, LOGITS, gamma, alpha)
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)
    grad = keras_gradient(loss)
    numeric = numeric_gradient(lambda z: focal_reference(LABELS, z, gamma, alpha))
    np.testing.assert_allclose(grad, numeric, atol=2e-5)
    assert_pushes_the_true_class_up(grad)


def test_class_balanced_weights_rare_classes_more():
    alpha = np.array(ClassBalancedLoss(COUNTS, beta=0.999).alpha)
    assert list(np.argsort(alpha)) == list(np.argsort(-COUNTS))


# ---------------------------------------------------------- logit-adjusted


def logit_adjusted_reference(labels, logits, prior, tau):
    """-log softmax(z + tau log pi)_y, averaged over the batch."""
    adjusted = logits.astype(np.float64) + tau * np.log(prior / prior.sum())
    return -log_softmax(adjusted, axis=1)[np.arange(len(labels)), labels].mean()


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_matches_reference(tau):
    loss = LogitAdjustedLoss(COUNTS, tau=tau)
    expected = logit_adjusted_reference(LABELS, LOGITS, COUNTS, tau)
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)
    grad = keras_gradient(loss)
    numeric = numeric_gradient(
        lambda z: logit_adjusted_reference(LABELS, z, COUNTS, tau)
    )
    np.testing.assert_allclose(grad, numeric, atol=2e-5)
    assert_pushes_the_true_class_up(grad)


def test_logit_adjusted_takes_a_prior_that_float32_rounds_to_zero():
    # The log-prior is taken in float64: 1e-50 is 0 in float32, whose log
    # would make the loss NaN.
    prior = np.array([1.0, 1e-50, 1e-30, 0.5])
    loss = LogitAdjustedLoss(prior, tau=0.5)
    expected = logit_adjusted_reference(LABELS, LOGITS, prior, 0.5)
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "loss, name",
    [
        (FocalLoss(alpha=[1.0, 2.0]), "FocalLoss's alpha"),
        (FocalLoss(offsets=[0.0, 1.0]), "FocalLoss's offsets"),
        (LogitAdjustedLoss([0.5, 0.5]), "LogitAdjustedLoss's class_prior"),
        (LDAMLoss([10, 1]), "LDAMLoss's class_counts"),
        (ClassBalancedLoss([10, 1]), "ClassBalancedLoss's class_counts"),
    ],
)
def test_per_class_values_must_be_one_per_class_of_the_predictions(loss, name):
    with pytest.raises(ValueError, match=f"{name} holds 2 values, one per class, "):
        loss(ONE_HOT, LOGITS)


def test_logit_adjusted_optimum_is_the_posterior_without_the_prior():
    # For a point whose true posterior is eta, the expected loss is the loss
    # against the soft target eta; its gradient softmax(z + tau log pi) - eta
    # vanishes at z = log eta - tau log pi: the balanced posterior, not the
    # posterior itself.
    eta = np.array([[0.7, 0.1, 0.15, 0.05]], dtype=np.float32)
    prior = COUNTS / COUNTS.sum()
    loss = LogitAdjustedLoss(COUNTS, tau=1.0)

    def gradient_at(z):
        return gradient(loss, eta, z)

    np.testing.assert_allclose(gradient_at(np.log(eta) - np.log(prior)), 0, atol=1e-6)
    assert np.abs(gradient_at(np.log(eta))).max() > 0.1


# -------------------------------------------------------------------- LDAM


def ldam_reference(labels, logits, counts, scale, max_margin=0.5, weights=None):
    """-w_y log softmax(z - s * Delta_y e_y)_y, Delta_c = m * n_c^-1/4 / max."""
    margins = np.asarray(counts, dtype=np.float64) ** -0.25
    margins = max_margin * margins / margins.max()
    shifted = logits.astype(np.float64).copy()
    rows = np.arange(len(labels))
    shifted[rows, labels] -= scale * margins[labels]
    loss = -log_softmax(shifted, axis=1)[rows, labels]
    if weights is not None:
        loss = loss * np.asarray(weights)[labels]
    return loss.mean()


def test_ldam_margins_follow_the_quarter_power_law():
    margins = np.array(ldam_margins(COUNTS))
    assert margins.max() == pytest.approx(0.5)
    np.testing.assert_allclose(
        margins * COUNTS**0.25, np.full(C, margins[0] * COUNTS[0] ** 0.25)
    )


@pytest.mark.parametrize("scale", [1.0, 10.0])
@pytest.mark.parametrize("weights", [None, [0.2, 1.0, 0.5, 3.0]])
def test_ldam_matches_reference(scale, weights):
    loss = LDAMLoss(COUNTS, scale=scale, class_weight=weights)
    expected = ldam_reference(LABELS, LOGITS, COUNTS, scale, weights=weights)
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)
    grad = keras_gradient(loss)
    numeric = numeric_gradient(
        lambda z: ldam_reference(LABELS, z, COUNTS, scale, weights=weights)
    )
    np.testing.assert_allclose(grad, numeric, atol=2e-5)
    assert_pushes_the_true_class_up(grad)


def test_ldam_asks_a_larger_margin_of_rarer_classes():
    # The same logit gap costs more loss for the rare class than the common one.
    gap = np.array([[2.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    loss = LDAMLoss(COUNTS, scale=5.0)
    common = float(loss(np.eye(C, dtype=np.float32)[[0]], gap))
    rare = float(loss(np.eye(C, dtype=np.float32)[[3]], gap[:, [3, 1, 2, 0]]))
    assert rare > common


def test_deferred_reweighting_switches_the_weights_at_its_epoch():
    loss = LDAMLoss(COUNTS, scale=1.0)
    callback = DeferredReweighting(loss, [1.0, 2.0, 3.0, 4.0], start_epoch=2)
    before = float(loss(ONE_HOT, LOGITS))
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        assert float(loss(ONE_HOT, LOGITS)) == before
    callback.on_epoch_begin(2)
    expected = ldam_reference(LABELS, LOGITS, COUNTS, 1.0, weights=[1, 2, 3, 4])
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)


def test_deferred_reweighting_switches_keras_own_fit_on_every_backend():
    # On JAX, Keras' compiled step held the loss's weights as constants:
    # the switch never reached training.  A learning rate of 0 keeps the
    # network, so the loss is the weights' alone.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 3)).astype("float32")
    targets = np.eye(2, dtype="float32")[(X[:, 0] > 0).astype(int)]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    loss = LDAMLoss([32, 32], scale=1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    history = model.fit(
        X,
        targets,
        epochs=3,
        batch_size=64,
        verbose=0,
        callbacks=[DeferredReweighting(loss, [0.0, 0.0], start_epoch=1)],
    )
    first, *after = history.history["loss"]
    assert first > 0.1
    assert after == [0.0, 0.0]


def test_deferred_reweighting_switches_a_training_resumed_past_its_epoch():
    loss = LDAMLoss(COUNTS, scale=1.0)
    DeferredReweighting(loss, [1.0, 2.0, 3.0, 4.0], start_epoch=2).on_epoch_begin(5)
    expected = ldam_reference(LABELS, LOGITS, COUNTS, 1.0, weights=[1, 2, 3, 4])
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "loss",
    [
        ClassBalancedLoss(COUNTS, beta=0.99, gamma=1.0),
        LogitAdjustedLoss(COUNTS, tau=0.5),
        LDAMLoss(COUNTS, scale=3.0, class_weight=[1.0, 2.0, 3.0, 4.0]),
    ],
    ids=type,
)
def test_prior_aware_losses_serialize(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert float(restored(ONE_HOT, LOGITS)) == float(loss(ONE_HOT, LOGITS))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ClassBalancedLoss([10, 0]), "class_counts"),
        (lambda: ClassBalancedLoss([10, 5], beta=1.0), "beta"),
        (lambda: LogitAdjustedLoss([0.5, 0.5], tau=-1), "tau"),
        (lambda: LogitAdjustedLoss([1.0]), "at least 2"),
        (lambda: LDAMLoss([10, 5], scale=0), "scale"),
        (lambda: LDAMLoss([10, 5], class_weight=[1.0]), "class_weight"),
        (lambda: LDAMLoss([10, 5], class_weight=[1.0, -1.0]), "class_weight"),
    ],
)
def test_prior_aware_losses_reject_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("gamma", [0.3, 0.5, 2.0])
def test_focal_gradient_is_finite_for_a_certain_prediction(gamma):
    # d/dx x**gamma is infinite at x = 0 for gamma < 1: a confidently right
    # prediction must not turn the gradient into NaN.
    logits = np.array([[60.0, -60.0, 0.0]])
    target = np.array([[1.0, 0.0, 0.0]], dtype="float32")
    grad = gradient(FocalLoss(gamma=gamma), target, logits)
    assert np.all(np.isfinite(grad))


# ---------------------------------------------------------------- offsets

OFFSETS = np.array([0.3, -1.2, 0.0, 2.0], dtype=np.float32)


@pytest.mark.parametrize(
    "loss, reference",
    [
        (
            FocalLoss(gamma=2.0, offsets=OFFSETS),
            lambda z: focal_reference(LABELS, z, 2.0),
        ),
        (
            ClassBalancedLoss(COUNTS, beta=0.99, gamma=1.0, offsets=OFFSETS),
            lambda z: focal_reference(
                LABELS, z, 1.0, effective_reference(COUNTS, 0.99)
            ),
        ),
        (
            LDAMLoss(
                COUNTS, scale=3.0, class_weight=[1.0, 2.0, 3.0, 4.0], offsets=OFFSETS
            ),
            lambda z: ldam_reference(LABELS, z, COUNTS, 3.0, weights=[1, 2, 3, 4]),
        ),
        (
            resolve_loss("crossentropy", offsets=OFFSETS).loss,
            lambda z: (
                -log_softmax(z.astype(np.float64), axis=1)[np.arange(N), LABELS].mean()
            ),
        ),
    ],
    ids=["focal", "class_balanced", "ldam", "crossentropy"],
)
def test_offsets_are_added_to_the_logits(loss, reference):
    # The loss of logits z with offsets o is the loss of z + o without them.
    expected = reference(LOGITS + OFFSETS)
    assert float(loss(ONE_HOT, LOGITS)) == pytest.approx(expected, rel=1e-5)
    numeric = numeric_gradient(lambda z: reference(z + OFFSETS))
    np.testing.assert_allclose(keras_gradient(loss), numeric, atol=2e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.get_config() == loss.get_config()
    assert float(restored(ONE_HOT, LOGITS)) == float(loss(ONE_HOT, LOGITS))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FocalLoss(offsets=[0.0, np.inf]), "finite"),
        (lambda: FocalLoss(offsets=[0.0, 1.0], from_logits=False), "from_logits"),
        (lambda: LDAMLoss([10, 5], offsets=[np.nan, 0.0]), "finite"),
        (
            lambda: LDAMLoss([10, 5], offsets=[0.0, 1.0, 2.0]),
            "offsets must hold 2 finite values, one per class",
        ),
        (
            lambda: ClassBalancedLoss([10, 5], offsets=[0.0]),
            "offsets must hold 2 finite values, one per class",
        ),
        (
            lambda: FocalLoss(alpha=[1.0, 2.0], offsets=[0.0]),
            "offsets must hold 2 finite values, one per class",
        ),
        (
            lambda: resolve_loss("logit_adjusted", class_counts=[9, 1], offsets=[0, 1]),
            "offsets",
        ),
    ],
)
def test_offsets_reject_what_they_cannot_add(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "build",
    [
        lambda counts, offsets: FocalLoss(gamma=1.0, offsets=offsets),
        lambda counts, offsets: ClassBalancedLoss(counts, gamma=1.0, offsets=offsets),
        lambda counts, offsets: LogitAdjustedLoss(counts, tau=0.7),
        lambda counts, offsets: LDAMLoss(counts, offsets=offsets),
        lambda counts, offsets: resolve_loss("crossentropy", offsets=offsets).loss,
    ],
    ids=["focal", "class_balanced", "logit_adjusted", "ldam", "crossentropy"],
)
def test_assign_loss_gives_the_values_of_a_loss_built_from_other_counts(build):
    # partial_fit's next call goes on with the compiled step, whose loss takes
    # the values of the loss built from the grown class counts.
    old = build([100.0, 10.0, 40.0, 20.0], [0.0, 1.0, -0.5, 0.2])
    new = build([120.0, 11.0, 90.0, 21.0], [0.3, -1.0, 0.5, 0.0])
    assert float(old(ONE_HOT, LOGITS)) != pytest.approx(float(new(ONE_HOT, LOGITS)))
    assert assign_loss(old, new)
    assert float(old(ONE_HOT, LOGITS)) == pytest.approx(float(new(ONE_HOT, LOGITS)))
    assert old.get_config() == new.get_config()


def test_assign_loss_refuses_a_loss_of_other_settings():
    counts = [100.0, 10.0, 40.0, 20.0]
    cases = [
        (FocalLoss(gamma=1.0), FocalLoss(gamma=2.0)),
        (FocalLoss(offsets=[0.0] * 4), FocalLoss()),
        (LogitAdjustedLoss(counts), LogitAdjustedLoss(counts[:3])),
        (LogitAdjustedLoss(counts, tau=1.0), LogitAdjustedLoss(counts, tau=0.5)),
        (LDAMLoss(counts), ClassBalancedLoss(counts)),
        (keras.losses.CategoricalCrossentropy(), FocalLoss(gamma=0.0)),
    ]
    for target, source in cases:
        before = float(target(ONE_HOT, LOGITS))
        assert not assign_loss(target, source)
        assert float(target(ONE_HOT, LOGITS)) == before
    # Keras' own losses go on where their settings are the same, all of them.
    same = keras.losses.CategoricalCrossentropy(from_logits=True)
    assert assign_loss(same, keras.losses.CategoricalCrossentropy(from_logits=True))
    focal = keras.losses.CategoricalFocalCrossentropy
    assert not assign_loss(focal(alpha=[0.1, 0.9]), focal(alpha=[0.9, 0.1]))
