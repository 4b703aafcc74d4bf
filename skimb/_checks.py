"""Checks of the arrays the decision rules, the calibration and the losses
take (held-out predictions, labels, class frequencies, per-class weights):
one copy of each rule, Keras-free."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_log_proba(log_proba, *, zero: bool = False) -> np.ndarray:
    """``log_proba`` as float64, refused unless a finite 2-D array with a
    column for each of at least 2 classes; ``zero``: ``-inf`` (the log of a
    probability 0) allowed."""
    log_proba = np.asarray(log_proba, dtype=np.float64)
    if log_proba.ndim != 2 or log_proba.shape[1] < 2:
        raise ValueError(
            "log_proba must be a 2-D array with a column per class; got shape "
            f"{log_proba.shape}."
        )
    if np.isnan(log_proba).any():
        raise ValueError(
            "log_proba holds NaN (a network whose training diverged outputs NaN)."
        )
    if np.any(log_proba == np.inf) or not (zero or np.all(np.isfinite(log_proba))):
        raise ValueError("log_proba holds infinite values.")
    return log_proba


def check_encoded_labels(y, log_proba: np.ndarray) -> np.ndarray:
    """``y`` as indices, refused unless one integer label ``0 ..
    n_classes - 1`` for each of the (at least one) rows of ``log_proba``."""
    y = np.asarray(y)
    n_rows, n_classes = log_proba.shape
    if y.shape != (n_rows,):
        raise ValueError(f"y must hold {n_rows} encoded labels; got shape {y.shape}.")
    if n_rows == 0:
        raise ValueError("log_proba and y hold no rows: nothing to fit on.")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(
            f"y must hold labels encoded 0 .. {n_classes - 1} (integers), one "
            "per column of log_proba."
        )
    return y.astype(np.intp)


def check_weights(values, name: str, n_classes: int | None = None) -> list[float]:
    """``values`` as a list of floats, refused unless each is finite and
    non-negative and (``n_classes`` given) there is one per class."""
    weights = [float(v) for v in values]
    if n_classes is not None and len(weights) != n_classes:
        raise ValueError(
            f"{name} must hold one weight for each of the {n_classes} classes; "
            f"got {weights}."
        )
    if not all(0 <= w < np.inf for w in weights):
        raise ValueError(f"{name} must be finite and >= 0; got {weights}.")
    return weights


def check_offsets(offsets, name: str, n_classes: int | None = None) -> np.ndarray:
    """``offsets`` (per-class additions to log-probabilities or logits) as a
    float64 vector, refused unless finite and (``n_classes`` given) one per
    class."""
    values = np.asarray(offsets, dtype=np.float64)
    if n_classes is None:
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"{name} must be a vector of finite values, one per class; got "
                f"shape {values.shape}."
            )
        n_classes = values.size
    if values.shape != (n_classes,) or not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name} must hold {n_classes} finite values, one per class; got {values}."
        )
    return values


def check_prior(prior, n_classes: int, name: str) -> np.ndarray:
    """``prior`` as frequencies summing to 1, refused unless ``n_classes``
    finite, positive values."""
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (n_classes,) or not np.all(np.isfinite(prior) & (prior > 0)):
        raise ValueError(
            f"{name} must hold {n_classes} finite, positive class frequencies; "
            f"got {prior}."
        )
    return prior / prior.sum()


def check_number(
    value,
    name: str,
    *,
    low: float = 0.0,
    low_open: bool = False,
    high: float = np.inf,
    high_open: bool = True,
    integer: bool = False,
) -> float | int:
    """``value`` as a float (an int where ``integer``), refused unless a real
    number (not a bool), finite, and within ``low .. high`` (each bound
    excluded where ``*_open``).

    Our own, not ``sklearn.utils.check_scalar``: that passes NaN, infinity
    and booleans, which then turn a loss or an estimate into NaN.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool | np.bool_) or not isinstance(value, kind):
        raise TypeError(
            f"{name} must be {'an integer' if integer else 'a number'}; got {value!r}."
        )
    # math, not NumPy: an int beyond int64 is finite, which NumPy cannot say.
    if not isinstance(value, numbers.Integral) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}.")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        bounds = (
            f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
        raise ValueError(f"{name} must be in {bounds}; got {value}.")
    return int(value) if integer else float(value)
