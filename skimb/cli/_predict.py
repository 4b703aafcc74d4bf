"""``skimb predict``: a model file's predictions of data files, streamed
chunk by chunk and written atomically."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import numpy as np

from skimb._files import (
    SEQUENCE_SUFFIXES,
    DataError,
    data_files,
    read_data,
    read_table_chunks,
)
from skimb.cli._common import features, load_model, predictions


def predict(args) -> int:
    """Write predicted classes and probabilities of a data file, a folder of
    tables or a glob pattern of them, streamed chunk by chunk."""
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".npz"):
        raise DataError(
            f"{out}: write .csv, .parquet or .npz, not {suffix or 'no suffix'!r}."
        )
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        # pyarrow is an optional extra: say so before minutes of predicting.
        raise DataError(
            f"{out}: writing .parquet needs pyarrow (pip install 'skimb[parquet]')."
        )
    if not out.parent.is_dir():
        raise DataError(f"{out}: the folder {str(out.parent)!r} does not exist.")
    files = data_files(args.data)
    if any(out.resolve() == path.resolve() for path in files):
        raise DataError(
            f"--out {str(out)!r} is one of the data files: write the predictions "
            "elsewhere."
        )
    model = load_model(args.model)
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
            X = features(model, data)
            write(*predictions(model, X, data.path), data.path)
            n_rows += len(X)
        if n_rows == 0:  # (inside the writer: it leaves no file behind)
            raise DataError(
                f"{files[0]}: the table has no rows."
                if len(files) == 1
                else f"{args.data}: none of its {len(files)} tables has a row."
            )
    print(f"{n_rows} predictions: {out}")
    return 0


def _loadable(labels: np.ndarray) -> np.ndarray:
    """Labels as an array ``np.load`` reads without pickle: an object array
    (which only pickle stores) as the array of its values (integers stay
    integers), or else as Unicode strings."""
    if labels.dtype != object:
        return labels
    values = np.asarray(labels.tolist())
    return values.astype(str) if values.dtype == object else values


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
                prediction=_loadable(np.concatenate([p for p, _, _ in parts])),
                proba=np.concatenate([q for _, q, _ in parts]),
                classes=_loadable(np.asarray(classes)),
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
