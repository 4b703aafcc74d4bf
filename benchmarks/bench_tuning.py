"""Tuning with OptunaSearchCV: pruning vs none, and tuned vs default.

On ``skimb.datasets.make_imbalanced_classification`` (four classes sized like
10K / 500K / 90K / 30K), run in each round, interleaved:

1. a search with Optuna's median pruning and one without, at the same number
   of trials, the same folds and the same sampler seed: wall time, best
   cross-validated macro-F1, trials pruned, and the macro-F1 of the refitted
   best estimator on a fresh test sample from another seed (the same
   density, so a test set for the same task);
2. ``ImbalancedKerasClassifier(cv=None)``: the default parameters, one
   network (the searches train one per fit too), fitted on the
   same training sample and scored on the same test sample.

Medians over rounds (each round draws a new training sample and seeds).
Run ``python benchmarks/bench_tuning.py`` (``--quick`` for a smoke run).

``--nested`` compares instead, on real tables of the benchmark suite (the
tuning tables, smallest first), by nested cross-validation (an outer
stratified k-fold for the score, the search inside each outer training
fold): the conditional space with its grouped multivariate TPE sampler, the
flat space the search used before (every parameter drawn on every trial,
``epochs`` searched from 10 to 60, independent TPE), and the default
estimator; macro-F1 on the outer test folds and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import optuna  # noqa: E402
from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier, OptunaSearchCV  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402
from skimb.tuning import _space, default_search_space  # noqa: E402


def _macro_f1(estimator, X, y) -> float:
    return float(f1_score(y, estimator.predict(X), average="macro"))


def one_round(seed: int, args) -> dict:
    X, y = make_imbalanced_classification(args.n_train, random_state=seed)
    X_test, y_test = make_imbalanced_classification(
        args.n_test, random_state=10_000 + seed
    )
    # One network per fit (cv=None), as when the figures on the tuning page
    # were measured; the default cv="auto" would cross-fit five per fold.
    base = ImbalancedKerasClassifier(cv=None, random_state=seed)
    space = default_search_space(base)
    if args.quick:
        space["epochs"] = IntDistribution(2, 4)
        space["units"] = IntDistribution(4, 16)
    row = {}
    for name, pruner in (("pruned", "median"), ("unpruned", None)):
        search = OptunaSearchCV(
            base,
            space,
            n_trials=args.n_trials,
            cv=args.cv,
            pruner=pruner,
            random_state=seed,
        )
        start, cpu = time.perf_counter(), time.process_time()
        search.fit(X, y)
        states = list(search.cv_results_["state"])
        row[name] = {
            "seconds": time.perf_counter() - start,
            # CPU time of all threads: steadier than wall time on a shared
            # machine.
            "cpu_seconds": time.process_time() - cpu,
            "cv_f1": search.best_score_,
            "test_f1": _macro_f1(search, X_test, y_test),
            "pruned": states.count("PRUNED"),
            "failed": states.count("FAIL"),
        }
    default = ImbalancedKerasClassifier(cv=None, random_state=seed)
    if args.quick:
        default.set_params(epochs=3)
    start = time.perf_counter()
    default.fit(X, y)
    row["default"] = {
        "seconds": time.perf_counter() - start,
        "test_f1": _macro_f1(default, X_test, y_test),
    }
    return row


# The flat space the search used before the conditional one, for --nested.
FLAT_SPACE = {
    "units": IntDistribution(8, 128, log=True),
    "n_layers": IntDistribution(1, 3),
    "dropout": FloatDistribution(0.0, 0.5),
    "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    "batch_size": CategoricalDistribution((32, 64, 128, 256)),
    "epochs": IntDistribution(10, 60, step=10),
    "loss": CategoricalDistribution(
        ("crossentropy", "focal", "class_balanced", "logit_adjusted", "ldam")
    ),
    "gamma": FloatDistribution(0.5, 5.0),
    "beta": CategoricalDistribution((0.9, 0.99, 0.999, 0.9999)),
    "tau": FloatDistribution(0.25, 2.0),
    "class_weight": CategoricalDistribution((None, "balanced", "effective")),
    "batch_sampler": CategoricalDistribution((None, "over", "under", "smote")),
    "decision": CategoricalDistribution(
        ("argmax", "prior_corrected", "posterior", "macro_f1")
    ),
}


def _flat_search(base, args, seed):
    """The search as it was: no conditions, no conflicts, independent TPE."""
    return OptunaSearchCV(
        base,
        FLAT_SPACE,
        n_trials=args.n_trials,
        cv=args.cv,
        sampler=optuna.samplers.TPESampler(seed=seed),
        random_state=seed,
    )


def nested(args) -> None:
    import _suite_data
    from sklearn.model_selection import StratifiedKFold

    sets = _suite_data.tables()
    held = _suite_data.held_back(sets)
    names = sorted(
        (name for name in sets if name not in held), key=lambda n: len(sets[n][1])
    )[: args.n_sets]
    if args.sets:  # these, in this order
        names = [name for name in args.sets if name in names]
    rows = []
    for name in names:
        X, y = sets[name]
        outer = StratifiedKFold(args.outer, shuffle=True, random_state=args.replicate)
        for fold, (train, test) in enumerate(outer.split(X, y)):
            quick = {"epochs": 2} if args.quick else {}
            # Replicate 0 is the first run's seeds; another replicate draws
            # other outer folds and seeds for every model.
            seed = 1000 * args.replicate + fold
            base = ImbalancedKerasClassifier(cv=None, random_state=seed, **quick)
            runs = {
                "conditional": OptunaSearchCV(
                    base, n_trials=args.n_trials, cv=args.cv, random_state=seed
                ),
                "flat": _flat_search(base, args, seed),
                # As ``skimb tune`` searches by default: every trial with
                # the estimator's own cross-fitting (cv="auto"), so that
                # the first trial is the default estimator itself and the
                # refit is cross-fitted.  min_gain=0 refits the trial with
                # the highest mean; --report replays the other rules.
                "crossfit_trials": OptunaSearchCV(
                    ImbalancedKerasClassifier(random_state=seed, **quick),
                    n_trials=args.n_trials,
                    cv=args.cv,
                    random_state=seed,
                    min_gain=0,
                ),
                "default": ImbalancedKerasClassifier(random_state=seed, **quick),
            }
            runs = {run: model for run, model in runs.items() if run in args.runs}
            for run, model in runs.items():
                if run == "flat":
                    # The conditions off, as before (the module's rule tables).
                    saved = (_space.CONDITIONS, _space.CONFLICTS)
                    _space.CONDITIONS, _space.CONFLICTS = {}, ()
                start = time.perf_counter()
                try:
                    model.fit(X[train], y[train])
                finally:
                    if run == "flat":
                        _space.CONDITIONS, _space.CONFLICTS = saved
                seconds = time.perf_counter() - start
                rows.append(
                    {
                        "set": name,
                        "fold": fold,
                        "run": run,
                        "macro_f1": _macro_f1(model, X[test], y[test]),
                        "seconds": seconds,
                    }
                )
                if run != "default":
                    rows[-1]["trials"] = _trials(model)
                print({k: v for k, v in rows[-1].items() if k != "trials"}, flush=True)
                _save(rows, args.out)
                if run in ("default", "crossfit_trials"):
                    continue
                # The searches' trials train one network each (cv=None, five
                # times cheaper); the default cross-fits.  The best
                # parameters refitted with the default's cross-fitting tell
                # the two effects apart.
                crossfit = ImbalancedKerasClassifier(random_state=seed, **quick)
                crossfit.set_params(**model.best_params_)
                start = time.perf_counter()
                crossfit.fit(X[train], y[train])
                rows.append(
                    {
                        "set": name,
                        "fold": fold,
                        "run": f"{run}_crossfit",
                        "macro_f1": _macro_f1(crossfit, X[test], y[test]),
                        "seconds": seconds + time.perf_counter() - start,
                    }
                )
                print(rows[-1], flush=True)
                _save(rows, args.out)
    report(rows)
    report_min_gain(rows)


def _trials(search) -> dict:
    """Every trial's inner-fold scores, to compare ways of choosing the best
    trial afterwards (``--report``)."""
    results = search.cv_results_
    splits = [results[f"split{k}_test_score"] for k in range(search.n_splits_)]
    return {
        "start": [bool(v) for v in results["start"]],
        "state": [str(v) for v in results["state"]],
        "splits": [
            [float(score) for score in trial] for trial in zip(*splits, strict=True)
        ],
        "best_index": int(search.best_index_),
        "top_index": int(search.top_index_),
    }


def _save(rows, out) -> None:
    # Rewritten after every row, whole and atomically, so that a cut run
    # keeps what it measured and leaves no half-written file.
    if out:
        tmp = Path(out).with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1))
        tmp.replace(out)


def report(rows) -> None:
    """Print the table of mean outer-fold macro-F1 (and seconds) by set,
    each search's gain over the default beside its score."""
    # Only outer folds with every run (a cut run's last fold is partial).
    runs_of: dict = {}
    for r in rows:
        runs_of.setdefault((r["set"], r["fold"]), set()).add(r["run"])
    measured = [run for run in RUNS if any(r["run"] == run for r in rows)]
    complete = {key for key, runs in runs_of.items() if runs >= set(measured)}
    rows = [r for r in rows if (r["set"], r["fold"]) in complete]
    names = list(dict.fromkeys(r["set"] for r in rows))
    folds = {name: len({f for s, f in complete if s == name}) for name in names}
    print(f"\n| set (outer folds) | {' | '.join(measured)} |")
    print("|---" * (len(measured) + 1) + "|")
    for name in names:
        of_set = [r for r in rows if r["set"] == name]
        mean = {
            run: statistics.mean(r["macro_f1"] for r in of_set if r["run"] == run)
            for run in measured
        }
        seconds = {
            run: statistics.mean(r["seconds"] for r in of_set if r["run"] == run)
            for run in measured
        }
        cells = [
            f"{mean[run]:.3f} ("
            + (f"{mean[run] - mean['default']:+.3f}, " if run != "default" else "")
            + f"{seconds[run]:.0f} s)"
            for run in measured
        ]
        print(f"| {name} ({folds[name]}) | {' | '.join(cells)} |")


RUNS = (
    "conditional",
    "conditional_crossfit",
    "crossfit_trials",
    "flat",
    "flat_crossfit",
    "default",
)
# Ways of choosing the search's trial (OptunaSearchCV's min_gain).
MIN_GAINS = (0.0, "std_error", 0.01, 0.02)
# For each search whose trials were recorded: the run whose outer-fold score
# is that of its best trial refitted with cross-fitting.
TUNED = {"conditional": "conditional_crossfit", "crossfit_trials": "crossfit_trials"}


def report_min_gain(rows) -> None:
    """Mean outer-fold macro-F1 of a search refitted with cross-fitting, for
    each ``min_gain``, from the trials each row recorded: a rule either
    keeps the search's best trial, whose refit was measured, or the
    default's parameters, whose refit is the default estimator (the same
    parameters, seed and data), so every figure is a measured one."""
    by_key = {(r["set"], r["fold"], r["run"]): r for r in rows}
    for search, tuned_run in TUNED.items():
        keys = [
            (r["set"], r["fold"])
            for r in rows
            if r["run"] == search
            and "trials" in r
            and (r["set"], r["fold"], "default") in by_key
            and (r["set"], r["fold"], tuned_run) in by_key
        ]
        if keys:
            _min_gain_table(by_key, keys, search, tuned_run)


def _min_gain_table(by_key: dict, keys: list, search: str, tuned_run: str) -> None:
    """The table of :func:`report_min_gain` for one search, over the
    ``(set, fold)`` keys that have its trials, its refit and the default."""
    print(
        f"\n{search}, refitted as {tuned_run}\n| set (outer folds) | default | "
        + " | ".join(f"min_gain={g}" for g in MIN_GAINS)
        + " |"
    )
    print("|---" * (len(MIN_GAINS) + 2) + "|")
    totals: dict = {g: [] for g in (*MIN_GAINS, "default")}
    for name in dict.fromkeys(name for name, _ in keys):
        scores: dict = {g: [] for g in (*MIN_GAINS, "default")}
        kept = dict.fromkeys(MIN_GAINS, 0)
        folds = [fold for set_, fold in keys if set_ == name]
        for fold in folds:
            default = by_key[name, fold, "default"]["macro_f1"]
            tuned = by_key[name, fold, tuned_run]["macro_f1"]
            scores["default"].append(default)
            chosen = _chosen_by_rule(by_key[name, fold, search]["trials"])
            for gain, keeps_default in chosen.items():
                kept[gain] += keeps_default
                scores[gain].append(default if keeps_default else tuned)
        mean = {g: statistics.mean(v) for g, v in scores.items()}
        for g in totals:
            totals[g].append(mean[g])
        cells = [
            f"{mean[g]:.3f} ({mean[g] - mean['default']:+.3f}, kept {kept[g]})"
            for g in MIN_GAINS
        ]
        print(
            f"| {name} ({len(folds)}) | {mean['default']:.3f} | {' | '.join(cells)} |"
        )
    cells = [f"{statistics.mean(totals[g]):.3f}" for g in MIN_GAINS]
    print(f"| mean | {statistics.mean(totals['default']):.3f} | {' | '.join(cells)} |")


def _chosen_by_rule(trials: dict) -> dict:
    """For each ``min_gain``, whether OptunaSearchCV's rule keeps the
    default's parameters over the refitted trial, from a search's recorded
    trials."""
    from skimb.tuning._results import chosen_index

    splits = np.array(trials["splits"], dtype=float)
    results = {
        "start": np.array(trials["start"]),
        "state": np.array(trials["state"], dtype=object),
        **{f"split{k}_test_score": splits[:, k] for k in range(splits.shape[1])},
    }
    # The refitted trial: the highest mean (recorded since the crossfit_trials
    # run; before, the chosen one).
    best = trials.get("top_index", trials["best_index"])
    return {
        gain: chosen_index(results, best, n_splits=splits.shape[1], min_gain=gain)
        != best
        for gain in MIN_GAINS
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-trials", type=int, default=10)
    parser.add_argument("--cv", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--nested", action="store_true", help="see the docstring")
    parser.add_argument("--n-sets", type=int, default=8)
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument(
        "--sets", nargs="+", help="with --nested: run these of the n-sets, in order"
    )
    parser.add_argument(
        "--replicate",
        type=int,
        default=0,
        help="with --nested: the seed of the outer folds and of every model",
    )
    parser.add_argument("--out", help="with --nested: write the rows as JSON")
    parser.add_argument(
        "--report",
        nargs="+",
        help="print the tables of --nested JSON files; a later file's rows "
        "replace an earlier one's for the same sets (a rerun of some sets)",
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["conditional", "flat", "default"],
        choices=["conditional", "flat", "crossfit_trials", "default"],
        help="with --nested: the models to compare (a search's run adds its "
        "cross-fitted refit)",
    )
    args = parser.parse_args(argv)
    if args.report:
        by_set: dict = {}  # in the first file's order of sets
        for path in args.report:
            rerun: dict = {}
            for r in json.loads(Path(path).read_text()):
                rerun.setdefault(r["set"], []).append(r)
            by_set.update(rerun)
        rows = [r for rows_of_set in by_set.values() for r in rows_of_set]
        report(rows)
        report_min_gain(rows)
        return
    if args.nested:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if args.quick:
            args.n_sets, args.outer, args.n_trials, args.cv = 1, 3, 2, 3
        nested(args)
        return
    if args.quick:
        args.rounds, args.n_trials, args.cv = 1, 2, 2
        args.n_train, args.n_test = 600, 2000
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(
        f"{args.rounds} rounds, {args.n_trials} trials, {args.cv} folds, "
        f"{args.n_train} training rows, {args.n_test} test rows"
    )
    rows = []
    for seed in range(args.rounds):
        row = one_round(seed, args)
        rows.append(row)
        print(
            f"round {seed}: " + ", ".join(f"{k} {v}" for k, v in row.items()),
            flush=True,
        )

    def median(name: str, key: str) -> float:
        return statistics.median(row[name][key] for row in rows)

    print()
    print(
        f"{'search':<10} {'seconds':>8} {'cpu s':>8} {'cv F1':>7} {'test F1':>8} "
        f"{'pruned':>7}"
    )
    for name in ("pruned", "unpruned"):
        print(
            f"{name:<10} {median(name, 'seconds'):>8.1f} "
            f"{median(name, 'cpu_seconds'):>8.1f} "
            f"{median(name, 'cv_f1'):>7.3f} {median(name, 'test_f1'):>8.3f} "
            f"{median(name, 'pruned'):>7.0f}"
        )
    print(
        f"{'default':<10} {median('default', 'seconds'):>8.1f} {'':>8} {'':>7} "
        f"{median('default', 'test_f1'):>8.3f}"
    )
    print(
        f"\npruning time saved: "
        f"{1 - median('pruned', 'seconds') / median('unpruned', 'seconds'):.0%}"
    )


if __name__ == "__main__":
    main()
