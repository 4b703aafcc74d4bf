"""The estimator as typed JSON, and back: what a model file may hold, and
the classes it may name (skimb's, scikit-learn's, imbalanced-learn's)."""

from __future__ import annotations

import base64
import importlib
import math
from pathlib import Path

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit

from skimb._serialization import model_from_bytes, model_to_bytes
from skimb._splits import splitter_parameters
from skimb.persistence._archive import ModelFileError

# Classes are only ever looked up in these packages, so a model file cannot
# make ``load`` import and run a module of its choosing.
_TRUSTED_PACKAGES = ("skimb", "sklearn", "imblearn")
# scikit-learn's cross-validation splitters (``cv``), stored by their
# parameters as estimators are.
_SPLITTERS = (BaseCrossValidator, BaseShuffleSplit)
# NumPy kinds stored as raw bytes: booleans, integers and floats.
_BINARY_KINDS = "biuf"


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class Encoder:
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
            # float(): NumPy 2 writes np.float64(nan), which float() cannot read.
            return {"type": "float", "value": repr(float(value))}
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
        if isinstance(value, _SPLITTERS):
            return self._encode_splitter(value, where)
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
        # Keras rebuilds a function by its registered name only: a function
        # of skimb's or Keras' that is not registered (skimb.metrics.macro_f1)
        # would be saved and never load, and keras.ops.relu would load as
        # another function (keras.activations.relu).
        try:
            restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
        except Exception:  # Keras raises several types for a name it lacks
            restored = None
        if (
            type(restored) is not type(loss)
            if isinstance(loss, keras.losses.Loss)
            else restored is not loss
        ):
            name = getattr(loss, "__qualname__", type(loss).__qualname__)
            module = getattr(loss, "__module__", None)
            raise TypeError(
                f"Cannot store {where}: {name} (from {module!r}) is not "
                "an object Keras rebuilds by name, so the model file could not "
                "load it back as it is."
            )
        return config

    def _encode_estimator(self, estimator: BaseEstimator, where: str) -> dict:
        cls = type(estimator)
        _check_trusted(cls, where)
        params = estimator.get_params(deep=False)
        # The fitted state is every instance attribute that is not a
        # parameter, so attributes added by any estimator are kept without a
        # list of names to maintain here; those the estimator rebuilds when
        # needed (``_TRANSIENT``, which a pickle leaves out too) are not.
        skipped = set(params) | set(getattr(estimator, "_TRANSIENT", ()))
        state = {k: v for k, v in vars(estimator).items() if k not in skipped}
        return {
            "type": "estimator",
            "class": _qualified_name(cls),
            "params": {
                k: self.encode(v, f"{where} parameter {k!r}") for k, v in params.items()
            },
            "attributes": {k: self.encode(v, f"{where}.{k}") for k, v in state.items()},
        }

    def _encode_splitter(self, splitter, where: str) -> dict:
        cls = type(splitter)
        _check_trusted(cls, where)
        params = {}
        for name in splitter_parameters(cls):
            if not hasattr(splitter, name):
                raise TypeError(
                    f"Cannot store {where}: the splitter {cls.__name__} keeps "
                    f"no attribute for its parameter {name!r}."
                )
            params[name] = self.encode(
                getattr(splitter, name), f"{where} parameter {name!r}"
            )
        return {"type": "splitter", "class": _qualified_name(cls), "params": params}


def _check_trusted(cls: type, where: str) -> None:
    if cls.__module__.split(".")[0] not in _TRUSTED_PACKAGES:
        raise TypeError(
            f"Cannot store {where}: {cls.__name__} comes from "
            f"{cls.__module__!r}; model files hold estimators of skimb, "
            "scikit-learn and imbalanced-learn only. Use pickle or joblib "
            "for other estimators, and load such files only from sources "
            "you trust."
        )


def _named_layers(model: keras.Model):
    """The layers a model file names: the model's, and those inside Keras'
    and skimb's layers (nested models, wrappers, an RNN's cell), but not
    those a user's own layer builds, which its ``from_config`` rebuilds."""
    stack = [model]
    while stack:
        layer = stack.pop()
        yield layer
        if layer is model or _defined_in(type(layer), ("keras", "skimb")):
            # Keras' walk over the layers a layer tracks (no public one).
            stack.extend(layer._flatten_layers(include_self=False, recursive=False))


def _check_layers(model: keras.Model, where: str) -> None:
    """Refuse a network with a layer that Keras' safe mode could not rebuild:
    one whose class is neither Keras' nor skimb's and is not registered as
    serialisable (the file would be written, and then not load)."""
    for layer in _named_layers(model):
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
        f"scikit-learn estimators and splitters.{hint}"
    )


class Decoder:
    """Rebuilds what :class:`Encoder` wrote."""

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
            if kind == "splitter":
                cls = self._resolve(node["class"], bases=_SPLITTERS)
                return cls(**{k: self.decode(v) for k, v in node["params"].items()})
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

    def _resolve(self, name: str, bases: tuple = (BaseEstimator,)) -> type:
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
        if not (isinstance(obj, type) and issubclass(obj, bases)):
            kind = "an estimator" if bases[0] is BaseEstimator else "a splitter"
            raise ModelFileError(
                f"{str(self.path)!r} names {name!r}, which is not {kind}."
            )
        return obj
