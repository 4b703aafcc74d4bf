"""Imbalance strategies against each other, the usual alternatives and the Bayes rule.

On ``skimb.datasets`` problems, whose generating density is known, every
combination of ``loss`` x ``class_weight`` x ``decision`` of
``ImbalancedKerasClassifier`` is trained on a training sample and scored by
macro-F1 on a large fresh test sample, next to:

- what users pick instead: scikit-learn ``LogisticRegression`` and
  ``HistGradientBoostingClassifier`` with ``class_weight="balanced"``,
  imbalanced-learn's ``BalancedRandomForestClassifier``, and a plain
  scikeras ``KerasClassifier`` (same network shape, crossentropy);
- the Bayes-optimal macro-F1: the true posterior with per-class offsets
  tuned for macro-F1 on a third, independent sample (``skimb.decision``).

One network is trained per ``loss`` x ``class_weight`` (with
``decision="macro_f1"``, whose offsets are tuned on the estimator's own
validation split); the ``argmax`` and ``prior_corrected`` rows apply
``skimb.decision``'s other rules to the same network's log-probabilities,
exactly as ``predict`` does for those settings (a unit test checks that the
decision rule never changes the trained network).

Run ``python benchmarks/bench_strategies.py`` (all problems, several seeds;
``--quick`` for a smoke run; ``--problem``, ``--seeds``, ``--n-train`` to
narrow it; ``--grid default --no-peers`` for the default estimator alone).
Results are printed as Markdown tables and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _raw_keras import plain_scikeras  # noqa: E402
from imblearn.ensemble import BalancedRandomForestClassifier  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._random import seed_from  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)
from skimb.decision import macro_f1_offsets  # noqa: E402

PROBLEMS = {
    "tabular": (make_imbalanced_classification, "dense"),
    "sequences": (make_imbalanced_sequences, "lstm"),
}
LOSSES = ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
CLASS_WEIGHTS = (None, "balanced", "effective")


def _scores(y_true, y_pred) -> dict:
    return {
        "macro_f1": f1_score(y_true, y_pred, average="macro"),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "accuracy": accuracy_score(y_true, y_pred),
    }


def _strategies(grid: str):
    """The estimator parameters of every network trained.

    ``"full"``: every loss with every class weight; ``"reduced"``: every loss
    without class weights, and class weights with crossentropy only;
    ``"default"``: the estimator's default loss alone.
    """
    if grid == "default":
        yield {"loss": ImbalancedKerasClassifier().loss, "class_weight": None}
        return
    for loss in LOSSES:
        for class_weight in CLASS_WEIGHTS:
            if grid == "full" or class_weight is None or loss == "crossentropy":
                yield {"loss": loss, "class_weight": class_weight}
    yield {"loss": "ldam", "class_weight": None, "drw": 10}


def _plain_scikeras(architecture: str, epochs: int, seed: int):
    """The network a scikeras user writes: same shape, softmax, crossentropy."""
    lstm = architecture == "lstm"
    return plain_scikeras(
        lstm_units=64 if lstm else None,
        dense_units=() if lstm else (64,),
        epochs=epochs,
        seed=seed,
        batch_size=128,
    )


def _peers(architecture: str, seed: int, quick: bool) -> dict:
    trees = 20 if quick else 100
    return {
        "LogisticRegression(balanced)": make_pipeline(
            StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=2000),
        ),
        "HistGradientBoosting(balanced)": HistGradientBoostingClassifier(
            class_weight="balanced", random_state=seed
        ),
        "BalancedRandomForest": BalancedRandomForestClassifier(
            n_estimators=trees,
            sampling_strategy="all",
            replacement=True,
            bootstrap=False,
            random_state=seed,
            n_jobs=2,
        ),
        "scikeras KerasClassifier": _plain_scikeras(
            architecture, epochs=3 if quick else 30, seed=seed
        ),
    }


def run_problem(
    name: str,
    n_train: int,
    n_test: int,
    seed: int,
    quick: bool,
    grid: str = "full",
    peers: bool = True,
):
    make, architecture = PROBLEMS[name]
    X, y = make(n_train, random_state=seed)
    X_test, y_test, posterior_test = make(
        n_test, random_state=10_000 + seed, return_posterior=True
    )
    _, y_tune, posterior_tune = make(
        n_test, random_state=20_000 + seed, return_posterior=True
    )
    rows = []

    # The Bayes rule: argmax of the true posterior, and its macro-F1-tuned
    # offsets (tuned on an independent sample, scored on the test sample).
    log_posterior_test = np.log(np.clip(posterior_test, 1e-300, None))
    offsets, _ = macro_f1_offsets(np.log(np.clip(posterior_tune, 1e-300, None)), y_tune)
    bayes = _scores(y_test, np.argmax(log_posterior_test + offsets, axis=1))
    rows.append({"model": "Bayes-optimal (macro-F1 offsets)", **bayes})
    rows.append(
        {
            "model": "Bayes posterior, argmax",
            **_scores(y_test, np.argmax(log_posterior_test, axis=1)),
        }
    )

    flat = X.reshape(len(X), -1)
    flat_test = X_test.reshape(len(X_test), -1)
    for peer, estimator in (_peers(architecture, seed, quick) if peers else {}).items():
        start = time.perf_counter()
        data = (X, X_test) if peer.startswith("scikeras") else (flat, flat_test)
        estimator.fit(data[0], y)
        rows.append(
            {
                "model": peer,
                "seconds": time.perf_counter() - start,
                **_scores(y_test, estimator.predict(data[1])),
            }
        )
        keras.backend.clear_session()

    for params in _strategies(grid):
        estimator = ImbalancedKerasClassifier(
            architecture,
            decision="macro_f1",
            random_state=seed,
            **params,
            **({"epochs": 3} if quick else {}),
        )
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
        log_proba = estimator.predict_log_proba(X_test)
        # The offsets of the estimator's own rules, as predict applies them.
        offsets = {
            rule: estimator._rule_offsets(rule)[0]
            for rule in ("argmax", "prior_corrected", "posterior")
        }
        offsets["macro_f1"] = estimator.decision_offsets_
        if grid == "default" and estimator.n_networks_ == 1:
            # The rule before bagging: tuned once on the validation split,
            # from argmax (the split is the estimator's own, as fit drew it;
            # cross-fitted networks have no single split to tune on).
            _, val = validation_split(
                y,
                classes=estimator.classes_,
                validation_fraction=estimator.validation_fraction,
                seed=seed_from(seed),
            )
            offsets["macro_f1 tuned once"], _ = macro_f1_offsets(
                estimator.predict_log_proba(X[val]), y[val], n_bootstrap=0
            )
        for decision, decision_offsets in offsets.items():
            predicted = np.argmax(log_proba + decision_offsets, axis=1)
            rows.append(
                {
                    "model": "skimb",
                    **params,
                    "decision": decision,
                    "seconds": seconds,
                    "networks": estimator.n_networks_,
                    "epochs": len(estimator.history_["loss"]),
                    **_scores(y_test, predicted),
                }
            )
        keras.backend.clear_session()
        print(f"  {name} seed {seed} {params}: {seconds:.0f} s", flush=True)
    for row in rows:
        row.update(
            problem=name, n_train=n_train, seed=seed, bayes_macro_f1=bayes["macro_f1"]
        )
    return rows


def _label(row: dict) -> str:
    if row["model"] != "skimb":
        return row["model"]
    drw = f" + DRW@{row['drw']}" if row.get("drw") is not None else ""
    # Rows written before cross-fitting existed are of one network.
    networks = row.get("networks", 1)
    cross_fit = f", {networks} cross-fitted networks" if networks > 1 else ""
    return (
        f"{row['loss']}{drw}, class_weight={row['class_weight']}, "
        f"decision={row['decision']}{cross_fit}"
    )


def summarize(rows: list[dict]) -> str:
    lines = []
    for problem in dict.fromkeys((r["problem"], r["n_train"]) for r in rows):
        groups: dict[str, list[dict]] = {}
        for row in rows:
            if (row["problem"], row["n_train"]) == problem:
                groups.setdefault(_label(row), []).append(row)
        # Every row of a seed carries that seed's Bayes-optimal score.
        first = next(iter(groups.values()))
        bayes = statistics.mean(r["bayes_macro_f1"] for r in first)
        seeds = len(next(iter(groups.values())))
        lines += [
            f"\n### {problem[0]}, {problem[1]} training samples ({seeds} seed(s); "
            f"Bayes-optimal macro-F1 {bayes:.3f})\n",
            "| model | macro-F1 | sd | % of Bayes | balanced acc. | accuracy |",
            "|---|---|---|---|---|---|",
        ]
        ranked = sorted(
            groups.items(),
            key=lambda item: -statistics.mean(r["macro_f1"] for r in item[1]),
        )
        for label, group in ranked:
            f1 = [r["macro_f1"] for r in group]
            sd = statistics.stdev(f1) if len(f1) > 1 else 0.0
            mean = statistics.mean
            lines.append(
                f"| {label} | {mean(f1):.3f} | {sd:.3f} | "
                f"{100 * mean(f1) / bayes:.1f} | "
                f"{mean(r['balanced_accuracy'] for r in group):.3f} | "
                f"{mean(r['accuracy'] for r in group):.3f} |"
            )
    return "\n".join(lines + _overall(rows))


def _overall(rows: list[dict]) -> list[str]:
    """Mean % of the Bayes-optimal macro-F1 over the problems that ran it all."""
    percent: dict[str, dict[tuple, list[float]]] = {}
    for row in rows:
        problem = (row["problem"], row["n_train"])
        share = 100 * row["macro_f1"] / row["bayes_macro_f1"]
        percent.setdefault(_label(row), {}).setdefault(problem, []).append(share)
    problems = {(r["problem"], r["n_train"]) for r in rows}
    if len(problems) < 2:
        return []
    common = {
        label: statistics.mean(statistics.mean(v) for v in by_problem.values())
        for label, by_problem in percent.items()
        if set(by_problem) == problems
    }
    lines = [
        f"\n### Overall: mean % of Bayes-optimal macro-F1 over {len(problems)} "
        "problems (the models that ran on all)\n",
        "| model | % of Bayes |",
        "|---|---|",
    ]
    for label, value in sorted(common.items(), key=lambda item: -item[1]):
        lines.append(f"| {label} | {value:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), action="append")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--grid", choices=["full", "reduced", "default"], default="full"
    )
    parser.add_argument(
        "--no-peers", action="store_true", help="skip the other libraries' models"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/strategies.json")
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="*",
        default=[],
        help="print the tables of earlier JSON results (with this run's)",
    )
    args = parser.parse_args()
    rows = [row for path in args.merge for row in json.loads(path.read_text())]
    if rows and not args.problem:
        print(summarize(rows))
        return
    problems = args.problem or list(PROBLEMS)
    seeds = 1 if args.quick else args.seeds
    n_test = 5_000 if args.quick else args.n_test
    sizes = {"tabular": 20_000, "sequences": 20_000}
    for problem in problems:
        n_train = 2_000 if args.quick else (args.n_train or sizes[problem])
        for seed in range(args.first_seed, args.first_seed + seeds):
            rows += run_problem(
                problem,
                n_train,
                n_test,
                seed,
                args.quick,
                args.grid,
                peers=not args.no_peers,
            )
            print(summarize(rows), flush=True)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1, default=str))
        os.replace(tmp, args.out)
    print(summarize(rows))


if __name__ == "__main__":
    main()
