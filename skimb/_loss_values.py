"""The per-class values of a loss that a compiled training step reads when
it runs, not when it is traced.

skimb's losses draw values from the class counts and weights (the logit
adjustment's prior, the class weights' offsets, the class-balanced weights,
LDAM's margins).  ``partial_fit``'s class counts grow with every call, so
those values move with every call; kept here in variables (TensorFlow reads
them when the step runs) or passed to the step as arguments (JAX, which
compiles a variable's value in), they move without a new trace of the step,
which costs more than an epoch of a few thousand rows.
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops


class PerClassValues:
    """A loss's per-class values (class counts, priors, weights, offsets,
    margins), as a mixin of ``keras.losses.Loss``.

    ``_PER_CLASS`` names the attributes that hold them (lists of floats, or
    None), and ``_READ`` those that :meth:`call` reads, each of which gets a
    float32 variable (:func:`reading_values` may stand in for it).  A loss
    of the same kind and settings built from other class counts passes its
    values on (:func:`assign_loss`), and a compiled step trains on with
    them, without a new trace: ``partial_fit``'s class counts grow with
    every call, and tracing a step costs more than an epoch of a few
    thousand rows.
    """

    _PER_CLASS: tuple[str, ...] = ()
    _READ: tuple[str, ...] = ()
    # The parameter a value read is drawn from, where it is not the value's
    # own name (for the error of a loss given values of other classes).
    _GIVEN_AS: dict[str, str] = {}

    def _track_per_class(self) -> None:
        self._reading = None  # reading_values's arrays, while it is open
        self._variables = {
            name: keras.Variable(
                values, trainable=False, dtype="float32", name=f"{self.name}_{name}"
            )
            for name in self._READ
            if (values := getattr(self, name)) is not None
        }

    def _per_class(self, name: str, y_pred):
        """The current values of ``name`` (None where it is None), the
        variable's or those :func:`reading_values` gives, in the dtype of
        the predictions ``y_pred``; refused unless one per class of
        ``y_pred``'s last axis (the number of classes is known only here)."""
        values = self._reading or self._variables
        value = values.get(name)
        if value is None:
            return None
        n_classes = y_pred.shape[-1]
        if n_classes is not None and value.shape[-1] != n_classes:
            raise ValueError(
                f"{type(self).__name__}'s {self._GIVEN_AS.get(name, name)} "
                f"holds {value.shape[-1]} values, one per class, but the "
                f"predictions have {n_classes} classes."
            )
        return ops.cast(value, y_pred.dtype)


def loss_values(loss) -> dict:
    """The per-class values a loss's ``call`` reads, as backend arrays by
    name, where they are (empty for a loss that reads none, a user's own
    included)."""
    return {
        name: variable.value
        for name, variable in getattr(loss, "_variables", {}).items()
    }


@contextlib.contextmanager
def reading_values(loss, values: dict):
    """Within the block the loss reads ``values`` (like :func:`loss_values`'s;
    on JAX, the arguments of the step being compiled) for its per-class
    values, in place of its variables.  JAX compiles a variable's value in
    as a constant; read from an argument, new values (``partial_fit``'s
    grown counts) run through the same compiled step."""
    if not values:
        yield
        return
    loss._reading = values
    try:
        yield
    finally:
        loss._reading = None


def _settings(loss) -> dict:
    """A loss's config with each per-class list (``_PER_CLASS``) replaced by
    its length: what must match for one loss to take another's values.  A
    loss that names none (Keras', a user's) must match in all of it."""
    if getattr(loss, "_WRAPS_FUNCTION", False):
        # skimb.losses' wrapper of a loss function: the same function object
        # (its config would not tell two of one name apart, and a partial
        # has none).
        return {"fn": loss.fn, "reduction": loss.reduction, "name": loss.name}
    per_class = getattr(loss, "_PER_CLASS", ())
    return {
        k: len(v) if k in per_class and isinstance(v, list) else v
        for k, v in loss.get_config().items()
    }


def assign_loss(target, source) -> bool:
    """Give the loss ``target`` the per-class values of ``source``, a loss of
    the same kind and settings (other class counts, weights or offsets).

    A compiled training step that reads ``target`` then computes ``source``:
    TensorFlow reads the variables when the step runs, and skimb's JAX steps
    take their values as arguments (:func:`reading_values`).

    Returns
    -------
    bool
        False, ``target`` unchanged, where the two differ in anything but
        per-class values (their kind, ``gamma``, ``tau``, which of them are
        None, the number of classes), or are not Keras losses.
    """
    if target is source:
        return True
    if type(target) is not type(source) or not isinstance(target, keras.losses.Loss):
        return False
    if _settings(target) != _settings(source):
        return False
    for name in getattr(target, "_PER_CLASS", ()):
        if not isinstance(getattr(target, name), keras.Variable):
            setattr(target, name, getattr(source, name))
    for name, value in loss_values(source).items():
        target._variables[name].assign(value)
    return True
