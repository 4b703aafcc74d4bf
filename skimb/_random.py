"""Seeding one fit without leaving the global random state changed."""

from __future__ import annotations

import contextlib
import random
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state


def seed_from(random_state) -> int | None:
    """An integer seed from a ``random_state`` parameter (None stays None)."""
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def offset_seed(seed: int | None, offset: int) -> int | None:
    """The seed of the ``offset``-th epoch, network or call of a fit: NumPy
    and Keras take seeds below 2**32, which ``random_state`` may reach
    (scikit-learn accepts up to 2**32 - 1), so the sum wraps around."""
    return None if seed is None else (seed + offset) % 2**32


@contextlib.contextmanager
def seeded(seed: int | None):
    """Seed Python, NumPy and the Keras backend for one fit, then give Python
    and NumPy their global state back (the backend's global seed cannot be
    read back, so it stays set)."""
    if seed is None:
        yield
        return
    # Imported here so that seed_from, used by modules that need no network
    # (the tuning search), does not load Keras.
    import keras

    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def reseed_layers(model) -> None:
    """Give ``model``'s random layers (dropout) new states, drawn as Keras
    draws them when a layer is built: from Python's global random state,
    which :func:`seeded` sets.

    Keras saves no such state with a model, and one loaded from a file (or
    unpickled) draws its own, so that training it on (``partial_fit``) would
    drop other units at every load; drawn again from the seed, the same
    calls give the same model, loaded or not.  A layer of a user's network
    built with its own seed (``Dropout(seed=...)``) is redrawn too: from the
    estimator's ``random_state``, which seeds every fit.
    """
    for variable in model.variables:
        # The name keras.random.SeedGenerator gives its state, [seed, count].
        if variable.name == "seed_generator_state":
            state = np.array([random.randint(1, int(1e9)), 0])
            variable.assign(state.astype(variable.dtype))
