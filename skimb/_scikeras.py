"""The overrides of scikeras' ``KerasClassifier``, in one place.

skimb builds on scikeras' wrapper for what it gets right (the Keras model
as a fitted attribute, ``model__<name>`` routing to a build function); the
few places where scikeras and today's scikit-learn disagree, or where skimb
needs otherwise, are overridden here, each saying why.
"""

from __future__ import annotations

import inspect

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils._tags import ClassifierTags

from skimb._routing import BUILT_IN_NETWORK_PARAMS, ROUTED_PREFIX
from skimb._serialization import model_from_bytes, model_to_bytes, user_objects
from skimb.metrics import macro_f1


class ScikerasFixes(KerasClassifier):
    """scikeras' ``KerasClassifier`` with skimb's overrides."""

    # scikeras replaces these with routing of ``prefix__param`` names and
    # introspection of ``__dict__``; the parameters here are explicit, so
    # scikit-learn's own versions are the right ones.
    _get_param_names = classmethod(BaseEstimator._get_param_names.__func__)
    __repr__ = BaseEstimator.__repr__

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator, the routed ``model__<name>`` ones
        included.

        Parameters
        ----------
        deep : bool, default=True
            As for any scikit-learn estimator.

        Returns
        -------
        dict
        """
        params = BaseEstimator.get_params(self, deep=deep)
        # The routed names, and any other keyword __init__ stored: a
        # mistyped name that clone (GridSearchCV, cross_val_score) dropped
        # would fit the defaults without a word; kept, fit refuses it.
        params.update({k: getattr(self, k) for k in self._extra_names()})
        return params

    def _extra_names(self) -> list[str]:
        """The keyword arguments stored beyond the documented parameters
        (routed, or mistyped): not parameters, fitted or private attributes."""
        named = set(self._get_param_names())
        return [
            k
            for k in vars(self)
            if k not in named and not k.startswith("_") and not k.endswith("_")
        ]

    def set_params(self, **params) -> ScikerasFixes:
        """Set parameters, the routed ``model__<name>`` ones included.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self
        """
        # scikit-learn would read "model__units" as the parameter "units" of
        # an estimator in "model"; here it goes to the build function.  A
        # name that is neither a parameter nor routed is refused, as
        # scikit-learn refuses it (BaseEstimator.set_params does, below).
        for name in [k for k in params if k.startswith(ROUTED_PREFIX)]:
            setattr(self, name, params.pop(name))
        return BaseEstimator.set_params(self, **params)

    def _validate_params(self) -> None:
        super()._validate_params()
        # Keyword arguments beyond the documented parameters must be routed
        # to a build function; anything else is a mistyped name.
        unknown = sorted(
            k for k in self._extra_names() if not k.startswith(ROUTED_PREFIX)
        )
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword arguments "
                f"{unknown}: besides its documented parameters it takes only "
                f"{ROUTED_PREFIX}<name> ones, routed to a build function."
            )
        # bool is an int to Python (and to scikit-learn's Interval), but
        # units=True is a mistake, not one unit.
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) and not (
                {"boolean", "verbose"} & {c for c in constraints if isinstance(c, str)}
            ):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be "
                    f"a number or one of its named options, not a bool; got "
                    f"{value!r}."
                )

        self._check_network_params()

    def _check_network_params(self) -> None:
        """Refuse settings no network reads: routed ones without a build
        function, and skimb's own network's shape beside ``model=``.  Each
        would be ignored without a word (a grid over it would compare equal
        fits)."""
        params = self.get_params(deep=False)
        routed = sorted(k for k in params if k.startswith(ROUTED_PREFIX))
        if params.get("model") is None and routed:
            raise ValueError(
                f"{routed} are routed to a build function, but model=None: "
                "skimb's own network takes its settings as parameters (units=, "
                "n_layers=, dropout=, ...)."
            )
        if params.get("model") is None:
            return
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self)).parameters.items()
        }
        ignored = [
            name
            for name in BUILT_IN_NETWORK_PARAMS
            if name in defaults and params[name] != defaults[name]
        ]
        if ignored:
            raise ValueError(
                f"{ignored} shape skimb's own networks, which model= replaces, "
                "so they would be ignored: leave them at their defaults, and "
                "give your build function its settings as model__<name>."
            )

    @staticmethod
    def scorer(y_true, y_pred, **kwargs) -> float:
        """Macro-F1, the figure ``score`` gives (scikeras' is accuracy)."""
        return macro_f1(y_true, y_pred, **kwargs)

    def __sklearn_tags__(self):
        # scikeras lists ClassifierMixin after BaseEstimator, so its tags never
        # reach scikit-learn and ``is_classifier`` is False; set them here.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=True)
        tags.target_tags.required = True
        tags.input_tags.three_d_array = True
        return tags

    # Attributes that neither a pickle nor a model file keeps (a subclass
    # names them): state that is rebuilt when needed.
    _TRANSIENT: tuple[str, ...] = ()

    def __getstate__(self) -> dict:
        # A copy: on Python >= 3.11 the inherited state is ``self.__dict__``.
        state = dict(super().__getstate__())
        for name in self._TRANSIENT:
            state.pop(name, None)
        if "model_" in state:
            model = state["model_"]
            state["model_"] = model_to_bytes(model)
            # A user's own layer classes (by reference, as pickle keeps a
            # build function) and whether a Lambda needs safe mode off.
            state["_model_objects"] = user_objects(model)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        objects, has_lambda = state.pop("_model_objects", ({}, False))
        if isinstance(state.get("model_"), bytes):
            state["model_"] = model_from_bytes(
                state["model_"], custom_objects=objects, safe_mode=not has_lambda
            )
        super().__setstate__(state)
