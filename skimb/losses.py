"""Imbalance-aware Keras losses.

Every loss here is a serializable ``keras.losses.Loss`` written with
``keras.ops`` only, so it runs on every Keras backend and reloads from a
``.keras`` file in safe mode.  Targets are one-hot rows ``(n, n_classes)``;
predictions are logits unless ``from_logits=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from skimb._checks import check_number, check_offsets, check_weights
from skimb._loss_values import PerClassValues
from skimb.class_weight import effective_number_weights

__all__ = [
    "ClassBalancedLoss",
    "DeferredReweighting",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "ResolvedLoss",
    "ldam_margins",
    "resolve_loss",
]

LOSSES = ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
# Keras' names of its multi-class losses, accepted as scikeras and
# ``Model.compile`` accept them (``loss="categorical_crossentropy"``) and
# resolved by ``keras.losses.get``: code moving from scikeras keeps its
# loss.  Keras' other names (regression and binary losses) do not fit a
# multi-class classifier and stay refused.
KERAS_LOSS_NAMES = (
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
)
# The losses that take per-class offsets on their logits.
OFFSET_LOSSES = ("crossentropy", "focal", "class_balanced", "ldam")


def _finite_offsets(offsets, n_classes: int | None = None) -> list[float] | None:
    """``offsets`` as a list of floats (None stays None): a loss's config
    holds plain floats."""
    if offsets is None:
        return None
    return check_offsets(offsets, "offsets", n_classes).tolist()


def _offset(logits, offsets):
    """``logits`` plus per-class ``offsets`` (None: unchanged)."""
    if offsets is None:
        return logits
    return logits + offsets


def _log_probabilities(y_pred, from_logits: bool):
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    # Scaled to sum to 1 first, as Keras' CategoricalCrossentropy does.
    y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    eps = keras.config.epsilon()
    return ops.log(ops.clip(y_pred, eps, 1.0 - eps))


@keras.saving.register_keras_serializable(package="skimb")
class FocalLoss(PerClassValues, keras.losses.Loss):
    r"""Multi-class focal loss (Lin et al., 2017).

    .. math:: \ell(z, y) = -\alpha_y \, (1 - p_y)^\gamma \log p_y,
              \qquad p = \mathrm{softmax}(z)

    ``gamma=0`` and no ``alpha`` is plain crossentropy; a larger ``gamma``
    down-weights examples the network already classifies well, which are
    mostly majority-class examples on imbalanced data.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, ``gamma >= 0``.
    alpha : sequence of float of length n_classes, optional
        Per-class weight :math:`\alpha_y`; ``None`` weights every class by 1.
    from_logits : bool, default=True
        Whether ``y_pred`` holds logits (``True``) or probabilities.
    offsets : sequence of float of length n_classes, optional
        Added to the logits before the softmax (logits only): skimb puts
        class weights there, :math:`-\log w_c`, instead of in ``alpha``.
    reduction, name, dtype
        As for any ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.losses import FocalLoss
    >>> y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> logits = np.array([[2.0, 0.0], [0.0, 0.5]])
    >>> round(float(FocalLoss(gamma=0.0)(y_true, logits)), 4)
    0.3005
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | None = None,
        from_logits: bool = True,
        offsets: Sequence[float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "focal_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        gamma = check_number(gamma, "gamma")
        if alpha is not None:
            alpha = check_weights(alpha, "alpha")
        if offsets is not None and not from_logits:
            raise ValueError("offsets apply to logits; got from_logits=False.")
        self.gamma = gamma
        self.alpha = alpha
        self.from_logits = from_logits
        self.offsets = _finite_offsets(offsets, None if alpha is None else len(alpha))
        self._track_per_class()

    _PER_CLASS = _READ = ("alpha", "offsets")

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        offsets = self._per_class("offsets", y_pred)
        log_p = _log_probabilities(_offset(y_pred, offsets), self.from_logits)
        log_p_true = ops.sum(y_true * log_p, axis=-1)
        # 1 - p_y computed as -expm1(log p_y) keeps precision when p_y -> 1;
        # kept above epsilon because the derivative of x**gamma is infinite
        # at 0 for gamma < 1, and infinity times log p_y = 0 is NaN.
        modulator = ops.power(
            ops.maximum(-ops.expm1(log_p_true), keras.config.epsilon()), self.gamma
        )
        loss = -modulator * log_p_true
        alpha = self._per_class("alpha", y_pred)
        if alpha is not None:
            loss = loss * ops.sum(y_true * alpha, axis=-1)
        return loss

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            gamma=self.gamma,
            alpha=self.alpha,
            from_logits=self.from_logits,
            offsets=self.offsets,
        )
        return config


def _positive_counts(class_counts, name: str = "class_counts") -> list[float]:
    counts = [float(c) for c in class_counts]
    if len(counts) < 2 or not all(0 < c < np.inf for c in counts):
        raise ValueError(
            f"{name} must hold a finite, positive value for each of at least "
            f"2 classes; got {counts}."
        )
    return counts


@keras.saving.register_keras_serializable(package="skimb")
class ClassBalancedLoss(FocalLoss):
    r"""Class-balanced loss (Cui et al., 2019).

    Focal loss (crossentropy when ``gamma=0``) with per-class weights from
    the effective number of samples,

    .. math:: \alpha_c = \frac{1 - \beta}{1 - \beta^{n_c}}, \quad
              \text{normalised so that } \textstyle\sum_c \alpha_c = C.

    Parameters
    ----------
    class_counts : sequence of float of length n_classes
        Number of training samples of each class, all positive.
    beta : float, default=0.999
        In ``[0, 1)``: ``0`` weights classes equally, ``beta -> 1`` tends to
        inverse class frequency.
    gamma : float, default=0.0
        Focusing parameter; ``0`` is class-balanced crossentropy.
    from_logits : bool, default=True
        Whether ``y_pred`` holds logits (``True``) or probabilities.
    offsets : sequence of float of length n_classes, optional
        Added to the logits before the softmax, as for :class:`FocalLoss`.
    reduction, name, dtype
        As for any ``keras.losses.Loss``.

    Examples
    --------
    >>> from skimb.losses import ClassBalancedLoss
    >>> [round(a, 3) for a in ClassBalancedLoss([1000, 10], beta=0.99).alpha]
    [0.175, 1.825]
    """

    def __init__(
        self,
        class_counts: Sequence[float],
        beta: float = 0.999,
        gamma: float = 0.0,
        from_logits: bool = True,
        offsets: Sequence[float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "class_balanced_loss",
        dtype=None,
    ):
        counts = _positive_counts(class_counts)
        alpha = effective_number_weights(counts, beta=beta)
        super().__init__(
            gamma=gamma,
            alpha=alpha.tolist(),
            from_logits=from_logits,
            offsets=offsets,
            reduction=reduction,
            name=name,
            dtype=dtype,
        )
        self.class_counts = counts
        self.beta = float(beta)

    _PER_CLASS = ("alpha", "offsets", "class_counts")
    _GIVEN_AS = {"alpha": "class_counts"}

    def get_config(self) -> dict:
        config = super().get_config()
        del config["alpha"]  # derived from class_counts and beta
        config.update(class_counts=self.class_counts, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package="skimb")
class LogitAdjustedLoss(PerClassValues, keras.losses.Loss):
    r"""Logit-adjusted crossentropy (Menon et al., 2021).

    .. math:: \ell(z, y) = -\log \mathrm{softmax}(z + \tau \log \pi)_y

    with :math:`\pi` the training class prior.  The network learns logits
    :math:`z` in which the prior has been taken out, so their argmax is the
    balanced-error rule, with no post-hoc correction; ``tau=1`` is the
    Balanced Softmax of Ren et al. (2020).

    Parameters
    ----------
    class_prior : sequence of float of length n_classes
        Training class frequencies, all positive (normalised here).
    tau : float, default=1.0
        Strength of the adjustment, ``tau >= 0``; ``0`` is crossentropy.
    reduction, name, dtype
        As for any ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.losses import LogitAdjustedLoss
    >>> y_true = np.array([[1.0, 0.0]])
    >>> loss = LogitAdjustedLoss([0.9, 0.1], tau=1.0)
    >>> round(float(loss(y_true, np.array([[0.0, 0.0]]))), 4)  # -log 0.9
    0.1054
    """

    def __init__(
        self,
        class_prior: Sequence[float],
        tau: float = 1.0,
        reduction: str = "sum_over_batch_size",
        name: str = "logit_adjusted_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        prior = np.asarray(_positive_counts(class_prior, "class_prior"))
        # The config holds the values as given, so that a loss rebuilt from
        # it (a loaded model's) normalises them to the very same floats.
        self._given = prior.tolist()
        self.class_prior = (prior / prior.sum()).tolist()
        # The log-prior, taken in float64 and kept in float32: a prior of a
        # rare class under strong class weights (1e-60) is 0 in float32,
        # and tau * log 0 = -inf would make the loss NaN.
        self._log_prior = (np.log(prior) - np.log(prior.sum())).tolist()
        self.tau = check_number(tau, "tau")
        self._track_per_class()

    _PER_CLASS = ("class_prior", "_given", "_log_prior")
    _READ = ("_log_prior",)
    _GIVEN_AS = {"_log_prior": "class_prior"}

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        log_prior = self._per_class("_log_prior", y_pred)
        log_p = ops.log_softmax(y_pred + self.tau * log_prior, axis=-1)
        return -ops.sum(y_true * log_p, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(class_prior=self._given, tau=self.tau)
        return config


def ldam_margins(class_counts, *, max_margin: float = 0.5):
    r"""LDAM margins :math:`\Delta_c \propto n_c^{-1/4}`, the largest ``max_margin``.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Positive class counts.
    max_margin : float, default=0.5
        Margin of the rarest class, ``> 0``.

    Returns
    -------
    list of float

    Examples
    --------
    >>> from skimb.losses import ldam_margins
    >>> [round(m, 3) for m in ldam_margins([10000, 16, 1])]
    [0.05, 0.25, 0.5]
    """
    counts = _positive_counts(class_counts)
    max_margin = check_number(max_margin, "max_margin", low_open=True)
    raw = [c**-0.25 for c in counts]
    return [max_margin * r / max(raw) for r in raw]


@keras.saving.register_keras_serializable(package="skimb")
class LDAMLoss(PerClassValues, keras.losses.Loss):
    r"""Label-distribution-aware margin loss (Cao et al., 2019).

    .. math:: \ell(z, y) = -w_y \log \mathrm{softmax}(z - s \Delta_y e_y)_y,
              \qquad \Delta_c \propto n_c^{-1/4}

    The true class's logit must beat the others by a margin that grows as
    the class gets rarer.  Cao et al. apply the margin to cosine logits
    scaled by ``s``; skimb's networks output unnormalised logits :math:`z`,
    so the margin is applied in logit units, :math:`s\Delta_y`, which is the
    same loss when :math:`z = s\cos\theta`.

    The per-class weights :math:`w` start at ``class_weight`` and are held
    in a variable, so :class:`DeferredReweighting` can switch them on
    during training (the DRW schedule).

    Parameters
    ----------
    class_counts : sequence of float of length n_classes
        Number of training samples of each class, all positive.
    max_margin : float, default=0.5
        Margin :math:`\Delta` of the rarest class, ``> 0``.
    scale : float, default=10.0
        Scale :math:`s` of the margins, ``> 0``.
    class_weight : sequence of float, optional
        Initial per-class weights :math:`w` (ones by default).
    offsets : sequence of float of length n_classes, optional
        Added to the logits before the margins and the softmax, as for
        :class:`FocalLoss`.
    reduction, name, dtype
        As for any ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimb.losses import LDAMLoss
    >>> loss = LDAMLoss([100, 1], scale=1.0)
    >>> round(float(loss(np.array([[0.0, 1.0]]), np.array([[0.0, 0.5]]))), 4)
    0.6931
    """

    def __init__(
        self,
        class_counts: Sequence[float],
        max_margin: float = 0.5,
        scale: float = 10.0,
        class_weight: Sequence[float] | None = None,
        offsets: Sequence[float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "ldam_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        counts = _positive_counts(class_counts)
        max_margin = check_number(max_margin, "max_margin", low_open=True)
        scale = check_number(scale, "scale", low_open=True)
        weights = [1.0] * len(counts) if class_weight is None else class_weight
        weights = check_weights(weights, "class_weight", len(counts))
        self.class_counts = counts
        self.max_margin = max_margin
        self.scale = scale
        self.margins = ldam_margins(counts, max_margin=max_margin)
        self.offsets = _finite_offsets(offsets, len(counts))
        # A variable, not a constant: the compiled training step reads its
        # current value, so a callback can re-weight mid-training.
        self.class_weight = keras.Variable(
            weights, trainable=False, dtype="float32", name="ldam_class_weight"
        )
        self._track_per_class()
        # Read like the others; a variable of its own already, which
        # DeferredReweighting assigns.
        self._variables["class_weight"] = self.class_weight

    _PER_CLASS = ("class_counts", "margins", "offsets", "class_weight")
    _READ = ("margins", "offsets")
    _GIVEN_AS = {"margins": "class_counts"}

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        margins = self._per_class("margins", y_pred)
        logits = _offset(y_pred, self._per_class("offsets", y_pred))
        log_p = ops.log_softmax(logits - self.scale * margins * y_true, axis=-1)
        weights = self._per_class("class_weight", y_pred)
        return -ops.sum(y_true * log_p, axis=-1) * ops.sum(y_true * weights, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            class_counts=self.class_counts,
            max_margin=self.max_margin,
            scale=self.scale,
            class_weight=[float(w) for w in ops.convert_to_numpy(self.class_weight)],
            offsets=self.offsets,
        )
        return config


class DeferredReweighting(keras.callbacks.Callback):
    """Deferred re-weighting (DRW) of an :class:`LDAMLoss` (Cao et al., 2019).

    Trains with the loss's initial weights until ``start_epoch``, then with
    ``class_weight``: the network first learns features from the natural
    distribution, then re-balances its decision boundaries.

    Parameters
    ----------
    loss : LDAMLoss
        The compiled loss whose weights change.
    class_weight : sequence of float
        Per-class weights from ``start_epoch`` on, finite and ``>= 0``.
    start_epoch : int
        First (0-based) epoch trained with ``class_weight``, ``>= 0``.  Every epoch
        from it on sets the weights, so a training resumed past it (Keras'
        ``initial_epoch``) trains with them too.
    """

    def __init__(self, loss: LDAMLoss, class_weight: Sequence[float], start_epoch: int):
        super().__init__()
        self.loss = loss
        self.class_weight = check_weights(class_weight, "class_weight")
        self.start_epoch = check_number(start_epoch, "start_epoch", integer=True)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch < self.start_epoch:
            return
        weights = ops.convert_to_numpy(self.loss.class_weight)
        changed = not np.array_equal(weights, np.float32(self.class_weight))
        self.loss.class_weight.assign(self.class_weight)
        # Keras' JAX trainer passes its step the model's, the optimizer's
        # and the metrics' variables only: the loss's are compiled in as
        # constants, so the step is traced again to read the new weights.
        # (skimb's own training passes them to each step, and gives this
        # callback no model.)
        model = getattr(self, "_model", None)
        if changed and keras.backend.backend() == "jax" and model is not None:
            model.make_train_function(force=True)


def loss_class_weights(loss, *, drw, weighted_class_counts, beta: float) -> np.ndarray:
    """The per-class weights a loss applies on its own (the class-balanced
    loss's, and those ``drw`` switches on), from the weighted class counts;
    ones for the other losses."""
    if loss == "class_balanced" or drw is not None:
        return effective_number_weights(weighted_class_counts, beta=beta)
    return np.ones(len(weighted_class_counts))


class ResolvedLoss(NamedTuple):
    """A loss object and what it takes, from :func:`resolve_loss`."""

    loss: keras.losses.Loss
    """The Keras loss."""
    logits: bool
    """Whether it takes logits (else probabilities)."""
    sparse: bool
    """Whether it takes integer labels (else one-hot rows)."""


def resolve_loss(
    loss,
    *,
    gamma: float = 2.0,
    class_counts=None,
    beta: float = 0.999,
    tau: float = 1.0,
    ldam_scale: float = 10.0,
    offsets=None,
) -> ResolvedLoss:
    """The loss object for a ``loss`` parameter, and what it takes.

    Parameters
    ----------
    loss : {"crossentropy", "focal", "class_balanced", "logit_adjusted", \
"ldam"}, one of ``KERAS_LOSS_NAMES``, or keras loss
        A strategy name, or a Keras loss object used as given, or a loss
        function ``fn(y_true, y_pred)``, wrapped as a loss object (as
        ``Model.compile`` wraps one) so that it takes sample weights.  A
        Keras name (``"categorical_crossentropy"``, ...) is Keras' function
        of that name (``keras.losses.get``).
    gamma : float, default=2.0
        Focusing parameter of ``"focal"`` and ``"class_balanced"``.
    class_counts : array-like of shape (n_classes,), optional
        Training class counts; needed by ``"class_balanced"``,
        ``"logit_adjusted"`` and ``"ldam"``.
    beta : float, default=0.999
        Effective-number parameter of ``"class_balanced"``.
    tau : float, default=1.0
        Adjustment strength of ``"logit_adjusted"``.
    ldam_scale : float, default=10.0
        Margin scale of ``"ldam"``.
    offsets : array-like of shape (n_classes,), optional
        Per-class offsets that ``"crossentropy"``, ``"focal"``,
        ``"class_balanced"`` and ``"ldam"`` add to the logits (crossentropy
        with offsets is :class:`LogitAdjustedLoss` with ``tau=1``).

    Returns
    -------
    ResolvedLoss
        A named tuple ``(loss, logits, sparse)``: the Keras loss; whether
        it takes logits (else probabilities), which a Keras loss does only
        when it was built with ``from_logits=True``; and whether it takes
        integer labels (else one-hot rows), which only
        ``SparseCategoricalCrossentropy`` and its function do.

    Examples
    --------
    >>> import keras
    >>> from skimb.losses import resolve_loss
    >>> resolved = resolve_loss(keras.losses.SparseCategoricalCrossentropy())
    >>> resolved.logits, resolved.sparse
    (False, True)
    >>> type(resolve_loss("ldam", class_counts=[90, 10]).loss).__name__
    'LDAMLoss'
    >>> resolved = resolve_loss("sparse_categorical_crossentropy")
    >>> resolved.loss.fn.__name__, resolved.logits, resolved.sparse
    ('sparse_categorical_crossentropy', False, True)
    """
    if offsets is not None and loss not in OFFSET_LOSSES:
        raise ValueError(f"loss={loss!r} takes no offsets.")
    if loss == "crossentropy" and offsets is not None:
        # softmax(z + log q) with q = exp(offsets) / sum(exp(offsets)).
        offsets = _finite_offsets(offsets)
        prior = np.exp(np.asarray(offsets) - np.max(offsets))
        return ResolvedLoss(
            LogitAdjustedLoss(prior, tau=1.0, name="crossentropy"), True, False
        )
    if loss == "crossentropy":
        return ResolvedLoss(
            keras.losses.CategoricalCrossentropy(from_logits=True), True, False
        )
    if loss == "focal":
        return ResolvedLoss(FocalLoss(gamma=gamma, offsets=offsets), True, False)
    if loss in ("class_balanced", "logit_adjusted", "ldam"):
        if class_counts is None:
            raise ValueError(f"loss={loss!r} needs the training class_counts.")
        if loss == "class_balanced":
            built = ClassBalancedLoss(
                class_counts, beta=beta, gamma=gamma, offsets=offsets
            )
        elif loss == "logit_adjusted":
            built = LogitAdjustedLoss(class_counts, tau=tau)
        else:
            built = LDAMLoss(class_counts, scale=ldam_scale, offsets=offsets)
        return ResolvedLoss(built, True, False)
    if loss in KERAS_LOSS_NAMES:
        loss = keras.losses.get(loss)
    elif isinstance(loss, str):
        raise ValueError(
            f"loss must be one of {LOSSES}, a Keras name among {KERAS_LOSS_NAMES} "
            f"or a Keras loss; got {loss!r}."
        )
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    logits = bool(config.get("from_logits", False))
    sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy) or (
        loss is keras.losses.sparse_categorical_crossentropy
    )
    if not isinstance(loss, keras.losses.Loss):
        # A function, wrapped as Model.compile wraps one: the held-out rows'
        # loss passes sample weights, which a loss function does not take.
        loss = _FunctionLoss(loss)
    return ResolvedLoss(loss, logits, sparse)


# Registered under a name of its own: model files hold it, and so must keep
# finding it whatever the class is called.
@keras.saving.register_keras_serializable(package="skimb", name="FunctionLoss")
class _FunctionLoss(keras.losses.Loss):
    """A loss function ``fn(y_true, y_pred)`` as a loss object, which takes
    sample weights and reduces as Keras' losses do.  Keras' own wrapper
    (``LossFunctionWrapper``) is not public API.  A model file holds the
    function by name: one of the user's own loads where it is registered
    (``keras.saving.register_keras_serializable``)."""

    _WRAPS_FUNCTION = True  # read by skimb._loss_values

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None):
        if name is None:  # a lambda's "<lambda>" is no valid name scope
            name = getattr(fn, "__name__", "")
            name = name if name.isidentifier() else "loss"
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self) -> dict:
        config = super().get_config()
        config["fn"] = keras.saving.serialize_keras_object(self.fn)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config, fn=keras.saving.deserialize_keras_object(config["fn"]))
        return cls(**config)
