"""What several commands share: a model file's features and predictions,
flat rows for the flat peers, and file names for the reports."""

from __future__ import annotations

import re

import numpy as np

from skimb._files import DataError


def flatten(X):
    """Rows as flat vectors (a sequence's steps side by side), for the flat
    peers."""
    return X.reshape(len(X), -1)


def flat_baseline():
    """What users fit beside a network: ``LogisticRegression(class_weight=
    "balanced")`` on standardised, flattened rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(
        FunctionTransformer(flatten),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=2000),
    )


def slug(text: str) -> str:
    """``text`` as a file-name part: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def load_model(path):
    """A model file's estimator, which must give probabilities."""
    from skimb import persistence

    model = persistence.load(path)
    if not hasattr(model, "predict_proba"):
        raise DataError(f"{path}: the model has no predict_proba.")
    return model


def predictions(model, X) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and probabilities of ``X``: from one pass of the
    network for skimb's classifier (its ``predict`` is the decision rule on
    the log-probabilities), else ``predict`` and ``predict_proba``."""
    from skimb import ImbalancedKerasClassifier
    from skimb.decision import decide

    if getattr(type(model), "predict", None) is ImbalancedKerasClassifier.predict:
        log_proba = model.predict_log_proba(X)
        return model.classes_[decide(log_proba, model.decision_offsets_)], np.exp(
            log_proba
        )
    return model.predict(X), model.predict_proba(X)


def features(model, data):
    """The features as the model was fitted: named columns, or an array."""
    if hasattr(model, "feature_names_in_") or data.kind != "table":
        return data.X
    if data.X.shape[1] != model.n_features_in_:
        raise DataError(
            f"{data.path}: the table has {data.X.shape[1]} feature columns; the "
            f"model was fitted on {model.n_features_in_} (name the label column "
            "with --target)."
        )
    return data.X.to_numpy()
