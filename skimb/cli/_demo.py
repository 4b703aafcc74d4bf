"""``skimb demo``: the imbalance strategies compared on embedded data, and
its report.

Results go to stdout; progress to stderr, only on a terminal.  Ctrl-C keeps
what was finished: the demo reports the strategies it has scored."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from skimb.cli._common import check_out_folder, flat_baseline, predictions, slug

# What people usually try (a flat linear model, or one network with the
# settings of a first Keras script and an imbalance strategy), against the
# estimator as shipped.  The first-script networks share SCRIPT_SETTINGS.
FLAT_BASELINE = "logistic-regression"
STRATEGIES = {
    FLAT_BASELINE: None,
    "crossentropy": {"loss": "crossentropy", "decision": "argmax", "cv": None},
    "class_weight=balanced": {
        "loss": "crossentropy",
        "class_weight": "balanced",
        "decision": "argmax",
        "cv": None,
    },
    "focal": {"loss": "focal", "decision": "argmax", "cv": None},
    "skimb-default": {},
}
SCRIPT_SETTINGS = {"units": 64, "n_layers": 1, "patience": 8, "batch_size": 64}

# Full run: about 2.6 minutes on 2 cores (3.3 from a fresh clone, the install
# included).  --quick: a smoke run of about 40 s.
SIZES = {
    False: {"tabular": 10_000, "sequences": 3_000, "epochs": 40, "folds": 3},
    True: {"tabular": 1_000, "sequences": 500, "epochs": 3, "folds": 2},
}


def _print_table_header() -> None:
    header = (
        # Each score is "  0.798 ± 0.005 ": the headings end over the sd.
        f"{'data':<18} {'strategy':<24} {'macro-F1':>15} {'bal. acc.':>15} "
        f"{'seconds':>7}"
    )
    print(header)
    print("-" * len(header))


def demo(args) -> int:
    """Compare imbalance strategies on embedded data; write the report."""
    check_out_folder(args.out, ("report.html",))  # before minutes of fitting
    from sklearn.base import clone
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from skimb import ImbalancedKerasClassifier
    from skimb.cli._progress import EpochProgress, StatusLine
    from skimb.datasets import (
        make_imbalanced_classification,
        make_imbalanced_sequences,
    )
    from skimb.metrics import macro_f1

    size = SIZES[args.quick]
    seed = args.seed
    problems = {
        "tabular (dense)": (
            "dense",
            make_imbalanced_classification(size["tabular"], random_state=seed),
        ),
        "sequences (lstm)": (
            "lstm",
            make_imbalanced_sequences(size["sequences"], random_state=seed),
        ),
    }
    n_folds = size["folds"]
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    # The bar counts folds: of every data set and strategy.
    status = StatusLine(total=len(problems) * len(STRATEGIES) * n_folds)
    progress = EpochProgress(status)
    print(
        f"macro-F1 and balanced accuracy, {n_folds}-fold stratified "
        "cross-validation (mean ± sd)"
    )
    _print_table_header()
    results = []
    try:
        for name, (architecture, (X, y)) in problems.items():
            classes = np.unique(y)
            for strategy, params in STRATEGIES.items():
                if params is None:
                    # Balanced logistic regression on the standardised,
                    # flattened input: the model users fit beside a network.
                    base = flat_baseline()
                else:
                    shared = {} if strategy == "skimb-default" else SCRIPT_SETTINGS
                    base = ImbalancedKerasClassifier(
                        architecture,
                        epochs=size["epochs"],
                        random_state=seed,
                        callbacks=[progress],
                        **shared,
                        **params,
                    )
                start = time.perf_counter()
                # Out-of-fold probabilities, so that the report's confusion
                # matrix and curves are of rows no model was trained on.
                proba = np.zeros((len(y), len(classes)))
                predicted = np.empty_like(y)
                f1, bacc, history = [], [], None
                for fold, (train, test) in enumerate(cv.split(X, y), start=1):
                    status.context = f"{name} · {strategy} · fold {fold}/{n_folds}"
                    status.show(status.context)
                    clf = clone(base).fit(X[train], y[train])
                    status.done += 1
                    predicted[test], proba[test] = predictions(clf, X[test])
                    f1.append(macro_f1(y[test], predicted[test], labels=classes))
                    bacc.append(balanced_accuracy_score(y[test], predicted[test]))
                    if history is None and params is not None:
                        history = (clf.history_, clf.best_epoch_)
                seconds = time.perf_counter() - start
                status.clear()
                print(
                    f"{name:<18} {strategy:<24} "
                    f"{np.mean(f1):>7.3f} ± {np.std(f1):.3f} "
                    f"{np.mean(bacc):>7.3f} ± {np.std(bacc):.3f} "
                    f"{seconds:>7.0f}",
                    flush=True,
                )
                results.append(
                    {
                        "data": name,
                        "strategy": strategy,
                        "f1": f1,
                        "bacc": bacc,
                        "seconds": seconds,
                        "y": y,
                        "proba": proba,
                        "predicted": predicted,
                        "classes": classes,
                        "history": history,
                    }
                )
    except KeyboardInterrupt:
        status.clear()
        if not results:
            raise
        print(
            f"Interrupted: reporting the {len(results)} finished strategies.",
            file=sys.stderr,
        )
        page = _demo_report(results, args, n_folds)
        print(f"report: {page}")
        return 130
    page = _demo_report(results, args, n_folds)
    print(f"report: {page}")
    return 0


def _demo_report(results: list[dict], args, n_folds: int) -> Path:
    from skimb.report import Report

    report = Report("skimb demo: imbalance strategies compared")
    report.add_text(
        "Embedded synthetic data with 4 classes in proportion 10K / 500K / 90K / "
        f"30K, {'--quick run' if args.quick else 'full run'}, seed {args.seed}. "
        f"Scores are means ± standard deviations over {n_folds} stratified folds; "
        "the figures use the out-of-fold probabilities (every row predicted by "
        "the model that did not train on it), the training curves come from the "
        "first fold."
    )
    for data in dict.fromkeys(r["data"] for r in results):
        rows = [r for r in results if r["data"] == data]
        best = int(np.argmax([np.mean(r["f1"]) for r in rows]))
        report.add_heading(data)
        report.add_table(
            f"Strategies on {data}, best macro-F1 in bold",
            [
                {
                    "strategy": r["strategy"],
                    "macro-F1": np.mean(r["f1"]),
                    "macro-F1 sd": np.std(r["f1"]),
                    "balanced accuracy": np.mean(r["bacc"]),
                    "balanced accuracy sd": np.std(r["bacc"]),
                    "seconds": f"{r['seconds']:.1f}",
                }
                for r in rows
            ],
            highlight=best,
        )
        # The best strategy, and the plain crossentropy network beside it
        # (none where Ctrl-C came before a network on these data finished).
        baseline = next(
            (i for i, r in enumerate(rows) if r["history"] is not None), best
        )
        shown = [rows[best]] + ([rows[baseline]] if best != baseline else [])
        for r in shown:
            history, best_epoch = r["history"] or (None, None)
            report.add_classification(
                f"{data}: {r['strategy']}"
                + (" (best)" if r is rows[best] else " (baseline)"),
                r["y"],
                r["proba"],
                classes=r["classes"],
                y_pred=r["predicted"],
                name=f"{slug(data)}_{slug(r['strategy'])}",
                history=history,
                best_epoch=best_epoch,
            )
    return report.write(args.out)
