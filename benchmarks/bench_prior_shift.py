"""Decisions under a moved class prior: on which scale the shift applies.

``class_prior`` (or ``fit_class_prior``) moves ``predict_proba`` to other
class frequencies by Bayes' rule on the calibrated posterior.  The decision
rules are set on the network's own log-probabilities ``z``.  Three ways to
put the two together, scored on the same fits:

* ``shift only``: the rule's offsets and the shift on the calibrated
  posterior without its bias, ``argmax((z + o) / T + shift)`` (skimb before
  the change this benchmark decided);
* ``network``: the shift on the network's scale, ``argmax(z + o + shift)``;
* ``calibrated``: the rule's offsets on the calibrated posterior,
  ``argmax((z + o) / T + b + shift)`` (``"posterior"`` is the argmax of
  ``predict_proba``).

skimb decides as ``network`` without a shift and as ``calibrated`` once
some class is twice or half as frequent, between the two in between
(:func:`skimb.decision.prior_shift_offsets`).

Problems: 4-class tables of :func:`skimb.datasets.make_imbalanced_classification`
at three class separations, trained on 3,000 rows in proportions
.6/.3/.08/.02, tested on 6,000 rows of the same density in proportions
.1/.2/.3/.4 (with the true prior and with ``fit_class_prior``'s estimate),
in equal proportions with ``class_prior="balanced"``, and in the training
proportions without a shift.  The default
estimator, its ``"macro_f1"`` rule and ``"posterior"``.  Means over seeds.
Run ``python benchmarks/bench_prior_shift.py`` (``--quick``: a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.calibration import estimate_prior  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "prior_shift.json"
TRAIN_PRIOR = (0.6, 0.3, 0.08, 0.02)
SHIFTED_PRIOR = (0.1, 0.2, 0.3, 0.4)
CASES = (  # (name, test proportions, class_prior decided for)
    ("training proportions, no shift", TRAIN_PRIOR, TRAIN_PRIOR),
    ("shifted, true prior", SHIFTED_PRIOR, SHIFTED_PRIOR),
    ("shifted, fit_class_prior", SHIFTED_PRIOR, "estimated"),
    ("balanced, class_prior='balanced'", (0.25,) * 4, (0.25,) * 4),
)


def _draw(y, rows, proportions, n, rng) -> np.ndarray:
    """``n`` of ``rows`` in ``proportions`` of the classes."""
    return np.concatenate(
        [
            rng.choice(rows[y[rows] == c], int(n * p), replace=False)
            for c, p in enumerate(proportions)
        ]
    )


def _decisions(clf, X, rule: str, class_prior) -> dict:
    """Each way's predicted class indices for ``class_prior``."""
    if rule == clf.decision:
        offsets = clf.decision_offsets_
    else:
        offsets, _ = clf._rule_offsets(rule)
    log_proba = clf.predict_log_proba(X)  # the training prior (class_prior=None)
    shift = np.log(class_prior) - np.log(clf.class_prior_)
    bias, temperature = clf.calibration_bias_, clf.temperature_
    # predict_log_proba is (z + s) / T + b up to a constant per row, and
    # the rule's offsets are (o - s) / T - b: log_proba + offsets is
    # (z + o) / T up to that constant.
    on_network = temperature * (log_proba + offsets) + shift
    return {
        "shift only": np.argmax(log_proba + offsets + shift, axis=1),
        "network": np.argmax(on_network, axis=1),
        "calibrated": np.argmax(log_proba + offsets + bias + shift, axis=1),
    }


def run(class_sep: float, seed: int, n_train: int, n_test: int) -> list[dict]:
    X, y = make_imbalanced_classification(
        20 * n_train, weights=[0.25] * 4, class_sep=class_sep, random_state=seed
    )
    rng = np.random.RandomState(seed)
    rows = np.arange(len(y))
    train = _draw(y, rows[: len(y) // 2], TRAIN_PRIOR, n_train, rng)
    clf = ImbalancedKerasClassifier(random_state=seed).fit(X[train], y[train])
    results = []
    for case, proportions, class_prior in CASES:
        test = _draw(y, rows[len(y) // 2 :], proportions, n_test, rng)
        if class_prior == "estimated":
            class_prior = estimate_prior(
                clf.predict_log_proba(X[test]), train_prior=clf.class_prior_
            )
        for rule in ("macro_f1", "posterior"):
            for way, predicted in _decisions(clf, X[test], rule, class_prior).items():
                results.append(
                    {
                        "class_sep": class_sep,
                        "seed": seed,
                        "case": case,
                        "rule": rule,
                        "way": way,
                        "temperature": clf.temperature_,
                        "macro_f1": f1_score(y[test], predicted, average="macro"),
                        "accuracy": accuracy_score(y[test], predicted),
                    }
                )
    print(f"  class_sep {class_sep} seed {seed}: T {clf.temperature_:.2f}", flush=True)
    return results


def summarize(rows: list[dict]) -> str:
    ways = ("shift only", "network", "calibrated")
    runs = len({(r["class_sep"], r["seed"]) for r in rows})
    lines = [
        f"\nmacro-F1 (accuracy), mean of {runs} fits\n",
        "| test data | rule | " + " | ".join(ways) + " |",
        "|---|---|" + "---|" * len(ways),
    ]
    for case, _, _ in CASES:
        for rule in ("macro_f1", "posterior"):
            cells = []
            for way in ways:
                mine = [
                    r
                    for r in rows
                    if r["case"] == case and r["rule"] == rule and r["way"] == way
                ]
                f1 = np.mean([r["macro_f1"] for r in mine])
                accuracy = np.mean([r["accuracy"] for r in mine])
                cells.append(f"{f1:.3f} ({accuracy:.3f})")
            lines.append(f"| {case} | {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    if args.quick:
        rows += run(1.5, 0, n_train=600, n_test=600)
    else:
        for class_sep in (1.0, 1.5, 2.0):
            for seed in range(args.seeds):
                rows += run(class_sep, seed, n_train=3000, n_test=6000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
    print(summarize(rows))


if __name__ == "__main__":
    sys.exit(main())
