"""Class weights against NumPy references of their formulas."""

import numpy as np
import pytest

from skimb.class_weight import compute_class_weight, effective_number_weights

CLASSES = np.array([0, 1, 2, 3])
Y = np.repeat(CLASSES, [10, 500, 90, 30])


def test_balanced_is_n_over_classes_times_count():
    counts = np.bincount(Y)
    expected = len(Y) / (len(CLASSES) * counts)
    np.testing.assert_allclose(
        compute_class_weight("balanced", classes=CLASSES, y=Y), expected
    )


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99, 0.999, 0.9999])
def test_effective_number_formula(beta):
    counts = np.bincount(Y).astype(float)
    raw = (1 - beta) / (1 - beta**counts)
    expected = raw / raw.sum() * len(counts)
    got = compute_class_weight("effective", classes=CLASSES, y=Y, beta=beta)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got.sum() == pytest.approx(len(CLASSES))


def test_effective_limits():
    counts = [10, 500]
    np.testing.assert_allclose(effective_number_weights(counts, beta=0.0), [1, 1])
    # beta -> 1 tends to inverse frequency.
    near = effective_number_weights(counts, beta=1 - 1e-9)
    np.testing.assert_allclose(
        near, np.array([1 / 10, 1 / 500]) / (1 / 10 + 1 / 500) * 2, rtol=1e-5
    )


def test_dict_maps_labels_and_defaults_to_one():
    labels = np.array(["a", "b", "c"])
    y = np.array(["a", "b", "b", "c"])
    got = compute_class_weight({"c": 3.0, "a": 0.5}, classes=labels, y=y)
    np.testing.assert_array_equal(got, [0.5, 1.0, 3.0])


def test_none_is_ones():
    np.testing.assert_array_equal(
        compute_class_weight(None, classes=CLASSES, y=Y), np.ones(4)
    )


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_beta_out_of_range(beta):
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        compute_class_weight("effective", classes=CLASSES, y=Y, beta=beta)


@pytest.mark.parametrize(
    "class_weight, error, match",
    [
        ("inverse", ValueError, "class_weight must be"),
        ([1, 2, 3, 4], TypeError, "class_weight must be"),
        ({5: 1.0}, ValueError, r"labels \[5\] that are not in y"),
        ({0: -2.0}, ValueError, "finite and >= 0"),
    ],
)
def test_bad_class_weight(class_weight, error, match):
    with pytest.raises(error, match=match):
        compute_class_weight(class_weight, classes=CLASSES, y=Y)


def test_balanced_checks_labels_as_scikit_learn_does():
    with pytest.raises(ValueError, match="include all valid labels"):
        compute_class_weight("balanced", classes=CLASSES[:3], y=Y)
    with pytest.raises(ValueError, match="valid labels that are in y"):
        compute_class_weight("balanced", classes=np.arange(5), y=Y)
    # An unknown name is named as such, whatever the labels.
    with pytest.raises(ValueError, match="class_weight must be"):
        compute_class_weight("inverse", classes=CLASSES[:3], y=Y)


@pytest.mark.parametrize("class_weight", [None, "balanced", "effective", {"a": 2.0}])
def test_labels_outside_the_classes_are_refused_in_every_mode(class_weight):
    # As scikit-learn's compute_class_weight: "effective" and a dict used to
    # weigh the classes given and ignore the stray label silently.
    with pytest.raises(ValueError, match="classes should include all valid labels"):
        compute_class_weight(
            class_weight, classes=np.array(["a", "b"]), y=np.array(["a", "b", "c"])
        )
