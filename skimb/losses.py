"""Imbalance-aware Keras losses.

Every loss here is a serializable ``keras.losses.Loss`` written with
``keras.ops`` only, so it runs on every Keras backend and reloads from a
``.keras`` file in safe mode.  Targets are one-hot rows ``(n, n_classes)``;
predictions are logits unless ``from_logits=False``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

__all__ = ["FocalLoss", "resolve_loss"]

LOSSES = ("crossentropy", "focal")


def _log_probabilities(y_pred, from_logits: bool):
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    eps = keras.config.epsilon()
    return ops.log(ops.clip(y_pred, eps, 1.0 - eps))


@keras.saving.register_keras_serializable(package="skimb")
class FocalLoss(keras.losses.Loss):
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
        reduction: str = "sum_over_batch_size",
        name: str = "focal_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0; got {gamma}.")
        if alpha is not None:
            alpha = [float(a) for a in alpha]
            if any(a < 0 for a in alpha):
                raise ValueError(f"alpha must be non-negative; got {alpha}.")
        self.gamma = float(gamma)
        self.alpha = alpha
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        log_p = _log_probabilities(y_pred, self.from_logits)
        log_p_true = ops.sum(y_true * log_p, axis=-1)
        # 1 - p_y computed as -expm1(log p_y) keeps precision when p_y -> 1.
        modulator = ops.power(-ops.expm1(log_p_true), self.gamma)
        loss = -modulator * log_p_true
        if self.alpha is not None:
            alpha = ops.convert_to_tensor(self.alpha, dtype=y_pred.dtype)
            loss = loss * ops.sum(y_true * alpha, axis=-1)
        return loss

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(gamma=self.gamma, alpha=self.alpha, from_logits=self.from_logits)
        return config


def resolve_loss(loss, *, gamma: float = 2.0):
    """The loss object for a ``loss`` parameter, and what it takes.

    Parameters
    ----------
    loss : {"crossentropy", "focal"} or keras loss
        A strategy name, or a Keras loss object or function used as given.
    gamma : float, default=2.0
        Focusing parameter of ``"focal"``.

    Returns
    -------
    loss : keras loss
    logits : bool
        Whether the loss takes logits (else probabilities): a Keras loss takes
        logits only when it was built with ``from_logits=True``.
    sparse : bool
        Whether it takes integer labels (else one-hot rows): only
        ``SparseCategoricalCrossentropy`` and its function do.

    Examples
    --------
    >>> import keras
    >>> from skimb.losses import resolve_loss
    >>> resolve_loss(keras.losses.SparseCategoricalCrossentropy())[1:]
    (False, True)
    """
    if loss == "crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=True), True, False
    if loss == "focal":
        return FocalLoss(gamma=gamma), True, False
    if isinstance(loss, str):
        raise ValueError(f"loss must be one of {LOSSES} or a Keras loss; got {loss!r}.")
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    logits = bool(config.get("from_logits", False))
    sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy) or (
        loss is keras.losses.sparse_categorical_crossentropy
    )
    return loss, logits, sparse
