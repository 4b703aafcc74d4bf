"""Data-parallel training on logical CPU devices: the same model as one device?

The CPU is split into 4 logical devices (XLA's
``--xla_force_host_platform_device_count``, Keras' JAX backend), and the
estimator is fitted with ``devices=None``, 2 and 4 on the same data
(the default on 6,000 rows of ``make_imbalanced_classification``, and one
LSTM for 40 epochs on 2,000 sequences of ``make_imbalanced_sequences``),
for several seeds, each fit in
the same process after one warm-up fit.  Reported: test macro-F1 on 20,000
fresh rows (mean over seeds), the agreement of the predictions with one
device's, and the median fit time.  Logical devices share the machine's
cores, so their times show the cost of the splitting, not a speed-up; on
GPUs each device has its own arithmetic.

Run ``python benchmarks/bench_data_parallel.py`` (``--seeds N``;
``--json FILE`` keeps the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)

# The sequences train one network for 40 epochs: the default there (five
# cross-fitted LSTMs, early stopping) takes about 5 minutes a fit on JAX on
# 2 cores, too long to repeat for every device count and seed.
DATA = {
    "table (dense)": (make_imbalanced_classification, 6000, "dense", {}),
    "sequences (lstm)": (
        make_imbalanced_sequences,
        2000,
        "lstm",
        dict(cv=None, epochs=40, early_stopping=False),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    figures = {}
    print(f"{'data':<18} {'devices':>7} {'macro-F1':>9} {'agree':>6} {'fit s':>6}")
    for name, (make, n, architecture, params) in DATA.items():
        X, y = make(n, random_state=0)
        X_test, y_test = make(20_000, random_state=1)
        # Warm-up: the first fit of a process holds JAX's start-up.
        ImbalancedKerasClassifier(architecture, epochs=2, cv=None).fit(X, y)
        reference = {}
        for devices in (None, 2, 4):
            scores, agree, seconds = [], [], []
            for seed in range(args.seeds):
                start = time.perf_counter()
                clf = ImbalancedKerasClassifier(
                    architecture, devices=devices, random_state=seed, **params
                ).fit(X, y)
                seconds.append(time.perf_counter() - start)
                predicted = clf.predict(X_test)
                scores.append(f1_score(y_test, predicted, average="macro"))
                if devices is None:
                    reference[seed] = predicted
                agree.append(float(np.mean(predicted == reference[seed])))
            row = {
                "macro_f1": statistics.mean(scores),
                "macro_f1_per_seed": scores,
                "agreement_with_one_device": statistics.mean(agree),
                "fit_s": statistics.median(seconds),
            }
            figures.setdefault(name, {})[str(devices or 1)] = row
            if args.json:  # after each row, so that a run cut short keeps them
                with open(args.json, "w") as file:
                    json.dump(figures, file, indent=2)
            print(
                f"{name:<18} {devices or 1:>7} {row['macro_f1']:>9.3f} "
                f"{row['agreement_with_one_device']:>6.3f} {row['fit_s']:>6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
