"""Fit speed of the training engine, side by side in one run, on one backend.

Run once per Keras backend (``KERAS_BACKEND=tensorflow`` or ``jax``)::

    python benchmarks/bench_engine.py                     # 1-3, about 5 minutes
    python benchmarks/bench_engine.py --part batch-size   # 4
    python benchmarks/bench_engine.py --part search       # 5
    python benchmarks/bench_engine.py --part seed-scale   # 6
    python benchmarks/bench_engine.py --part partial-fit  # 7
    python benchmarks/bench_engine.py --part xla          # 8, TensorFlow
    python benchmarks/bench_engine.py --part xla-scores   # 9, TensorFlow
    python benchmarks/bench_engine.py --part shared-step  # 10, TensorFlow
    python benchmarks/bench_engine.py --part shared-step-dense  # 11, TensorFlow
    python benchmarks/bench_engine.py --part shared-update  # 12, TensorFlow
    python benchmarks/bench_engine.py --part unroll  # 13, TensorFlow
    python benchmarks/bench_engine.py --part unroll-scores  # 14, TensorFlow

1. **Default fit on real tables** (scikit-learn's bundled digits, made
   imbalanced, 933 rows; breast cancer, 569 rows; wine, 178 rows): the
   default estimator (five cross-fitted networks on these small classes)
   against ``HistGradientBoostingClassifier(class_weight="balanced")`` and
   against one raw-Keras network of the default's shape trained with
   ``keras.Model.fit`` for as many epochs as the default's program ran, at
   the batch size of the default's networks.
2. **Per epoch, one network**: skimb with ``cv=None`` against raw
   ``Model.fit`` of the same network at the same batch size (the default's:
   network and batch size "auto"), both validating on the same rows every
   epoch, as the marginal cost of 60 more epochs (so set-up and compilation
   cancel out).
3. **Small-table epoch**: the same marginal cost on a 1,000 x 8 table,
   against raw ``Model.fit`` without validation (200 more epochs).
4. ``--part batch-size``: the default on the same real tables with batch
   sizes 32, 64, 128 and 256: 5-fold stratified CV macro-F1 and fit time.
5. ``--part search``: ``OptunaSearchCV`` with 20 trials x 3 folds on 1,500
   rows, the default estimator and search space.
6. ``--part seed-scale``: one epoch of the default sequence network on
   95,000 sequences of 20 x 18, against raw ``Model.fit`` with its defaults
   and with ``steps_per_execution=32``.
7. ``--part partial-fit``: a loop of ``partial_fit`` calls, chunks of 1,000
   rows of a 20-feature table (the default dense network) and of 500
   sequences of 20 x 18 (the default LSTM), 12 calls each: the median
   time of calls 3 to 12 for skimb going on with its compiled epoch, for
   skimb compiling it anew on every call (as every call did before it went
   on), and for raw ``Model.fit`` of one epoch on each chunk (the same
   network; Keras keeps its compiled step across calls), the three
   interleaved call by call.
8. ``--part xla`` (TensorFlow): the default LSTM with ``jit_compile=True``
   and ``False`` on the suite's real sequence sets (the training rows of
   its first fold, ``benchmarks/_suite_data.py``) and on 2,000 sequences of
   the trajectory family, in fits of 40 epochs (five cross-fitted networks
   validating every epoch, as the default; ``patience`` beyond the
   epochs), the two settings interleaved: an epoch's seconds (the median of
   a fit's epochs after its first, timed by a callback) and the rest of
   the fit (tracing, compiling, set-up: its time less 40 such epochs).
9. ``--part xla-scores`` (TensorFlow): the default LSTM with and without
   XLA, early-stopped as shipped, on 2,000 sequences of the synthetic
   families (``--families``, by default autocorrelation, trajectory and
   motif) with the suite's protocol (``bench_suite.run_synthetic``: the
   share of the Bayes-optimal macro-F1 on 50,000 fresh sequences), seeds
   ``--seeds`` (0 and 1), the pair of each seed run one after the other;
   ``--out`` names the results file.
10. ``--part shared-step`` (TensorFlow): the default fit of five
    cross-fitted networks with one network's training step traced once
    and called for each (as shipped) against the five traced as one
    model's step, on the sets of part 8 and on the imbalanced digits
    table (the dense network), in fits of 40 epochs, interleaved: an
    epoch's seconds and the rest of the fit.
11. ``--part shared-step-dense`` (TensorFlow): the same for the default
    dense network, on the first fold's training rows of every third of the
    benchmark suite's real tables (by name) and on 1,000 and 5,000
    synthetic rows.
12. ``--part shared-update`` (TensorFlow): the shared step with the
    optimizer's update of one network traced once and called for each (as
    shipped) against one update of every network's variables, on the sets
    of parts 10 and 11, in fits of 20 epochs, interleaved.
13. ``--part unroll`` (TensorFlow): the default LSTM with its recurrent
    layers unrolled (Keras' ``unroll=True``, which skimb does not use) and
    with their loop (as shipped), on the sets of part 8, in fits of 40
    epochs, interleaved: an epoch's seconds and the rest of the fit.
14. ``--part unroll-scores`` (TensorFlow): the default LSTM unrolled and
    with its loop, early-stopped, on 2,000 sequences of the synthetic
    families (``--families``, by default all five) with the suite's
    protocol, as part 9 for XLA, seeds ``--seeds``.

Every figure is a median over ``--repeats`` interleaved runs; results go to
``benchmarks/results/engine_<backend>.json``,
``engine_batch_size_<backend>.json``, ``engine_search_<backend>.json``,
``engine_seed_scale_<backend>.json``, ``engine_partial_fit_<backend>.json``,
``engine_xla_tensorflow.json``, ``engine_xla_scores_tensorflow.json``,
``engine_shared_step_tensorflow.json``,
``engine_shared_step_dense_tensorflow.json``,
``engine_shared_update_tensorflow.json``, ``engine_unroll_tensorflow.json``
and ``engine_unroll_scores_tensorflow.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _raw_keras import compiled_network  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from skimb import ImbalancedKerasClassifier, OptunaSearchCV  # noqa: E402
from skimb._moments import feature_moments  # noqa: E402
from skimb._params import AUTO_SHAPE, resolve_batch_size  # noqa: E402
from skimb._splits import validation_split  # noqa: E402
from skimb.datasets import (  # noqa: E402
    make_imbalanced_classification,
    make_imbalanced_sequences,
)

RESULTS = Path(__file__).parent / "results"


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def real_tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Three tables bundled with scikit-learn; digits made imbalanced."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(0)
    # Class c keeps 175 * 0.85**c rows: 175 down to 40, 933 rows in all.
    keep = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), int(175 * 0.85**c), replace=False)
            for c in range(10)
        ]
    )
    tables = {"digits_imbalanced": (X[keep], y[keep])}
    for name, loader in (("breast_cancer", load_breast_cancer), ("wine", load_wine)):
        X, y = loader(return_X_y=True)
        tables[name] = (X, y)
    return {k: (X.astype(np.float32), y) for k, (X, y) in tables.items()}


def raw_network(
    X_train: np.ndarray,
    n_classes: int,
    *,
    architecture: str = "dense",
    steps_per_execution: int = 1,
) -> keras.Model:
    """skimb's network of 64 units in one layer (the shape of a sequence
    architecture's ``units`` and ``n_layers`` "auto"; the dense default's
    before the benchmark suite) with the moments of ``X_train``."""
    mean, variance = feature_moments(X_train)
    return compiled_network(
        X_train.shape[1:],
        n_classes,
        architecture=architecture,
        mean=mean,
        variance=variance,
        steps_per_execution=steps_per_execution,
    )


def default_raw_network(X_train: np.ndarray, n_classes: int) -> keras.Model:
    """The default dense network's shape (``units`` and ``n_layers``
    "auto") with the moments of ``X_train``, compiled for Model.fit."""
    mean, variance = feature_moments(X_train)
    return compiled_network(
        X_train.shape[1:],
        n_classes,
        architecture="dense",
        mean=mean,
        variance=variance,
        **AUTO_SHAPE["dense"],
    )


def _fit_raw(X: np.ndarray, targets: np.ndarray, epochs: int, n_train: int) -> None:
    """One raw network of the default's shape, trained for ``epochs`` at
    the batch size the default gives a network of ``n_train`` rows."""
    model = default_raw_network(X, targets.shape[1])
    batch_size = resolve_batch_size("auto", n_train)
    model.fit(X, targets, batch_size=batch_size, epochs=epochs, verbose=0)


def default_fits(repeats: int) -> list[dict]:
    rows = []
    for name, (X, y) in real_tables().items():
        classes = np.unique(y)
        targets = np.eye(len(classes), dtype=np.float32)[np.searchsorted(classes, y)]
        ours, hgb, raw, epochs = [], [], [], []
        for seed in range(repeats):
            clf = ImbalancedKerasClassifier(random_state=seed)
            ours.append(_seconds(functools.partial(clf.fit, X, y)))
            ran = max(len(h["loss"]) for h in clf.histories_)
            epochs.append(ran)
            boosting = HistGradientBoostingClassifier(
                class_weight="balanced", random_state=seed
            )
            hgb.append(_seconds(functools.partial(boosting.fit, X, y)))
            # At the batch size of the default's networks, each trained on
            # all but its fold's rows.
            k = clf.n_networks_
            n_train = len(X) * (k - 1) // k if k > 1 else len(X)
            raw.append(_seconds(functools.partial(_fit_raw, X, targets, ran, n_train)))
        row = {
            "table": name,
            "rows": len(X),
            "classes": len(classes),
            "networks": clf.n_networks_,
            "epochs_run": statistics.median(epochs),
            "skimb_default_s": statistics.median(ours),
            "hgb_balanced_s": statistics.median(hgb),
            "raw_keras_one_network_s": statistics.median(raw),
        }
        row["ratio_to_hgb"] = row["skimb_default_s"] / row["hgb_balanced_s"]
        row["ratio_to_raw_keras"] = (
            row["skimb_default_s"] / row["raw_keras_one_network_s"]
        )
        rows.append(row)
        print(json.dumps(row))
    return rows


def marginal_epoch(
    repeats: int, *, validate: bool, n_features: int, n_rows: int, extra: int
):
    """Milliseconds per epoch of skimb (one network) and of raw Model.fit,
    as the extra time of ``extra`` more epochs."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    y = rng.choice(4, size=n_rows, p=[0.55, 0.25, 0.15, 0.05])
    targets = np.eye(4, dtype=np.float32)[y]
    val_fraction = 0.1 if validate else 0.0
    probe = ImbalancedKerasClassifier(
        cv=None, epochs=1, early_stopping=False, validation_fraction=val_fraction
    )
    probe.fit(X, y)
    train, val = (
        validation_split(
            y, classes=probe.classes_, validation_fraction=val_fraction, seed=0
        )
        if validate
        else (np.arange(n_rows), None)
    )

    def ours(epochs):
        ImbalancedKerasClassifier(
            cv=None,
            epochs=epochs,
            early_stopping=False,
            validation_fraction=val_fraction,
            random_state=0,
        ).fit(X, y)

    def raw(epochs):
        # The default's network and batch size.
        model = default_raw_network(X[train], 4)
        model.fit(
            X[train],
            targets[train],
            validation_data=None if val is None else (X[val], targets[val]),
            batch_size=resolve_batch_size("auto", len(train)),
            epochs=epochs,
            verbose=0,
        )

    result = {}
    for name, call in (("skimb", ours), ("raw_keras", raw)):
        per_epoch = []
        for _ in range(repeats):
            short = _seconds(functools.partial(call, 10))
            long = _seconds(functools.partial(call, 10 + extra))
            per_epoch.append((long - short) / extra * 1000)
        result[f"{name}_ms_per_epoch"] = statistics.median(per_epoch)
    result["ratio"] = result["skimb_ms_per_epoch"] / result["raw_keras_ms_per_epoch"]
    print(json.dumps(result))
    return result


def batch_sizes() -> list[dict]:
    """The default on the real tables at four batch sizes: 5-fold stratified
    CV macro-F1 (one seed per fold) and the median fit time."""
    rows = []
    for name, (X, y) in real_tables().items():
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for batch_size in (32, 64, 128, 256):
            scores, seconds = [], []
            for fold, (train, test) in enumerate(folds):
                clf = ImbalancedKerasClassifier(
                    batch_size=batch_size, random_state=fold
                )
                fit = functools.partial(clf.fit, X[train], y[train])
                seconds.append(_seconds(fit))
                predicted = clf.predict(X[test])
                scores.append(f1_score(y[test], predicted, average="macro"))
            row = {
                "table": name,
                "batch_size": batch_size,
                "macro_f1": float(np.mean(scores)),
                "sd": float(np.std(scores)),
                "fit_s_median": statistics.median(seconds),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def search_time() -> dict:
    """OptunaSearchCV, 20 trials x 3 stratified folds, on 1,500 rows, with
    the default estimator (five cross-fitted networks per fit on these
    small classes) and its default search space."""
    X, y = make_imbalanced_classification(1500, random_state=0)
    search = OptunaSearchCV(
        ImbalancedKerasClassifier(random_state=0),
        n_trials=20,
        cv=3,
        random_state=0,
        refit=False,
    )
    seconds = _seconds(functools.partial(search.fit, X, y))
    states = [t.state.name for t in search.study_.trials]
    result = {
        "seconds": seconds,
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "best_cv_macro_f1": search.best_score_,
    }
    print(json.dumps(result))
    return result


def seed_scale_epoch() -> dict:
    """One epoch of the default sequence network on 95,000 sequences."""
    X, y = make_imbalanced_sequences(95_000, random_state=0)
    n_classes = len(np.unique(y))
    targets = np.eye(n_classes, dtype=np.float32)[y]
    result = {}

    def ours():
        ImbalancedKerasClassifier(
            "lstm",
            epochs=1,
            validation_fraction=0,
            early_stopping=False,
            cv=None,
            random_state=0,
        ).fit(X, y)

    result["skimb_s"] = _seconds(ours)
    for spe in (1, 32):
        model = raw_network(X, n_classes, architecture="lstm", steps_per_execution=spe)
        result[f"raw_keras_spe{spe}_s"] = _seconds(
            functools.partial(
                model.fit, X, targets, batch_size=128, epochs=1, verbose=0
            )
        )
    print(json.dumps(result))
    return result


def _partial_fit(estimator, X, y, classes, *, anew: bool) -> None:
    if anew:  # compiled anew, as every call was before calls went on
        vars(estimator).pop("_program", None)
    estimator.partial_fit(X, y, classes=classes)


def partial_fit_calls(repeats: int, n_calls: int = 12) -> dict:
    """Per-call time of a loop of ``partial_fit`` (part 7)."""
    problems = {
        "table": (
            "dense",
            make_imbalanced_classification(
                1_000 * n_calls, n_features=20, random_state=0
            ),
            1_000,
        ),
        "sequences": (
            "lstm",
            make_imbalanced_sequences(500 * n_calls, random_state=0),
            500,
        ),
    }
    result = {}
    for name, (architecture, (X, y), chunk) in problems.items():
        classes = np.unique(y)
        targets = np.eye(len(classes), dtype=np.float32)[y]
        times = {"skimb": [], "skimb_compiled_each_call": [], "raw_keras": []}
        for _ in range(repeats):
            going_on, anew = (
                ImbalancedKerasClassifier(architecture, random_state=0)
                for _ in range(2)
            )
            # The default's network: two layers of 128 units on the table,
            # the LSTM's 64 units in one layer ("auto") on sequences.
            raw = (
                default_raw_network(X[:chunk], len(classes))
                if architecture == "dense"
                else raw_network(X[:chunk], len(classes), architecture=architecture)
            )
            for call in range(n_calls):
                rows = slice(call * chunk, (call + 1) * chunk)
                runs = {
                    "skimb": functools.partial(
                        _partial_fit, going_on, X[rows], y[rows], classes, anew=False
                    ),
                    "skimb_compiled_each_call": functools.partial(
                        _partial_fit, anew, X[rows], y[rows], classes, anew=True
                    ),
                    "raw_keras": functools.partial(
                        raw.fit,
                        X[rows],
                        targets[rows],
                        batch_size=32,
                        epochs=1,
                        verbose=0,
                    ),
                }
                for key, run in runs.items():
                    seconds = _seconds(run)
                    if call >= 2:  # the first two compile (the second: new shapes)
                        times[key].append(seconds)
            keras.backend.clear_session()
        result[name] = {
            f"{key}_s": statistics.median(values) for key, values in times.items()
        }
        print(name, json.dumps(result[name]))
    return result


class _EpochClock(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, from its start to its end."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _sequence_sets() -> dict:
    """The training rows of the first fold of each of the suite's real
    sequence sets, and 2,000 sequences of the trajectory family."""
    import _families
    import _suite_data

    sets = {}
    for name, (X, y) in _suite_data.sequences().items():
        train, _ = next(
            StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
        )
        rows = [X[i] for i in train] if isinstance(X, list) else X[train]
        sets[name] = rows, y[train]
    X, y, _ = _families.sample("trajectory", 2000, random_state=100)
    sets["trajectory@2000"] = X, y
    return sets


def _timed_fits(
    X, y, settings: dict, repeats: int, epochs: int, architecture: str = "lstm"
) -> dict:
    """For each named setting (a function that fits ``X, y`` with the
    estimator's parameters and its epoch clock), the fits interleaved
    ``repeats`` times: the median epoch (after the first) and the rest of
    the fit (its time less ``epochs`` such epochs: tracing, compiling,
    set-up)."""
    params = {"architecture": architecture, "patience": 1000, "random_state": 0}
    if isinstance(X, list):
        params["n_timesteps"] = max(len(x) for x in X)
    runs = {name: [] for name in settings}
    for _ in range(repeats):
        for name, fit in settings.items():
            clock = _EpochClock()
            params.update(epochs=epochs, callbacks=[clock])
            total = _seconds(functools.partial(fit, params, X, y))
            per_epoch = statistics.median(clock.seconds[1:])
            runs[name].append((per_epoch, total - epochs * per_epoch))
    return {
        name: (
            statistics.median(r[0] for r in runs[name]),
            statistics.median(r[1] for r in runs[name]),
        )
        for name in settings
    }


def xla_epochs(repeats: int, *, epochs: int = 40) -> list[dict]:
    """Seconds of one epoch (the median of a fit's epochs after its first)
    and of the rest of a default LSTM fit (the fit's time less ``epochs``
    such epochs: tracing, compiling, set-up), with and without XLA."""

    def fitter(flag: bool):
        def fit(params, X, y):
            ImbalancedKerasClassifier(**params, jit_compile=flag).fit(X, y)

        return fit

    rows = []
    for name, (X, y) in _sequence_sets().items():
        timed = _timed_fits(
            X, y, {"xla": fitter(True), "no_xla": fitter(False)}, repeats, epochs
        )
        row = {"set": name, "rows": len(y), "epochs": epochs}
        for label, (per_epoch, fixed) in timed.items():
            row[f"{label}_s_per_epoch"], row[f"{label}_fixed_s"] = per_epoch, fixed
        row["epoch_speed_up"] = row["no_xla_s_per_epoch"] / row["xla_s_per_epoch"]
        row["extra_fixed_s"] = row["xla_fixed_s"] - row["no_xla_fixed_s"]
        saved = row["no_xla_s_per_epoch"] - row["xla_s_per_epoch"]
        row["break_even_epochs"] = row["extra_fixed_s"] / saved if saved > 0 else None
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


@contextlib.contextmanager
def _patched(module, name: str, replacement):
    """``module.name`` replaced by ``replacement`` inside the block (None:
    as shipped)."""
    kept = getattr(module, name)
    if replacement is not None:
        setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, kept)


def _patched_fit(module, name: str, replacement):
    """A fit (for :func:`_timed_fits`) with ``module.name`` replaced by
    ``replacement`` while it runs (None: as shipped)."""

    def fit(params, X, y):
        with _patched(module, name, replacement):
            ImbalancedKerasClassifier(**params).fit(X, y)

    return fit


def _side_by_side(sets: dict, settings: dict, repeats: int, epochs: int) -> list[dict]:
    """For each named ``(X, y, architecture)`` of ``sets``, the default fit
    under each of the two named ``settings`` (as shipped first, then the
    one it is compared with), interleaved (:func:`_timed_fits`): an epoch's
    seconds and the rest of the fit, and the speed-ups of the first."""
    shipped, other = settings
    rows = []
    for name, (X, y, architecture) in sets.items():
        timed = _timed_fits(X, y, settings, repeats, epochs, architecture)
        row = {"set": name, "architecture": architecture, "rows": len(y)}
        row["epochs"] = epochs
        for label, (per_epoch, fixed) in timed.items():
            row[f"{label}_s_per_epoch"], row[f"{label}_fixed_s"] = per_epoch, fixed
        row["fixed_speed_up"] = row[f"{other}_fixed_s"] / row[f"{shipped}_fixed_s"]
        row["epoch_speed_up"] = (
            row[f"{other}_s_per_epoch"] / row[f"{shipped}_s_per_epoch"]
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _shared_against_one_model(sets: dict, repeats: int, epochs: int) -> list[dict]:
    """The default fit with the shared step (as shipped on TensorFlow) and
    with the networks' steps traced as one model's (:func:`_side_by_side`)."""
    import skimb._program

    one_model = _patched_fit(
        skimb._program, "pays_to_share", lambda networks, optimizer: False
    )
    settings = {
        "shared": _patched_fit(
            skimb._program, "pays_to_share", lambda networks, optimizer: True
        ),
        "one_model": one_model,
    }
    return _side_by_side(sets, settings, repeats, epochs)


def _step_sets() -> dict:
    """The sets of :func:`shared_step_epochs`: the suite's real sequence
    sets (the default LSTM) and a 933-row table (the dense network)."""
    sets = {name: (X, y, "lstm") for name, (X, y) in _sequence_sets().items()}
    sets["digits_imbalanced"] = (*real_tables()["digits_imbalanced"], "dense")
    return sets


def _dense_sets() -> dict:
    """The sets of :func:`shared_step_dense`: the first fold's training
    rows of every third of the suite's real tables (by name), and 1,000 and
    5,000 rows of :func:`skimb.datasets.make_imbalanced_classification`."""
    import _suite_data

    tables = _suite_data.tables()
    sets = {}
    for name in sorted(tables)[::3]:
        X, y = tables[name]
        train, _ = next(
            StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)
        )
        sets[name] = X[train], y[train], "dense"
    for n_rows in (1000, 5000):
        X, y = make_imbalanced_classification(n_rows, random_state=0)
        sets[f"synthetic@{n_rows}"] = X, y, "dense"
    return sets


def shared_step_epochs(repeats: int, *, epochs: int = 40) -> list[dict]:
    """The default fit (five cross-fitted networks) with one network's
    step traced once and called for each network (as shipped on
    TensorFlow, :mod:`skimb._network_step`) against the five networks'
    steps traced as one model's: an epoch's seconds and the rest of the
    fit, of the default LSTM on the sets of :func:`xla_epochs` and of the
    default dense network on a 933-row table."""
    return _shared_against_one_model(_step_sets(), repeats, epochs)


def shared_step_dense(repeats: int, *, epochs: int = 40) -> list[dict]:
    """As :func:`shared_step_epochs`, for the default dense network on the
    sets of :func:`_dense_sets`."""
    return _shared_against_one_model(_dense_sets(), repeats, epochs)


def shared_update(repeats: int, *, epochs: int = 20) -> list[dict]:
    """The shared step with the optimizer's update of one network traced
    once and called for each network (as shipped on TensorFlow,
    :func:`skimb._network_step._shared_update`) against one update of
    every network's variables, traced for all of them: an epoch's seconds
    and the rest of the fit, on the sets of :func:`shared_step_epochs` and
    :func:`shared_step_dense`."""
    import skimb._network_step

    settings = {
        "per_network": _patched_fit(skimb._network_step, "_shared_update", None),
        "one_update": _patched_fit(
            skimb._network_step, "_shared_update", lambda optimizer, networks: None
        ),
    }
    return _side_by_side({**_step_sets(), **_dense_sets()}, settings, repeats, epochs)


@keras.saving.register_keras_serializable(package="bench_engine")
class _UnrolledLSTM(keras.layers.LSTM):
    """Keras' LSTM with ``unroll=True``, whatever its configuration says
    (``Bidirectional`` builds its backward layer from the configuration)."""

    def __init__(self, *args, **kwargs):
        kwargs["unroll"] = True
        super().__init__(*args, **kwargs)


def unrolled_epochs(repeats: int, *, epochs: int = 40) -> list[dict]:
    """The default LSTM's fit with its recurrent layers unrolled and with
    their loop, as shipped (:func:`_side_by_side`), on the sets of
    :func:`xla_epochs`."""
    sets = {name: (X, y, "lstm") for name, (X, y) in _sequence_sets().items()}
    settings = {
        "unrolled": _patched_fit(keras.layers, "LSTM", _UnrolledLSTM),
        "loop": _patched_fit(keras.layers, "LSTM", None),
    }
    return _side_by_side(sets, settings, repeats, epochs)


# The families part 9 compares by default: those XLA first lost most on.
XLA_FAMILIES = ("autocorrelation", "trajectory", "motif")


def xla_scores(families=XLA_FAMILIES, seeds=(0, 1)) -> list[dict]:
    """The default LSTM's share of the Bayes-optimal macro-F1 and fit
    seconds with and without XLA, on 2,000 sequences of ``families``."""
    settings = {
        False: functools.partial(_synthetic, overrides={"jit_compile": False}),
        True: functools.partial(_synthetic, overrides={"jit_compile": True}),
    }
    return _paired_scores(families, seeds, "jit_compile", settings)


def unroll_scores(families, seeds) -> list[dict]:
    """The default LSTM's share of the Bayes-optimal macro-F1 and fit
    seconds with its loop (as shipped) and unrolled, on 2,000 sequences of
    ``families``."""

    def unrolled(family, seed):
        with _patched(keras.layers, "LSTM", _UnrolledLSTM):
            return _synthetic(family, seed)

    return _paired_scores(
        families, seeds, "unrolled", {False: _synthetic, True: unrolled}
    )


def _synthetic(family: str, seed: int, overrides=None) -> dict:
    """The default's row of the benchmark suite on 2,000 sequences."""
    import bench_suite

    return bench_suite.run_synthetic(
        family, 2000, "skimb", overrides=overrides or {}, quick=False, seed=seed
    )


def _paired_scores(families, seeds, key: str, settings: dict) -> list[dict]:
    """For each family and seed, one fit under each setting (``key``'s
    value -> a function of the family and seed), one after the other."""
    rows = []
    for family in families:
        for seed in seeds:
            for value, fit in settings.items():
                result = fit(family, seed)
                row = {
                    "family": family,
                    "seed": seed,
                    key: value,
                    "share_of_bayes": result["share_of_bayes"],
                    "fit_s": result["fit_s"],
                    "epochs": result.get("epochs"),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


# Parts that compare settings only TensorFlow has (XLA as an option, the
# shared step, unrolled layers).
TENSORFLOW_PARTS = (
    "xla",
    "xla-scores",
    "shared-step",
    "shared-step-dense",
    "shared-update",
    "unroll",
    "unroll-scores",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=["speed", "batch-size", "search", "seed-scale", "partial-fit"]
        + list(TENSORFLOW_PARTS),
        default="speed",
        help="fits and epochs (1-3), batch sizes (4), search (5), seed scale (6), "
        "partial_fit (7), XLA's epochs (8) and scores (9), the shared step (10, "
        "11) and update (12), unrolled recurrent layers (13) and their scores (14)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--families",
        nargs="+",
        help="xla-scores, unroll-scores: the synthetic families (default: "
        "autocorrelation, trajectory and motif; unroll-scores: all five)",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1],
        help="xla-scores, unroll-scores: the seeds",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="xla-scores, unroll-scores: the results file (default: RESULTS/...)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="speed: one repeat, epochs only, no file; partial-fit: one repeat, "
        "no file",
    )
    args = parser.parse_args()
    backend = keras.backend.backend()
    if args.part in TENSORFLOW_PARTS and backend != "tensorflow":
        raise SystemExit(f"--part {args.part} compares settings of TensorFlow's")
    if args.part == "batch-size":
        results, name = batch_sizes(), f"engine_batch_size_{backend}.json"
    elif args.part == "search":
        results, name = search_time(), f"engine_search_{backend}.json"
    elif args.part == "seed-scale":
        results, name = seed_scale_epoch(), f"engine_seed_scale_{backend}.json"
    elif args.part == "xla":
        results, name = xla_epochs(args.repeats), "engine_xla_tensorflow.json"
    elif args.part == "xla-scores":
        results = xla_scores(args.families or XLA_FAMILIES, args.seeds)
        name = "engine_xla_scores_tensorflow.json"
    elif args.part == "shared-step":
        results = shared_step_epochs(1 if args.quick else args.repeats)
        name = "engine_shared_step_tensorflow.json"
    elif args.part == "shared-step-dense":
        results = shared_step_dense(1 if args.quick else args.repeats)
        name = "engine_shared_step_dense_tensorflow.json"
    elif args.part == "shared-update":
        results = shared_update(1 if args.quick else args.repeats)
        name = "engine_shared_update_tensorflow.json"
    elif args.part == "unroll":
        results = unrolled_epochs(1 if args.quick else args.repeats)
        name = "engine_unroll_tensorflow.json"
    elif args.part == "unroll-scores":
        import _families

        results = unroll_scores(args.families or list(_families.FAMILIES), args.seeds)
        name = "engine_unroll_scores_tensorflow.json"
    elif args.part == "partial-fit":
        results = partial_fit_calls(1 if args.quick else args.repeats)
        name = f"engine_partial_fit_{backend}.json"
        if args.quick:
            return
    else:
        repeats = 1 if args.quick else args.repeats
        results, name = {"backend": backend}, f"engine_{backend}.json"
        if not args.quick:
            results["default_fit"] = default_fits(repeats)
        results["one_network_epoch"] = marginal_epoch(
            repeats, validate=True, n_features=20, n_rows=5000, extra=60
        )
        results["small_table_epoch"] = marginal_epoch(
            repeats, validate=False, n_features=8, n_rows=1000, extra=200
        )
        if args.quick:
            return
    RESULTS.mkdir(exist_ok=True)
    path = args.out or RESULTS / name
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
