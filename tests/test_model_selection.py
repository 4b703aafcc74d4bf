"""StratifiedGroupShuffleSplit: whole groups held out, stratified by class."""

import copy
import re

import numpy as np
import pytest
from sklearn.model_selection import GroupShuffleSplit

import skimb._classifier
import skimb._splits
from skimb import ImbalancedKerasClassifier
from skimb._splits import asks_for_groups
from skimb.model_selection import StratifiedGroupShuffleSplit
from skimb.persistence import load, save


def _recordings(seed=0):
    """120 recordings of 3 to 12 rows, one class each (classes of 60, 40, 15
    and 5 recordings)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2, 3], [60, 40, 15, 5])
    sizes = rng.integers(3, 13, size=len(labels))
    y = np.repeat(labels, sizes)
    groups = np.repeat(np.arange(len(labels)), sizes)
    return y, groups


def test_holds_out_whole_groups_about_test_size_with_every_class():
    y, groups = _recordings()
    split = StratifiedGroupShuffleSplit(n_splits=20, test_size=0.1, random_state=0)
    shares, seen = [], 0
    for train, test in split.split(np.zeros((len(y), 1)), y, groups):
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(y)
        shares.append(len(test) / len(y))
        seen += len(np.unique(y[test])) == 4
    # Every draw holds the rarest class (5 recordings), where the same
    # share of groups drawn without regard to class misses one in 11 of 20.
    assert seen == 20
    unstratified = GroupShuffleSplit(n_splits=20, test_size=0.1, random_state=0)
    misses = sum(
        len(np.unique(y[test])) < 4
        for _, test in unstratified.split(np.zeros((len(y), 1)), y, groups)
    )
    assert misses == 11
    assert 0.08 < np.median(shares) < 0.12


def test_classes_sharing_groups_each_hold_out_about_test_size():
    # Groups mixing classes: those held for the common classes carried rare
    # rows too, and the rarest class had 0.32 of its rows held out on
    # average for 0.2 (up to 0.61), taken from its training rows.
    rng = np.random.default_rng(1)
    y = rng.choice(3, 300, p=[0.8, 0.15, 0.05])
    groups = rng.integers(0, 30, 300)
    shares = np.array(
        [
            [np.mean(np.isin(np.flatnonzero(y == c), test)) for c in range(3)]
            for _, test in StratifiedGroupShuffleSplit(
                n_splits=100, test_size=0.2, random_state=0
            ).split(y, y, groups)
        ]
    )
    np.testing.assert_allclose(shares.mean(axis=0), 0.2, atol=0.03)
    assert shares.max() < 0.3
    assert (shares > 0).all()  # every class on both sides


@pytest.mark.parametrize("test_size", [0.05, 0.3, 0.8])
def test_each_class_of_two_groups_or_more_is_on_both_sides(test_size):
    # 4 classes of 2 to 4 recordings, and one of a single recording: at a
    # share of 0.05, each class still gives one recording; at 0.8, keeps one.
    y = np.repeat([0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4], 10)
    groups = np.repeat(np.arange(13), 10)
    split = StratifiedGroupShuffleSplit(
        n_splits=10, test_size=test_size, random_state=0
    )
    for train, test in split.split(y, y, groups):
        assert set(y[test]) == {0, 1, 2, 3}  # not 4: its one recording trains
        assert set(y[train]) == {0, 1, 2, 3, 4}


def test_a_class_in_one_shared_group_always_trains():
    # Class 1: three rows of recording 0 only; class 2: rows of recordings 5
    # and 10 (of 20, all of class 0 otherwise).
    y = np.zeros(20 * 20, dtype=int)
    groups = np.repeat(np.arange(20), 20)
    y[0:3], y[100:103], y[200:203] = 1, 2, 2
    for test_size in (0.1, 0.5, 0.9):
        split = StratifiedGroupShuffleSplit(
            n_splits=50, test_size=test_size, random_state=0
        )
        for train, test in split.split(y, y, groups):
            assert set(y[train]) == {0, 1, 2}
            assert 1 not in y[test] and 2 in y[test]


def test_a_class_a_first_draw_blocks_goes_first_in_the_next():
    # Class 1's nearest group (3, one row) would leave it one training group,
    # group 1, the only one that can hold class 0 out: holding group 1 alone
    # puts both on both sides.
    groups = np.array([0, 0, 1, 1, 1, 1, 2, 2, 3])
    y = np.array([3, 0, 1, 1, 0, 1, 2, 0, 1])
    split = StratifiedGroupShuffleSplit(n_splits=30, test_size=0.3, random_state=0)
    for train, test in split.split(y, y, groups):
        assert {0, 1} <= set(y[test]) and {0, 1} <= set(y[train])


def test_a_class_that_shares_its_groups_is_on_both_sides_too():
    # Events inside recordings: class 1 is a few rows of 3 (or 2) of the 20
    # recordings of class 0, and never the most of any.
    for n_with_events, test_size in ((3, 0.1), (2, 0.5)):
        y = np.zeros(20 * 20, dtype=int)
        groups = np.repeat(np.arange(20), 20)
        for g in range(n_with_events):
            y[g * 20 : g * 20 + 3] = 1
        split = StratifiedGroupShuffleSplit(
            n_splits=50, test_size=test_size, random_state=0
        )
        for train, test in split.split(y, y, groups):
            assert set(y[test]) == set(y[train]) == {0, 1}
            assert not set(groups[train]) & set(groups[test])


def test_draws_are_random_a_large_group_is_not_held_for_a_small_share():
    # Class 0: one recording of 60 rows and four of 10.  A fifth of its 100
    # rows is two short recordings, never the long one (one fold of
    # scikit-learn's StratifiedGroupKFold holds the long one out for every
    # seed: it places the largest groups first).
    y = np.repeat([0, 1], [100, 40])
    groups = np.r_[np.zeros(60, int), np.repeat(np.arange(1, 5), 10)]
    groups = np.r_[groups, np.repeat(np.arange(5, 13), 5)]
    split = StratifiedGroupShuffleSplit(n_splits=40, test_size=0.2, random_state=0)
    tests = [test for _, test in split.split(y, y, groups)]
    assert not any(0 in groups[test] for test in tests)
    assert len({tuple(test) for test in tests}) > 10
    assert all(len(test) == 20 + 10 for test in tests)
    # Where every group of a class is larger than twice its share, the one
    # nearest to it: class 1's 5-row recordings hold 12.5% of its rows.
    split = StratifiedGroupShuffleSplit(n_splits=5, test_size=0.05, random_state=0)
    for _, test in split.split(y, y, groups):
        assert (y[test] == 1).sum() == 5
    y2, groups2 = _recordings(2)
    split = StratifiedGroupShuffleSplit(n_splits=10, test_size=0.8, random_state=0)
    shares = [len(test) / len(y2) for _, test in split.split(y2, y2, groups2)]
    assert 0.75 < np.median(shares) < 0.85


def test_same_seed_same_splits_and_draws_differ():
    y, groups = _recordings(1)
    X = np.zeros((len(y), 1))

    def tests(split):
        return [test.tolist() for _, test in split.split(X, y, groups)]

    split = StratifiedGroupShuffleSplit(n_splits=3, test_size=0.2, random_state=7)
    assert tests(split) == tests(copy.deepcopy(split)) == tests(split)
    assert len({tuple(t) for t in tests(split)}) == 3
    assert split.get_n_splits() == 3


@pytest.mark.parametrize(
    "params, groups, message",
    [
        ({"test_size": 0}, True, "test_size must be a share of the rows in (0, 1)"),
        ({"test_size": 1.0}, True, "test_size must be a share"),
        ({"test_size": 5}, True, "test_size must be a share"),
        ({"n_splits": 0}, True, "n_splits must be an integer >= 1"),
        ({}, False, "holds out whole groups; pass groups"),
    ],
)
def test_bad_parameters_and_missing_groups_are_named(params, groups, message):
    y, row_groups = _recordings()
    split = StratifiedGroupShuffleSplit(**params)
    with pytest.raises(ValueError, match=re.escape(message)):
        next(split.split(np.zeros((len(y), 1)), y, row_groups if groups else None))


def test_groups_of_mixed_types_are_named(tabular, fast_params):
    # Strings and numbers cannot be sorted: the splitters raised NumPy's
    # "'<' not supported between instances of 'int' and 'str'".
    from sklearn.model_selection import StratifiedGroupKFold

    X, y = tabular
    groups = np.array(["a", 1, "b", 2] * (len(y) // 4), dtype=object)
    message = r"groups mix values of types \['int', 'str'\], which cannot be sorted"
    # A list too, which np.asarray reads as strings (4 and "4" one group).
    for given in (groups, groups.tolist()):
        with pytest.raises(TypeError, match=message):
            next(StratifiedGroupShuffleSplit().split(X, y, given))
        with pytest.raises(TypeError, match=message):
            ImbalancedKerasClassifier(
                **{**fast_params, "cv": StratifiedGroupKFold(2)}
            ).fit(X, y, groups=given)
    # Strings alone, or numbers alone, in a list or an array, split.
    for given in (["a", "b", "c", "d"], [1, 2, 3, 4], np.array(["a", "b"] * 2)):
        rows = np.resize(np.asarray(given, dtype=object), len(y)).tolist()
        next(StratifiedGroupShuffleSplit().split(X, y, rows))


def test_one_network_validates_on_whole_groups_and_the_model_file_keeps_it(
    tabular, fast_params, tmp_path, monkeypatch
):
    X, y = tabular
    groups = np.arange(len(y)) // 4
    split = StratifiedGroupShuffleSplit(test_size=0.2, random_state=0)
    assert asks_for_groups(split)
    clf = ImbalancedKerasClassifier(**{**fast_params, "cv": split})
    with pytest.raises(ValueError, match="pass each row's group to fit"):
        clf.fit(X, y)
    seen = []
    network_splits = skimb._splits.network_splits

    def spy(*args, **kwargs):
        seen.extend(network_splits(*args, **kwargs))
        return seen

    monkeypatch.setattr(skimb._classifier, "network_splits", spy)
    clf.fit(X, y, groups=groups)
    assert clf.n_networks_ == len(seen) == 1
    ((train, held_out),) = seen
    assert not set(groups[train]) & set(groups[held_out])
    assert 0.15 < len(held_out) / len(y) < 0.25
    loaded = load(save(clf, tmp_path / "model.skimb"))
    assert repr(loaded.cv) == repr(split)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
