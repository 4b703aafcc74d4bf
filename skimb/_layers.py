"""Layers for sequences of different lengths, the log of a softmax, and the
standardisation of the features, written with ``keras.ops`` so they run on
every backend and reload from a saved model.

Keras' own ``Masking`` layer marks padded steps by a value, and its mask is
dropped by ``Conv1D``, ``Flatten`` and ``GlobalMaxPooling1D``; these layers
carry the mask explicitly instead.  Inside skimb's networks a padded step is
a step of NaN (``skimb._inputs`` pads that way), a value no real step can
take since inputs are checked to be finite.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="skimb")
class StepMask(keras.layers.Layer):
    """``(x, mask)``: ``x`` with padded (NaN) steps set to 0, and a boolean
    ``(batch, timesteps)`` mask that is true on real steps."""

    def call(self, x):
        missing = ops.isnan(x)
        return ops.where(missing, ops.zeros_like(x), x), ops.logical_not(
            ops.any(missing, axis=-1)
        )

    def compute_output_spec(self, x):
        return (
            keras.KerasTensor(x.shape, dtype=x.dtype),
            keras.KerasTensor(x.shape[:-1], dtype="bool"),
        )


@keras.saving.register_keras_serializable(package="skimb")
class ZeroPadded(keras.layers.Layer):
    """Set the features of padded steps to 0 (after standardisation or a
    convolution, which move them)."""

    def call(self, x, step_mask):
        return x * ops.expand_dims(ops.cast(step_mask, x.dtype), -1)

    def compute_output_shape(self, x_shape, step_mask_shape):
        return x_shape


@keras.saving.register_keras_serializable(package="skimb")
class WindowMaxPooling(keras.layers.Layer):
    """Maximum over windows of ``pool`` steps from step 0, of the real steps
    alone: padded steps, and the steps that fill the last window, read as
    -1e30 (zeros would clip negative features, under an activation other
    than relu), and a window of padding alone is 0, as padded steps are.
    With ``step_mask`` None every step is real."""

    def __init__(self, pool: int, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool

    def call(self, x, step_mask=None):
        if step_mask is not None:
            x = ops.where(ops.expand_dims(step_mask, -1), x, -1e30)
        extra = -x.shape[1] % self.pool
        if extra:
            x = ops.pad(x, ((0, 0), (0, extra), (0, 0)), constant_values=-1e30)
        pooled = ops.max_pool(x, self.pool, strides=self.pool, padding="valid")
        # (Only a window of padding alone keeps -1e30.)
        return ops.where(pooled > -1e29, pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, x_shape, step_mask_shape=None):
        steps = None if x_shape[1] is None else -(-x_shape[1] // self.pool)
        return (x_shape[0], steps, x_shape[2])

    def get_config(self):
        return {**super().get_config(), "pool": self.pool}


@keras.saving.register_keras_serializable(package="skimb")
class MaskedPooling(keras.layers.Layer):
    """Mean or maximum over the real steps of each sequence."""

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"mode must be 'mean' or 'max'; got {mode!r}.")
        self.mode = mode

    def call(self, x, step_mask):
        weight = ops.expand_dims(ops.cast(step_mask, x.dtype), -1)
        if self.mode == "mean":
            return ops.sum(x * weight, axis=1) / ops.maximum(
                ops.sum(weight, axis=1), 1.0
            )
        # Every sequence has a real step, so the maximum is one of them.
        return ops.max(ops.where(weight > 0, x, -1e30), axis=1)

    def compute_output_shape(self, x_shape, step_mask_shape):
        return (x_shape[0], x_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="skimb")
class PooledMask(keras.layers.Layer):
    """The step mask of a sequence max-pooled by ``pool`` in windows from
    step 0 (the last one padded): a pooled step is real when any step of its
    window is."""

    def __init__(self, pool: int, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool

    def call(self, step_mask):
        weight = ops.expand_dims(ops.cast(step_mask, "float32"), -1)
        extra = -step_mask.shape[1] % self.pool
        weight = ops.pad(weight, ((0, 0), (0, extra), (0, 0)))
        pooled = ops.max_pool(weight, self.pool, strides=self.pool, padding="valid")
        return ops.squeeze(pooled, -1) > 0

    def compute_output_spec(self, step_mask):
        steps = (
            None if step_mask.shape[1] is None else -(-step_mask.shape[1] // self.pool)
        )
        return keras.KerasTensor((step_mask.shape[0], steps), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "pool": self.pool}


@keras.saving.register_keras_serializable(package="skimb")
class LogOf(keras.layers.Layer):
    """The logarithm of probabilities, kept finite: a network that ends in a
    softmax gives logits this way (``softmax(log p) = p``)."""

    def call(self, x):
        return ops.log(ops.clip(x, keras.config.epsilon(), 1.0))


@keras.saving.register_keras_serializable(package="skimb")
class Standardize(keras.layers.Layer):
    """Each feature (the last axis) less its mean, over its standard
    deviation (at least 1e-7), as Keras' ``Normalization`` computes it.

    Our own because ``Normalization`` reads its moments from constants taken
    when it is built, whether given or adapted: the cross-fitted networks of
    a fit, which differ in their moments, would then be different functions
    of their weights.  Here the moments are (non-trainable) weights, so one
    traced training step serves every network (:mod:`skimb._network_step`).
    ``mean`` and ``variance`` read them, as backend tensors.
    """

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self._mean = self.add_weight(
            name="mean", shape=shape, initializer="zeros", trainable=False
        )
        self._variance = self.add_weight(
            name="variance", shape=shape, initializer="ones", trainable=False
        )

    def call(self, x):
        scale = ops.maximum(ops.sqrt(self._variance), keras.config.epsilon())
        return ops.divide(ops.subtract(x, self._mean), scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def set_moments(self, mean, variance) -> None:
        """Hold ``mean`` and ``variance`` (one value per feature)."""
        self._mean.assign(ops.cast(mean, self._mean.dtype))
        self._variance.assign(ops.cast(variance, self._variance.dtype))

    # Backend tensors, as Normalization's: a variable turned into NumPy
    # warns on NumPy 2 (Keras' variables take no copy argument), and Keras'
    # saving reads every attribute of a layer.
    @property
    def mean(self):
        return keras.ops.copy(self._mean)

    @property
    def variance(self):
        return keras.ops.copy(self._variance)


def every_layer(model: keras.Layer) -> list:
    """``model`` and every layer inside it, those inside wrappers
    (TimeDistributed, Bidirectional, an RNN's cell) and a custom layer's own
    included: Keras walks them so (``Layer._flatten_layers``, which has no
    public equivalent)."""
    return list(model._flatten_layers(include_self=True, recursive=True))


def is_library_layer(layer: keras.Layer) -> bool:
    """Whether ``layer`` is of a class that Keras or skimb defines, so that
    its configuration says all it computes and a model file can name it: a
    ``Lambda`` holds a function, a user's class code of their own."""
    return not isinstance(layer, keras.layers.Lambda) and type(
        layer
    ).__module__.startswith(("keras.", "skimb."))
