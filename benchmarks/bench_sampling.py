"""Ways to balance an LSTM's training: macro-F1 and fit time, side by side.

On ``skimb.datasets.make_imbalanced_sequences`` (four classes sized like
10K / 500K / 90K / 30K), the same LSTM is trained with

* nothing (the baseline), and ``class_weight="balanced"``;
* resampling once, before ``fit``, in an imbalanced-learn pipeline:
  ``SequenceSampler(RandomOverSampler())`` and ``SequenceSampler(SMOTE())``;
* balanced batches redrawn every epoch: ``batch_sampler="over"``,
  ``"under"`` and ``"smote"``.

Macro-F1 is measured on a large fresh sample of the same distribution (a
different seed), fit time around ``fit``.  The contenders run interleaved,
in a rotating order, once per seed; the table gives medians over seeds.

Run ``python benchmarks/bench_sampling.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from imblearn.over_sampling import SMOTE, RandomOverSampler  # noqa: E402
from imblearn.pipeline import make_pipeline  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import make_imbalanced_sequences  # noqa: E402
from skimb.sampling import SequenceSampler  # noqa: E402


def contenders(params: dict) -> dict:
    def clf(**extra):
        return ImbalancedKerasClassifier("lstm", **params, **extra)

    return {
        "none": lambda: clf(),
        "class_weight": lambda: clf(class_weight="balanced"),
        "pipeline over": lambda: make_pipeline(
            SequenceSampler(RandomOverSampler(random_state=0)), clf()
        ),
        "pipeline smote": lambda: make_pipeline(
            SequenceSampler(SMOTE(random_state=0)), clf()
        ),
        "batches over": lambda: clf(batch_sampler="over"),
        "batches under": lambda: clf(batch_sampler="under"),
        "batches smote": lambda: clf(batch_sampler="smote"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    n_train, n_test, seeds, epochs = (
        (1500, 3000, 1, 3) if args.quick else (4000, 20_000, 2, 15)
    )
    X_test, y_test = make_imbalanced_sequences(n_test, random_state=1000)
    print(
        f"keras {keras.__version__}; {n_train} training sequences (20 x 18), "
        f"test on {n_test} fresh ones; LSTM(32), up to {epochs} epochs, "
        f"early stopping on validation macro-F1; {os.cpu_count()} CPU cores"
    )
    results = {}
    for round_, seed in enumerate(range(seeds)):
        X, y = make_imbalanced_sequences(n_train, random_state=seed)
        # One network per contender (cv=None): the comparison is of ways to
        # balance the batches, measured before cross-fitting existed.
        params = dict(units=32, epochs=epochs, patience=5, cv=None, random_state=seed)
        makers = contenders(params)
        names = list(makers)
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            keras.backend.clear_session()
            model = makers[name]()
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
            f1 = f1_score(y_test, model.predict(X_test), average="macro")
            results.setdefault(name, []).append((f1, seconds))
            print(f"  seed {seed} {name:<15} macro-F1 {f1:.3f} {seconds:6.1f} s")
    print(f"\nmedians over {seeds} seeds")
    print(f"{'strategy':<15} {'macro-F1':>9} {'min-max':>13} {'fit s':>7}")
    for name, runs in results.items():
        f1s = [f1 for f1, _ in runs]
        print(
            f"{name:<15} {statistics.median(f1s):>9.3f} "
            f"{min(f1s):>6.3f}-{max(f1s):.3f} "
            f"{statistics.median(s for _, s in runs):>7.1f}"
        )


if __name__ == "__main__":
    main()
