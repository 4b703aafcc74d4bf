"""Streaming from files: epoch throughput against memory, and peak memory.

Two measurements, each on data written as ``.npz`` shards of 16,384 rows:

- **Throughput.**  The same data fitted in memory and streamed
  (:class:`skimb.data.Shards`, with the default windows and with windows
  of 8,192 rows, so that every epoch reads many), one network, no early
  stopping, 6 epochs; an epoch's wall time (training and scoring the
  held-out rows) from a callback, the median over epochs 2 to 6 (the first
  compiles) of ``--repeats`` fits, in one process, the two paths
  alternating.  Data: the seed's shape,
  sequences of 20 x 18 (an LSTM), and a table of 64 features (the default
  dense network).
- **Peak memory.**  Fresh processes per size and path (``--repeats``, the
  median reported): a table of 512
  float32 features (2 KiB a row) at three sizes, each 10 times the last,
  fitted for one epoch and predicted, streamed or in memory.  Reported: the
  process's peak resident memory (``VmHWM``) and its growth over the peak
  of the warm-up fit (Keras and the backend loaded), the data's share.

Run ``python benchmarks/bench_streaming.py`` (``--quick`` for a small run;
``--json FILE`` keeps the figures; ``--inc docs/streaming.inc`` writes the
docs' tables from ``benchmarks/results/streaming_*.json``).
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

import numpy as np

SHARD_ROWS = 16_384
# Epochs per throughput fit; the median is over epochs 2 to EPOCHS.
EPOCHS = 6

MEMORY_RUN = """
import json, sys
import numpy as np
from skimb import ImbalancedKerasClassifier
from skimb.data import Shards

folder, mode = sys.argv[1], sys.argv[2]
rng = np.random.RandomState(0)
X = rng.normal(size=(300, 512)).astype("float32")
ImbalancedKerasClassifier(epochs=1, cv=None).fit(X, rng.randint(0, 3, 300)).predict(X)
def status(key):
    # /proc's high-water mark is this process's; ru_maxrss would carry the
    # parent's across exec.
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
warm = status("VmHWM")
shards = Shards(folder)
clf = ImbalancedKerasClassifier(epochs=1, cv=None, batch_size=1024, random_state=0)
if mode == "streamed":
    clf.fit(shards).predict_proba(shards)
else:
    X = np.concatenate([np.load(f)["X"] for f in shards.files])
    clf.fit(X, shards.labels()).predict_proba(X)
peak = status("VmHWM")
print(json.dumps({"warm": warm, "peak": peak}))
"""


def write_shards(folder: Path, X: np.ndarray, y: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, len(X), SHARD_ROWS)):
        stop = start + SHARD_ROWS
        np.savez(folder / f"part-{i:04d}.npz", X=X[start:stop], y=y[start:stop])
    return folder


class EpochTimes:
    """A Keras callback recording each epoch's wall time."""

    def __new__(cls):
        import keras

        class _EpochTimes(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)

        return _EpochTimes()


def throughput(folder: Path, repeats: int, quick: bool, window_rows) -> dict:
    from skimb import ImbalancedKerasClassifier
    from skimb.data import Shards
    from skimb.datasets import (
        make_imbalanced_classification,
        make_imbalanced_sequences,
    )

    sizes = (4_000, 20_000) if quick else (20_000, 200_000)
    data = {
        "sequences 20x18 (lstm)": (
            make_imbalanced_sequences(sizes[0], random_state=0),
            "lstm",
        ),
        "table of 64 features (dense)": (
            make_imbalanced_classification(sizes[1], n_features=64, random_state=0),
            "dense",
        ),
    }
    figures = {}
    for name, ((X, y), architecture) in data.items():
        shards = Shards(
            write_shards(folder / name.split()[0], X, y), window_rows=window_rows
        )
        times = {"memory": [], "streamed": []}
        for _ in range(repeats):
            for path in times:
                timer = EpochTimes()
                clf = ImbalancedKerasClassifier(
                    architecture,
                    cv=None,
                    epochs=EPOCHS,
                    early_stopping=False,
                    callbacks=[timer],
                    random_state=0,
                )
                clf.fit(*((X, y) if path == "memory" else (shards,)))
                # The first epoch compiles.
                times[path].extend(timer.times[1:])
        epoch = {path: statistics.median(t) for path, t in times.items()}
        figures[name] = {
            "rows": len(X),
            "window_rows": shards.window_rows,
            "windows": -(-len(X) // shards.window_rows),
            "epoch_s_memory": epoch["memory"],
            "epoch_s_streamed": epoch["streamed"],
            "throughput_ratio": epoch["memory"] / epoch["streamed"],
        }
        print(
            f"{name:<30} {len(X):>7} rows, windows of {shards.window_rows:>6}: "
            f"epoch {epoch['memory']:.3f} s in memory, "
            f"{epoch['streamed']:.3f} s streamed: "
            f"{figures[name]['throughput_ratio']:.2f}x the throughput"
        )
    return figures


def peak_memory(folder: Path, quick: bool, repeats: int) -> dict:
    sizes = (2_000, 20_000, 200_000) if quick else (10_000, 100_000, 1_000_000)
    script = folder / "memory_run.py"
    script.write_text(MEMORY_RUN)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    rng = np.random.RandomState(0)
    centres = rng.normal(size=(3, 512)).astype("float32") * 0.1
    figures = {}
    for n in sizes:
        data = folder / f"memory_{n}"
        data.mkdir()
        for i, start in enumerate(range(0, n, SHARD_ROWS)):
            rows = min(SHARD_ROWS, n - start)
            y = rng.choice(3, size=rows, p=[0.8, 0.15, 0.05])
            X = rng.normal(size=(rows, 512)).astype("float32") + centres[y]
            np.savez(data / f"part-{i:04d}.npz", X=X, y=y)
        row = {"rows": n, "data_mib": n * 2048 / 2**20}
        for mode in ("streamed", "memory"):
            runs = []
            for _ in range(repeats):
                done = subprocess.run(
                    [sys.executable, str(script), str(data), mode],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            # The median run by its peak: a peak moves by tens of MiB from
            # one process to the next with the allocator's timing.
            out = sorted(runs, key=lambda run: run["peak"])[len(runs) // 2]
            row[f"{mode}_peak_mib"] = out["peak"] / 2**20
            row[f"{mode}_growth_mib"] = (out["peak"] - out["warm"]) / 2**20
            row[f"{mode}_peaks_mib"] = [run["peak"] / 2**20 for run in runs]
        figures[str(n)] = row
        print(
            f"{n:>9} rows ({row['data_mib']:7.0f} MiB): peak RSS streamed "
            f"{row['streamed_peak_mib']:6.0f} MiB (+{row['streamed_growth_mib']:.0f} "
            f"after warm-up), in memory {row['memory_peak_mib']:6.0f} MiB "
            f"(+{row['memory_growth_mib']:.0f})"
        )
        for f in data.iterdir():
            f.unlink()
        data.rmdir()
    return figures


def write_inc(path: Path, results: Path) -> None:
    """The docs' tables (docs/streaming.inc) from the saved figures."""
    lines = [
        ".. list-table:: Epoch throughput, streamed against in memory",
        "   :header-rows: 1",
        "",
        "   * - backend, machine",
        "     - data",
        "     - rows",
        "     - window rows",
        "     - epoch in memory (s)",
        "     - epoch streamed (s)",
        "     - throughput, streamed / in memory",
    ]
    sources = [
        ("tensorflow, 2 cores", "streaming_tensorflow.json", ()),
        ("jax, 2 cores", "streaming_jax.json", ()),
        ("jax, H200", "streaming_h200_jax.json", ("read_ahead",)),
        (
            "jax, H200, no read-ahead",
            "streaming_h200_jax.json",
            ("no_read_ahead",),
        ),
    ]
    for label, name, keys in sources:
        file = results / name
        if not file.exists():
            continue
        figures = json.loads(file.read_text())
        for key in keys:
            figures = figures[key]
        for runs in figures.get("throughput", {}).values():
            for name, row in runs.items():
                lines += [
                    f"   * - {label}",
                    f"     - {name}",
                    f"     - {row['rows']:,}",
                    f"     - {row['window_rows']:,}",
                    f"     - {row['epoch_s_memory']:.3f}",
                    f"     - {row['epoch_s_streamed']:.3f}",
                    f"     - {row['throughput_ratio']:.2f}",
                ]
    memory = json.loads((results / "streaming_tensorflow.json").read_text())
    lines += [
        "",
        ".. list-table:: Peak resident memory of a fit and a prediction",
        "   :header-rows: 1",
        "",
        "   * - rows (512 float32 features)",
        "     - data (MiB)",
        "     - streamed: peak (MiB)",
        "     - streamed: above the warm-up's (MiB)",
        "     - in memory: peak (MiB)",
        "     - in memory: above the warm-up's (MiB)",
    ]
    for row in memory.get("peak_memory", {}).values():
        lines += [
            f"   * - {row['rows']:,}",
            f"     - {row['data_mib']:,.0f}",
            f"     - {row['streamed_peak_mib']:,.0f}",
            f"     - {row['streamed_growth_mib']:,.0f}",
            f"     - {row['memory_peak_mib']:,.0f}",
            f"     - {row['memory_growth_mib']:,.0f}",
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--part", choices=("throughput", "memory", "both"), default="both"
    )
    parser.add_argument(
        "--json", help="write the figures to this file (updating its parts)"
    )
    parser.add_argument(
        "--no-read-ahead",
        action="store_true",
        help="read each window only when the fit asks for it (for the A/B "
        "against the default, which reads the next one in a thread); the "
        "throughput part only",
    )
    parser.add_argument(
        "--inc",
        help="only write the docs' tables to this file, from the saved figures",
    )
    args = parser.parse_args()
    if args.inc:
        write_inc(Path(args.inc), Path(__file__).parent / "results")
        return
    if args.no_read_ahead:
        import skimb.data

        skimb.data._read_ahead = iter
    figures = {}
    if args.json and Path(args.json).exists():
        figures = json.loads(Path(args.json).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.part in ("throughput", "both"):
            import keras

            figures["backend"] = keras.backend.backend()
            figures["devices"] = keras.distribution.list_devices()
            figures["read_ahead"] = not args.no_read_ahead
            figures["throughput"] = {
                str(window): throughput(
                    folder / str(window), args.repeats, args.quick, window
                )
                for window in ("auto", 8192)
            }
        if args.part in ("memory", "both"):
            figures["peak_memory"] = peak_memory(folder, args.quick, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
