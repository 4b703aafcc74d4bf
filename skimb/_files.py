"""Data files for the command line: tables (CSV, Parquet) and sequences (.npz).

Every problem with a file becomes a :class:`DataError` whose one-line message
names the file and what is wrong with it, so the command can print it as is.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skimb._class_sizes import rows_for_folds, shown

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
SEQUENCE_SUFFIXES = (".npz",)


class DataError(ValueError):
    """A data file cannot be used; the message says why in one line."""


@dataclass
class Data:
    """Features, labels (when the file has them) and what the file was."""

    X: object
    y: np.ndarray | None
    kind: str  # "table" or "sequences"
    path: Path
    groups: np.ndarray | None = None


def read_data(
    path: str | Path,
    *,
    target: str | None = None,
    need_target: bool = True,
    feature_names=None,
    classes=None,
    groups: str | None = None,
) -> Data:
    """Read a table or a sequence file.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` / ``.pq`` table, or an ``.npz`` file with
        an array ``X`` of shape ``(n, timesteps, features)`` (or a 2-D table)
        and, usually, labels ``y``.
    target : str, optional
        The label column of a table, or the labels' array of an ``.npz``
        file (``"y"`` by default).
    need_target : bool, default=True
        Fail when the labels are missing; otherwise ``y`` is ``None``.
    feature_names : sequence of str, optional
        The columns the model was fitted on: they are selected by name and
        every other column is ignored.
    classes : ndarray, optional
        A model's classes: a CSV's labels, which are text, take their type
        where they can (:func:`labels_from_text`).
    groups : str, optional
        A table's column, or an ``.npz`` file's array, of each row's group
        (a recording, a patient): read into ``Data.groups``, and not a
        feature.

    Returns
    -------
    Data
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES + SEQUENCE_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; use .csv, "
            ".parquet or .npz."
        )
    _check_file(path)
    labels = target or ("y" if suffix in SEQUENCE_SUFFIXES else None)
    if groups is not None and groups == labels:
        raise DataError(
            f"{path}: {groups!r} names both the labels and the groups; the "
            "groups are another column or array."
        )
    if suffix in SEQUENCE_SUFFIXES:
        return _read_sequences(path, need_target, target or "y", groups)
    return _read_table(path, target, need_target, feature_names, classes, groups)


def _check_groups(missing: np.ndarray, path: Path, name: str) -> None:
    """Groups: none missing (``missing``: a mask of the rows)."""
    n = int(missing.sum())
    if n:
        raise DataError(
            f"{path}: the groups {name!r} have {n} missing value"
            f"{'' if n == 1 else 's'}; give every row a group."
        )


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty.")


def _unreadable(path: Path, error: Exception) -> DataError:
    """A parser's error (of any of the many types parsers raise) as one line."""
    if isinstance(error, ImportError):
        return DataError(f"{path}: {error}".splitlines()[0])
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DataError(f"{path}: cannot read the table ({message}).")


def _missing_columns(path: Path, feature_names, columns) -> None:
    """Fail when the table lacks a column the model was fitted on."""
    missing = [name for name in feature_names if name not in columns]
    if missing:
        raise DataError(
            f"{path}: the model needs the columns {_listing(missing)}, "
            "which the table lacks."
        )


_INTEGER = re.compile(r"0|-?[1-9][0-9]*")


def labels_from_text(texts: np.ndarray, *, like: np.ndarray | None = None):
    """Labels read as text (a CSV's), as the classes they name.

    Integers where every label is one written the one way Python writes it
    (``"7"``, not ``"007"``, ``"-0"`` or ``"7.0"``, so that no two texts
    become one class), else the text itself; ``like``: a model's classes,
    whose type the labels take where they can (labels ``"250"`` of a model
    whose classes are the strings ``"250"``, ``"E11"``; labels ``"007"`` of
    a model whose classes are integers).
    """
    missing = [t for t in texts if not isinstance(t, str)]  # (empty cells)
    if missing:
        return texts
    # (Digits beyond int64's 18 stay text.)
    integers = all(_INTEGER.fullmatch(t) and len(t) < 19 for t in texts)
    if like is not None:
        kind = np.asarray(like).dtype.kind
        if kind in "iu":
            # Integers however written: such a model's classes were read
            # that way (pandas read "007" as 7).
            try:
                return np.array([int(t) for t in texts], dtype=np.int64)
            except (ValueError, OverflowError):
                pass
            try:  # "1.0", as pandas read it into such a model's 1
                numbers = np.array([float(t) for t in texts])
            except ValueError:
                return texts
            whole = np.isfinite(numbers).all() and (numbers % 1 == 0).all()
            return numbers.astype(np.int64) if whole else texts
        if kind == "b" and all(t in ("True", "False") for t in texts):
            return np.array([t == "True" for t in texts])
        if kind == "f":
            try:
                return np.array([float(t) for t in texts])
            except ValueError:
                return texts
        return texts
    if integers and texts.size:
        return np.array([int(t) for t in texts], dtype=np.int64)
    return texts


def _read_table(
    path: Path, target, need_target: bool, feature_names, classes=None, groups=None
) -> Data:
    try:
        import pandas as pd
    except ImportError:
        raise DataError(
            f"{path}: reading tables needs pandas (pip install pandas)."
        ) from None
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
            if need_target and target in frame.columns:
                # In the label column only an empty cell is missing: pandas
                # reads "NA", "None" or "null" as missing values, which there
                # are class names (a region "NA", a severity "None").
                # And labels are the file's text: pandas would read "01" and
                # "1" as one number, and "True" as a boolean.
                labels = pd.read_csv(
                    path,
                    usecols=[target],
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                )[target]
                frame[target] = labels_from_text(
                    labels.to_numpy(dtype=object), like=classes
                )
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty.") from None
    except Exception as error:  # parsers raise many types; all mean "unreadable"
        raise _unreadable(path, error) from None
    group_labels = None
    if groups is not None:
        frame.columns = [str(column) for column in frame.columns]
        if groups not in frame.columns:
            raise DataError(
                f"{path}: no column {groups!r} for the groups (the columns are "
                f"{_listing(frame.columns)})."
            )
        # (Not a feature: a recording's name says nothing of a new one.)
        column = frame.pop(groups)
        if path.suffix.lower() == ".csv":
            # The file's text, as the labels: "007" and "7" are two
            # recordings, and "NA" is a name, not a missing value.
            column = pd.read_csv(
                path, usecols=[groups], dtype=str, keep_default_na=False, na_values=[""]
            )[groups]
        _check_groups(column.isna().to_numpy(), path, groups)
        group_labels = column.to_numpy()
    data = _table(frame, path, target, need_target, feature_names)
    data.groups = group_labels
    return data


def _table(frame, path: Path, target, need_target: bool, feature_names) -> Data:
    """A table's checked features and labels (a whole file or a chunk of it)."""
    frame.columns = [str(column) for column in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{path}: the table has no rows.")
    if need_target and target is None:
        raise DataError(f"{path}: name the label column with --target.")
    if target is not None and target not in frame.columns:
        if need_target:
            raise DataError(
                f"{path}: no column {target!r} (the columns are "
                f"{_listing(frame.columns)})."
            )
        target = None
    y = None
    if target is not None and need_target:  # (predict ignores the labels)
        labels = frame[target]
        if labels.isna().any():
            raise DataError(
                f"{path}: the label column {target!r} has "
                f"{int(labels.isna().sum())} missing values."
            )
        y = labels.to_numpy()
    if feature_names is not None:
        _missing_columns(path, feature_names, frame.columns)
        features = frame[list(feature_names)]
    else:
        features = frame.drop(columns=[target] if target is not None else [])
    if features.shape[1] == 0:
        raise DataError(f"{path}: the table has no feature columns.")
    text = [c for c in features.columns if not _is_numeric(features[c].dtype)]
    if text:
        raise DataError(
            f"{path}: the feature columns {_listing(text)} are not numeric; "
            "encode them as numbers or drop them."
        )
    missing_values = [c for c in features.columns if features[c].isna().any()]
    if missing_values:
        raise DataError(
            f"{path}: the feature columns {_listing(missing_values)} have "
            "missing values; fill or drop them."
        )
    X = features.astype(np.float64)
    if not np.isfinite(X.to_numpy()).all():
        raise DataError(f"{path}: the features hold infinite values.")
    return Data(X=X, y=y, kind="table", path=path)


def data_files(spec: str | Path, *, suffixes=TABLE_SUFFIXES) -> list[Path]:
    """The files of a data argument: one file, a folder (its files of the
    ``suffixes``, by name) or a glob pattern (``"logs/*.parquet"``, by
    name)."""
    text = str(spec)
    path = Path(spec)
    kinds = f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise DataError(f"{path}: the folder holds no {kinds} files.")
    elif path.is_file() or not any(character in text for character in "*?["):
        # A file named "run[1].csv" is that file, not a pattern matching
        # "run1.csv".
        return [path]
    else:
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise DataError(f"{text}: no file matches the pattern.")
    others = [p.name for p in files if p.suffix.lower() not in suffixes]
    if others:
        raise DataError(
            f"{text}: the files of a folder or pattern are read as {kinds} only; "
            f"got {_listing(others)}."
        )
    return files


def read_table_chunks(
    path: Path, *, target=None, feature_names=None, rows: int = 65_536
) -> Iterator[Data]:
    """A table's rows, ``rows`` at a time, checked as :func:`read_data`
    checks a whole table; the file is never held whole in memory (Parquet
    by record batches, CSV by chunks)."""
    import pandas as pd

    _check_file(path)
    try:
        if path.suffix.lower() == ".csv":
            chunks = pd.read_csv(path, chunksize=rows)
        else:
            import pyarrow.parquet as pq

            columns = None if feature_names is None else list(feature_names)
            parquet = pq.ParquetFile(path)
            if columns is not None:
                # Checked before reading: pyarrow's own error for a missing
                # selected column does not name the model's need.
                _missing_columns(path, columns, parquet.schema_arrow.names)
            chunks = (
                batch.to_pandas()
                for batch in parquet.iter_batches(batch_size=rows, columns=columns)
            )
        # (A Parquet file of no rows, as Spark writes for an empty partition,
        # has no batch: it adds no rows to the others.)
        for frame in chunks:
            yield _table(frame, path, target, False, feature_names)
    except (DataError, GeneratorExit):
        raise
    except Exception as error:  # parsers raise many types; all mean "unreadable"
        raise _unreadable(path, error) from None


def _is_numeric(dtype) -> bool:
    return getattr(dtype, "kind", "O") in "biuf"


def _read_sequences(
    path: Path, need_target: bool, target: str, groups: str | None = None
) -> Data:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(
                f"{path}: holds object arrays, which are not read (they would "
                "need pickle); store numeric X and numeric or string y."
            ) from None
        raise DataError(f"{path}: not a readable .npz file ({error}).") from None
    except Exception as error:  # zip and format errors of many types
        raise DataError(f"{path}: not a readable .npz file ({error}).") from None
    if "X" not in arrays:
        raise DataError(
            f"{path}: no array named 'X' (it has {_listing(arrays) or 'none'})."
        )
    X = arrays["X"]
    if X.ndim not in (2, 3):
        raise DataError(
            f"{path}: X must have shape (n, timesteps, features); got {X.shape}."
        )
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be numeric; got dtype {X.dtype}.")
    if len(X) == 0:
        raise DataError(f"{path}: X has no rows.")
    if not np.isfinite(X).all():
        raise DataError(f"{path}: X holds NaN or infinite values.")
    y = arrays.get(target)
    if y is None and need_target:
        raise DataError(
            f"{path}: no array named {target!r} with the labels (it has "
            f"{_listing(arrays)}; name another with --target)."
        )
    if y is not None:
        if y.ndim != 1:
            raise DataError(
                f"{path}: the labels {target!r} must be 1-D; got shape {y.shape}."
            )
        if len(y) != len(X):
            raise DataError(
                f"{path}: X has {len(X)} rows but the labels {target!r} have "
                f"{len(y)}; they must match."
            )
        if need_target and y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError(
                f"{path}: the labels {target!r} have {int(np.isnan(y).sum())} "
                "missing values (NaN)."
            )
    group_labels = None
    if groups is not None:
        group_labels = arrays.get(groups)
        if group_labels is None:
            raise DataError(
                f"{path}: no array named {groups!r} for the groups (it has "
                f"{_listing(arrays)})."
            )
        if group_labels.ndim != 1 or len(group_labels) != len(X):
            raise DataError(
                f"{path}: the groups {groups!r} must be 1-D, one per row of X "
                f"({len(X)}); got shape {group_labels.shape}."
            )
        if group_labels.dtype.kind == "f":
            _check_groups(np.isnan(group_labels), path, groups)
    return Data(X=X, y=y, kind="sequences", path=path, groups=group_labels)


def _listing(names) -> str:
    names = [repr(str(name)) for name in names]
    if len(names) > 8:
        names = names[:8] + [f"… ({len(names) - 8} more)"]
    return ", ".join(names)


def check_classes(y: np.ndarray, path: Path) -> None:
    """Fail when the labels hold a single class."""
    labels = np.unique(y)
    if len(labels) < 2:
        raise DataError(
            f"{path}: the labels hold a single class ({shown(labels[0])!r})."
        )


def check_folds(
    y: np.ndarray,
    n_folds: int,
    path: Path,
    *,
    networks: int | str = "auto",
    held_out: float = 0.0,
) -> None:
    """Fail when a class has fewer rows than stratified cross-validation needs
    (with ``networks`` >= 2, the cross-fitted networks' folds as well);
    ``held_out``: the share of the file's rows ``y`` leaves for a test."""
    check_classes(y, path)
    labels, counts = np.unique(y, return_counts=True)
    needed = rows_for_folds(n_folds, networks=networks)
    rare = counts.argmin()
    cross_fit = isinstance(networks, int) and networks > 2
    with_networks = f" with {networks} networks each" if cross_fit else ""
    or_networks = " or --networks" if cross_fit else ""
    after = f" after the --test-size {held_out:g} hold-out" if held_out else ""
    or_test = " or --test-size" if held_out else ""
    if counts[rare] < needed:
        raise DataError(
            f"{path}: class {shown(labels[rare])!r} has {counts[rare]} rows{after}, "
            f"too few for {n_folds}-fold cross-validation{with_networks} (it "
            f"needs at least {needed}); add rows or lower --cv{or_networks}"
            f"{or_test}."
        )
