"""``learning_rate="auto"`` against a fixed 1e-3 where they differ: more
than 4,096 training rows per network.

Two problems of :mod:`skimb.datasets`, whose density is known, scored on
fresh test rows as a share of the Bayes-optimal macro-F1 (the true
posterior with per-class offsets tuned for macro-F1 on another sample), with
the fit time beside it:

- ``tabular``: :func:`~skimb.datasets.make_imbalanced_classification`, the
  dense default on 20,000 training rows (five cross-fitted networks of
  16,000 rows each: "auto" is 5.1e-4), a new training sample per seed;
- ``seed``: the suite's seed scenario,
  :func:`~skimb.datasets.make_imbalanced_sequences`, the default LSTM on
  95,000 training sequences (one network of 85,500 rows: "auto" is
  2.2e-4), the suite's training sample, the network's ``random_state``
  per seed.

The suite's synthetic families are run by ``bench_suite.py`` (docs: "The
benchmark suite")::

    python benchmarks/bench_learning_rate.py --problem tabular --seeds 3 \
        --out benchmarks/results/learning_rate_tabular20k.json
    python benchmarks/bench_learning_rate.py --problem seed --seeds 2 \
        --out benchmarks/results/learning_rate_seed95k.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bayes import bayes_test_sample, with_log_posterior  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)

RATES = {"auto": "auto", "1e-3": 1e-3}


PROBLEMS = {
    "tabular": (make_imbalanced_classification, "dense", 20_000),
    "seed": (make_imbalanced_sequences, "lstm", 95_000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="tabular")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    problem = args.problem
    make, architecture, n_train = PROBLEMS[problem]
    sample = partial(with_log_posterior, make)
    # The suite's test sample for the seed scenario (bench_suite.py).
    n_test = args.n_test or (50_000 if problem == "seed" else 100_000)
    X_test, y_test, bayes = bayes_test_sample(sample, n_test)
    rows = []
    for seed in range(args.seeds):
        # The seed scenario keeps the suite's one training sample.
        data_seed = 100 if problem == "seed" else 100 + seed
        X, y, _ = sample(n_train, random_state=data_seed)
        for name, rate in RATES.items():
            model = ImbalancedKerasClassifier(
                architecture, learning_rate=rate, random_state=seed
            )
            start = time.perf_counter()
            model.fit(X, y)
            fit_s = time.perf_counter() - start
            score = f1_score(y_test, model.predict(X_test), average="macro")
            epochs = len(model.history_["loss"])
            rows.append(
                {
                    "learning_rate": name,
                    "seed": seed,
                    "macro_f1": score,
                    "share_of_bayes": score / bayes,
                    "fit_s": fit_s,
                    "epochs": epochs,
                }
            )
            print(
                f"seed {seed}  learning_rate={name:5}  macro-F1 {score:.4f}  "
                f"{score / bayes:.1%} of Bayes  fit {fit_s:.1f} s  {epochs} epochs",
                flush=True,
            )
    for name in RATES:
        mine = [r for r in rows if r["learning_rate"] == name]
        share = statistics.median(r["share_of_bayes"] for r in mine)
        fit_s = statistics.median(r["fit_s"] for r in mine)
        print(
            f"learning_rate={name:5}  median {share:.1%} of Bayes "
            f"({bayes:.3f})  median fit {fit_s:.1f} s"
        )
    if args.out is not None:
        tmp = args.out.with_suffix(".tmp")
        result = {"problem": problem, "bayes_macro_f1": bayes, "rows": rows}
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
