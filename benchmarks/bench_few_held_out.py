"""The macro-F1 rule where a class has too few held-out rows to tune on.

``decision="macro_f1"`` (the default) tunes per-class offsets on the
held-out rows' log-probabilities; where some class has fewer than
:data:`skimb.decision.MIN_VALIDATION_COUNT` (5) held-out rows it keeps a
rule it cannot tune.  Which one scores the higher test macro-F1 there:
``"posterior"`` (the argmax of ``predict_proba``, the posterior under the
training frequencies, which skimb keeps) or ``"argmax"`` (the network's
own argmax: under the default logit-adjusted loss, the posterior under
equal frequencies)?  The docs' Benchmarks page weighs this against the
suite's own tables.

Problems: the suite's real tables (``benchmarks/_suite_data.py``: the
tuning sets, and its held-back third reported apart), each split in half,
stratified, by seed; in the training half the rarest class is cut to a few
rows:

* ``3 rows, cv="auto"``: the default cross-fits 3 networks (one per row of
  that class), whose out-of-fold rows hold 3 of it;
* ``20 rows, cv=None``: one network, whose 10% validation split holds 2.

Scored on the whole test half, its rows of the cut class weighted by the
share of that class's training rows kept, so that the test frequencies are
the training ones (the cut class is not more frequent where the model is
used than where it learned); unweighted too.  Each rule on the same fit.  Run ``python
benchmarks/bench_few_held_out.py`` (``--quick``: a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _suite_data  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "few_held_out.json"
CASES = {"3 rows, cv='auto'": (3, "auto"), "20 rows, cv=None": (20, None)}
RULES = ("posterior", "argmax")


def run(name, X, y, *, case: str, seed: int, quick: bool) -> dict:
    """One fit: the test macro-F1 of each rule, and what the fit kept."""
    n_rare, cv = CASES[case]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=seed
    )
    classes, counts = np.unique(y_train, return_counts=True)
    rare = classes[np.argmin(counts)]
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(y_train == rare)
    if len(rows) < n_rare:
        return {}
    dropped = rng.choice(rows, size=len(rows) - n_rare, replace=False)
    keep = np.setdiff1d(np.arange(len(y_train)), dropped)
    X_train, y_train = X_train[keep], y_train[keep]
    clf = ImbalancedKerasClassifier(
        cv=cv, random_state=seed, **({"epochs": 3} if quick else {})
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    log_proba = clf.predict_log_proba(X_test)
    rare_test = y_test == rare
    weight = np.where(rare_test, n_rare / len(rows), 1.0)
    scores, recall = {}, {}
    for rule in RULES:
        offsets, _ = clf._rule_offsets(rule)
        predicted = clf.classes_[np.argmax(log_proba + offsets, axis=1)]
        scores[rule] = f1_score(
            y_test, predicted, average="macro", sample_weight=weight
        )
        scores[f"{rule}, unweighted"] = f1_score(y_test, predicted, average="macro")
        recall[rule] = float(np.mean(predicted[rare_test] == rare))
    shipped = f1_score(
        y_test, clf.predict(X_test), average="macro", sample_weight=weight
    )
    return {
        "set": name,
        "case": case,
        "seed": seed,
        "rule kept": clf.decision_rule_,
        "shipped": shipped,
        **scores,
        "rare recall": recall,
        "networks": clf.n_networks_,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    tables = _suite_data.tables(only={"glass"} if args.quick else None)
    held = _suite_data.held_back(_suite_data.tables()) if not args.quick else set()
    seeds = range(1 if args.quick else args.seeds)
    rows = []
    for name, (X, y) in tables.items():
        for case in CASES:
            for seed in seeds:
                row = run(name, X, y, case=case, seed=seed, quick=args.quick)
                if row:
                    row["group"] = "held_back" if name in held else "tuning"
                    rows.append(row)
                    print(
                        f"{name:<16} {case:<18} seed {seed}: kept {row['rule kept']}"
                        f" shipped {row['shipped']:.3f} posterior "
                        f"{row['posterior']:.3f} argmax {row['argmax']:.3f} "
                        f"({row['seconds']:.1f} s)",
                        flush=True,
                    )
    print("\nmean test macro-F1 over sets and seeds (sets where argmax wins)")
    for weighted in ("", ", unweighted"):
        for group in ("tuning", "held_back"):
            for case in CASES:
                chosen = [r for r in rows if r["group"] == group and r["case"] == case]
                if not chosen:
                    continue
                by_set = {}
                for r in chosen:
                    by_set.setdefault(r["set"], []).append(
                        r[f"argmax{weighted}"] - r[f"posterior{weighted}"]
                    )
                wins = sum(statistics.mean(d) > 0 for d in by_set.values())
                print(
                    f"{group:<10} {case:<18} posterior{weighted} "
                    f"{statistics.mean(r[f'posterior{weighted}'] for r in chosen):.3f}"
                    f"  argmax "
                    f"{statistics.mean(r[f'argmax{weighted}'] for r in chosen):.3f}"
                    f"  ({wins} of {len(by_set)} sets)"
                )
    if not args.quick:
        RESULTS.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
