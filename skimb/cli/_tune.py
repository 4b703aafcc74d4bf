"""``skimb tune``: a search on a data file, its summary and its report.

Ctrl-C keeps what was finished: a search saves the best of its finished
trials."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from skimb._files import (
    DataError,
    check_classes,
    check_folds,
    read_data,
)
from skimb.cli._common import check_out_folder, flat_baseline, predictions, slug

MODEL_FILE = "model.skimb"


def tune(args) -> int:
    """Search hyper-parameters on a data file; save the best model and report."""
    data = read_data(args.data, target=args.target, groups=args.groups)
    if args.storage is None and args.study_name is not None:
        raise DataError("--study-name needs --storage (a study in memory has no name).")
    out = Path(args.out or f"skimb-tune-{slug(Path(args.data).stem)}")
    # Checked before the search, not after it.
    check_out_folder(out, (MODEL_FILE, "report.html"))
    architecture = args.architecture or ("dense" if data.kind == "table" else "lstm")
    if architecture != "dense" and np.ndim(data.X) != 3:
        raise DataError(
            f"{data.path}: --architecture {architecture} needs sequences (an .npz "
            "with 3-D X); use dense for tables."
        )
    check_classes(data.y, data.path)
    if data.groups is None:
        check_folds(data.y, args.cv, data.path, networks=args.networks)
        X, y, groups, (X_test, y_test) = _hold_out(data, args)
        search_cv, networks_cv = (
            args.cv,
            (None if args.networks == 1 else args.networks),
        )
    else:
        X, y, groups, (X_test, y_test) = _hold_out_groups(data, args)
        search_cv, networks_cv = _group_folds(data, y, groups, args)
    # Opened after the checks of the data (a refused run writes no database
    # or journal file), before the search.
    storage = _storage(args.storage)

    import optuna

    from skimb import ImbalancedKerasClassifier, persistence
    from skimb.cli._progress import EpochProgress, StatusLine
    from skimb.tuning import OptunaSearchCV, OtherSearchError, default_search_space

    # Failed trials are shown in the table, with their error; Optuna's own
    # warnings would print each one's traceback on stderr.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # The bar counts trials, and the refit of the best one.
    status = StatusLine(total=args.trials + 1)
    progress = EpochProgress(status, n_folds=args.cv)
    estimator = ImbalancedKerasClassifier(
        architecture,
        epochs=args.epochs,
        # --networks 1 is one network (cv=None); N >= 2 cross-fits N; with
        # --groups, group-wise folds.
        cv=networks_cv,
        random_state=args.seed,
        callbacks=[progress],
    )
    space = default_search_space(estimator)
    study_name = args.study_name or "skimb-tune"
    search = OptunaSearchCV(
        estimator,
        space,
        n_trials=args.trials,
        timeout=args.timeout,
        cv=search_cv,
        storage=storage,
        study_name=study_name,
        random_state=args.seed,
    )
    watcher = _TrialWatcher(storage, study_name, args.trials, status, progress)
    progress.on_fit = watcher.update
    try:
        search.fit(X, y, groups=groups)
    except OtherSearchError as error:
        raise OtherSearchError(
            f"{error}  On the command line: the same data file, --cv, --seed, "
            "--groups, --networks and training options, or another --study-name."
        ) from None
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
        search.fit(X, y, groups=groups)
        interrupted = True
    else:
        interrupted = False
    status.clear()

    best = search.best_estimator_
    # The progress display only served training; the saved model needs none.
    best.set_params(callbacks=None)
    out.mkdir(parents=True, exist_ok=True)
    # A former run's report would sit beside this run's model if writing
    # this one's failed: it goes first.
    (out / "report.html").unlink(missing_ok=True)
    model_path = persistence.save(best, out / MODEL_FILE)
    _print_search(search)
    test_score = None if X_test is None else best.score(X_test, y_test)
    _print_summary(
        search,
        test_score,
        n_test=0 if y_test is None else len(y_test),
        grouped_by=args.groups,
    )
    page = _tune_report(search, best, (X, y, groups), (X_test, y_test), args, out)
    print(f"model: {model_path}")
    print(f"report: {page}")
    return 130 if interrupted else 0


def _hold_out(data, args) -> tuple:
    """The rows searched on, their (no) groups, and the stratified
    ``--test-size`` share held out for the report (None where it is 0)."""
    from sklearn.model_selection import train_test_split

    if args.test_size == 0:
        return data.X, data.y, None, (None, None)
    X, X_test, y, y_test = train_test_split(
        data.X,
        data.y,
        test_size=args.test_size,
        stratify=data.y,
        random_state=args.seed,
    )
    check_folds(y, args.cv, data.path, networks=args.networks, held_out=args.test_size)
    return X, y, None, (X_test, y_test)


def _hold_out_groups(data, args) -> tuple:
    """As :func:`_hold_out`, whole groups held out."""
    from sklearn.utils import _safe_indexing

    from skimb.cli._groups import hold_out

    if args.test_size == 0:
        return data.X, data.y, data.groups, (None, None)
    train, test = hold_out(
        data.y, data.groups, test_size=args.test_size, seed=args.seed
    )
    return (
        _safe_indexing(data.X, train),
        data.y[train],
        data.groups[train],
        (_safe_indexing(data.X, test), data.y[test]),
    )


def _group_folds(data, y, groups, args) -> tuple:
    """The search's folds and the estimator's ``cv`` by group, checked on
    the rows ``y``, ``groups`` left after the hold-out."""
    from skimb import ImbalancedKerasClassifier
    from skimb.cli._groups import check_splits, network_folds, search_folds

    search = search_folds(args.cv, seed=args.seed)
    networks, fell_back = network_folds(
        args.networks,
        y,
        groups,
        search=search,
        validation_fraction=ImbalancedKerasClassifier().validation_fraction,
        seed=args.seed,
    )
    check_splits(
        y,
        groups,
        search=search,
        networks=networks,
        path=data.path,
        name=args.groups,
        held_out=args.test_size > 0,
        fell_back=fell_back,
        file_groups=lambda label: len(np.unique(data.groups[data.y == label])),
    )
    return search, networks


def _storage(address):
    """The study's storage, opened (a database connected) before any work,
    so that a wrong address is one line naming it.  Always an object, so
    that the trials that finished before a Ctrl-C can still be read and the
    best one refitted."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from skimb.tuning import storage_from
    from skimb.tuning._study import storage_error

    if address is None:
        return optuna.storages.InMemoryStorage()
    try:
        storage = storage_from(address)
        if isinstance(storage, str):  # a database URL
            storage = optuna.storages.RDBStorage(storage)
    except (SQLAlchemyError, ImportError) as error:
        # (A missing database driver is an ImportError.)
        raise DataError(str(storage_error(address, error, name="--storage"))) from None
    return storage


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

        try:
            study = optuna.load_study(study_name=self.study_name, storage=self.storage)
        except KeyError:  # Ctrl-C came before the search created its study
            return []
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
        self.status.done = len(self.seen)
        if running is None:
            self.progress.reset(refitting=True)
            self.status.context = "best trial"
        else:
            self.status.context = f"trial {running + 1}/{self.n_trials}"


def _print_search(search) -> None:
    """The ten best trials, completed ones first: a pruned or failed trial
    shows the running score it last reached, in brackets."""
    results = search.cv_results_
    order = np.argsort(results["rank_test_score"], kind="stable")
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


def _print_summary(
    search, test_score: float | None, *, n_test: int, grouped_by: str | None
) -> None:
    from skimb.tuning._results import start_index

    results = search.cv_results_
    best = int(results["number"][search.best_index_]) + 1
    by = "" if grouped_by is None else f" by {grouped_by!r}"
    print(
        f"best: trial {best}, cross-validated macro-F1 {search.best_score_:.3f} "
        f"over {search.n_splits_} folds{by}"
    )
    if search.top_index_ != search.best_index_:
        top = int(results["number"][search.top_index_]) + 1
        print(
            f"kept the default: trial {top}'s higher score "
            f"({results['mean_test_score'][search.top_index_]:.3f}) is within the "
            "folds' noise of it (min_gain)"
        )
    if np.isnan(search.default_score_):
        print("the default: not scored (its trial did not complete)")
    else:
        trial = results["number"][start_index(results)] + 1
        score = search.default_score_
        print(f"the default (trial {trial}): {score:.3f} on the same folds")
    if test_score is not None:
        print(
            f"held-out test macro-F1 of the refitted best model: {test_score:.3f} "
            f"({n_test} rows{'' if grouped_by is None else ', whole groups'})"
        )


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _peer_scores(search, X, y, groups) -> np.ndarray:
    """``LogisticRegression(class_weight="balanced")`` on standardised,
    flattened rows, scored on the search's own folds."""
    from sklearn.model_selection import cross_val_score

    flat = np.nan_to_num(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    return cross_val_score(
        flat_baseline(),
        flat,
        y,
        groups=groups,
        cv=search.cv_splitter_,
        scoring="f1_macro",
    )


def _tune_report(search, best, train, test, args, out: Path) -> Path:
    from skimb.report import Report, plot_optimization_history
    from skimb.tuning._results import start_index

    X_test, y_test = test
    report = Report(f"skimb tune: {Path(args.data).name}")
    results = search.cv_results_
    folds = (
        "stratified folds"
        if args.groups is None
        else (f"stratified folds that keep each {args.groups!r} group whole")
    )
    report.add_text(
        f"{len(results['number'])} trials of an Optuna search, each scored by "
        f"mean macro-F1 over {search.n_splits_} {folds}; "
        f"best {search.best_score_:.3f} "
        f"(trial {results['number'][search.best_index_] + 1})."
    )
    tuned = results["mean_test_score"][search.best_index_]
    tuned_sd = results["std_test_score"][search.best_index_]
    default = start_index(results)
    peer = _peer_scores(search, *train)
    rows = [{"model": "tuned (best trial)", "macro-F1": tuned, "sd": tuned_sd}]
    if default is not None:
        rows.append(
            {
                "model": f"the default (trial {results['number'][default] + 1})",
                "macro-F1": results["mean_test_score"][default],
                "sd": results["std_test_score"][default],
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
    order = np.argsort(results["rank_test_score"], kind="stable")
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
        # The chosen trial (min_gain may keep the default over the top one).
        highlight=int(np.flatnonzero(order == search.best_index_)[0]),
    )
    report.add_figure(
        "Mean cross-validated macro-F1 of each trial",
        plot_optimization_history(search.study_),
        "optimization_history",
    )
    if X_test is not None:
        predicted, proba = predictions(best, X_test)
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
