"""What several commands share: a model file's features and predictions,
flat rows for the flat peers, and file names for the reports."""

from __future__ import annotations

import os
import re
from pathlib import Path

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
    """``text`` as a file-name part: letters (of any script), digits and
    underscores; ``"data"`` where it holds none."""
    return re.sub(r"[\W_]+", "_", text).strip("_").lower() or "data"


def load_model(path):
    """A model file's estimator, which must give probabilities."""
    from skimb import persistence

    model = persistence.load(path)
    if not hasattr(model, "predict_proba"):
        raise DataError(f"{path}: the model has no predict_proba.")
    return model


def predictions(model, X, path=None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and probabilities of ``X``: from one pass of the
    network for skimb's classifier (its ``predict`` is the decision rule on
    the log-probabilities), else ``predict`` and ``predict_proba``.  The
    model's refusal of ``X`` (its shape, its features) names the data file
    ``path``."""
    from skimb import ImbalancedKerasClassifier
    from skimb.decision import decide

    own = getattr(type(model), "predict", None) is ImbalancedKerasClassifier.predict
    try:  # the model's calls, which check X
        if own:
            log_proba = model.predict_log_proba(X)
        else:
            predicted, proba = model.predict(X), model.predict_proba(X)
    except ValueError as error:
        if path is None:
            raise
        raise DataError(f"{path}: {error}") from error
    if own:
        predicted = model.classes_[decide(log_proba, model.decision_offsets_)]
        proba = np.exp(log_proba)
    return predicted, proba


def check_out_folder(out: Path, files=()) -> None:
    """Refuse, before any work, a folder ``out`` that cannot be written:
    under a file, read-only, or whose ``files`` are folders."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {str(out)!r} is a file: give a folder to write to.")
    existing = out
    while not existing.exists():  # the folder nearest it that exists
        if existing.is_symlink():  # (a link to nothing, which mkdir refuses)
            raise DataError(f"--out {str(out)!r}: {str(existing)!r} is a broken link.")
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(
            f"--out {str(out)!r}: {str(existing)!r} is a file, not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(
            f"--out {str(out)!r}: cannot write in {str(existing)!r} (read-only or "
            "no permission)."
        )
    for name in files:
        if (out / name).is_dir():
            raise DataError(f"{str(out / name)!r} is a folder: a file goes there.")


def features(model, data):
    """The features as the model was fitted: named columns, or an array."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and data.kind != "table" and np.ndim(data.X) == 2:
        # An array's columns have no names to select the model's by: their
        # order could not be checked (scikit-learn would only warn).
        raise DataError(
            f"{data.path}: the model was fitted on a table whose columns it "
            f"selects by name ({', '.join(map(str, names[:5]))}"
            f"{', ...' if len(names) > 5 else ''}); give a .csv or .parquet "
            "table with those columns."
        )
    if names is not None or data.kind != "table":
        return data.X
    if len(getattr(model, "input_shape_", ())) == 2:
        # A sequence model: its own check (through predictions) names the
        # shape it takes, flattened sequences of n_timesteps included.
        return data.X.to_numpy()
    if data.X.shape[1] != model.n_features_in_:
        raise DataError(
            f"{data.path}: the table has {data.X.shape[1]} feature columns; the "
            f"model was fitted on {model.n_features_in_} (name the label column "
            "with --target)."
        )
    return data.X.to_numpy()
