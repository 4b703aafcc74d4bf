"""Data-parallel training: the devices of one fit, through Keras' distribution API.

``devices`` names the devices one fit trains on.  With more than one, every
training batch is split across them along its rows and the weights are
replicated: each device computes the gradient of its share of the batch and
XLA adds them up (an all-reduce), so a step is the step of one device on
the whole batch, up to the order of float additions.  Keras' distribution
API describes the layouts (:class:`keras.distribution.DataParallel`); the
compiled epoch of :mod:`skimb._program` applies them.  It does so within
the fit alone: the process's global distribution
(``keras.distribution.set_distribution``) is the user's and is left as it is.
"""

from __future__ import annotations

from numbers import Integral

import keras


def data_parallel(devices) -> keras.distribution.DataParallel | None:
    """The distribution of ``devices`` (None: one device, Keras' default).

    ``devices`` is ``None``, ``"all"``, a number of devices (the first of
    :func:`keras.distribution.list_devices`) or a list of their names
    (``["gpu:0", "gpu:1"]``).
    """
    if devices is None:
        return None
    available = keras.distribution.list_devices()
    backend = keras.backend.backend()
    if isinstance(devices, str) and devices == "all":
        chosen = list(available)
    elif isinstance(devices, Integral):
        if devices > 1 and backend != "jax":
            # Said first: on another backend, more devices would not help.
            raise _needs_jax(devices, devices, backend)
        if devices > len(available):
            raise ValueError(
                f"devices={devices}, but Keras sees {len(available)}: {available}."
            )
        chosen = list(available[:devices])
    else:
        chosen = list(devices)
        unknown = [d for d in chosen if d not in available]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(
                f"devices={devices!r}: name each device once, from those Keras "
                f"sees: {available}."
            )
    if len(chosen) == 1:
        return None
    if backend != "jax":
        raise _needs_jax(devices, len(chosen), backend)
    return keras.distribution.DataParallel(devices=chosen)


def _needs_jax(devices, n_devices: int, backend: str) -> ValueError:
    return ValueError(
        f"devices={devices!r} asks for {n_devices} devices: skimb trains "
        "on several devices on Keras' JAX backend (KERAS_BACKEND=jax); this "
        f"process uses {backend!r}, on which a fit trains on one device "
        "(devices=None)."
    )
