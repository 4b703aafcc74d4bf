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
