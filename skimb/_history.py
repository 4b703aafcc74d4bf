"""Per-epoch histories (``history_``, a callback's record): dicts of one
list of values per log key."""

from __future__ import annotations

import math


def joined_histories(history: dict, logs: dict) -> dict:
    """``history`` followed by the epochs of ``logs``, every key of either,
    an epoch without a value for a key NaN there: a fit's validation curves
    stay, next to ``partial_fit``'s epochs, which have none."""
    before = max(map(len, history.values()), default=0)
    now = max(map(len, logs.values()), default=0)
    return {
        key: [*history.get(key, [math.nan] * before), *logs.get(key, [math.nan] * now)]
        for key in {**history, **logs}
    }
