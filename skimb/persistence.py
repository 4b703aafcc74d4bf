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

import base64
import hashlib
import importlib
import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np
import sklearn
from sklearn.base import BaseEstimator

import skimb
from skimb._atomic import write_atomic
from skimb._serialization import model_from_bytes, model_to_bytes

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "save"]

FORMAT = "skimb-model"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.json"
# Start of the zip comment that ends every model file; a SHA-256 follows.
_SEAL = b"skimb-sha256:"
# Classes are only ever looked up in these packages, so a model file cannot
# make ``load`` import and run a module of its choosing.
_TRUSTED_PACKAGES = ("skimb", "sklearn", "imblearn")
# NumPy kinds stored as raw bytes: booleans, integers and floats.
_BINARY_KINDS = "biuf"


class ModelFileError(ValueError):
    """A model file cannot be written or read: the message says why."""


# --------------------------------------------------------------------- save


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
    encoder = _Encoder()
    tree = encoder.encode(estimator, type(estimator).__name__)
    members = {_ESTIMATOR: json.dumps(tree, allow_nan=False).encode()}
    members.update(encoder.models)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skimb_version": skimb.__version__,
        "keras_version": keras.__version__,
        "sklearn_version": sklearn.__version__,
        "estimator": type(estimator).__name__,
        "sha256": {name: _sha256(data) for name, data in members.items()},
    }
    write_atomic(path, _archive(manifest, members), sync=True)
    return path


def _archive(manifest: dict, members: dict[str, bytes]) -> bytes:
    """The zip file, sealed with the SHA-256 of all its bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, indent=1))
        for name, data in members.items():
            # Compressed even though .keras files are zip archives: stored as
            # they are, a truncated model file would end in the network's own
            # zip directory and read as a valid, if foreign, zip file.
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        archive.comment = _SEAL + b"0" * 64
    return _seal(buffer.getvalue())


def _seal(data: bytes) -> bytes:
    # The zip comment ends the file; it holds the digest of everything before
    # its last 64 bytes, so that a change to any byte (of the members, their
    # headers or the zip directory) is detected, not only to the members.
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode("ascii")


def _check_seal(data: bytes, path: Path) -> None:
    if data[-64 - len(_SEAL) : -64] != _SEAL:
        raise ModelFileError(
            f"{str(path)!r} is not a skimb model file, or it is truncated or "
            "damaged (its end is missing)."
        )
    if _seal(data) != data:
        raise ModelFileError(
            f"{str(path)!r} has been altered or damaged: its checksum does not "
            "match its content."
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class _Encoder:
    """Turns an estimator into JSON-ready data; collects its Keras models."""

    def __init__(self):
        self.models: dict[str, bytes] = {}

    def encode(self, value, where: str):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            # Strict JSON has no NaN or infinity.
            if math.isfinite(value):
                return value
            return {"type": "float", "value": repr(value)}
        if isinstance(value, np.ndarray):
            return self._encode_array(value, where)
        if isinstance(value, np.generic):
            array = self._encode_array(np.asarray(value), where)
            return {**array, "type": "scalar"}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"type": "tuple", "items": items}
        if isinstance(value, dict):
            return {
                "type": "dict",
                "items": [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ],
            }
        if isinstance(value, keras.Model):
            _check_layers(value, where)
            name = f"models/{len(self.models)}.keras"
            self.models[name] = model_to_bytes(value)
            return {"type": "keras_model", "member": name}
        if isinstance(value, keras.losses.Loss) or (
            callable(value) and _defined_in(value, ("keras", "skimb"))
        ):
            return {"type": "keras_loss", "config": self._keras_config(value, where)}
        if isinstance(value, BaseEstimator):
            return self._encode_estimator(value, where)
        raise TypeError(_refusal(value, where))

    def _encode_array(self, array: np.ndarray, where: str) -> dict:
        node = {"type": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape)}
        kind = array.dtype.kind
        if kind in _BINARY_KINDS:
            data = np.ascontiguousarray(array).tobytes()
            return {**node, "data": base64.b64encode(data).decode("ascii")}
        if kind == "U":
            return {**node, "data": array.ravel().tolist()}
        if kind == "O":
            # Labels of mixed Python types end up in object arrays.
            items = array.ravel().tolist()
            for item in items:
                if not isinstance(item, (str, int, float, bool)) or item is None:
                    raise TypeError(
                        f"Cannot store {where}: an object array holding "
                        f"{type(item).__name__} values; model files hold object "
                        "arrays of strings and numbers only."
                    )
            return {**node, "data": [self.encode(v, where) for v in items]}
        raise TypeError(
            f"Cannot store {where}: NumPy arrays of dtype {array.dtype} are not "
            "supported (booleans, integers, floats and strings are)."
        )

    def _keras_config(self, loss, where: str) -> dict:
        config = keras.saving.serialize_keras_object(loss)
        if not _trusted_keras_config(config):
            raise TypeError(
                f"Cannot store {where}: the loss {type(loss).__name__} is defined "
                f"in {type(loss).__module__!r}; model files hold Keras' and skimb's "
                "losses only, so that loading runs no outside code."
            )
        return config

    def _encode_estimator(self, estimator: BaseEstimator, where: str) -> dict:
        cls = type(estimator)
        if cls.__module__.split(".")[0] not in _TRUSTED_PACKAGES:
            raise TypeError(
                f"Cannot store {where}: {cls.__name__} comes from "
                f"{cls.__module__!r}; model files hold estimators of skimb, "
                "scikit-learn and imbalanced-learn only. Use pickle or joblib "
                "for other estimators, and load such files only from sources "
                "you trust."
            )
        params = estimator.get_params(deep=False)
        # The fitted state is every instance attribute that is not a
        # parameter, so attributes added by any estimator are kept without a
        # list of names to maintain here.
        state = {k: v for k, v in vars(estimator).items() if k not in params}
        return {
            "type": "estimator",
            "class": _qualified_name(cls),
            "params": {
                k: self.encode(v, f"{where} parameter {k!r}") for k, v in params.items()
            },
            "attributes": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()},
        }


def _all_layers(model: keras.Model):
    """Every layer of ``model``, those of nested models included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        elif hasattr(layer, "layer"):  # wrappers: TimeDistributed, Bidirectional
            yield layer.layer


def _check_layers(model: keras.Model, where: str) -> None:
    """Refuse a network with a layer that Keras' safe mode could not rebuild:
    one whose class is neither Keras' nor skimb's and is not registered as
    serialisable (the file would be written, and then not load)."""
    for layer in _all_layers(model):
        cls = type(layer)
        if _defined_in(cls, ("keras", "skimb")):
            continue
        if keras.saving.get_registered_name(cls) == cls.__name__:
            raise TypeError(
                f"Cannot store {where}: its layer {layer.name!r} is a "
                f"{cls.__qualname__} from {cls.__module__!r}, which is not "
                "registered as serialisable, so the file could not be loaded. "
                "Decorate the class with @keras.saving."
                "register_keras_serializable(), and import it before loading."
            )


def _defined_in(obj, packages: tuple[str, ...]) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in packages


def _trusted_keras_config(config) -> bool:
    """Whether Keras rebuilds ``config`` from Keras' or skimb's own objects.

    Keras names its built-in functions by name alone (module "builtins"),
    and classes by their module.
    """
    if not isinstance(config, dict):
        return False
    module = str(config.get("module") or "")
    if module == "builtins" and config.get("class_name") == "function":
        return isinstance(config.get("config"), str)
    return module.split(".")[0] in ("keras", "skimb")


def _refusal(value, where: str) -> str:
    kind = type(value).__name__
    if isinstance(value, keras.callbacks.Callback):
        hint = (
            " Callbacks only matter during training: remove them with "
            "set_params(callbacks=None) before saving."
        )
    elif isinstance(value, np.random.RandomState):
        hint = " Use an integer random_state to save the estimator."
    elif callable(value):
        hint = (
            " Functions cannot be stored without running code on loading; for "
            "a network's build function (model=), pass the keras.Model it "
            "builds as model= instead, or use pickle for files you trust."
        )
    else:
        hint = ""
    return (
        f"Cannot store {where} of type {kind}: model files hold arrays, numbers, "
        "strings, lists and dicts of those, Keras models and losses, and "
        f"scikit-learn estimators.{hint}"
    )


# --------------------------------------------------------------------- load


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
    _check_seal(data, path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = _read_manifest(archive, path)
            members = {name: archive.read(name) for name in sorted(manifest["sha256"])}
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as error:
        raise ModelFileError(
            f"{str(path)!r} is not a readable skimb model file: it is truncated, "
            f"damaged or of another kind ({error})."
        ) from None
    for name, data in members.items():
        if _sha256(data) != manifest["sha256"][name]:
            raise ModelFileError(
                f"{str(path)!r} has been altered or damaged: the checksum of "
                f"{name!r} does not match its manifest."
            )
    if _ESTIMATOR not in members:
        raise ModelFileError(f"{str(path)!r} holds no estimator.")
    try:
        tree = json.loads(members[_ESTIMATOR])
    except ValueError as error:
        raise ModelFileError(
            f"{str(path)!r} holds an unreadable estimator description ({error})."
        ) from None
    return _Decoder(members, path).decode(tree)


def _read_manifest(archive: zipfile.ZipFile, path: Path) -> dict:
    try:
        manifest = json.loads(archive.read(_MANIFEST))
    except KeyError:
        raise ModelFileError(
            f"{str(path)!r} is not a skimb model file, or it is truncated or "
            f"damaged (it has no {_MANIFEST})."
        ) from None
    except ValueError as error:
        raise ModelFileError(
            f"{str(path)!r} has an unreadable manifest ({error})."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not a skimb model file.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or not isinstance(manifest.get("sha256"), dict):
        raise ModelFileError(f"{str(path)!r} has a damaged manifest.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by skimb "
            f"{manifest.get('skimb_version', '?')} in model-file format {version}; "
            f"this skimb ({skimb.__version__}) reads formats up to "
            f"{FORMAT_VERSION}. Upgrade skimb to load it."
        )
    return manifest


class _Decoder:
    """Rebuilds what :class:`_Encoder` wrote."""

    def __init__(self, members: dict[str, bytes], path: Path):
        self.members = members
        self.path = path

    def _fail(self, problem: str):
        return ModelFileError(f"{str(self.path)!r} is damaged: {problem}.")

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict):
            raise self._fail(f"unexpected {type(node).__name__} in the description")
        kind = node.get("type")
        try:
            if kind == "float":
                return float(node["value"])
            if kind == "tuple":
                return tuple(self.decode(item) for item in node["items"])
            if kind == "dict":
                return {self.decode(k): self.decode(v) for k, v in node["items"]}
            if kind in ("ndarray", "scalar"):
                array = self._decode_array(node)
                return array[()] if kind == "scalar" else array
            if kind == "keras_model":
                return model_from_bytes(self.members[node["member"]])
            if kind == "keras_loss":
                if not _trusted_keras_config(node["config"]):
                    raise self._fail("a loss outside Keras and skimb is named")
                return keras.saving.deserialize_keras_object(
                    node["config"], safe_mode=True
                )
            if kind == "estimator":
                return self._decode_estimator(node)
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ModelFileError):
                raise
            raise self._fail(f"a {kind!r} entry cannot be read ({error})") from None
        raise self._fail(f"unknown entry type {kind!r}")

    def _decode_array(self, node: dict) -> np.ndarray:
        dtype = np.dtype(node["dtype"])
        shape = tuple(node["shape"])
        if dtype.kind in _BINARY_KINDS:
            data = base64.b64decode(node["data"], validate=True)
            return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if dtype.kind == "U":
            return np.array(node["data"], dtype=dtype).reshape(shape)
        if dtype.kind == "O":
            array = np.empty(len(node["data"]), dtype=object)
            array[:] = [self.decode(v) for v in node["data"]]
            return array.reshape(shape)
        raise self._fail(f"unsupported array dtype {dtype}")

    def _decode_estimator(self, node: dict) -> BaseEstimator:
        cls = self._resolve(node["class"])
        params = {k: self.decode(v) for k, v in node["params"].items()}
        estimator = cls(**params)
        # Straight into the instance dict, as unpickling does: no property
        # or validation runs on fitted state.
        estimator.__dict__.update(
            {k: self.decode(v) for k, v in node["attributes"].items()}
        )
        return estimator

    def _resolve(self, name: str) -> type:
        module_name, _, qualname = name.partition(":")
        if module_name.split(".")[0] not in _TRUSTED_PACKAGES:
            raise ModelFileError(
                f"{str(self.path)!r} names the class {name!r}, outside skimb, "
                "scikit-learn and imbalanced-learn; it is not loaded."
            )
        try:
            obj = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            raise ModelFileError(
                f"{str(self.path)!r} needs the class {name!r}, which this "
                "installation does not have (was it written by another version?)."
            ) from None
        if not (isinstance(obj, type) and issubclass(obj, BaseEstimator)):
            raise ModelFileError(
                f"{str(self.path)!r} names {name!r}, which is not an estimator."
            )
        return obj
