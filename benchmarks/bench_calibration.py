"""Probabilities, class weights and label shift, against the true posterior.

On the ``skimb.datasets`` problems, whose density is known (so is the true
posterior of every test row):

1. **Probabilities.**  Log-loss, expected calibration error (ECE) and Brier
   score of ``predict_proba`` on a fresh test sample of 20,000, for the
   default estimator, the same estimator with plain crossentropy, and the
   true posterior.
2. **Class weights.**  Test macro-F1 of every loss without and with
   ``class_weight="balanced"`` (``decision="macro_f1"``), and the argmax of
   ``predict_proba``.
3. **Label shift.**  The default trained on the problem's class
   proportions, then given unlabelled rows whose proportions are reversed:
   the error (L1) of the class frequencies estimated by
   ``fit_class_prior``, and the test macro-F1 and log-loss before and after.

Medians over seeds.  Run ``python benchmarks/bench_calibration.py``
(``--quick`` for a smoke run; ``--seeds``, ``--problem``, ``--losses`` and
``--class-weights`` to narrow it; a sequence fit takes minutes on two cores).
``--set key=value ...`` gives every fit other parameters (a candidate default).
Results are printed as Markdown tables and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _overrides import parse_overrides  # noqa: E402
from sklearn.metrics import brier_score_loss, f1_score, log_loss  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)
from skimb.metrics import expected_calibration_error  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "calibration.json"
PROBLEMS = {
    "tabular": (make_imbalanced_classification, "dense", 6300),
    "sequences": (make_imbalanced_sequences, "lstm", 3000),
}
LOSSES = ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
WEIGHTS = (10_000, 500_000, 90_000, 30_000)
N_TEST = 20_000


def _probability_scores(y, proba) -> dict:
    labels = np.arange(proba.shape[1])
    return {
        "log_loss": log_loss(y, proba, labels=labels),
        "ece": expected_calibration_error(y, proba, labels=labels),
        "brier": brier_score_loss(y, proba, labels=labels),
        "macro_f1_argmax": f1_score(y, proba.argmax(axis=1), average="macro"),
    }


def run(
    problem: str,
    seed: int,
    quick: bool,
    losses=LOSSES,
    class_weights=(None, "balanced"),
    overrides=None,
) -> list[dict]:
    make, architecture, n_train = PROBLEMS[problem]
    n_train, n_test = (600, 2000) if quick else (n_train, N_TEST)
    extra = {"epochs": 3} if quick else {}
    extra.update(overrides or {})
    X, y = make(n_train, random_state=seed)
    X_test, y_test, posterior = make(
        n_test, random_state=10_000 + seed, return_posterior=True
    )
    rows = [{"model": "true posterior", **_probability_scores(y_test, posterior)}]

    def fit(**params):
        estimator = ImbalancedKerasClassifier(
            architecture, random_state=seed, **extra, **params
        )
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
        keras.backend.clear_session()
        return estimator, seconds

    for loss in ("logit_adjusted", "crossentropy") if quick else losses:
        for class_weight in class_weights:
            estimator, seconds = fit(loss=loss, class_weight=class_weight)
            proba = estimator.predict_proba(X_test)
            rows.append(
                {
                    "model": "skimb",
                    "loss": loss,
                    "class_weight": class_weight,
                    "seconds": seconds,
                    "temperature": estimator.temperature_,
                    "macro_f1": f1_score(
                        y_test, estimator.predict(X_test), average="macro"
                    ),
                    **_probability_scores(y_test, proba),
                }
            )
            print(f"  {problem} seed {seed} {loss} {class_weight}: {seconds:.0f} s")

    # Label shift: the same density, the class proportions reversed.
    default, _ = fit()
    X_shift, y_shift = make(n_test, weights=WEIGHTS[::-1], random_state=20_000 + seed)
    true_prior = np.bincount(y_shift, minlength=4) / len(y_shift)
    before = {
        "macro_f1": f1_score(y_shift, default.predict(X_shift), average="macro"),
        "log_loss": log_loss(y_shift, default.predict_proba(X_shift)),
        "prior_error": float(np.abs(default.class_prior_ - true_prior).sum()),
    }
    default.fit_class_prior(X_shift)
    after = {
        "macro_f1": f1_score(y_shift, default.predict(X_shift), average="macro"),
        "log_loss": log_loss(y_shift, default.predict_proba(X_shift)),
        "prior_error": float(np.abs(default.class_prior_ - true_prior).sum()),
    }
    rows.append({"model": "label shift", "before": before, "after": after})
    for row in rows:
        row.update(problem=problem, seed=seed)
    return rows


def _median(rows, key):
    return statistics.median(r[key] for r in rows)


def summarize(rows: list[dict]) -> str:
    lines = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        mine = [r for r in rows if r["problem"] == problem]
        seeds = len({r["seed"] for r in mine})
        lines += [
            f"\n### {problem}: probabilities (median of {seeds} seeds)\n",
            "| model | log-loss | ECE | Brier | macro-F1 (predict) "
            "| macro-F1 (argmax of proba) | T |",
            "|---|---|---|---|---|---|---|",
        ]
        truth = [r for r in mine if r["model"] == "true posterior"]
        lines.append(
            f"| true posterior | {_median(truth, 'log_loss'):.3f} | "
            f"{_median(truth, 'ece'):.3f} | {_median(truth, 'brier'):.3f} | | "
            f"{_median(truth, 'macro_f1_argmax'):.3f} | |"
        )
        for loss in LOSSES:
            for weight in (None, "balanced"):
                group = [
                    r
                    for r in mine
                    if r["model"] == "skimb"
                    and r["loss"] == loss
                    and r["class_weight"] == weight
                ]
                if not group:
                    continue
                name = loss + (', class_weight="balanced"' if weight else "")
                if loss == "logit_adjusted" and weight is None:
                    name += " (the default)"
                lines.append(
                    f"| {name} | {_median(group, 'log_loss'):.3f} | "
                    f"{_median(group, 'ece'):.3f} | {_median(group, 'brier'):.3f} | "
                    f"{_median(group, 'macro_f1'):.3f} | "
                    f"{_median(group, 'macro_f1_argmax'):.3f} | "
                    f"{_median(group, 'temperature'):.2f} |"
                )
        shift = [r for r in mine if r["model"] == "label shift"]
        if shift:
            lines += [
                f"\n### {problem}: label shift (class proportions reversed)\n",
                "| | prior error (L1) | macro-F1 | log-loss |",
                "|---|---|---|---|",
            ]
            for when in ("before", "after"):
                lines.append(
                    f"| {when} fit_class_prior | "
                    + " | ".join(
                        f"{statistics.median(r[when][k] for r in shift):.3f}"
                        for k in ("prior_error", "macro_f1", "log_loss")
                    )
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), action="append")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=LOSSES)
    parser.add_argument(
        "--class-weights",
        nargs="+",
        choices=("none", "balanced"),
        default=["none", "balanced"],
    )
    parser.add_argument("--set", nargs="*", dest="overrides", metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    class_weights = [None if w == "none" else w for w in args.class_weights]
    overrides = parse_overrides(args.overrides)
    for key in ("loss", "class_weight"):
        if key in overrides:
            parser.error(f"--set {key}=... : use --losses and --class-weights")
    rows = []
    for problem in args.problem or list(PROBLEMS):
        for seed in range(1 if args.quick else args.seeds):
            rows += run(
                problem, seed, args.quick, args.losses, class_weights, overrides
            )
    for row in rows:
        row["overrides"] = overrides
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1, default=str))
    print(summarize(rows))


if __name__ == "__main__":
    main()
