"""An estimator's attributes kept across a call that fails."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def restored_on_error(estimator) -> Iterator[None]:
    """Give ``estimator`` back the attributes it had if the block raises (or
    is interrupted): a failed ``fit`` leaves it as it was, not a former
    fit's network beside this one's classes and checks."""
    state = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(state)
        raise
