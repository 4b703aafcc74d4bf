"""Training throughput at the seed's scale on whatever device Keras uses.

95,000 sequences x 20 steps x 18 features (``make_imbalanced_sequences``,
the seed's class proportions), the default LSTM.  In one process, side by
side on the same data and the same device:

* ``skimb``: ``ImbalancedKerasClassifier("lstm", cv=None)`` with its
  validation split, validation macro-F1 and decision rule, ``epochs`` epochs
  without early stopping;
* ``keras``: the same network compiled by hand and trained by
  ``keras.Model.fit`` on the same training rows, validating on the same rows.

An epoch's time is read by a callback at each epoch's end: the first epoch
holds the compilation, so the steady figure is the median of the others.
Then the default estimator (early stopping, ``cv="auto"``) is fitted once and
scored on 20,000 fresh sequences, and the script says whether the backend
can run the recurrent layers on cuDNN's fused kernel.

Run ``python benchmarks/bench_device.py`` (``KERAS_BACKEND`` chooses the
backend; ``--quick`` for a smoke run; ``--no-default`` skips the default's
fit; ``--json FILE`` keeps the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _raw_keras import fit_raw_keras  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb._networks import feature_moments  # noqa: E402
from skimb.datasets import make_imbalanced_sequences  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """Seconds from the start of training to the end of each epoch."""

    def on_train_begin(self, logs=None):
        self.start, self.ends = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter() - self.start)

    def epochs(self) -> list[float]:
        return list(np.diff([0.0, *self.ends]))


def cudnn() -> str:
    """Whether this backend runs keras.layers.LSTM on cuDNN's kernel."""
    backend = keras.backend.backend()
    devices = keras.distribution.list_devices()
    if not any("gpu" in d.lower() or "cuda" in d.lower() for d in devices):
        return f"no GPU in {devices}: cuDNN does not apply"
    layer = keras.layers.LSTM(8, use_cudnn=True)
    try:
        layer(np.zeros((2, 5, 3), "float32"))
    except Exception as error:  # the backend's own refusal, reported as is
        return f"{backend}: LSTM(use_cudnn=True) fails: {type(error).__name__}: {error}"
    if backend == "tensorflow":
        import tensorflow as tf

        graph = (
            tf.function(lambda x: layer(x))
            .get_concrete_function(tf.TensorSpec((2, 5, 3), tf.float32))
            .graph
        )
        ops = {op.type for op in graph.get_operations() if "Cudnn" in op.type}
        return f"tensorflow: cuDNN ops in the LSTM's graph: {sorted(ops) or 'none'}"
    return f"{backend}: LSTM(use_cudnn=True) ran"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--no-default", action="store_true", help="skip the default estimator's fit"
    )
    args = parser.parse_args()
    n = 9_500 if args.quick else 95_000
    X, y = make_imbalanced_sequences(n, random_state=0)
    X = X.astype("float32")
    X_test, y_test = make_imbalanced_sequences(n // 5, random_state=1)
    figures = {
        "backend": keras.backend.backend(),
        "devices": keras.distribution.list_devices(),
        "n_samples": n,
        "batch_size": args.batch_size,
        "cudnn": cudnn(),
    }
    print(figures, flush=True)

    def keep() -> None:
        # After each stage, so that a run cut short keeps what it measured.
        if args.json:
            with open(args.json, "w") as file:
                json.dump(figures, file, indent=2)

    clock = EpochClock()
    clf = ImbalancedKerasClassifier(
        "lstm",
        cv=None,
        epochs=args.epochs,
        early_stopping=False,
        batch_size=args.batch_size,
        callbacks=[clock],
        random_state=0,
    )
    clf.fit(X, y)
    skimb_epochs = clock.epochs()

    train, val = clf._split(np.searchsorted(clf.classes_, y), seed=0)
    onehot = np.eye(len(clf.classes_), dtype="float32")[y]
    mean, variance = feature_moments(X[train])
    clock = EpochClock()
    keras.utils.set_random_seed(0)
    model = fit_raw_keras(
        X[train],
        onehot[train],
        (X[val], onehot[val]),
        architecture="lstm",
        mean=mean,
        variance=variance,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[clock],
    )
    keras_epochs = clock.epochs()
    for name, epochs in (("skimb", skimb_epochs), ("keras", keras_epochs)):
        steady = statistics.median(epochs[1:])
        figures[name] = {
            "first_epoch_s": epochs[0],
            "epoch_s": steady,
            "rows_per_s": len(train) / steady,
        }
        print(
            f"{name:<6} first epoch {epochs[0]:6.2f} s, then {steady:6.3f} s per "
            f"epoch ({len(train) / steady:,.0f} rows/s)",
            flush=True,
        )
    del model
    keep()
    if args.no_default:
        return

    start = time.perf_counter()
    default = ImbalancedKerasClassifier("lstm", random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    figures["default"] = {
        "fit_s": seconds,
        "epochs": len(default.history_["loss"]),
        "test_macro_f1": f1_score(y_test, default.predict(X_test), average="macro"),
    }
    print(f"default fit: {figures['default']}", flush=True)
    keep()


if __name__ == "__main__":
    main()
