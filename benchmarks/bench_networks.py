"""Network settings of the default estimator, one fit per setting and seed.

Trains one ``ImbalancedKerasClassifier`` network (``cv=None`` unless a
setting gives ``cv``) with its defaults plus the given parameters on a
``skimb.datasets`` problem and scores test macro-F1 on a fresh sample
(decision rule as fitted, argmax and the posterior rule of the same
network).  This is how the network probes on the Benchmarks page were
run, e.g.::

    python benchmarks/bench_networks.py --problem sequences --n-train 20000 \\
        '{"architecture": "lstm", "kernel_size": 0, "bidirectional": false}' \\
        '{"architecture": "lstm", "bidirectional": false}' \\
        '{"architecture": "lstm", "kernel_size": 0}' \\
        '{"architecture": "lstm"}' '{"architecture": "gru"}' \\
        '{"architecture": "lstm", "units": 128}' \\
        '{"architecture": "lstm", "kernel_size": 5}' --seeds 0 1
    python benchmarks/bench_networks.py --problem tabular --n-train 5000 \\
        '{}' '{"units": 128}' '{"dropout": 0.3}' \\
        '{"learning_rate": 0.003}' '{"batch_size": 64}' --seeds 0 1 2

The probes of the plain recurrent layer on the Benchmarks page (dropout,
patience, 40,000 sequences, ...) ran the same way with
``"kernel_size": 0, "bidirectional": false`` added, the default then.

One JSON line per fit is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)


def f1(y_true, predicted) -> float:
    return round(f1_score(y_true, predicted, average="macro"), 4)


PROBLEMS = {
    "tabular": make_imbalanced_classification,
    "sequences": make_imbalanced_sequences,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="estimator parameters as JSON")
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="sequences")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    make = PROBLEMS[args.problem]
    for seed in args.seeds:
        X, y = make(args.n_train, random_state=seed)
        X_test, y_test = make(args.n_test, random_state=10_000 + seed)
        for setting in args.settings:
            params = json.loads(setting)
            # One network unless the setting asks for cv: the probes compare
            # networks, not ensembles.
            estimator = ImbalancedKerasClassifier(
                random_state=seed, **{"cv": None, **params}
            )
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds = time.perf_counter() - start
            log_proba = estimator.predict_log_proba(X_test)
            posterior, _ = estimator._rule_offsets("posterior")
            own, _ = estimator._rule_offsets("argmax")  # the network's argmax

            print(
                json.dumps(
                    {
                        "problem": args.problem,
                        "n_train": args.n_train,
                        "seed": seed,
                        "params": params,
                        "seconds": round(seconds),
                        "epochs": len(estimator.history_["loss"]),
                        "macro_f1": f1(y_test, estimator.predict(X_test)),
                        "argmax": f1(y_test, (log_proba + own).argmax(axis=1)),
                        "posterior": f1(y_test, (log_proba + posterior).argmax(axis=1)),
                    }
                ),
                flush=True,
            )
            keras.backend.clear_session()


if __name__ == "__main__":
    main()
