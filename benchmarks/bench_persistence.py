"""Saved model files: size, and the time to save and load them, against pickle.

Models fitted on :mod:`skimb.datasets` data (a few epochs: the size does not
depend on training): a dense classifier on 20 features and a plain LSTM
(``kernel_size=0, bidirectional=False``) on 20 x 18 sequences, both with 64
units, each as one network (``cv=None``) and with the default cross-fitting
(five networks averaged into one model).  For each: the size of the
``skimb.persistence`` file and of the pickle, and the medians of interleaved
runs of saving, loading, dumping and unpickling.  Run ``python
benchmarks/bench_persistence.py`` (``--quick``: one run each).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from skimb import ImbalancedKerasClassifier, persistence  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)

RESULTS = Path(__file__).resolve().parent / "results" / "persistence.json"
MODELS = {
    "dense": (make_imbalanced_classification, dict(architecture="dense")),
    "plain lstm": (
        make_imbalanced_sequences,
        dict(architecture="lstm", kernel_size=0, bidirectional=False),
    ),
}


def _seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(name: str, cv, runs: int, folder: Path) -> dict:
    make, params = MODELS[name]
    X, y = make(2000, random_state=0)
    clf = ImbalancedKerasClassifier(units=64, epochs=2, cv=cv, random_state=0, **params)
    clf.fit(X, y)
    path = folder / "model.skimb"
    times = {"save": [], "load": [], "pickle dump": [], "pickle load": []}
    blob = b""
    for _ in range(runs):  # interleaved, so that load drifts hit all alike
        times["save"].append(_seconds(lambda: persistence.save(clf, path)))
        times["load"].append(_seconds(lambda: persistence.load(path)))
        times["pickle dump"].append(_seconds(lambda: pickle.dumps(clf)))
        blob = pickle.dumps(clf)
        times["pickle load"].append(_seconds(partial(pickle.loads, blob)))
    return {
        "model": name,
        "cv": str(cv),
        "networks": clf.n_networks_,
        "file_kib": path.stat().st_size / 1024,
        "pickle_kib": len(blob) / 1024,
        **{f"{key}_s": statistics.median(value) for key, value in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in MODELS:
            for cv in (None, "auto"):
                rows.append(
                    measure(name, cv, 1 if args.quick else args.runs, Path(folder))
                )
    print(
        "| model | cv | networks | file KiB | pickle KiB | save s | load s "
        "| pickle dump s | pickle load s |\n|---|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['model']} | {r['cv']} | {r['networks']} | {r['file_kib']:.0f} | "
            f"{r['pickle_kib']:.0f} | {r['save_s']:.3f} | {r['load_s']:.3f} | "
            f"{r['pickle dump_s']:.3f} | {r['pickle load_s']:.3f} |"
        )
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
