"""One training epoch at the scale of the real case: skimb vs raw Keras.

95,000 sequences x 20 steps x 18 features, four classes sized like
10K / 500K / 90K / 30K (``skimb.datasets.make_imbalanced_sequences``).
Contenders, each run in its own fresh subprocess, interleaved in a rotating
order, medians over the rounds:

* ``skimb``: ``ImbalancedKerasClassifier("lstm", epochs=1, cv=None)``, one
  network with the default (stratified 10 % validation split, validation macro-F1, early
  stopping), timed around ``fit``.
* ``keras``: what a user writes by hand for the same network: the same
  stratified split, one-hot targets, ``keras.Model.fit(X_train, y_train,
  validation_data=(X_val, y_val), batch_size=128, epochs=1)`` with Keras'
  defaults otherwise, timed from the split to the end of ``fit``.
* ``skimb_noval`` / ``keras_noval``: the same without a validation split,
  every row trained on.

Peak memory is the process's peak resident set size (``VmHWM`` in
``/proc/self/status``) minus the resident size of the idle process: Python
with Keras, TensorFlow and skimb imported and no data.  It includes ``X``
itself, loaded from a ``.npy`` file (so generating the data costs nothing),
and is compared with the size of ``X`` as given to ``fit``.

Targets: skimb no slower than raw Keras, and peak memory above idle under
3x the size of ``X``.

Run ``python benchmarks/bench_scale.py`` (``--quick`` for a smoke run;
``--dtype float32`` to hand ``fit`` float32 data instead of the float64 the
generator returns).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTENDERS = ("skimb", "keras", "skimb_noval", "keras_noval")


def _memory() -> dict:
    """Current and peak resident set size of this process, in bytes."""
    # /proc/self/status rather than getrusage's ru_maxrss: Linux carries
    # ru_maxrss over from the parent through fork and exec, so a worker
    # started by a parent that held the data would report the parent's peak.
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) * 1024
    return values


def worker(contender: str, folder: Path, batch_size: int) -> dict:
    """Run one contender in this (fresh) process; return time and memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow  # noqa: F401  (the backend, loaded before the baseline)
    from _raw_keras import fit_raw_keras

    from skimb import ImbalancedKerasClassifier
    from skimb._moments import feature_moments
    from skimb._splits import validation_split

    idle = _memory()["VmRSS"]
    X = np.load(folder / "X.npy")
    y = np.load(folder / "y.npy")
    validation = not contender.endswith("_noval")

    start = time.perf_counter()
    if contender.startswith("skimb"):
        params = {} if validation else dict(validation_fraction=0.0)
        # One network, as raw Keras trains one (at this scale cv="auto"
        # trains one too; the --quick sizes would cross-fit).
        clf = ImbalancedKerasClassifier(
            "lstm",
            epochs=1,
            cv=None,
            batch_size=batch_size,
            early_stopping=validation,
            random_state=0,
            **params,
        )
        clf.fit(X, y)
    else:
        keras.utils.set_random_seed(0)
        n_classes = len(np.unique(y))
        onehot = np.eye(n_classes, dtype="float32")[y]
        if validation:
            # The same stratified 10 % split skimb holds out.
            train, val = validation_split(
                y, classes=np.arange(n_classes), validation_fraction=0.1, seed=0
            )
            X_train, y_train = X[train], onehot[train]
            validation_data = (X[val], onehot[val])
        else:
            X_train, y_train, validation_data = X, onehot, None
        mean, variance = feature_moments(X_train)
        fit_raw_keras(
            X_train,
            y_train,
            validation_data,
            architecture="lstm",
            mean=mean,
            variance=variance,
            batch_size=batch_size,
            epochs=1,
        )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_above_idle": _memory()["VmHWM"] - idle}


def run_contender(contender: str, folder: Path, batch_size: int) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            contender,
            "--folder",
            str(folder),
            "--batch-size",
            str(batch_size),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS)
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.batch_size)))
        return

    import numpy as np

    from skimb.datasets import make_imbalanced_sequences

    n_samples = 9_500 if args.quick else 95_000
    rounds = args.rounds or (1 if args.quick else 5)
    contenders = args.contenders or list(CONTENDERS)
    X, y = make_imbalanced_sequences(n_samples, random_state=0)
    X = X.astype(args.dtype, copy=False)
    print(
        f"X {X.shape} {X.dtype}: {X.nbytes / 2**20:.0f} MiB; class counts "
        f"{np.bincount(y).tolist()}; batch_size {args.batch_size}; "
        f"{os.cpu_count()} CPU cores"
    )
    results = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        np.save(folder / "X.npy", X)
        np.save(folder / "y.npy", y)
        del X
        for round_ in range(rounds):
            shift = round_ % len(contenders)
            for name in contenders[shift:] + contenders[:shift]:
                result = run_contender(name, folder, args.batch_size)
                results[name].append(result)
                print(
                    f"  round {round_ + 1} {name:<12} {result['seconds']:7.2f} s "
                    f"{result['peak_above_idle'] / 2**20:7.0f} MiB",
                    flush=True,
                )
        nbytes = os.path.getsize(folder / "X.npy")
    print(f"\nmedians of {rounds} rounds (peak memory above the idle process)")
    print(f"{'contender':<12} {'seconds':>8} {'peak MiB':>9} {'peak / X':>9}")
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_above_idle"] for r in runs)
        print(f"{name:<12} {seconds:>8.2f} {peak / 2**20:>9.0f} {peak / nbytes:>8.2f}x")


if __name__ == "__main__":
    main()
