"""Training throughput at the seed's scale on whatever device Keras uses.

95,000 sequences x 20 steps x 18 features (``make_imbalanced_sequences``,
the seed's class proportions), the default LSTM.  In one process, side by
side on the same data and the same device:

* ``skimb``: ``ImbalancedKerasClassifier("lstm", cv=None)`` with its
  validation split, validation macro-F1 and decision rule, ``epochs`` epochs
  without early stopping;
* ``keras``: the same network compiled by hand and trained by
  ``keras.Model.fit`` on the same training rows, validating on the same rows.

With ``--cudnn-variants`` (Keras' JAX backend), skimb's fit is timed twice
more: with ``dropout=0`` (the only setting under which Keras fuses a
``Bidirectional(LSTM)`` into one cuDNN call: it refuses the fused call for
an LSTM with input dropout) and with cuDNN refused, so that every LSTM runs
as XLA's generic loop.  Each skimb fit records the cuDNN calls Keras traced
(``jax.experimental.rnn.lstm``, fused bidirectional or one direction), so
the figures say which kernel skimb's own training program ran, not only
whether a lone layer can.

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
from skimb._moments import feature_moments  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
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


class CudnnCalls:
    """Count, or refuse, the cuDNN LSTM calls Keras' JAX backend traces.

    ``keras.src.backend.jax.rnn`` imports ``jax.experimental.rnn.lstm`` at
    each call, so wrapping the module's attribute sees every call Keras makes
    while a training program is traced.  ``refuse=True`` raises the
    ``NotImplementedError`` the backend raises itself where cuDNN cannot run,
    and Keras falls back to its generic loop.
    """

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls = {"bidirectional": 0, "one direction": 0}

    def __enter__(self) -> CudnnCalls:
        from jax.experimental import rnn

        self._module, self._lstm = rnn, rnn.lstm

        def lstm(*args, **kwargs):
            if self.refuse:
                raise NotImplementedError("cuDNN refused by the benchmark")
            out = self._lstm(*args, **kwargs)
            kind = "bidirectional" if kwargs.get("bidirectional") else "one direction"
            self.calls[kind] += 1
            return out

        rnn.lstm = lstm
        return self

    def __exit__(self, *exc) -> None:
        self._module.lstm = self._lstm


def skimb_epochs(X, y, *, epochs: int, batch_size: int, refuse: bool = False, **params):
    """Epoch times of one skimb fit, and the cuDNN calls traced in it."""
    clock = EpochClock()
    clf = ImbalancedKerasClassifier(
        "lstm",
        cv=None,
        epochs=epochs,
        early_stopping=False,
        batch_size=batch_size,
        callbacks=[clock],
        random_state=0,
        **params,
    )
    if keras.backend.backend() != "jax":
        clf.fit(X, y)
        return clf, clock.epochs(), "not counted (JAX backend only)"
    with CudnnCalls(refuse=refuse) as calls:
        clf.fit(X, y)
    return clf, clock.epochs(), calls.calls


def steady(epochs: list[float], rows: int) -> dict:
    """The first epoch (compilation included) and the median of the rest."""
    median = statistics.median(epochs[1:])
    return {"first_epoch_s": epochs[0], "epoch_s": median, "rows_per_s": rows / median}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument(
        "--no-default", action="store_true", help="skip the default estimator's fit"
    )
    parser.add_argument(
        "--cudnn-variants",
        action="store_true",
        help="time skimb with dropout=0 (fused bidirectional cuDNN) and "
        "with cuDNN refused (JAX)",
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

    clf, epochs, calls = skimb_epochs(
        X, y, epochs=args.epochs, batch_size=args.batch_size
    )
    skimb_runs = {"skimb": (epochs, calls)}
    if args.cudnn_variants and keras.backend.backend() == "jax":
        for name, params in (
            ("skimb, dropout=0", {"dropout": 0.0}),
            ("skimb, cuDNN refused", {"refuse": True}),
        ):
            _, epochs, calls = skimb_epochs(
                X, y, epochs=args.epochs, batch_size=args.batch_size, **params
            )
            skimb_runs[name] = (epochs, calls)
    train, val = validation_split(
        np.searchsorted(clf.classes_, y),
        classes=clf.classes_,
        validation_fraction=clf.validation_fraction,
        seed=0,
    )
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
    runs = {**skimb_runs, "keras": (keras_epochs, "not counted")}
    for name, (epochs, calls) in runs.items():
        figures[name] = {**steady(epochs, len(train)), "cudnn_calls_traced": calls}
        print(
            f"{name:<22} first epoch {epochs[0]:6.2f} s, then "
            f"{figures[name]['epoch_s']:6.3f} s per epoch "
            f"({figures[name]['rows_per_s']:,.0f} rows/s); cuDNN calls: {calls}",
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
