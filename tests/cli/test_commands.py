"""The skimb command: tune, evaluate, predict, progress, Ctrl-C and bad input."""

import io
import json
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from skimb import persistence
from skimb.cli import main
from skimb.persistence._archive import seal

# Tiny searches: the point is the workflow, not the score.
TUNE = ["--trials", "2", "--cv", "2", "--epochs", "2", "--seed", "0"]


@pytest.fixture(scope="module")
def table_file(tabular, tmp_path_factory):
    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = np.array(["a", "b", "c", "d"])[y]
    path = tmp_path_factory.mktemp("data") / "table.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def dense_model(fitted_dense, tmp_path_factory):
    return persistence.save(
        fitted_dense, tmp_path_factory.mktemp("models") / "dense.skimb"
    )


@pytest.fixture(scope="module")
def numeric_table(tabular, tmp_path_factory):
    """The fixture table with the integer labels the dense model knows."""
    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame.insert(2, "label", y)
    path = tmp_path_factory.mktemp("data") / "numeric.parquet"
    frame.to_parquet(path)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(capsys, *argv) -> str:
    code, _, err = _run(capsys, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------- evaluate, predict


def test_evaluate_prints_scores_and_writes_a_report(
    capsys, dense_model, numeric_table, fitted_dense, tabular, tmp_path
):
    code, out, err = _run(
        capsys,
        "evaluate",
        dense_model,
        numeric_table,
        "--target",
        "label",
        "--out",
        tmp_path / "report",
    )
    assert code == 0
    # Not a terminal: no progress on stderr.
    assert err == ""
    expected = fitted_dense.score(*tabular)
    assert f"macro-F1           {expected:.4f}" in out
    assert (tmp_path / "report" / "report.html").is_file()
    assert (tmp_path / "report" / "evaluation_confusion_matrix.png").is_file()


def test_predict_writes_classes_and_probabilities(
    capsys, dense_model, numeric_table, fitted_dense, tabular, tmp_path
):
    out_file = tmp_path / "predictions.csv"
    code, out, _ = _run(
        capsys,
        "predict",
        dense_model,
        numeric_table,
        "--target",
        "label",
        "--out",
        out_file,
    )
    assert code == 0 and "340 predictions" in out
    written = pd.read_csv(out_file)
    X, _ = tabular
    np.testing.assert_array_equal(written["prediction"], fitted_dense.predict(X))
    proba = written[[f"proba_{c}" for c in fitted_dense.classes_]].to_numpy()
    np.testing.assert_allclose(proba, fitted_dense.predict_proba(X), rtol=1e-12)


def test_a_file_name_with_pattern_characters_is_that_file(
    capsys, dense_model, numeric_table, tmp_path
):
    # "run[1].parquet" is a glob pattern that matches "run1.parquet": the
    # file of that very name is read, not the other one.
    named = tmp_path / "run[1].parquet"
    named.write_bytes(numeric_table.read_bytes())
    pd.read_parquet(numeric_table).head(3).to_parquet(tmp_path / "run1.parquet")
    code, out, err = _run(
        capsys, "predict", dense_model, named, "--target", "label",
        "--out", tmp_path / "predictions.csv",
    )  # fmt: skip
    assert code == 0, err
    assert "340 predictions" in out


def test_predict_to_parquet_without_pyarrow_names_the_extra(
    capsys, dense_model, numeric_table, tmp_path, monkeypatch
):
    # pyarrow is the optional "parquet" extra; without it the writer's
    # import gave a traceback, after the predictions were made.
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "pyarrow" else find_spec(name, *args),
    )
    line = _error_line(
        capsys, "predict", dense_model, numeric_table, "--out", tmp_path / "p.parquet"
    )
    assert "writing .parquet needs pyarrow (pip install 'skimb[parquet]')" in line
    assert list(tmp_path.iterdir()) == []


def test_labels_that_pandas_reads_as_missing_are_class_names(
    capsys, dense_model, tabular, tmp_path
):
    from skimb._files import read_data

    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = np.array(["NA", "None", "null", "EU"])[y]
    frame.to_csv(tmp_path / "regions.csv", index=False)
    data = read_data(tmp_path / "regions.csv", target="label")
    assert sorted(np.unique(data.y)) == ["EU", "NA", "None", "null"]
    # An empty cell is still a missing label.
    frame.loc[0, "label"] = ""
    frame.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(ValueError, match="'label' has 1 missing values"):
        read_data(tmp_path / "gap.csv", target="label")
    # predict ignores the label column, blank or not.
    frame["label"] = ""
    frame.to_csv(tmp_path / "unlabelled.csv", index=False)
    argv = ["predict", dense_model, tmp_path / "unlabelled.csv", "--target", "label"]
    code, out, _ = _run(capsys, *argv, "--out", tmp_path / "p.csv")
    assert code == 0 and f"{len(y)} predictions" in out


def test_predict_names_the_file_the_model_refuses_and_never_overwrites_it(
    capsys, dense_model, tmp_path
):
    np.savez(tmp_path / "sequences.npz", X=np.zeros((5, 4, 2)))
    line = _error_line(
        capsys,
        "predict",
        dense_model,
        tmp_path / "sequences.npz",
        "--out",
        tmp_path / "p.csv",
    )
    assert "sequences.npz: X has samples of shape (4, 2)" in line, line
    np.savez(tmp_path / "rows.npz", X=np.zeros((5, 6)))
    before = (tmp_path / "rows.npz").read_bytes()
    line = _error_line(
        capsys,
        "predict",
        dense_model,
        tmp_path / "rows.npz",
        "--out",
        tmp_path / "rows.npz",
    )
    assert "is one of the data files" in line, line
    assert (tmp_path / "rows.npz").read_bytes() == before


def test_evaluate_prints_no_warning_for_a_class_absent_from_the_file(
    capsys, dense_model, numeric_table, tmp_path
):
    frame = pd.read_parquet(numeric_table)
    frame[frame["label"] == 0].to_parquet(tmp_path / "one_class.parquet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = _run(
            capsys,
            "evaluate",
            dense_model,
            tmp_path / "one_class.parquet",
            "--target",
            "label",
        )
    assert code == 0
    assert err == "", err
    assert [str(w.message) for w in caught] == []


def test_predict_runs_the_network_once_per_chunk(
    capsys, dense_model, numeric_table, monkeypatch, tmp_path
):
    from skimb import ImbalancedKerasClassifier

    passes = []
    forward = ImbalancedKerasClassifier._log_proba

    def counted(self, X):
        passes.append(len(X))
        return forward(self, X)

    monkeypatch.setattr(ImbalancedKerasClassifier, "_log_proba", counted)
    code, *_ = _run(
        capsys,
        "predict",
        dense_model,
        numeric_table,
        "--target",
        "label",
        "--chunk-rows",
        "200",
        "--out",
        tmp_path / "predictions.parquet",
    )
    # Two chunks (200 and 140 rows), each through the network once: the
    # classes come from the same log-probabilities as the probabilities.
    assert code == 0 and passes == [200, 140]


@pytest.fixture
def shards(numeric_table, tmp_path):
    """The numeric table split into three Parquet files of a folder."""
    frame = pd.read_parquet(numeric_table)
    folder = tmp_path / "shards"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), [100, 250])):
        frame.iloc[rows].to_parquet(folder / f"part-{i}.parquet")
    return folder


@pytest.mark.parametrize("written", ["parquet", "csv", "npz"])
def test_predict_streams_a_folder_or_pattern_of_tables(
    capsys, dense_model, fitted_dense, tabular, shards, tmp_path, written
):
    X, _ = tabular
    out_file = tmp_path / f"predictions.{written}"
    for data in (shards, shards / "part-*.parquet"):
        # 60 rows at a time: several chunks in each file.
        code, out, err = _run(
            capsys, "predict", dense_model, data, "--out", out_file,
            "--target", "label", "--chunk-rows", "60",
        )  # fmt: skip
        assert code == 0, err
        assert "340 predictions" in out
        if written == "npz":
            with np.load(out_file) as result:
                predicted, proba = result["prediction"], result["proba"]
                files = result["source_file"]
        else:
            table = (pd.read_csv if written == "csv" else pd.read_parquet)(out_file)
            predicted = table["prediction"].to_numpy()
            proba = table[[f"proba_{c}" for c in fitted_dense.classes_]].to_numpy()
            files = table["source_file"].to_numpy()
        np.testing.assert_array_equal(predicted, fitted_dense.predict(X))
        np.testing.assert_allclose(proba, fitted_dense.predict_proba(X), rtol=1e-6)
        names = [str(shards / f"part-{i}.parquet") for i in range(3)]
        assert files.tolist() == [names[0]] * 100 + [names[1]] * 150 + [names[2]] * 90
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        out_file.name,
        "shards",
    ]


def test_predict_leaves_nothing_half_written(capsys, dense_model, shards, tmp_path):
    broken = pd.read_parquet(shards / "part-2.parquet").drop(columns=["f3"])
    broken.to_parquet(shards / "part-2.parquet")
    out_file = tmp_path / "predictions.parquet"
    code, _, err = _run(
        capsys, "predict", dense_model, shards, "--out", out_file,
        "--target", "label", "--chunk-rows", "60",
    )  # fmt: skip
    assert code != 0
    assert "part-2.parquet: the table has 5 feature columns" in err
    # The first two files' predictions were written, then dropped whole.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]
    code, _, err = _run(
        capsys, "predict", dense_model, tmp_path / "none-*.parquet", "--out", out_file
    )
    assert code != 0 and "no file matches" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "predict", dense_model, empty, "--out", out_file)
    assert code != 0 and "holds no .csv, .parquet or .pq files" in err


def test_predict_sequences_from_npz_without_labels(
    capsys, fitted_lstm, sequences, tmp_path
):
    X, _ = sequences
    model = persistence.save(fitted_lstm, tmp_path / "lstm.skimb")
    np.savez(tmp_path / "new.npz", X=X[:25])
    code, _, _ = _run(
        capsys, "predict", model, tmp_path / "new.npz", "--out", tmp_path / "p.npz"
    )
    assert code == 0
    with np.load(tmp_path / "p.npz") as result:
        np.testing.assert_array_equal(result["prediction"], fitted_lstm.predict(X[:25]))
        np.testing.assert_array_equal(result["classes"], fitted_lstm.classes_)


# ------------------------------------------------------------------- tune


def test_tune_saves_a_loadable_model_and_a_report_quietly_when_piped(
    capsys, table_file, tmp_path
):
    out_dir = tmp_path / "tuned"
    argv = ["tune", table_file, "--target", "label", *TUNE, "--out", out_dir]
    argv[argv.index("--trials") + 1] = "1"
    argv += ["--networks", "1"]  # one network per fit (cv=None)
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    # stderr is not a terminal here: no progress, no Optuna log lines.
    for progress in ("\r", "trial 1", "fold", "epoch", "[I "):
        assert progress not in err
    assert "complete" in out
    # The search against the default, on the same folds, and on held-out rows.
    assert "best: trial 1, cross-validated macro-F1" in out
    assert "the default (trial 1): " in out
    assert "held-out test macro-F1 of the refitted best model" in out
    assert sorted(p.name for p in out_dir.iterdir() if p.suffix != ".png") == [
        "model.skimb",
        "report.html",
    ]
    report = (out_dir / "report.html").read_text()
    assert "Did the search pay?" in report and "LogisticRegression" in report
    for figure in ("optimization_history", "best_confusion_matrix", "best_history"):
        assert f'data-file="{figure}.png"' in report
        assert (out_dir / f"{figure}.png").is_file()
    model = persistence.load(out_dir / "model.skimb")
    assert model.callbacks is None
    assert model.cv is None and model.n_networks_ == 1
    assert model.feature_names_in_.tolist() == [f"f{i}" for i in range(6)]
    assert model.classes_.tolist() == ["a", "b", "c", "d"]
    # The saved model works with the other commands on the same file.
    code, out, _ = _run(
        capsys, "evaluate", out_dir / "model.skimb", table_file, "--target", "label"
    )
    assert code == 0 and "balanced accuracy" in out


def test_a_report_that_fails_leaves_no_former_report_beside_the_model(
    capsys, table_file, tmp_path, monkeypatch
):
    # The model was saved first: a report that then failed left this run's
    # model beside the former run's report.
    import skimb.cli._tune

    out_dir = tmp_path / "tuned"
    out_dir.mkdir()
    (out_dir / "report.html").write_text("a former run's report")

    def failing(*args, **kwargs):
        raise ValueError("the report failed")

    monkeypatch.setattr(skimb.cli._tune, "_tune_report", failing)
    argv = ["tune", table_file, "--target", "label", *TUNE, "--out", out_dir]
    argv[argv.index("--trials") + 1] = "1"
    code, _, err = _run(capsys, *argv, "--networks", "1")
    assert code == 1 and "the report failed" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["model.skimb"]


def test_tune_workers_share_a_journal_file(capsys, table_file, tmp_path):
    """The recipe for several machines: every worker runs skimb tune with the
    same --storage (here a journal file, as on a shared disk) and
    --study-name; --trials counts the study's trials, so a later run with a
    larger --trials adds to the same study."""
    import optuna

    from skimb.tuning import storage_from

    journal = tmp_path / "search.journal"
    argv = ["tune", table_file, "--target", "label", *TUNE, "--networks", "1"]
    argv += ["--storage", journal, "--study-name", "shared"]
    for trials in (1, 2):
        argv[argv.index("--trials") + 1] = str(trials)
        code, out, err = _run(capsys, *argv, "--out", tmp_path / f"run{trials}")
        assert code == 0, err
        study = optuna.load_study(
            study_name="shared", storage=storage_from(str(journal))
        )
        # Every trial once, finished.  The second run's draw depends on its
        # process (a worker seeds its sampler apart from the others), and on
        # this small table it may fail (SMOTE on a rare class) or be skipped
        # (a strategy that corrects twice), which is recorded as such.
        assert [t.number for t in study.trials] == list(range(trials))
        assert study.trials[0].state.name == "COMPLETE"
        assert all(t.state.is_finished() for t in study.trials)
    missing = tmp_path / "nowhere" / "search.journal"
    code, _, err = _run(capsys, *argv[:-4], "--storage", missing, "--out", tmp_path)
    assert code != 0 and "does not exist" in err and "nowhere" in err
    # A worker (or a later run) training otherwise would pair the study's
    # best trial with a fit it never scored: refused, in the command's terms.
    argv[argv.index("--epochs") + 1] = "3"
    line = _error_line(capsys, *argv, "--out", tmp_path / "run3")
    assert "another estimator" in line and "['epochs']" in line
    assert "--study-name" in line


@pytest.fixture(scope="module")
def recordings(sequences, tmp_path_factory):
    """The fixture sequences cut into recordings of one class each: a table
    with a 'recording' column (recordings of 3 to 19 rows; the rarest class
    in 6 of them), and an .npz file with a 'recording' array (recordings of
    4 rows)."""
    X, y = sequences
    recording = np.empty(len(y), dtype=object)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        parts = np.array_split(rows, max(6, len(rows) // 17))
        for j, part in enumerate(parts):
            recording[part] = f"r{label}-{j}"
    frame = pd.DataFrame(X[:, -1], columns=["f0", "f1", "f2"])
    frame["label"] = y
    frame["recording"] = recording
    folder = tmp_path_factory.mktemp("recordings")
    frame.to_csv(folder / "table.csv", index=False)
    fours = np.empty(len(y), dtype=object)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        fours[rows] = [f"r{label}-{j // 4}" for j in range(len(rows))]
    np.savez(folder / "sequences.npz", X=X, y=y, recording=fours.astype(str))
    return folder


def test_tune_by_group_keeps_every_group_whole(
    capsys, recordings, tmp_path, monkeypatch
):
    from sklearn.model_selection import StratifiedGroupKFold

    import skimb._splits
    import skimb.cli._groups  # (its own splitter_splits, not the spy below)
    from skimb.tuning import OptunaSearchCV

    searched = {}
    fit = OptunaSearchCV.fit

    def spy(self, X, y, **kwargs):
        searched.update(X=X, y=y, groups=kwargs.get("groups"))
        fit(self, X, y, **kwargs)
        searched["search"] = self
        return self

    fits = []
    splitter_splits = skimb._splits.splitter_splits

    def spy_networks(cv, y_encoded, *, classes, groups, X=None):
        splits = splitter_splits(cv, y_encoded, classes=classes, groups=groups, X=X)
        fits.append((groups, splits))
        return splits

    monkeypatch.setattr(OptunaSearchCV, "fit", spy)
    monkeypatch.setattr(skimb._splits, "splitter_splits", spy_networks)
    frame = pd.read_csv(recordings / "table.csv")
    argv = ["tune", recordings / "table.csv", "--target", "label", *TUNE]
    argv[argv.index("--trials") + 1] = "1"
    code, out, err = _run(
        capsys, *argv, "--groups", "recording", "--out", tmp_path / "run"
    )
    assert code == 0, err
    assert "cross-validated macro-F1" in out and "over 2 folds by 'recording'" in out
    assert "rows, whole groups)" in out
    # The held-out rows are whole recordings: the searched rows are every
    # row of the recordings they hold, and only those.
    groups = searched["groups"]
    assert len(groups) == frame["recording"].isin(set(groups)).sum()
    assert 0 < len(groups) < len(frame)
    search = searched["search"]
    assert isinstance(search.cv_splitter_, StratifiedGroupKFold)
    # Every fit, of the trial's two folds and the refit, had the groups of
    # its rows, and no network validated on a recording it trained on.
    assert len(fits) == 3
    assert len(fits[-1][0]) == len(groups)
    for fit_groups, splits in fits:
        assert set(fit_groups) <= set(groups)
        for train, held_out in splits:
            assert not set(fit_groups[train]) & set(fit_groups[held_out])
    model = persistence.load(tmp_path / "run" / "model.skimb")
    assert isinstance(model.cv, StratifiedGroupKFold)
    assert 2 <= model.n_networks_ == model.cv.n_splits <= 5
    assert model.feature_names_in_.tolist() == ["f0", "f1", "f2"]
    report = (tmp_path / "run" / "report.html").read_text()
    assert "stratified folds that keep each &#x27;recording&#x27; group whole" in report

    # Sequences: the groups are an array of the .npz file.
    argv[1] = recordings / "sequences.npz"
    argv.remove("--target")
    argv.remove("label")
    code, out, err = _run(
        capsys,
        *argv,
        "--groups",
        "recording",
        "--networks",
        "2",
        "--out",
        tmp_path / "seq",
    )
    assert code == 0, err
    model = persistence.load(tmp_path / "seq" / "model.skimb")
    assert isinstance(model.cv, StratifiedGroupKFold) and model.n_networks_ == 2
    assert len(fits) == 6 and all(len(splits) == 2 for _, splits in fits[3:])


def _passes(y, groups, search, networks) -> bool:
    from skimb._files import DataError
    from skimb.cli._groups import check_splits

    try:
        check_splits(
            y,
            groups,
            search=search,
            networks=networks,
            path="data.csv",
            name="recording",
            held_out=False,
        )
    except DataError as error:
        assert "grouped by 'recording'" in str(error)
        return False
    return True


def test_auto_networks_by_group_are_the_most_whose_folds_pass():
    """--networks auto with --groups: up to the 5 networks cv="auto" gives,
    the most whose group-wise folds pass every check in every search fold
    and on all the rows, else one network."""
    from sklearn.model_selection import StratifiedGroupKFold

    from skimb.cli._groups import network_folds, search_folds
    from skimb.model_selection import StratifiedGroupShuffleSplit

    chosen_counts = set()
    for seed in range(12):
        # 2 classes of 3 to 6 recordings of 8 to 12 rows each: a search
        # fold trains on as few as 3 recordings, too few for 5 networks.
        rng = np.random.default_rng(seed)
        labels = np.repeat([0, 1], rng.integers(3, 7, size=2))
        sizes = rng.integers(8, 13, size=len(labels))
        y = np.repeat(labels, sizes)
        groups = np.repeat(np.arange(len(labels)), sizes)
        search = search_folds(2, seed=seed)
        options = dict(search=search, validation_fraction=0.1, seed=seed)
        chosen, fell_back = network_folds("auto", y, groups, **options)
        passing = [
            k
            for k in range(2, 6)
            if _passes(y, groups, search, network_folds(k, y, groups, **options)[0])
        ]
        if passing:
            assert isinstance(chosen, StratifiedGroupKFold) and not fell_back
            assert chosen.n_splits == max(passing), (seed, passing)
            chosen_counts.add(chosen.n_splits)
        else:
            assert isinstance(chosen, StratifiedGroupShuffleSplit) and fell_back
            chosen_counts.add(1)
    # The seeds cover 5 networks, fewer, and the fallback to one network.
    assert chosen_counts == {1, 4, 5}


@pytest.mark.parametrize("n_groups", [1, 2])
def test_a_class_in_too_few_groups_is_told_to_get_more(n_groups):
    # Lowering --cv or --networks cannot mend a class in fewer than 3
    # groups: the line advised it, and the user got a second error.
    from pathlib import Path

    from skimb._files import DataError
    from skimb.cli._groups import check_splits, network_folds, search_folds

    y = np.array(["a"] * 40 + ["b"] * 40 + ["c"] * 4)
    groups = np.array([f"g{i}" for i in np.repeat(np.arange(20), 4)] + ["solo"] * 4)
    groups[-2:] = "solo" if n_groups == 1 else "other"
    search = search_folds(3, seed=0)
    for asked in ("auto", 1):
        networks, fell_back = network_folds(
            asked, y, groups, search=search, validation_fraction=0.1, seed=0
        )
        with pytest.raises(DataError) as error:
            check_splits(
                y,
                groups,
                search=search,
                networks=networks,
                path=Path("data.csv"),
                name="recording",
                held_out=False,
                fell_back=fell_back,
            )
        message = str(error.value)
        group_word = "group" if n_groups == 1 else "groups"
        assert f"class 'c' is in {n_groups} {group_word}; 3 or more" in message
        assert message.endswith("; give more groups.")


def test_a_search_fold_without_a_class_in_two_groups_is_not_told_to_lower_cv():
    # The search's folds lack class 'c', in 2 of 9 groups: the line advised
    # lowering --cv, and --cv 2 then failed on the networks' split.
    from pathlib import Path

    from skimb._files import DataError
    from skimb.cli._groups import check_splits, search_folds
    from skimb.model_selection import StratifiedGroupShuffleSplit

    rng = np.random.RandomState(142)
    n_groups = rng.randint(4, 10)
    groups = rng.randint(n_groups, size=rng.randint(40, 120))
    y = np.where(rng.rand(len(groups)) < 0.6, "a", "b")
    rows = np.flatnonzero(np.isin(groups, rng.choice(n_groups, 2, replace=False)))
    y[rows[rng.rand(len(rows)) < 0.3]] = "c"
    assert len(np.unique(groups[y == "c"])) == 2
    with pytest.raises(DataError) as error:
        check_splits(
            y,
            groups,
            search=search_folds(3, seed=142),
            networks=StratifiedGroupShuffleSplit(test_size=0.2, random_state=142),
            path=Path("d.csv"),
            name="g",
            held_out=False,
        )
    message = str(error.value)
    assert "trains on no row of class 'c' (its rows are in 2 groups; 3 or" in message
    assert message.endswith("; give more groups."), message


def test_group_split_lines_name_the_part_and_keep_the_labels_whole():
    from skimb._files import DataError
    from skimb.cli._groups import (
        _first_clause,
        check_splits,
        network_folds,
        search_folds,
    )

    # Two recordings of each class, one of 60 rows: the one network auto
    # falls back to holds out a tenth of each class, and the search's
    # folds train on one recording of each.
    y = np.repeat(["Dr. No", "b"], [70, 20])
    groups = np.repeat([0, 1, 2, 3], [60, 10, 10, 10])
    search = search_folds(2, seed=0)
    networks, fell_back = network_folds(
        "auto", y, groups, search=search, validation_fraction=0.1, seed=0
    )
    assert fell_back and networks.get_n_splits() == 1
    with pytest.raises(DataError) as error:
        check_splits(
            y,
            groups,
            search=search,
            networks=networks,
            path="data.csv",
            name="recording",
            held_out=False,
            fell_back=fell_back,
        )
    line = str(error.value)
    assert line.startswith("data.csv: grouped by 'recording', search fold ")
    assert "(--networks auto fell back to one network: no number of " in line
    # (2 folds: the fewest --cv takes.)
    assert line.endswith("passes either); give more groups.")
    # The estimator's message up to its advice, a label's '. ' kept.
    message = (
        "the networks' split leaves no sample of class 'Dr. No' in the "
        "training rows of its split 2; every network must train on every class."
    )
    assert _first_clause(message, np.unique(y)) == message.split(";")[0]
    message = "no sample of class -1 in split 10 of n=101; every network."
    assert _first_clause(message, np.array([-1, 0, 1])) == message.split(";")[0]


def test_tune_by_group_refuses_groups_the_folds_cannot_keep_whole(
    capsys, recordings, tmp_path, monkeypatch
):
    from skimb.tuning import OptunaSearchCV

    def fit(*args, **kwargs):
        raise AssertionError("searched before checking")

    monkeypatch.setattr(OptunaSearchCV, "fit", fit)
    frame = pd.read_csv(recordings / "table.csv")
    rare = frame["label"].value_counts().idxmin()
    one = frame.assign(
        recording=np.where(frame["label"] == rare, "one", frame["recording"])
    )
    one.to_csv(tmp_path / "one.csv", index=False)
    gap = frame.astype({"recording": object})
    gap.loc[5, "recording"] = np.nan
    gap.to_csv(tmp_path / "gap.csv", index=False)
    frame.assign(label=7).to_csv(tmp_path / "single.csv", index=False)
    table = recordings / "table.csv"
    cases = {
        "the labels hold a single class (7)": (
            tmp_path / "single.csv",
            "recording",
            [],
        ),
        "no column 'patient' for the groups": (table, "patient", []),
        "'label' names both the labels and the groups": (table, "label", []),
        "the groups 'recording' have 1 missing value;": (
            tmp_path / "gap.csv",
            "recording",
            [],
        ),
        # With a class in one recording, the search fold that holds it out
        # trains on none of the class.
        f"trains on no row of class {rare}": (
            tmp_path / "one.csv",
            "recording",
            ["--test-size", "0"],
        ),
        "search fold 1, the 30 networks need as many groups; its rows have": (
            table,
            "recording",
            ["--networks", "30"],
        ),
        "the search's 40 folds need as many groups; the rows have 29": (
            table,
            "recording",
            ["--cv", "40", "--test-size", "0"],
        ),
        "sequences.npz: no array named 'patient' for the groups": (
            recordings / "sequences.npz",
            "patient",
            [],
        ),
    }
    for expected, (path, groups, options) in cases.items():
        argv = ["tune", path, *TUNE, "--groups", groups, *options]
        if path.suffix == ".csv":
            argv += ["--target", "label"]
        line = _error_line(capsys, *argv, "--out", tmp_path / "never")
        assert line.startswith("skimb tune: error: ")
        assert expected in line, line
    # Two lines whole: what is wrong, then the command's advice.
    argv = ["tune", table, "--target", "label", *TUNE, "--groups", "recording"]
    line = _error_line(capsys, *argv, "--networks", "30", "--out", tmp_path / "never")
    assert line == (
        f"skimb tune: error: {table}: grouped by 'recording', search fold 1, the "
        "30 networks need as many groups; its rows have 11; lower --networks or "
        "--test-size, or give more groups."
    )
    line = _error_line(
        capsys, *argv, "--test-size", "0", "--cv", "40", "--out", tmp_path / "never"
    )
    assert line == (
        f"skimb tune: error: {table}: grouped by 'recording', the search's 40 "
        "folds need as many groups; the rows have 29; lower --cv, or give more "
        "groups."
    )
    # A class in one recording: no other option mends it (the hold-out
    # took none of its rows, with or without --test-size).
    argv[1] = tmp_path / "one.csv"
    for test_size in ("0", "0.2"):
        line = _error_line(
            capsys, *argv, "--test-size", test_size, "--out", tmp_path / "never"
        )
        assert line.endswith(
            f"trains on no row of class {rare} (its rows are in 1 group; 3 or "
            "more are needed: one for the search to hold out, one for the "
            "networks, one to train on); give more groups."
        )
    assert not (tmp_path / "never").exists()


def test_tune_shows_progress_and_ctrl_c_keeps_the_finished_trials(
    capsys, table_file, tmp_path, monkeypatch
):
    from skimb.cli import _progress

    # Pretend stderr is a terminal, to see the progress display.
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    original = _progress.EpochProgress.on_train_begin
    fits = []

    def interrupt_second_trial(self, logs=None):
        original(self, logs)
        # A fit trains its 5 cross-fitted networks (the rarest class has 20
        # rows) together: one training.
        fits.append(1)
        if len(fits) == 3:  # trial 2, fold 1 (two folds per trial)
            raise KeyboardInterrupt

    monkeypatch.setattr(
        _progress.EpochProgress, "on_train_begin", interrupt_second_trial
    )
    out_dir = tmp_path / "interrupted"
    code, out, err = _run(
        capsys, "tune", table_file, "--target", "label", *TUNE, "--out", out_dir
    )
    assert code == 130
    shown_parts = ("trial 1/2", "fold 1/2", "fold 2/2", "5 networks", "epoch 2/2")
    for shown in (*shown_parts, "refit"):
        assert shown in err
    assert "trial 1: complete macro-F1" in err
    assert "refitting the best of 1 finished trials" in err
    assert "complete" in out and "fail" in out
    model = persistence.load(out_dir / "model.skimb")
    assert model.cv == "auto" and model.n_networks_ == 5
    frame = pd.read_csv(table_file)
    assert model.predict(frame.drop(columns="label")).shape == (340,)
    assert (out_dir / "report.html").is_file()


# -------------------------------------------------------------- bad input


def test_demo_reports_data_on_which_no_network_finished(tmp_path):
    # Ctrl-C after a data set's logistic regression and before its first
    # network: the report shows what finished (it raised StopIteration,
    # looking for a network's training curves).
    from argparse import Namespace

    from skimb.cli._demo import _demo_report

    y = np.repeat([0, 1, 2], [20, 10, 5])
    proba = np.full((35, 3), 0.2) + 0.4 * np.eye(3)[y]
    finished = {
        "data": "tabular (dense)",
        "strategy": "logistic-regression",
        "f1": [0.9, 1.0],
        "bacc": [0.9, 1.0],
        "seconds": 0.1,
        "y": y,
        "proba": proba,
        "predicted": y,
        "classes": np.arange(3),
        "history": None,
    }
    page = _demo_report([finished], Namespace(quick=True, seed=0, out=tmp_path), 2)
    text = page.read_text()
    assert "logistic-regression (best)" in text
    assert "(baseline)" not in text


def test_bad_data_files_get_one_line_errors(capsys, table_file, tmp_path):
    frame = pd.read_csv(table_file)
    cases = {}
    cases["no column 'kind'"] = (table_file, "kind")
    text = frame.assign(f1=["x"] * len(frame))
    text.to_csv(tmp_path / "text.csv", index=False)
    cases["'f1' are not numeric"] = (tmp_path / "text.csv", "label")
    (tmp_path / "empty.csv").write_text("")
    cases["the file is empty"] = (tmp_path / "empty.csv", "label")
    (tmp_path / "header.csv").write_text("a,b,label\n")
    cases["has no rows"] = (tmp_path / "header.csv", "label")
    gaps = frame.astype({"f0": float})
    gaps.loc[3, "f0"] = np.nan
    gaps.to_csv(tmp_path / "gaps.csv", index=False)
    cases["'f0' have missing values"] = (tmp_path / "gaps.csv", "label")
    np.savez(tmp_path / "lengths.npz", X=np.zeros((10, 4, 2)), y=np.zeros(9))
    cases["X has 10 rows but the labels 'y' have 9"] = (tmp_path / "lengths.npz", None)
    np.savez(tmp_path / "noX.npz", data=np.zeros(3))
    cases["no array named 'X'"] = (tmp_path / "noX.npz", None)
    rare = frame.copy()
    rare.loc[rare.index[:3], "label"] = "z"
    rare.to_csv(tmp_path / "rare.csv", index=False)
    cases["class 'z' has 3 rows, too few for 2-fold"] = (tmp_path / "rare.csv", "label")
    # 20 rows of class 'a', 16 after the 20% test split: a 2-fold search
    # trains on 8, too few for 9 cross-fitted networks.
    cases[
        "'a' has 16 rows after the --test-size 0.2 hold-out, too few for 2-fold "
        "cross-validation with 9 networks"
    ] = (
        table_file,
        "label",
        ["--networks", "9"],
    )
    y = np.arange(10.0) % 2
    y[:3] = np.nan
    np.savez(tmp_path / "nan_labels.npz", X=np.zeros((10, 4, 2)), y=y)
    cases["nan_labels.npz: the labels 'y' have 3 missing values (NaN)"] = (
        tmp_path / "nan_labels.npz",
        None,
    )
    cases["unsupported file type '.txt'"] = (tmp_path / "data.txt", "label")
    cases["no such file"] = (tmp_path / "missing.csv", "label")
    for expected, (path, target, *options) in cases.items():
        argv = ["tune", path, *TUNE, "--out", tmp_path / "never"]
        if target:
            argv += ["--target", target]
        if options:
            argv += options[0]
        line = _error_line(capsys, *argv)
        assert line.startswith("skimb tune: error: ")
        assert expected in line, line
    assert not (tmp_path / "never").exists()


def test_tune_refuses_an_output_or_storage_that_cannot_work_before_the_search(
    capsys, table_file, tmp_path, monkeypatch
):
    from skimb.tuning import OptunaSearchCV

    def fit(*args, **kwargs):
        raise AssertionError("searched before checking")

    monkeypatch.setattr(OptunaSearchCV, "fit", fit)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    cases = {
        "table.csv' is a file, not a folder": ["--out", table_file / "run"],
        "is a broken link": ["--out", tmp_path / "broken"],
        "--storage 'foo://bar': Can't load plugin": ["--storage", "foo://bar"],
        "Invalid SQLite URL": ["--storage", "sqlite://no-third-slash.db"],
    }
    for expected, options in cases.items():
        argv = ["tune", table_file, "--target", "label", *TUNE]
        line = _error_line(capsys, *argv, "--out", tmp_path / "run", *options)
        assert expected in line, line
    # A run refused for its data writes no study file.
    storage = tmp_path / "search.journal"
    line = _error_line(
        capsys,
        "tune",
        table_file,
        "--target",
        "label",
        *TUNE,
        "--networks",
        "9",
        "--storage",
        storage,
        "--out",
        tmp_path / "run",
    )
    assert "too few" in line and not storage.exists()


@pytest.mark.parametrize("value", ["0", "two", "-3"])
def test_bad_network_counts_are_refused_by_name(capsys, table_file, tmp_path, value):
    argv = ["tune", table_file, "--target", "label", "--networks", value]
    with pytest.raises(SystemExit) as exit_:
        main([*map(str, argv), "--out", str(tmp_path / "never")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    expected = f"must be auto or a whole number of at least 1, got '{value}'"
    assert f"--networks: {expected}" in err
    assert not (tmp_path / "never").exists()


def test_bad_model_files_get_one_line_errors(
    capsys, dense_model, numeric_table, tmp_path
):
    with zipfile.ZipFile(dense_model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest.update(format_version=persistence.FORMAT_VERSION + 1, skimb_version="9.0")
    members["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = b"skimb-sha256:" + b"0" * 64
    newer = tmp_path / "newer.skimb"
    newer.write_bytes(seal(buffer.getvalue()))
    truncated = tmp_path / "truncated.skimb"
    truncated.write_bytes(dense_model.read_bytes()[:5000])
    for path, expected in [
        (newer, "written by skimb 9.0"),
        (truncated, "truncated"),
        (tmp_path / "none.skimb", "No model file"),
    ]:
        line = _error_line(capsys, "evaluate", path, numeric_table, "--target", "label")
        assert expected in line, line
    # Labels the model never saw, and columns it lacks.
    frame = pd.read_parquet(numeric_table)
    frame.assign(label=frame["label"] + 10).to_csv(tmp_path / "new.csv", index=False)
    line = _error_line(
        capsys, "evaluate", dense_model, tmp_path / "new.csv", "--target", "label"
    )
    assert "are not among the model's classes" in line
    line = _error_line(
        capsys, "predict", dense_model, numeric_table, "--out", tmp_path / "p.json"
    )
    assert "write .csv, .parquet or .npz" in line


def test_errors_in_a_real_process_are_one_line_without_keras(tmp_path):
    # As a user sees it: exit status 1, one line, no traceback, and a data
    # problem found before the deep-learning backend is even loaded.
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    code = (
        "import sys; from skimb.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
        "sys.exit(status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "tune", str(tmp_path / "t.csv"), "--target", "y"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"skimb tune: error: {tmp_path / 't.csv'}: no column 'y' (the columns are "
        "'a', 'b')."
    ]


def test_every_help_is_fast_and_does_not_load_keras():
    code = (
        "import sys; from skimb.cli import main\n"
        "for argv in ([], ['demo'], ['tune'], ['evaluate'], ['predict']):\n"
        "    try:\n        main([*argv, '--help'])\n    except SystemExit:\n"
        "        pass\n"
        "assert 'keras' not in sys.modules, 'skimb --help imported keras'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    for shown in ("--trials", "--storage", "--study-name", "--architecture"):
        assert shown in result.stdout


def test_predictions_of_string_labels_load_from_npz_without_pickle(tmp_path):
    # String labels are an object array, which np.savez stores by pickle and
    # np.load then refuses (allow_pickle=False).
    from skimb.cli._predict import _prediction_writer

    classes = np.array(["big", "mid", "rare"], dtype=object)
    predicted = classes[[0, 2, 1]]
    proba = np.eye(3)[[0, 2, 1]]
    with _prediction_writer(tmp_path / "p.npz", classes, several=False) as write:
        write(predicted, proba, tmp_path / "data.csv")
    with np.load(tmp_path / "p.npz") as result:
        assert result["prediction"].tolist() == ["big", "rare", "mid"]
        assert result["classes"].tolist() == ["big", "mid", "rare"]
        np.testing.assert_array_equal(result["proba"], proba)
    # Integer labels held as objects stay integers.
    numbers = np.array([3, 7, 9], dtype=object)
    with _prediction_writer(tmp_path / "n.npz", numbers, several=False) as write:
        write(numbers[[1, 0]], proba[:2], tmp_path / "data.csv")
    with np.load(tmp_path / "n.npz") as result:
        assert result["prediction"].tolist() == [7, 3]
        assert result["classes"].dtype.kind == "i"


def test_the_parsers_lists_are_the_packages():
    # The parser is Keras-free (help stays fast), so it holds its own copies.
    from skimb._networks import ARCHITECTURES
    from skimb._splits import AUTO_CV_FOLDS, AUTO_CV_RAREST
    from skimb.cli._parser import build_parser

    tune = build_parser()._subparsers._group_actions[0].choices["tune"]
    actions = {action.dest: action for action in tune._actions}
    assert tuple(actions["architecture"].choices) == ARCHITECTURES
    help_text = actions["networks"].help
    assert f"{AUTO_CV_FOLDS} cross-fitted" in help_text
    assert f"fewer than {AUTO_CV_RAREST:,} rows" in help_text
