"""Parameters given on a benchmark's command line (``--set key=value ...``)."""

from __future__ import annotations

import ast


def parse_overrides(pairs: list[str] | None) -> dict:
    """``key=value`` pairs as a dict; values read as Python literals where
    they are (``epochs=5``, ``hidden=(64,)``), as strings otherwise."""
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out
