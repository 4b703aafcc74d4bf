"""Input checks for the classifier: one place that turns what users pass into
what the network takes, with errors that name the problem."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, column_or_1d, validate_data

from skimb._networks import SEQUENCE_ARCHITECTURES


def _ndim(X) -> int:
    if hasattr(X, "ndim"):
        return X.ndim
    return np.ndim(np.asarray(X, dtype=object))


def check_features(estimator, X, *, reset: bool) -> np.ndarray:
    """Validate ``X`` and return it as float32 in the network's input shape.

    2-D input goes through scikit-learn's ``validate_data`` (feature count
    and feature names); 3-D input is checked against the fitted
    ``(n_timesteps, n_features)``.  With ``n_timesteps`` set, a 2-D table of
    flattened sequences (as samplers return them) is reshaped, as a view.
    The caller's array is never written to.
    """
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported: the networks take dense arrays. "
            "Convert X with X.toarray() first."
        )
    ndim = _ndim(X)
    if ndim not in (2, 3):
        raise ValueError(
            "X must be 2-D (n_samples, n_features) or 3-D "
            f"(n_samples, n_timesteps, n_features); got a {ndim}-D input. "
            "Reshape your data, e.g. X.reshape(1, -1) for a single sample."
        )
    architecture = estimator.architecture
    n_timesteps = estimator.n_timesteps
    if ndim == 2:
        X = validate_data(
            estimator, X, reset=reset, dtype=np.float32, ensure_all_finite=True
        )
        if architecture in SEQUENCE_ARCHITECTURES:
            if n_timesteps is None:
                raise ValueError(
                    f"architecture={architecture!r} needs 3-D X (n_samples, "
                    "n_timesteps, n_features), or 2-D X of flattened sequences "
                    f"with n_timesteps set; got 2-D X of shape {X.shape}."
                )
            if X.shape[1] % n_timesteps:
                raise ValueError(
                    f"X has {X.shape[1]} columns, which is not a multiple of "
                    f"n_timesteps={n_timesteps}."
                )
            X = X.reshape(len(X), n_timesteps, X.shape[1] // n_timesteps)
    else:
        X = check_array(
            X,
            allow_nd=True,
            dtype=np.float32,
            ensure_all_finite=True,
            input_name="X",
            estimator=estimator,
        )
        if n_timesteps is not None and X.shape[1] != n_timesteps:
            raise ValueError(
                f"X has {X.shape[1]} time steps but n_timesteps={n_timesteps}."
            )
        if reset:
            estimator.n_features_in_ = X.shape[2]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
    if reset:
        estimator.input_shape_ = tuple(X.shape[1:])
    elif tuple(X.shape[1:]) != estimator.input_shape_:
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}, but "
            f"{type(estimator).__name__} was fitted on samples of shape "
            f"{estimator.input_shape_}."
        )
    return X


def check_labels(y, n_samples: int) -> np.ndarray:
    """Validate classification targets: 1-D, same length as X, no NaN."""
    if y is None:
        raise ValueError(
            "requires y to be passed, but the target y is None: a classifier "
            "needs labels to fit."
        )
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_samples} and {len(y)}."
        )
    target_type = type_of_target(y, input_name="y")
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {target_type!r}. y must hold class labels "
            "(integers or strings), not continuous values."
        )
    return y
