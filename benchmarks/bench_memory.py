"""Memory of one process over many fits in a row, side by side in one run.

A search fits the estimator again and again in one process (``skimb tune``:
20 trials of five cross-fitted networks, each cross-validated).  This
script fits the default ``N`` times in a row and reads the process's
resident memory after each fit (``/proc/self/statm``, so Linux only),
for three contenders, each in a fresh process:

- ``skimb``: ``ImbalancedKerasClassifier`` as it ships;
- ``skimb, registry kept``: the same with the release of TensorFlow's
  custom gradients switched off (``skimb._program._custom_gradients_released``
  replaced by a no-op), which is what every fit did before it: each traced
  epoch left its graph in TensorFlow's global gradient registry;
- ``keras Model.fit``: a network of the same shape compiled and trained by
  ``keras.Model.fit`` (a new model each time, as a user's loop makes), for
  scale.

The growth per fit is the slope from the ``--skip``-th fit to the last,
``(rss_N - rss_skip) / (N - skip)``: the first fits load libraries and
fill caches.  On JAX the second contender is skipped (no such registry).

Run ``python benchmarks/bench_memory.py`` (``--quick`` for a smoke run,
``--json PATH`` to save the rows, ``--data sequences`` for the LSTM).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CONTENDERS = ("skimb", "skimb, registry kept", "keras Model.fit")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _data(kind: str, n_samples: int):
    from skimb.datasets import (
        make_imbalanced_classification,
        make_imbalanced_sequences,
    )

    if kind == "table":
        return make_imbalanced_classification(n_samples, random_state=0)
    return make_imbalanced_sequences(
        n_samples, n_timesteps=12, n_features=6, random_state=0
    )


def run_contender(contender: str, kind: str, n_samples: int, fits: int, epochs: int):
    """In this process: ``fits`` fits in a row; resident MB after each."""
    import contextlib

    import keras
    import numpy as np
    from _raw_keras import fit_raw_keras

    import skimb._program
    from skimb import ImbalancedKerasClassifier
    from skimb._moments import feature_moments

    X, y = _data(kind, n_samples)
    if contender == "skimb, registry kept":
        skimb._program._custom_gradients_released = contextlib.nullcontext
    architecture = "dense" if X.ndim == 2 else "lstm"
    rss, seconds = [], []
    for seed in range(fits):
        start = time.perf_counter()
        if contender.startswith("skimb"):
            ImbalancedKerasClassifier(epochs=epochs, random_state=seed).fit(X, y)
        else:
            keras.utils.set_random_seed(seed)
            mean, variance = feature_moments(X)
            onehot = keras.utils.to_categorical(np.unique(y, return_inverse=True)[1])
            fit_raw_keras(
                X,
                onehot,
                None,
                architecture=architecture,
                mean=mean,
                variance=variance,
                batch_size=256,
                epochs=epochs,
            )
        seconds.append(time.perf_counter() - start)
        rss.append(_rss_mb())
    return {"rss_mb": rss, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("table", "sequences"), default="table")
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--fits", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--skip", type=int, default=5, help="fits before the slope")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.samples, args.fits, args.epochs, args.skip = 200, 3, 1, 1
    if args.contender:  # a child process: one contender, rows to stdout
        row = run_contender(
            args.contender, args.data, args.samples, args.fits, args.epochs
        )
        print(json.dumps(row))
        return

    import keras

    backend = keras.backend.backend()
    contenders = [
        c for c in CONTENDERS if backend == "tensorflow" or "registry" not in c
    ]
    print(
        f"{args.fits} fits of {args.epochs} epochs in a row, {args.data} of "
        f"{args.samples} samples, Keras backend {backend}"
    )
    print(f"{'contender':24} MB after 1 after last  MB/fit  s/fit")
    rows = {}
    for contender in contenders:
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--contender", contender],
            capture_output=True,
            text=True,
        )
        if child.returncode:
            raise RuntimeError(f"{contender!r} failed:\n{child.stderr[-2000:]}")
        row = json.loads(child.stdout.strip().splitlines()[-1])
        rss, skip = row["rss_mb"], min(args.skip, args.fits - 1)
        row["mb_per_fit"] = (rss[-1] - rss[skip - 1]) / max(args.fits - skip, 1)
        rows[contender] = row
        seconds = sorted(row["seconds"])[len(row["seconds"]) // 2]
        print(
            f"{contender:24} {rss[0]:10.0f} {rss[-1]:10.0f} "
            f"{row['mb_per_fit']:7.1f} {seconds:6.2f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"args": vars(args), "backend": backend, "rows": rows}, out)


if __name__ == "__main__":
    main()
