"""Model files that load without pickle.

A skimb model file is a zip archive of three kinds of member:

``manifest.json``
    The format name and version, the versions of skimb, Keras and
    scikit-learn that wrote it, and the SHA-256 of every other member.
``estimator.json``
    The estimator as data: its class, its constructor parameters
    (``get_params(deep=False)``) and its fitted state (every instance
    attribute that is not a parameter), in a typed JSON encoding that keeps
    NumPy dtypes and shapes, tuples and non-string dictionary keys.
``models/<n>.keras``
    Each Keras network, in the ``.keras`` format, loaded in Keras' safe mode.

Loading never unpickles and never imports a module outside skimb,
scikit-learn and imbalanced-learn, so opening a model file from someone else
cannot run their code; Keras' safe mode refuses ``Lambda`` layers for the
same reason.  The zip comment that ends the file holds the SHA-256 of all
the bytes before it, so a truncated or altered file is refused; the
checksums catch accidents and careless edits, they are not a signature.
Anything the encoding cannot store (a callback, a ``RandomState``, a custom
Python object) is refused at save time with an error that names it, rather
than silently dropped.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import keras
import sklearn
from sklearn.base import BaseEstimator

import skimb
from skimb._atomic import write_atomic
from skimb.persistence._archive import (
    ESTIMATOR,
    FORMAT,
    FORMAT_VERSION,
    ModelFileError,
    archive,
    check_seal,
    read_manifest,
    sha256,
)
from skimb.persistence._encoding import Decoder, Encoder

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]


def save(estimator: BaseEstimator, path: str | os.PathLike) -> Path:
    """Write an estimator to a model file that loads without pickle.

    The file is first written next to ``path`` under a temporary name and
    then renamed over it, so an interrupted save leaves either the old file
    or nothing at ``path``, never a half-written one.

    Parameters
    ----------
    estimator : estimator
        A skimb estimator, or a scikit-learn / imbalanced-learn estimator or
        pipeline (fitted or not) whose parameters and fitted attributes are
        arrays, numbers, strings, lists, tuples and dicts of those, Keras
        models, Keras losses and other such estimators.
    path : str or path-like
        Where to write the file (by convention with the suffix ``.skimb``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If the estimator holds something the format cannot store; the
        message names the parameter or attribute.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skimb.persistence import load, save
    >>> clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> folder = tempfile.mkdtemp()
    >>> path = save(clf, os.path.join(folder, "model.skimb"))
    >>> load(path).predict([[2.5]]).tolist()
    [1]
    """
    path = Path(path)
    encoder = Encoder()
    tree = encoder.encode(estimator, type(estimator).__name__)
    members = {ESTIMATOR: json.dumps(tree, allow_nan=False).encode()}
    members.update(encoder.models)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skimb_version": skimb.__version__,
        "keras_version": keras.__version__,
        "sklearn_version": sklearn.__version__,
        "estimator": type(estimator).__name__,
        "sha256": {name: sha256(data) for name, data in members.items()},
    }
    write_atomic(path, archive(manifest, members), sync=True)
    return path


def load(path: str | os.PathLike) -> BaseEstimator:
    """Read an estimator written by :func:`save`, without unpickling.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    estimator
        The estimator, with its parameters and fitted state; its
        ``predict_proba`` gives the same numbers as the saved one's.

    Raises
    ------
    ModelFileError
        If the file is not a skimb model file, is truncated or altered, or
        was written in a newer format than this skimb reads.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skimb.persistence import load, save
    >>> scaler = StandardScaler().fit([[0.0], [2.0]])
    >>> path = save(scaler, os.path.join(tempfile.mkdtemp(), "scaler.skimb"))
    >>> load(path).mean_.tolist()
    [1.0]
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{str(path)!r} is a folder, not a model file: give the path of "
            "the .skimb file inside it."
        )
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    data = path.read_bytes()
    check_seal(data, path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = read_manifest(archive, path)
            members = {name: archive.read(name) for name in sorted(manifest["sha256"])}
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as error:
        raise ModelFileError(
            f"{str(path)!r} is not a readable skimb model file: it is truncated, "
            f"damaged or of another kind ({error})."
        ) from None
    for name, data in members.items():
        if sha256(data) != manifest["sha256"][name]:
            raise ModelFileError(
                f"{str(path)!r} has been altered or damaged: the checksum of "
                f"{name!r} does not match its manifest."
            )
    if ESTIMATOR not in members:
        raise ModelFileError(f"{str(path)!r} holds no estimator.")
    try:
        tree = json.loads(members[ESTIMATOR])
    except ValueError as error:
        raise ModelFileError(
            f"{str(path)!r} holds an unreadable estimator description ({error})."
        ) from None
    return Decoder(members, path).decode(tree)
