"""``skimb evaluate``: a model file scored on labelled data."""

from __future__ import annotations

import warnings
from pathlib import Path

from skimb._files import (
    DataError,
    read_data,
)
from skimb._inputs import check_known_labels
from skimb.cli._common import check_out_folder, features, load_model, predictions


def evaluate(args) -> int:
    """Score a model file on labelled data."""
    if args.out:
        check_out_folder(args.out, ("report.html",))
    model = load_model(args.model)
    data = read_data(
        args.data,
        target=args.target,
        feature_names=getattr(model, "feature_names_in_", None),
        classes=model.classes_,
    )
    X = features(model, data)
    try:
        check_known_labels(data.y, model.classes_, among="the model's classes")
    except ValueError as error:
        raise DataError(f"{data.path}: {error}") from None
    from skimb.report import Report

    report = Report(f"skimb evaluate: {Path(args.model).name} on {data.path.name}")
    predicted, proba = predictions(model, X, data.path)
    summary = report.add_classification(
        f"{len(data.y)} rows of {data.path.name}",
        data.y,
        proba,
        classes=model.classes_,
        name="evaluation",
        y_pred=predicted,
        history=getattr(model, "history_", None),
        best_epoch=getattr(model, "best_epoch_", None),
    )
    for key, value in summary.items():
        print(
            f"{key:<18} {value:.4f}"
            if isinstance(value, float)
            else f"{key:<18} {value}"
        )
    from imblearn.metrics import classification_report_imbalanced
    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings():
        # A class absent from the file scores 0 (zero_division=0), which
        # imbalanced-learn's sensitivity still warns of.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        text = classification_report_imbalanced(
            data.y, predicted, labels=model.classes_, zero_division=0
        )
    print(text)
    if args.out:
        print(f"report: {report.write(args.out)}")
    return 0
