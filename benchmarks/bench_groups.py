"""Cross-fitting by group: what validating on rows of recordings a network
trained on costs, on new recordings.

Rows often come in groups that look alike: the windows of one recording,
the visits of one patient.  A network validated on rows of recordings it
trained on sees optimistic scores: early stopping rewards memorising the
recordings, and the decision rule is tuned on predictions better than those
it will make on a new recording.  ``cv=StratifiedGroupKFold(...)`` with
``fit(X, y, groups=...)`` validates each network on recordings it has not
seen.

Data: recordings of one class each (40, 20, 10 and 6 recordings of the four
classes), 25 windows per recording.  A window is its class's mean, plus its
recording's own offset (the same for all its windows; standard deviation
``--offset``), plus noise of standard deviation 1.  Tables of 10 features
(class means drawn once with standard deviation 0.6), and sequences of 16
steps x 4 features (a class's mean trajectory, the recording's offset on
every step).  As a reference, the rule of the true density on a window
of a new recording (the class means, and the covariance of offset and
noise together; the better of its posterior's and its likelihood's
argmax).  Each seed draws new training and test recordings
(1,900 windows each).

Compared, on the same training rows and the same test rows: the default
estimator (``cv="auto"``: five networks on stratified folds), the default
with ``cv=StratifiedGroupKFold(5, shuffle=True)`` and the groups, and
``LogisticRegression(class_weight="balanced")`` on the standardised,
flattened windows.  On sequences, two more rows show where the LSTM's
score goes: the default dense network on the same windows, and the
default LSTM on windows centred over their steps.  Test macro-F1 and fit
time, mean and standard deviation over seeds.  Run
``python benchmarks/bench_groups.py`` (``--quick``: a smoke run);
results in ``benchmarks/results/groups.json``.

``--tune``: the command line on the same tables.  Each seed's training
recordings are written to a CSV file and tuned by ``skimb tune`` (``--trials``
trials, 3 folds, 20% held out) with and without ``--groups recording``; the
saved model is then scored on the seed's new recordings.  Each row gives the
search's best cross-validated macro-F1 and the held-out rows' macro-F1,
both as the command prints them, beside the macro-F1 on new recordings,
which they estimate, and the command's wall time; results in
``benchmarks/results/groups_tune.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "groups.json"
TUNE_RESULTS = RESULTS.with_name("groups_tune.json")
RECORDINGS = (40, 20, 10, 6)  # per class
WINDOWS = 25  # per recording
SHAPES = {"table": (10,), "sequences": (16, 4)}
# The better of the true density's two rules (posterior, likelihood).
REFERENCE = "true density's rule (reference)"
DENSE = "skimb, dense network (diagnosis)"
CENTRED = "skimb, windows centred (diagnosis)"
# The class means are the density's, the same for every seed.
DENSITY_SEED = 12345


def class_means(kind: str) -> np.ndarray:
    rng = np.random.RandomState(DENSITY_SEED)
    if kind == "table":
        return 0.6 * rng.normal(size=(len(RECORDINGS), *SHAPES[kind]))
    steps, features = SHAPES[kind]
    # Smooth trajectories: a random walk over the steps, scaled so that a
    # step's class means differ by about as much as the table's.
    walk = np.cumsum(rng.normal(size=(len(RECORDINGS), steps, features)), axis=1)
    return 0.6 * walk / np.sqrt(np.arange(1, steps + 1))[None, :, None]


def draw(kind: str, offset: float, seed: int, means: np.ndarray):
    """Windows, labels and recording ids of new recordings."""
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(len(RECORDINGS)), RECORDINGS)
    n_rec = len(labels)
    shape = SHAPES[kind]
    # A recording's offset: per feature, the same on every step and window.
    offsets = offset * rng.normal(size=(n_rec, 1, shape[-1]))
    if kind == "table":
        offsets = offsets[:, 0]
    windows = (
        means[labels][:, None]
        + offsets[:, None]
        + rng.normal(size=(n_rec, WINDOWS, *shape))
    )
    y = np.repeat(labels, WINDOWS)
    groups = np.repeat(np.arange(n_rec), WINDOWS)
    return windows.reshape(-1, *shape).astype(np.float32), y, groups


def true_density_predictions(
    X: np.ndarray, kind: str, offset: float, means: np.ndarray
) -> dict:
    """The rules of the true density for a window of a new recording:
    Gaussian class densities with the class mean and the covariance of
    offset and noise together (the offset is shared by a window's steps),
    under the training prior (``"posterior"``) and under equal priors
    (``"likelihood"``)."""
    n = len(X)
    flat = X.reshape(n, -1).astype(np.float64)
    flat_means = means.reshape(len(means), -1)
    dim = flat.shape[1]
    if kind == "table":
        covariance = (1 + offset**2) * np.eye(dim)
    else:
        steps, features = SHAPES[kind]
        # Cov[x_tf, x_sg] = offset^2 [f == g] + [t == s and f == g].
        covariance = np.kron(np.ones((steps, steps)), offset**2 * np.eye(features))
        covariance += np.eye(dim)
    precision = np.linalg.inv(covariance)
    diff = flat[:, None, :] - flat_means[None]
    log_density = -0.5 * np.einsum("ncd,de,nce->nc", diff, precision, diff)
    prior = np.array(RECORDINGS, dtype=float) / sum(RECORDINGS)
    return {
        "posterior": np.argmax(log_density + np.log(prior), axis=1),
        "likelihood": np.argmax(log_density, axis=1),
    }


def _centred(X: np.ndarray) -> np.ndarray:
    return X - X.mean(axis=1, keepdims=True)


def flat_logistic():
    return make_pipeline(
        FunctionTransformer(lambda X: X.reshape(len(X), -1)),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=2000),
    )


def run(kind: str, offset: float, seeds: list[int], epochs: int | None) -> dict:
    means = class_means(kind)
    architecture = "dense" if kind == "table" else "lstm"
    extra = {} if epochs is None else {"epochs": epochs}
    models = {
        "skimb, stratified folds (default)": lambda seed: ImbalancedKerasClassifier(
            architecture, random_state=seed, **extra
        ),
        "skimb, StratifiedGroupKFold(5)": lambda seed: ImbalancedKerasClassifier(
            architecture,
            cv=StratifiedGroupKFold(5, shuffle=True, random_state=seed),
            random_state=seed,
            **extra,
        ),
        "logistic regression (balanced)": lambda seed: flat_logistic(),
    }
    if kind == "sequences":
        # Where the sequence network's score goes (diagnosis, stratified
        # folds): the default dense network on the same windows, and the
        # default LSTM on windows with their mean over the steps taken
        # away (which takes the recording's offset away, and the window's
        # level with it).
        models[DENSE] = lambda seed: ImbalancedKerasClassifier(
            "dense", random_state=seed, **extra
        )
        models[CENTRED] = lambda seed: make_pipeline(
            FunctionTransformer(_centred),
            ImbalancedKerasClassifier(architecture, random_state=seed, **extra),
        )
    rows = {name: {"f1": [], "seconds": [], "epochs": []} for name in models}
    rows[REFERENCE] = {"f1": []}
    for seed in seeds:
        X, y, groups = draw(kind, offset, 2 * seed, means)
        X_test, y_test, _ = draw(kind, offset, 2 * seed + 1, means)
        for name, make in models.items():
            model = make(seed)
            grouped = isinstance(getattr(model, "cv", None), StratifiedGroupKFold)
            start = time.perf_counter()
            model.fit(X, y, **({"groups": groups} if grouped else {}))
            rows[name]["seconds"].append(time.perf_counter() - start)
            predicted = model.predict(X_test)
            rows[name]["f1"].append(f1_score(y_test, predicted, average="macro"))
            network = model[-1] if hasattr(model, "steps") else model
            if hasattr(network, "best_epoch_"):
                rows[name]["epochs"].append(network.best_epoch_)
            print(
                f"  {kind} seed {seed} {name}: macro-F1 {rows[name]['f1'][-1]:.3f}"
                f" in {rows[name]['seconds'][-1]:.1f} s",
                flush=True,
            )
        truth = true_density_predictions(X_test, kind, offset, means)
        rows[REFERENCE]["f1"].append(
            max(f1_score(y_test, p, average="macro") for p in truth.values())
        )
    return rows


def run_tune(offset: float, seeds: list[int], trials: int, epochs: int | None) -> dict:
    """``skimb tune`` on each seed's table of training recordings, with and
    without ``--groups``, its saved model scored on new recordings."""
    import pandas as pd

    from skimb import persistence
    from skimb.cli import main as skimb

    means = class_means("table")
    ways = {"skimb tune": [], "skimb tune --groups recording": []}
    rows = {way: {"cv": [], "held_out": [], "new": [], "seconds": []} for way in ways}
    for seed in seeds:
        X, y, groups = draw("table", offset, 2 * seed, means)
        X_test, y_test, _ = draw("table", offset, 2 * seed + 1, means)
        with tempfile.TemporaryDirectory() as folder:
            frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
            frame["label"] = y
            frame["recording"] = groups
            frame.drop(columns="recording").to_csv(f"{folder}/plain.csv", index=False)
            frame.to_csv(f"{folder}/recordings.csv", index=False)
            for way in ways:
                grouped = "--groups" in way
                argv = [
                    f"{folder}/{'recordings' if grouped else 'plain'}.csv",
                    "--target",
                    "label",
                    "--trials",
                    str(trials),
                    "--cv",
                    "3",
                    "--seed",
                    str(seed),
                    "--out",
                    f"{folder}/{len(way)}",
                ]
                argv += ["--groups", "recording"] if grouped else []
                argv += [] if epochs is None else ["--epochs", str(epochs)]
                printed = io.StringIO()
                start = time.perf_counter()
                with contextlib.redirect_stdout(printed):
                    code = skimb(["tune", *argv])
                seconds = time.perf_counter() - start
                if code != 0:
                    raise RuntimeError(f"skimb tune {' '.join(argv)} failed")
                text = printed.getvalue()
                row = rows[way]
                row["cv"].append(float(re.search(r"macro-F1 ([0-9.]+) over", text)[1]))
                row["held_out"].append(
                    float(re.search(r"best model: ([0-9.]+)", text)[1])
                )
                model = persistence.load(f"{folder}/{len(way)}/model.skimb")
                test = pd.DataFrame(X_test, columns=frame.columns[: X.shape[1]])
                row["new"].append(
                    f1_score(y_test, model.predict(test), average="macro")
                )
                row["seconds"].append(seconds)
                print(
                    f"  seed {seed} {way}: searched {row['cv'][-1]:.3f}, held out "
                    f"{row['held_out'][-1]:.3f}, new recordings {row['new'][-1]:.3f}"
                    f" in {seconds:.0f} s",
                    flush=True,
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--offset", type=float, default=1.5)
    parser.add_argument("--kind", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument(
        "--tune", action="store_true", help="skimb tune with and without --groups"
    )
    parser.add_argument("--trials", type=int, default=8, help="with --tune")
    args = parser.parse_args()
    seeds = [0] if args.quick else list(range(args.seeds))
    epochs = 3 if args.quick else None
    if args.tune:
        rows = run_tune(args.offset, seeds, 2 if args.quick else args.trials, epochs)
        print(f"\nskimb tune on tables, {len(seeds)} seeds: macro-F1")
        print(f"{'command':<32} {'searched':>8} {'held out':>8} {'new':>15} {'s':>5}")
        for way, row in rows.items():
            new = np.array(row["new"])
            print(
                f"{way:<32} {np.mean(row['cv']):8.3f} {np.mean(row['held_out']):8.3f}"
                f" {new.mean():7.3f} ± {new.std():.3f} {np.mean(row['seconds']):5.0f}"
            )
        if not args.quick:
            TUNE_RESULTS.write_text(
                json.dumps(
                    {
                        "offset": args.offset,
                        "seeds": seeds,
                        "trials": args.trials,
                        "rows": rows,
                    },
                    indent=1,
                )
                + "\n"
            )
            print(f"\nresults: {TUNE_RESULTS}")
        return
    results = {"offset": args.offset, "seeds": seeds, "kinds": {}}
    if RESULTS.exists() and not args.quick:
        # A run of some kinds keeps the others' rows of the same setting.
        earlier = json.loads(RESULTS.read_text())
        if (earlier["offset"], earlier["seeds"]) == (args.offset, seeds):
            results = earlier
    for kind in args.kind:
        rows = run(kind, args.offset, seeds, epochs)
        results["kinds"][kind] = rows
        print(f"\n{kind}: test macro-F1 on new recordings, {len(seeds)} seeds")
        print(f"{'model':<36} {'macro-F1':>15} {'fit s':>7} {'epoch kept':>10}")
        for name, row in rows.items():
            f1 = np.array(row["f1"])
            seconds = f"{np.mean(row['seconds']):7.1f}" if "seconds" in row else ""
            epochs_ = f"{np.mean(row['epochs']):10.0f}" if row.get("epochs") else ""
            print(
                f"{name:<36} {f1.mean():7.3f} ± {f1.std():.3f} "
                f"{seconds:>7} {epochs_:>10}"
            )
    if not args.quick:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nresults: {RESULTS}")


if __name__ == "__main__":
    main()
