"""Data files as the command line reads them: a CSV's labels are its text,
an .npz's labels are the array --target names, and empty or unreadable
files are named."""

import numpy as np
import pandas as pd
import pytest

from skimb import persistence
from skimb._files import DataError, read_data
from skimb.cli import main
from skimb.cli._common import slug


def _csv(tmp_path, labels, name="t.csv"):
    path = tmp_path / name
    pd.DataFrame({"x": np.arange(len(labels)), "label": labels}).to_csv(
        path, index=False
    )
    return path


def test_csv_labels_are_their_text(tmp_path):
    # pandas would read "01" and "1" as one class 1, "007" as 7, and "True"
    # as a boolean.
    for texts in (["01", "1", "007", "1"], ["True", "false", "True"]):
        y = read_data(_csv(tmp_path, texts), target="label").y
        assert y.tolist() == texts
    # Whole numbers written plainly are integer classes, as before.
    y = read_data(_csv(tmp_path, ["0", "12", "-3"]), target="label").y
    assert y.dtype == np.int64 and y.tolist() == [0, 12, -3]


def test_groups_are_read_apart_from_the_features_as_their_text(tmp_path):
    # pandas would read "007" and "7" as one recording, and "NA" as missing.
    names = ["007", "7", "NA", "7", "007"]
    frame = pd.DataFrame({"x": np.arange(5.0), "label": [0, 1, 0, 1, 0]})
    frame["recording"] = names
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv", target="label", groups="recording")
    assert data.groups.tolist() == names
    assert data.X.columns.tolist() == ["x"]
    frame.loc[1, "recording"] = ""  # an empty cell is a missing group
    frame.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(DataError, match="'recording' have 1 missing value;"):
        read_data(tmp_path / "gap.csv", target="label", groups="recording")
    pytest.importorskip("pyarrow")
    frame["recording"] = pd.array(["a", pd.NA, "b", None, "a"], dtype="string")
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError, match="'recording' have 2 missing values;"):
        read_data(tmp_path / "t.parquet", target="label", groups="recording")
    np.savez(tmp_path / "s.npz", X=np.zeros((3, 2, 1)), y=[0, 1, 0], g=[1.0, np.nan, 2])
    with pytest.raises(DataError, match="'g' have 1 missing value;"):
        read_data(tmp_path / "s.npz", groups="g")
    with pytest.raises(DataError, match="'y' names both the labels and the groups"):
        read_data(tmp_path / "s.npz", groups="y")


def test_evaluate_reads_labels_as_the_models_classes(tmp_path):
    # A file holding only the classes that look like numbers, of a model
    # whose classes are text.
    path = _csv(tmp_path, ["250", "401"])
    classes = np.array(["250", "401", "E11"], dtype=object)
    assert read_data(path, target="label", classes=classes).y.tolist() == [
        "250",
        "401",
    ]
    y = read_data(path, target="label", classes=np.array([250, 401])).y
    assert y.dtype == np.int64
    # A model whose integer classes were read from "007" (as pandas did).
    y = read_data(_csv(tmp_path, ["007", " 1"]), target="label", classes=[1, 7]).y
    assert y.tolist() == [7, 1]
    y = read_data(_csv(tmp_path, ["1.0", "7.0"]), target="label", classes=[1, 7]).y
    assert y.tolist() == [1, 7]
    # Alone, "-0" and "0" are two labels.
    assert read_data(_csv(tmp_path, ["-0", "0"]), target="label").y.tolist() == [
        "-0",
        "0",
    ]


def test_npz_labels_are_the_array_target_names(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, X=np.zeros((4, 3, 2)), labels=np.array([0, 1, 0, 1]))
    assert read_data(path, target="labels").y.tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match=r"no array named 'y'.*'labels'.*--target"):
        read_data(path)


@pytest.mark.parametrize("suffix", ["csv", "parquet", "npz"])
def test_predicting_on_a_parquet_file_of_no_rows_is_refused(
    capsys, fitted_dense, tabular, tmp_path, suffix
):
    model = persistence.save(fitted_dense, tmp_path / "m.skimb")
    X, _ = tabular
    empty = tmp_path / "empty.parquet"
    pd.DataFrame(X[:0], columns=[f"f{i}" for i in range(X.shape[1])]).to_parquet(empty)
    out = tmp_path / f"out.{suffix}"
    code = main(["predict", str(model), str(empty), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().endswith("empty.parquet: the table has no rows."), err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_closed_pipe_ends_the_command_quietly(capsys, monkeypatch):
    from skimb.cli import _evaluate

    def reader_gone(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(_evaluate, "evaluate", reader_gone)
    assert main(["evaluate", "m.skimb", "d.csv"]) == 1
    assert capsys.readouterr().err == ""


def test_file_names_keep_letters_of_any_script():
    assert slug("Données été 2") == "données_été_2"
    assert slug("***") == "data"


def test_a_table_models_features_come_from_a_table(capsys, tmp_path, tabular):
    # Columns selected by name: an array's order could not be checked.
    from skimb import ImbalancedKerasClassifier
    from tests.support import FAST_PARAMS

    X, y = tabular
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = ImbalancedKerasClassifier(**{**FAST_PARAMS, "epochs": 1}).fit(frame, y)
    path = persistence.save(model, tmp_path / "m.skimb")
    np.savez(tmp_path / "flat.npz", X=X[:, ::-1], y=y)
    code = main(["evaluate", str(path), str(tmp_path / "flat.npz")])
    err = capsys.readouterr().err
    assert code == 1 and "selects by name (f0, f1, f2, f3, f4, ...)" in err, err
