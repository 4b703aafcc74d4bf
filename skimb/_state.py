"""An estimator's attributes kept across a call that fails."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def restored_on_error(estimator, names=None) -> Iterator[None]:
    """Give ``estimator`` back the attributes it had if the block raises (or
    is interrupted): a failed ``fit`` leaves it as it was, not a former
    fit's network beside this one's classes and checks.  ``names``: only
    those attributes (each set back, or removed where it was absent)."""
    state = dict(vars(estimator))
    try:
        yield
    except BaseException:
        attributes = vars(estimator)
        for name in list(attributes) if names is None else names:
            attributes.pop(name, None)
        attributes.update(
            state if names is None else {n: state[n] for n in names if n in state}
        )
        raise
