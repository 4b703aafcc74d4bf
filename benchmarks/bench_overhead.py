"""Overhead of skimb over raw Keras and over scikeras, side by side in one run.

1. Single-row ``predict_proba`` latency: skimb vs scikeras ``KerasClassifier``
   wrapping the same network (median over many calls).
2. ``fit`` time vs raw ``keras.Model.fit`` of the same network on the same
   training rows and epochs (early stopping off), medians over several
   interleaved runs: with validation (skimb's validation loss and macro-F1
   on its stratified split vs Keras' ``validation_data`` on the same rows),
   and without (``validation_fraction=0``).  skimb trains through its own
   compiled epochs (``skimb._engine``), not ``keras.Model.fit``; a negative
   overhead is a speed-up.  ``bench_engine.py`` measures the engine in detail.

Run ``python benchmarks/bench_overhead.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _raw_keras import fit_raw_keras  # noqa: E402
from scikeras.wrappers import KerasClassifier  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._moments import feature_moments  # noqa: E402
from skimb._networks import build_network  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)


def _median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def predict_latency(
    X, y, architecture: str, calls: int, rounds: int
) -> tuple[float, float, float]:
    # One network against scikeras' one network of the same shape; the
    # default on these data (rarest class under 1,000 samples) cross-fits
    # five networks and predicts through all of them, timed alongside.
    ours = ImbalancedKerasClassifier(
        architecture, epochs=1, cv=None, random_state=0
    ).fit(X, y)
    crossfit = ImbalancedKerasClassifier(
        architecture, epochs=1, cv=5, random_state=0
    ).fit(X, y)

    def same_network():
        return build_network(
            architecture=architecture,
            input_shape=X.shape[1:],
            n_classes=4,
            dropout=0.1,
            probabilities=True,
        )

    theirs = KerasClassifier(
        model=same_network,
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=1,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    row = X[:1]
    for clf in (ours, theirs, crossfit):  # warm up: trace the graphs once
        clf.predict_proba(row)
    # Interleaved rounds, so that a slow spell of the machine hits all three.
    timings = [
        (
            _median_seconds(lambda: ours.predict_proba(row), calls),
            _median_seconds(lambda: theirs.predict_proba(row), max(calls // 20, 5)),
            _median_seconds(lambda: crossfit.predict_proba(row), calls),
        )
        for _ in range(rounds)
    ]
    return tuple(statistics.median(values) for values in zip(*timings, strict=True))


def fit_time(X, y, architecture: str, epochs: int, repeats: int):
    # One network (cv=None), as raw Keras trains one.
    params = dict(
        architecture=architecture,
        epochs=epochs,
        cv=None,
        early_stopping=False,
        batch_size=128,
        random_state=0,
    )
    ours = ImbalancedKerasClassifier(**params)

    # Raw Keras on exactly what skimb trains on: the same stratified split,
    # float32 inputs, one-hot targets and an identically built network.
    ours.classes_ = np.unique(y)
    train, val = validation_split(
        y, classes=ours.classes_, validation_fraction=ours.validation_fraction, seed=0
    )
    X32 = X.astype(np.float32)
    X_train, X_val = X32[train], X32[val]
    onehot = np.eye(4, dtype=np.float32)[y]
    y_train, y_val = onehot[train], onehot[val]
    # The same float64 per-feature statistics skimb's standardisation layer gets.
    mean, variance = feature_moments(X_train)

    def raw(validation: bool):
        keras.utils.set_random_seed(0)
        fit_raw_keras(
            X_train,
            y_train,
            (X_val, y_val) if validation else None,
            architecture=architecture,
            mean=mean,
            variance=variance,
            batch_size=128,
            epochs=epochs,
        )

    def skimb_fit(validation: bool):
        if validation:
            ImbalancedKerasClassifier(**params).fit(X, y)
        else:
            # The same training rows as raw Keras, all used for training.
            ImbalancedKerasClassifier(**params, validation_fraction=0.0).fit(
                X[train], y[train]
            )

    runs = {
        "raw": lambda: raw(True),
        "skimb": lambda: skimb_fit(True),
        "raw_no_val": lambda: raw(False),
        "skimb_no_val": lambda: skimb_fit(False),
    }
    times = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(repeats):
        # Interleaved, in a rotating order, from a clean Keras session: a
        # slow spell of the machine or state left by the previous run does
        # not always hit the same contender.
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            keras.backend.clear_session()
            gc.collect()
            times[name].append(_median_seconds(runs[name], 1))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    n_tab, n_seq, epochs, repeats, calls, rounds = (
        (600, 400, 1, 1, 20, 1) if args.quick else (20_000, 8_000, 5, 8, 400, 5)
    )
    problems = {
        "dense": make_imbalanced_classification(n_tab, random_state=0),
        "lstm": make_imbalanced_sequences(n_seq, random_state=0),
    }
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    plural = "s" if rounds > 1 else ""
    print(f"\nSingle-row predict_proba latency (median of {rounds} round{plural})")
    print(
        f"{'network':<8} {'skimb ms':>10} {'scikeras ms':>12} {'speed-up':>9} "
        f"{'skimb cv=5 ms':>14}"
    )
    for architecture, (X, y) in problems.items():
        ours, theirs, crossfit = predict_latency(X, y, architecture, calls, rounds)
        print(
            f"{architecture:<8} {ours * 1e3:>10.2f} {theirs * 1e3:>12.2f} "
            f"{theirs / ours:>8.0f}x {crossfit * 1e3:>14.2f}"
        )
    print(f"\nfit time in seconds, {epochs} epochs, median of {repeats} runs")
    print(
        f"{'network':<8} {'rows':>7} | {'keras':>7} {'skimb':>7} {'overhead':>9} |"
        f" {'keras':>7} {'skimb':>7} {'overhead':>9}"
    )
    print(f"{'':<16} | {'with validation':^25} | {'without validation':^25}")
    for architecture, (X, y) in problems.items():
        t = fit_time(X, y, architecture, epochs, repeats)
        print(
            f"{architecture:<8} {len(X):>7} | {t['raw']:>7.2f} {t['skimb']:>7.2f} "
            f"{(t['skimb'] / t['raw'] - 1) * 100:>+8.1f}% | {t['raw_no_val']:>7.2f} "
            f"{t['skimb_no_val']:>7.2f} "
            f"{(t['skimb_no_val'] / t['raw_no_val'] - 1) * 100:>+8.1f}%"
        )


if __name__ == "__main__":
    main()
