"""The ``skimb`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

STRATEGIES = {
    "crossentropy": {},
    "class_weight=balanced": {"class_weight": "balanced"},
    "class_weight=effective": {"class_weight": "effective"},
    "focal": {"loss": "focal"},
}

# Full run: a few minutes on 2 cores.  --quick: a smoke run of seconds.
SIZES = {
    False: {"tabular": 10_000, "sequences": 3_000, "epochs": 40, "folds": 3},
    True: {"tabular": 1_000, "sequences": 500, "epochs": 3, "folds": 2},
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skimb",
        description="Keras networks for imbalanced multi-class data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="compare imbalance strategies on embedded data",
        description=(
            "Compare plain crossentropy with the imbalance strategies on embedded "
            "synthetic data (4 classes sized like 10K/500K/90K/30K; a table and "
            "20-step sequences), scored on macro-F1 with stratified "
            "cross-validation."
        ),
    )
    demo.add_argument(
        "--quick", action="store_true", help="small data and few epochs (smoke run)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def _demo(quick: bool, seed: int) -> int:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_validate

    from skimb import ImbalancedKerasClassifier
    from skimb.datasets import (
        make_imbalanced_classification,
        make_imbalanced_sequences,
    )

    size = SIZES[quick]
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
    cv = StratifiedKFold(size["folds"], shuffle=True, random_state=seed)
    print(
        f"macro-F1 and balanced accuracy, {size['folds']}-fold stratified "
        "cross-validation (mean ± sd)"
    )
    header = (
        f"{'data':<18} {'strategy':<24} {'macro-F1':>14} {'bal. acc.':>14} {'s':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, (architecture, (X, y)) in problems.items():
        for strategy, params in STRATEGIES.items():
            clf = ImbalancedKerasClassifier(
                architecture,
                epochs=size["epochs"],
                patience=8,
                batch_size=64,
                learning_rate=3e-3,
                random_state=seed,
                **params,
            )
            start = time.perf_counter()
            scores = cross_validate(
                clf, X, y, cv=cv, scoring=["f1_macro", "balanced_accuracy"]
            )
            f1 = scores["test_f1_macro"]
            bacc = scores["test_balanced_accuracy"]
            print(
                f"{name:<18} {strategy:<24} "
                f"{np.mean(f1):>7.3f} ± {np.std(f1):.3f} "
                f"{np.mean(bacc):>7.3f} ± {np.std(bacc):.3f} "
                f"{time.perf_counter() - start:>6.0f}",
                flush=True,
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skimb`` console script."""
    args = _parser().parse_args(argv)
    # The backend's start-up and tracing messages are noise on a terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if args.command == "demo":
        return _demo(args.quick, args.seed)
    return 2


if __name__ == "__main__":
    sys.exit(main())
