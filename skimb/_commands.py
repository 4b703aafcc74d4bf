"""The work behind each ``skimb`` command (see :mod:`skimb.cli`).

Results go to stdout; progress goes to stderr, only on a terminal.  Ctrl-C
keeps what was finished: the demo reports the strategies it has scored, and
a search saves the best of its finished trials.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

import numpy as np

from skimb._files import (
    SEQUENCE_SUFFIXES,
    DataError,
    check_folds,
    data_files,
    read_data,
    read_table_chunks,
)

# What people usually try (a flat linear model, or one network with the
# settings of a first Keras script and an imbalance strategy), against the
# estimator as shipped.  The first-script networks share SCRIPT_SETTINGS.
FLAT_BASELINE = "logistic-regression"
STRATEGIES = {
    FLAT_BASELINE: None,
    "crossentropy": {"loss": "crossentropy", "decision": "argmax", "cv": None},
    "class_weight=balanced": {
        "loss": "crossentropy",
        "class_weight": "balanced",
        "decision": "argmax",
        "cv": None,
    },
    "focal": {"loss": "focal", "decision": "argmax", "cv": None},
    "skimb-default": {},
}
SCRIPT_SETTINGS = {"units": 64, "n_layers": 1, "patience": 8, "batch_size": 64}

# Full run: about 4.5 minutes on 2 cores.  --quick: a smoke run of about 40 s.
SIZES = {
    False: {"tabular": 10_000, "sequences": 3_000, "epochs": 40, "folds": 3},
    True: {"tabular": 1_000, "sequences": 500, "epochs": 3, "folds": 2},
}

MODEL_FILE = "model.skimb"


def _print_table_header() -> None:
    header = (
        f"{'data':<18} {'strategy':<24} {'macro-F1':>14} {'bal. acc.':>14} {'s':>6}"
    )
    print(header)
    print("-" * len(header))


# --------------------------------------------------------------------- demo


def demo(args) -> int:
    """Compare imbalance strategies on embedded data; write the report."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from skimb import ImbalancedKerasClassifier
    from skimb._progress import EpochProgress, StatusLine
    from skimb.datasets import (
        make_imbalanced_classification,
        make_imbalanced_sequences,
    )
    from skimb.metrics import macro_f1

    size = SIZES[args.quick]
    seed = args.seed
    problems = {
        "tabular (dense)": (
            "dense",
            make_imbalanced_classification(size["tabular"], random_state=seed),
        ),
        "sequences (lstm)": (
            "lstm",
            make_imbalanced_sequences(size["sequences"], random_state=seed),
        ),
    }
    n_folds = size["folds"]
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    status = StatusLine()
    progress = EpochProgress(status)
    print(
        f"macro-F1 and balanced accuracy, {n_folds}-fold stratified "
        "cross-validation (mean ± sd)"
    )
    _print_table_header()
    results = []
    try:
        for name, (architecture, (X, y)) in problems.items():
            classes = np.unique(y)
            for strategy, params in STRATEGIES.items():
                if params is None:
                    # Balanced logistic regression on the standardised,
                    # flattened input: the model users fit beside a network.
                    base = make_pipeline(
                        FunctionTransformer(_flatten),
                        StandardScaler(),
                        LogisticRegression(class_weight="balanced", max_iter=2000),
                    )
                else:
                    shared = {} if strategy == "skimb-default" else SCRIPT_SETTINGS
                    base = ImbalancedKerasClassifier(
                        architecture,
                        epochs=size["epochs"],
                        random_state=seed,
                        callbacks=[progress],
                        **shared,
                        **params,
                    )
                start = time.perf_counter()
                # Out-of-fold probabilities, so that the report's confusion
                # matrix and curves are of rows no model was trained on.
                proba = np.zeros((len(y), len(classes)))
                predicted = np.empty_like(y)
                f1, bacc, history = [], [], None
                for fold, (train, test) in enumerate(cv.split(X, y), start=1):
                    status.context = f"{name} · {strategy} · fold {fold}/{n_folds}"
                    clf = clone(base).fit(X[train], y[train])
                    predicted[test], proba[test] = _predictions(clf, X[test])
                    f1.append(macro_f1(y[test], predicted[test], labels=classes))
                    bacc.append(balanced_accuracy_score(y[test], predicted[test]))
                    if history is None and params is not None:
                        history = (clf.history_, clf.best_epoch_)
                seconds = time.perf_counter() - start
                status.clear()
                print(
                    f"{name:<18} {strategy:<24} "
                    f"{np.mean(f1):>7.3f} ± {np.std(f1):.3f} "
                    f"{np.mean(bacc):>7.3f} ± {np.std(bacc):.3f} "
                    f"{seconds:>6.0f}",
                    flush=True,
                )
                results.append(
                    {
                        "data": name,
                        "strategy": strategy,
                        "f1": f1,
                        "bacc": bacc,
                        "seconds": seconds,
                        "y": y,
                        "proba": proba,
                        "predicted": predicted,
                        "classes": classes,
                        "history": history,
                    }
                )
    except KeyboardInterrupt:
        status.clear()
        if not results:
            raise
        print(
            f"Interrupted: reporting the {len(results)} finished strategies.",
            file=sys.stderr,
        )
        page = _demo_report(results, args, n_folds)
        print(f"report: {page}")
        return 130
    page = _demo_report(results, args, n_folds)
    print(f"report: {page}")
    return 0


def _flatten(X):
    return X.reshape(len(X), -1)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def _demo_report(results: list[dict], args, n_folds: int) -> Path:
    from skimb.report import Report

    report = Report("skimb demo: imbalance strategies compared")
    report.add_text(
        "Embedded synthetic data with 4 classes in proportion 10K / 500K / 90K / "
        f"30K, {'--quick run' if args.quick else 'full run'}, seed {args.seed}. "
        f"Scores are means ± standard deviations over {n_folds} stratified folds; "
        "the figures use the out-of-fold probabilities (every row predicted by "
        "the model that did not train on it), the training curves come from the "
        "first fold."
    )
    for data in dict.fromkeys(r["data"] for r in results):
        rows = [r for r in results if r["data"] == data]
        best = int(np.argmax([np.mean(r["f1"]) for r in rows]))
        report.add_heading(data)
        report.add_table(
            f"Strategies on {data}, best macro-F1 in bold",
            [
                {
                    "strategy": r["strategy"],
                    "macro-F1": np.mean(r["f1"]),
                    "macro-F1 sd": np.std(r["f1"]),
                    "balanced accuracy": np.mean(r["bacc"]),
                    "balanced accuracy sd": np.std(r["bacc"]),
                    "seconds": f"{r['seconds']:.1f}",
                }
                for r in rows
            ],
            highlight=best,
        )
        # The best strategy, and the plain crossentropy network beside it.
        baseline = next(i for i, r in enumerate(rows) if r["history"] is not None)
        shown = [rows[best]] + ([rows[baseline]] if best != baseline else [])
        for r in shown:
            history, best_epoch = r["history"] or (None, None)
            report.add_classification(
                f"{data}: {r['strategy']}"
                + (" (best)" if r is rows[best] else " (baseline)"),
                r["y"],
                r["proba"],
                classes=r["classes"],
                y_pred=r["predicted"],
                name=f"{_slug(data)}_{_slug(r['strategy'])}",
                history=history,
                best_epoch=best_epoch,
            )
    return report.write(args.out)


# --------------------------------------------------------------------- tune


def tune(args) -> int:
    """Search hyper-parameters on a data file; save the best model and report."""
    data = read_data(args.data, target=args.target)
    if args.storage is None and args.study_name is not None:
        raise DataError("--study-name needs --storage (a study in memory has no name).")
    out = Path(args.out or f"skimb-tune-{_slug(Path(args.data).stem)}")
    architecture = args.architecture or ("dense" if data.kind == "table" else "lstm")
    if architecture != "dense" and np.ndim(data.X) != 3:
        raise DataError(
            f"{data.path}: --architecture {architecture} needs sequences (an .npz "
            "with 3-D X); use dense for tables."
        )
    check_folds(data.y, args.cv, data.path, networks=args.networks)
    from sklearn.model_selection import train_test_split

    X, y = data.X, data.y
    X_test = y_test = None
    if args.test_size > 0:
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=args.test_size, stratify=y, random_state=args.seed
        )
        check_folds(y, args.cv, data.path, networks=args.networks)

    import optuna

    from skimb import ImbalancedKerasClassifier, persistence
    from skimb._progress import EpochProgress, StatusLine
    from skimb.tuning import OptunaSearchCV, default_search_space, storage_from

    # Failed trials are shown in the table, with their error; Optuna's own
    # warnings would print each one's traceback on stderr.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    status = StatusLine()
    progress = EpochProgress(status, n_folds=args.cv)
    estimator = ImbalancedKerasClassifier(
        architecture,
        epochs=args.epochs,
        # --networks 1 is one network (cv=None); N >= 2 cross-fits N.
        cv=None if args.networks == 1 else args.networks,
        random_state=args.seed,
        callbacks=[progress],
    )
    # Epochs are bounded by --epochs and stopped early on validation
    # macro-F1, so they are not searched.
    space = default_search_space(estimator)
    space.pop("epochs", None)
    # The study always lives in a storage object, so that the trials that
    # finished before a Ctrl-C can still be read and the best one refitted.
    storage = storage_from(args.storage) or optuna.storages.InMemoryStorage()
    study_name = args.study_name or "skimb-tune"
    search = OptunaSearchCV(
        estimator,
        space,
        n_trials=args.trials,
        timeout=args.timeout,
        cv=args.cv,
        storage=storage,
        study_name=study_name,
        random_state=args.seed,
    )
    watcher = _TrialWatcher(storage, study_name, args.trials, status, progress)
    progress.on_fit = watcher.update
    try:
        search.fit(X, y)
    except KeyboardInterrupt:
        status.clear()
        finished = watcher.complete()
        if not finished:
            print(
                "Interrupted before any trial finished; nothing saved.", file=sys.stderr
            )
            return 130
        print(
            f"Interrupted: refitting the best of {finished} finished trials to save "
            "it (Ctrl-C again to quit without a model).",
            file=sys.stderr,
        )
        # The finished trials are in the storage: a search asked for no more
        # trials than that only refits the best one.
        search.set_params(n_trials=watcher.finished(), timeout=None)
        search.fit(X, y)
        interrupted = True
    else:
        interrupted = False
    status.clear()

    best = search.best_estimator_
    # The progress display only served training; the saved model needs none.
    best.set_params(callbacks=None)
    out.mkdir(parents=True, exist_ok=True)
    model_path = persistence.save(best, out / MODEL_FILE)
    _print_search(search)
    test_score = None if X_test is None else best.score(X_test, y_test)
    _print_summary(search, test_score, n_test=0 if y_test is None else len(y_test))
    page = _tune_report(search, best, (X, y), (X_test, y_test), args, out)
    print(f"model: {model_path}")
    print(f"report: {page}")
    return 130 if interrupted else 0


class _TrialWatcher:
    """Reads the study's storage at the start of every fit to show trials."""

    def __init__(self, storage, study_name, n_trials, status, progress):
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.status = status
        self.progress = progress
        self.seen: set[int] = set()

    def _trials(self):
        import optuna

        study = optuna.load_study(study_name=self.study_name, storage=self.storage)
        return study.get_trials(deepcopy=False)

    def finished(self) -> int:
        return sum(t.state.is_finished() for t in self._trials())

    def complete(self) -> int:
        return sum(t.state.name == "COMPLETE" for t in self._trials())

    def update(self) -> None:
        if not self.status.enabled:
            return
        running = None
        for trial in self._trials():
            if trial.state.is_finished() and trial.number not in self.seen:
                self.seen.add(trial.number)
                value = "" if trial.value is None else f" macro-F1 {trial.value:.3f}"
                state = trial.state.name.lower()
                self.status.say(f"trial {trial.number + 1}: {state}{value}")
                self.progress.reset()
            elif trial.state.name == "RUNNING":
                running = trial.number
        if running is None:
            self.progress.reset(refitting=True)
            self.status.context = "best trial"
        else:
            self.status.context = f"trial {running + 1}/{self.n_trials}"


def _print_search(search) -> None:
    """The ten best trials, completed ones first: a pruned or failed trial
    shows the running score it last reached, in brackets."""
    results = search.cv_results_
    order = np.argsort(results["rank_test_score"])
    print(f"{'rank':>4} {'trial':>5} {'state':<9} {'macro-F1':>9}  parameters")
    for i in order[:10]:
        score = results["mean_test_score"][i]
        last = results["last_intermediate_value"][i]
        if not np.isnan(score):
            shown = f"{score:.3f}"
        else:
            shown = "" if np.isnan(last) else f"({last:.3f})"
        params = ", ".join(f"{k}={_short(v)}" for k, v in results["params"][i].items())
        if results["start"][i]:
            params = f"the default: {params}"
        if results["error"][i]:
            error = " ".join(str(results["error"][i]).split())
            params += f" ({error[:100]}{'...' if len(error) > 100 else ''})"
        print(
            f"{results['rank_test_score'][i]:>4} {results['number'][i] + 1:>5} "
            f"{results['state'][i].lower():<9} {shown:>9}  {params}"
        )


def _print_summary(search, test_score: float | None, *, n_test: int) -> None:
    best = int(search.cv_results_["number"][search.best_index_]) + 1
    print(
        f"best: trial {best}, cross-validated macro-F1 {search.best_score_:.3f} "
        f"over {search.n_splits_} folds"
    )
    if np.isnan(search.default_score_):
        print("the default: not scored (its trial did not complete)")
    else:
        print(f"the default (trial 1): {search.default_score_:.3f} on the same folds")
    if test_score is not None:
        print(
            f"held-out test macro-F1 of the refitted best model: {test_score:.3f} "
            f"({n_test} rows)"
        )


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _peer_scores(search, X, y) -> np.ndarray:
    """``LogisticRegression(class_weight="balanced")`` on standardised,
    flattened rows, scored on the search's own folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    peer = make_pipeline(
        StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
    )
    flat = np.nan_to_num(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    return cross_val_score(peer, flat, y, cv=search.cv_splitter_, scoring="f1_macro")


def _tune_report(search, best, train, test, args, out: Path) -> Path:
    from skimb.report import Report, plot_optimization_history

    X_test, y_test = test
    report = Report(f"skimb tune: {Path(args.data).name}")
    results = search.cv_results_
    report.add_text(
        f"{len(results['number'])} trials of an Optuna search, each scored by "
        f"mean macro-F1 over {search.n_splits_} stratified folds; "
        f"best {search.best_score_:.3f} (trial {search.study_.best_trial.number + 1})."
    )
    tuned = results["mean_test_score"][search.best_index_]
    tuned_sd = results["std_test_score"][search.best_index_]
    defaults = np.flatnonzero(results["start"])
    peer = _peer_scores(search, *train)
    rows = [{"model": "tuned (best trial)", "macro-F1": tuned, "sd": tuned_sd}]
    if defaults.size:
        rows.append(
            {
                "model": "the default (trial 1)",
                "macro-F1": results["mean_test_score"][defaults[0]],
                "sd": results["std_test_score"][defaults[0]],
            }
        )
    rows.append(
        {
            "model": 'LogisticRegression(class_weight="balanced")',
            "macro-F1": float(peer.mean()),
            "sd": float(peer.std()),
        }
    )
    report.add_table(
        f"Did the search pay? Mean macro-F1 over the same {search.n_splits_} folds",
        rows,
        highlight=0,
    )
    order = np.argsort(results["rank_test_score"])
    report.add_table(
        "Trials, best first",
        [
            {
                "trial": int(results["number"][i]) + 1,
                "state": results["state"][i].lower(),
                "macro-F1": results["mean_test_score"][i],
                "sd": results["std_test_score"][i],
                "last reported": results["last_intermediate_value"][i],
                **{k: _short(v) for k, v in results["params"][i].items()},
            }
            for i in order
        ],
        highlight=0,
    )
    report.add_figure(
        "Mean cross-validated macro-F1 of each trial",
        plot_optimization_history(search.study_),
        "optimization_history",
    )
    if X_test is not None:
        predicted, proba = _predictions(best, X_test)
        report.add_classification(
            f"Best model on the {len(y_test)} held-out rows",
            y_test,
            proba,
            classes=best.classes_,
            name="best",
            y_pred=predicted,
            history=best.history_,
            best_epoch=best.best_epoch_,
        )
    return report.write(out)


# ----------------------------------------------------------------- evaluate


def _load_model(path):
    from skimb import persistence

    model = persistence.load(path)
    if not hasattr(model, "predict_proba"):
        raise DataError(f"{path}: the model has no predict_proba.")
    return model


def _predictions(model, X) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and probabilities of ``X``: from one pass of the
    network for skimb's classifier (its ``predict`` is the decision rule on
    the log-probabilities), else ``predict`` and ``predict_proba``."""
    from skimb import ImbalancedKerasClassifier
    from skimb.decision import decide

    if getattr(type(model), "predict", None) is ImbalancedKerasClassifier.predict:
        log_proba = model.predict_log_proba(X)
        return model.classes_[decide(log_proba, model.decision_offsets_)], np.exp(
            log_proba
        )
    return model.predict(X), model.predict_proba(X)


def _features(model, data):
    """The features as the model was fitted: named columns, or an array."""
    if hasattr(model, "feature_names_in_") or data.kind != "table":
        return data.X
    if data.X.shape[1] != model.n_features_in_:
        raise DataError(
            f"{data.path}: the table has {data.X.shape[1]} feature columns; the "
            f"model was fitted on {model.n_features_in_} (name the label column "
            "with --target)."
        )
    return data.X.to_numpy()


def evaluate(args) -> int:
    """Score a model file on labelled data."""
    model = _load_model(args.model)
    data = read_data(
        args.data,
        target=args.target,
        feature_names=getattr(model, "feature_names_in_", None),
    )
    X = _features(model, data)
    unknown = np.setdiff1d(data.y, model.classes_)
    if unknown.size:
        raise DataError(
            f"{data.path}: labels {unknown.tolist()[:5]} are not classes of the "
            f"model ({model.classes_.tolist()})."
        )
    from skimb.report import Report

    report = Report(f"skimb evaluate: {Path(args.model).name} on {data.path.name}")
    predicted, proba = _predictions(model, X)
    summary = report.add_classification(
        f"{len(data.y)} rows of {data.path.name}",
        data.y,
        proba,
        classes=model.classes_,
        name="evaluation",
        y_pred=predicted,
        history=getattr(model, "history_", None),
        best_epoch=getattr(model, "best_epoch_", None),
    )
    for key, value in summary.items():
        print(
            f"{key:<18} {value:.4f}"
            if isinstance(value, float)
            else f"{key:<18} {value}"
        )
    from imblearn.metrics import classification_report_imbalanced

    print(
        classification_report_imbalanced(
            data.y, predicted, labels=model.classes_, zero_division=0
        )
    )
    if args.out:
        print(f"report: {report.write(args.out)}")
    return 0


# ------------------------------------------------------------------ predict


def predict(args) -> int:
    """Write predicted classes and probabilities of a data file, a folder of
    tables or a glob pattern of them, streamed chunk by chunk."""
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".npz"):
        raise DataError(
            f"{out}: write .csv, .parquet or .npz, not {suffix or 'no suffix'!r}."
        )
    if not out.parent.is_dir():
        raise DataError(f"{out}: the folder {str(out.parent)!r} does not exist.")
    files = data_files(args.data)
    model = _load_model(args.model)
    names = getattr(model, "feature_names_in_", None)
    if files[0].suffix.lower() in SEQUENCE_SUFFIXES:
        data = read_data(files[0], need_target=False, feature_names=names)
        chunks = iter([data])
    else:
        # Tables are read a chunk at a time, so that memory holds one chunk
        # of the data, not the files.
        chunks = (
            chunk
            for path in files
            for chunk in read_table_chunks(
                path, target=args.target, feature_names=names, rows=args.chunk_rows
            )
        )
    n_rows = 0
    with _prediction_writer(
        out, np.asarray(model.classes_), several=len(files) > 1
    ) as write:
        for data in chunks:
            X = _features(model, data)
            write(*_predictions(model, X), data.path)
            n_rows += len(X)
    print(f"{n_rows} predictions: {out}")
    return 0


@contextlib.contextmanager
def _prediction_writer(out: Path, classes: np.ndarray, *, several: bool):
    """A function that writes each chunk's predictions to ``out``: as they
    come to a temporary file (Parquet by row groups, CSV by lines), renamed
    to ``out`` at the end, removed on an error.  An ``.npz`` is written at
    the end (predictions are far smaller than the features).  With several
    input files, a ``source_file`` column says where each row came from."""
    import pandas as pd

    from skimb._atomic import atomic_path

    def frame(predicted, proba, path):
        table = pd.DataFrame(proba, columns=[f"proba_{c}" for c in classes])
        table.insert(0, "prediction", predicted)
        if several:
            table.insert(0, "source_file", str(path))
        return table

    suffix = out.suffix.lower()
    with atomic_path(out) as temporary:
        if suffix == ".npz":
            parts = []
            yield lambda predicted, proba, path: parts.append((predicted, proba, path))
            arrays = dict(
                prediction=np.concatenate([p for p, _, _ in parts]),
                proba=np.concatenate([q for _, q, _ in parts]),
                classes=classes,
            )
            if several:
                arrays["source_file"] = np.concatenate(
                    [np.full(len(p), str(path)) for p, _, path in parts]
                )
            with open(temporary, "xb") as file:
                np.savez(file, **arrays)
        elif suffix == ".csv":
            with open(temporary, "x", newline="", encoding="utf-8") as file:
                first = [True]

                def write_csv(predicted, proba, path):
                    frame(predicted, proba, path).to_csv(
                        file, index=False, header=first[0]
                    )
                    first[0] = False

                yield write_csv
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None

            def write_parquet(predicted, proba, path):
                nonlocal writer
                table = pa.Table.from_pandas(
                    frame(predicted, proba, path), preserve_index=False
                )
                if writer is None:
                    writer = pq.ParquetWriter(temporary, table.schema)
                writer.write_table(table)

            try:
                yield write_parquet
            finally:
                if writer is not None:
                    writer.close()
