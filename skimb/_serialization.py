"""A Keras model to and from bytes of the ``.keras`` format, loaded in safe mode.

Pickling the classifier stores its network this way instead of pickling Keras
objects, so a pickle holds plain bytes that Keras reads back without running
code, and the same bytes serve the pickle-free model files.
"""

from __future__ import annotations

import os
import tempfile

import keras

# Imported for its side effect: it registers skimb's losses with Keras, so a
# network compiled with one of them loads in a fresh process.
from skimb import losses as _losses  # noqa: F401


def model_to_bytes(model: keras.Model) -> bytes:
    """Serialise a model (architecture, weights, optimizer state) to bytes."""
    with tempfile.TemporaryDirectory(prefix="skimb-") as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data: bytes) -> keras.Model:
    """Load a model written by :func:`model_to_bytes`, in Keras' safe mode."""
    with tempfile.TemporaryDirectory(prefix="skimb-") as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        return keras.saving.load_model(path, compile=True, safe_mode=True)
