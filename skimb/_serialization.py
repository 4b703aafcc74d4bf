"""A Keras model to and from bytes of the ``.keras`` format, loaded in safe mode.

Pickling the classifier stores its network this way instead of pickling Keras
objects, so a pickle holds plain bytes that Keras reads back (beside them, a
user's own layer classes by reference, :func:`user_objects`), and the same
bytes serve the pickle-free model files, which load in safe mode only.
"""

from __future__ import annotations

import os
import tempfile

import keras

# Imported for its side effect: it registers skimb's losses with Keras, so a
# network compiled with one of them loads in a fresh process.
from skimb import losses as _losses  # noqa: F401
from skimb._layers import every_layer, is_library_layer


def model_to_bytes(model: keras.Model) -> bytes:
    """Serialise a model (architecture, weights, optimizer state) to bytes."""
    with tempfile.TemporaryDirectory(prefix="skimb-") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(
    data: bytes, *, custom_objects: dict | None = None, safe_mode: bool = True
) -> keras.Model:
    """Load a model written by :func:`model_to_bytes`, in Keras' safe mode
    unless told otherwise; ``custom_objects`` as Keras takes them."""
    with tempfile.TemporaryDirectory(prefix="skimb-") as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        return keras.saving.load_model(
            path, custom_objects=custom_objects, compile=True, safe_mode=safe_mode
        )


def user_objects(model: keras.Model) -> tuple[dict, bool]:
    """What a model's file names but does not hold: the classes of its
    layers that are neither Keras' nor skimb's (a user's own, unregistered)
    and the functions of its ``Lambda`` layers, by the names the file gives
    them; and whether a ``Lambda`` holds a ``lambda``, whose code the file
    keeps and safe mode refuses to run.

    A pickle keeps these beside the model's bytes, by reference as it keeps
    a build function: loading a pickle imports them and runs code in any
    case, so the model loads as it was fitted.
    """
    objects, has_lambda = {}, False
    for layer in every_layer(model):
        cls = type(layer)
        if isinstance(layer, keras.layers.Lambda):
            name = getattr(layer.function, "__name__", "<lambda>")
            if name == "<lambda>":
                has_lambda = True
            else:
                objects[name] = layer.function
        elif not is_library_layer(layer):
            name = keras.saving.get_registered_name(cls)
            registered = keras.saving.get_registered_object(name) is cls
            # Kept by reference, so that loading imports (and so registers)
            # them; but a registered class defined in a function, which no
            # pickle can name, loads by its registered name alone.
            if not (registered and "<locals>" in cls.__qualname__):
                objects[name] = cls
    return objects, has_lambda
