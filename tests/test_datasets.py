"""Embedded data generators: shapes, class sizes, and a known density."""

import numpy as np
import pytest

from skimb.datasets import make_imbalanced_classification, make_imbalanced_sequences

GENERATORS = [make_imbalanced_classification, make_imbalanced_sequences]


@pytest.mark.parametrize("make", GENERATORS)
def test_default_class_sizes_follow_the_real_case(make):
    _, y = make(6300, random_state=0)
    np.testing.assert_array_equal(np.bincount(y), [100, 5000, 900, 300])


def test_default_shapes():
    X, _ = make_imbalanced_sequences(630, random_state=0)
    assert X.shape == (630, 20, 18)
    X, _ = make_imbalanced_classification(630, random_state=0)
    assert X.shape == (630, 20)


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_changes_sample_not_density(make):
    X0, y0 = make(2000, random_state=0)
    X0b, y0b = make(2000, random_state=0)
    np.testing.assert_array_equal(X0, X0b)
    np.testing.assert_array_equal(y0, y0b)
    X1, y1, posterior = make(20_000, random_state=1, return_posterior=True)
    assert not np.array_equal(X0, X1[:2000])
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0)
    # The posterior of one seed is Bayes-optimal on another seed's sample:
    # its accuracy beats the majority-class rate by a wide margin.
    accuracy = np.mean(posterior.argmax(axis=1) == y1)
    assert accuracy > np.bincount(y1).max() / len(y1) + 0.1


def test_posterior_is_calibrated():
    # Averaged over the rows it is given, the true posterior of a class
    # equals that class's frequency.
    _, y, posterior = make_imbalanced_sequences(
        20_000, random_state=2, return_posterior=True
    )
    np.testing.assert_allclose(
        posterior.mean(axis=0), np.bincount(y) / len(y), atol=0.01
    )


def test_sequence_signal_is_temporal():
    X, y = make_imbalanced_sequences(20_000, random_state=3)
    # Time-averaged features barely separate the classes...
    means = np.array([X[y == c].mean(axis=(0, 1)) for c in range(4)])
    spread = means.std(axis=0) / X.std(axis=(0, 1))
    assert spread.max() < 0.05
    # ...while the first-to-last change of an informative feature does.
    change = X[:, -1, :4] - X[:, 0, :4]
    by_class = np.array([change[y == c].mean(axis=0) for c in range(4)])
    assert (by_class.std(axis=0) / change.std(axis=0)).max() > 0.2


def test_features_have_raw_scales():
    X, _ = make_imbalanced_classification(1000, random_state=0)
    stds = X.std(axis=0)
    assert stds.max() / stds.min() > 1000


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="too small"):
        make(20, random_state=0)
    with pytest.raises(ValueError, match="n_informative"):
        make(1000, n_informative=0)
    with pytest.raises(ValueError, match="weights"):
        make(1000, weights=(1,))
