"""Each loss against a NumPy reference of its formula."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from scipy.special import log_softmax  # noqa: E402

from skimb.losses import FocalLoss, resolve_loss  # noqa: E402

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


def test_focal_gradient_matches_reference_and_pushes_the_true_class_up():
    gamma, alpha = 2.0, [0.5, 1.0, 1.5, 2.0]
    logits = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        value = FocalLoss(gamma=gamma, alpha=alpha)(ONE_HOT, logits)
    grad = tape.gradient(value, logits).numpy()
    # Central finite differences of the NumPy reference.
    numeric = np.zeros_like(LOGITS, dtype=np.float64)
    eps = 1e-3
    for i in range(N):
        for j in range(C):
            up, down = LOGITS.astype(np.float64), LOGITS.astype(np.float64)
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = (
                focal_reference(LABELS, up, gamma, alpha)
                - focal_reference(LABELS, down, gamma, alpha)
            ) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=2e-5)
    true_grad = grad[np.arange(N), LABELS]
    # A gradient step raises the true-class logit, lowers the others.
    assert np.all(true_grad <= 0)
    assert np.all(grad[ONE_HOT == 0] >= 0)


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
    with pytest.raises(ValueError, match="loss must be one of"):
        resolve_loss("hinge")
