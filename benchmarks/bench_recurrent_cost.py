"""Where a sequence fit's time goes, and what stacking the networks would save.

A default sequence fit trains five cross-fitted networks, each with a
bidirectional LSTM: ten recurrent passes a step where a plain LSTM has one.
This measures, on TensorFlow, side by side in one process, medians of
several runs of 100 training steps each (batch 32, 24 steps of 64 features,
32 units a direction, as the default network's recurrent layer sees
ItalyPowerDemand):

* ``separate``: ten Keras ``LSTM`` layers in one model, as the engine trains
  them today (each network its own layers);
* ``stacked``: one recurrent cell computing all ten as batched matrix
  products (``einsum`` over a leading network axis): the design that would
  run the networks as one, with one loop instead of ten;
* ``one``: a single ``LSTM`` of the same size, for scale.

If the step were bound by TensorFlow's per-operation dispatch, stacking
would approach ten times faster; if by arithmetic, it would not help.  The
arithmetic per step is printed beside the times.

Run ``python benchmarks/bench_recurrent_cost.py`` (``--quick`` for a smoke
run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

BATCH, STEPS, FEATURES, UNITS, PASSES = 32, 24, 64, 32, 10
RESULTS = Path(__file__).resolve().parent / "results" / "recurrent_cost.json"


class StackedLSTMCell(keras.layers.Layer):
    """``k`` independent LSTM cells as one, their weights along a leading
    axis; input and state hold the ``k`` members side by side."""

    def __init__(self, k: int, units: int, **kwargs):
        super().__init__(**kwargs)
        self.k, self.units = k, units
        self.state_size = [k * units, k * units]
        self.output_size = k * units

    def build(self, input_shape):
        features = input_shape[-1] // self.k
        gates = 4 * self.units
        self.kernel = self.add_weight(
            shape=(self.k, features, gates), initializer="glorot_uniform"
        )
        self.recurrent = self.add_weight(
            shape=(self.k, self.units, gates), initializer="orthogonal"
        )
        self.bias = self.add_weight(shape=(self.k, gates), initializer="zeros")

    def call(self, inputs, states):
        ops, k, units = keras.ops, self.k, self.units
        batch = ops.shape(inputs)[0]
        x = ops.reshape(inputs, (batch, k, -1))
        h = ops.reshape(states[0], (batch, k, units))
        c = ops.reshape(states[1], (batch, k, units))
        z = (
            ops.einsum("bkf,kfg->bkg", x, self.kernel)
            + ops.einsum("bku,kug->bkg", h, self.recurrent)
            + self.bias
        )
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        h, c = ops.reshape(h, (batch, -1)), ops.reshape(c, (batch, -1))
        return h, [h, c]


def _columns(start: int, stop: int):
    """The features ``start:stop`` of every step: one pass's input."""
    return lambda t: t[..., start:stop]


def _model(kind: str) -> keras.Model:
    passes = 1 if kind == "one" else PASSES
    inputs = keras.Input((STEPS, passes * FEATURES))
    if kind == "stacked":
        outputs = keras.layers.RNN(StackedLSTMCell(passes, UNITS))(inputs)
    else:
        slices = [
            keras.layers.Lambda(_columns(j * FEATURES, (j + 1) * FEATURES))(inputs)
            for j in range(passes)
        ]
        encoded = [keras.layers.LSTM(UNITS)(x) for x in slices]
        outputs = encoded[0] if passes == 1 else keras.layers.Concatenate()(encoded)
    return keras.Model(inputs, outputs)


def step_seconds(kind: str, *, steps: int, rounds: int) -> tuple[float, float]:
    """Seconds a training step of ``kind`` (median of ``rounds`` runs of
    ``steps`` steps in one compiled loop), and of its first call (trace)."""
    import tensorflow as tf

    model = _model(kind)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    passes = 1 if kind == "one" else PASSES
    x = np.random.default_rng(0).normal(size=(BATCH, STEPS, passes * FEATURES))
    x = tf.constant(x, dtype="float32")

    @tf.function(autograph=False)
    def run(n):
        def body(s):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True)))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(gradients, model.trainable_variables)
            return (s + 1,)

        return tf.while_loop(lambda s: s < n, body, (tf.constant(0),))

    start = time.perf_counter()
    run(tf.constant(1))
    first = time.perf_counter() - start
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(tf.constant(steps))
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("This benchmark measures the TensorFlow backend.")
    steps, rounds = (5, 1) if args.quick else (100, 5)
    # Multiply-adds of one pass's step, forward: (input + state) x 4 gates.
    macs = BATCH * STEPS * (FEATURES + UNITS) * 4 * UNITS
    rows = {}
    for kind in ("one", "separate", "stacked"):
        seconds, first = step_seconds(kind, steps=steps, rounds=rounds)
        passes = 1 if kind == "one" else PASSES
        # Forward and backward: about three times the forward arithmetic.
        gflops = 3 * 2 * macs * passes / seconds / 1e9
        rows[kind] = {"step_ms": 1e3 * seconds, "first_call_s": first, "gflops": gflops}
        print(
            f"{kind:9s} step {1e3 * seconds:6.2f} ms  first call {first:5.2f} s  "
            f"{gflops:5.1f} GFLOP/s",
            flush=True,
        )
    ratio = rows["separate"]["step_ms"] / rows["stacked"]["step_ms"]
    print(f"stacking the {PASSES} passes: {ratio:.2f}x faster a step")
    if not args.quick:
        RESULTS.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
