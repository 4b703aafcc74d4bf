"""Data sets on disk, read a window of rows at a time.

:class:`Shards` names a data set stored as files, Parquet tables or ``.npz``
arrays; :class:`~skimb.ImbalancedKerasClassifier` takes it in place of ``X``
in ``fit``, ``predict`` and ``predict_proba`` and holds a few windows of its
features at a time, besides a few numbers per row (labels, weights, folds,
held-out probabilities).

Why not ``tf.data`` or ``keras.utils.PyDataset``: the fit needs the labels
before the features (for the stratified splits and the class counts), row
ids that stay put (for the cross-fitting folds and the held-out
predictions), and windows it can redraw every epoch; a dataset of batches
gives none of them, and ``tf.data`` would tie the fit to one backend.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import sklearn

from skimb._files import DataError, _listing, data_files

PARQUET_SUFFIXES = (".parquet", ".pq")
# window_rows="auto": a window's float32 features.  Its copies (as read,
# checked, padded, on the device) make the fit's memory a few times this,
# whatever the data's size (benchmarks/bench_streaming.py).
AUTO_WINDOW_BYTES = 32 * 2**20
MIN_AUTO_WINDOW_ROWS = 1024
SHARD_SUFFIXES = (*PARQUET_SUFFIXES, ".npz")


class Shards:
    """A data set stored as files, read a window of rows at a time.

    Each file (a shard) holds some rows: a Parquet table with the label
    column that ``target`` names (``"y"`` by default) and one column per
    feature (flattened sequences, with the estimator's ``n_timesteps``), or
    an ``.npz`` file with an array ``X`` of shape ``(n, n_features)`` or
    ``(n, n_timesteps, n_features)`` and the array of labels that
    ``target`` names.  The rows of the data
    set are the shards' rows in the order of ``files``.

    Parameters
    ----------
    files : str, Path or sequence of them
        The shards: a folder (its ``.parquet`` or ``.npz`` files, by name),
        a glob pattern (``"logs/*.parquet"``) or the files themselves.
    target : str, default="y"
        The label column (Parquet) or array (``.npz``).  Shards without it
        can be predicted on, not fitted on.
    window_rows : int or "auto", default="auto"
        Rows read at once; "auto": the largest power of two whose rows hold
        at most 32 MiB of float32 features (at least 1,024 rows).  Memory
        holds a few windows of features; batches are shuffled, and
        SMOTE-like samplers draw their neighbours, within a window.

    Notes
    -----
    From uncompressed ``.npz`` files (``numpy.savez``) a window reads only
    its rows; a compressed one (``numpy.savez_compressed``)
    is decompressed whole when read, so keep compressed shards smaller than
    the memory you have.  Parquet shards are read by record batches.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from skimb.data import Shards
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.RandomState(0)
    >>> for i in range(3):
    ...     np.savez(folder / f"part-{i}.npz", X=rng.normal(size=(50, 4)),
    ...              y=rng.randint(0, 3, 50))
    >>> shards = Shards(folder, window_rows=64)
    >>> shards.n_rows, shards.sample_shape
    (150, (4,))
    >>> [len(ids) for ids, _ in shards.windows()]
    [64, 64, 22]
    """

    def __init__(self, files, *, target: str = "y", window_rows: int | str = "auto"):
        if isinstance(files, (str, Path)):
            paths = data_files(files, suffixes=SHARD_SUFFIXES)
        else:
            paths = [Path(f) for f in files]
        if not paths:
            raise DataError("Shards: no files given.")
        if window_rows != "auto" and (
            not isinstance(window_rows, (int, np.integer)) or window_rows < 1
        ):
            raise ValueError(
                f'window_rows must be a positive int or "auto"; got {window_rows!r}.'
            )
        suffixes = {p.suffix.lower() for p in paths}
        unknown = suffixes - set(SHARD_SUFFIXES)
        if unknown:
            raise DataError(
                f"Shards reads {', '.join(SHARD_SUFFIXES)} files; got "
                f"{_listing(sorted(unknown))}."
            )
        if len({s in PARQUET_SUFFIXES for s in suffixes}) > 1:
            raise DataError("Shards: the files are all Parquet or all .npz, not both.")
        for path in paths:
            if not path.is_file():
                raise DataError(f"{path}: no such file.")
        self.files = paths
        self.target = target
        self.parquet = paths[0].suffix.lower() in PARQUET_SUFFIXES
        self._readers = [
            (_ParquetShard if self.parquet else _NpzShard)(p, target) for p in paths
        ]
        self.sizes = np.array([r.n_rows for r in self._readers], dtype=np.int64)
        # Global id of each shard's first row.
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.n_rows = int(self.offsets[-1])
        if self.n_rows == 0:
            raise DataError("Shards: the files hold no rows.")
        first = self._readers[0]
        for reader in self._readers[1:]:
            if reader.layout != first.layout:
                raise DataError(
                    f"{reader.path}: its features ({reader.describe()}) differ "
                    f"from those of {first.path} ({first.describe()})."
                )
        self.sample_shape = first.sample_shape
        if 0 in self.sample_shape:
            raise DataError(
                f"{first.path}: its rows have shape {tuple(self.sample_shape)}; "
                "a row needs at least one feature (and a sequence one step)."
            )
        if window_rows == "auto":
            row_bytes = 4 * int(np.prod(self.sample_shape))
            # A power of two: a full window is then never padded (the
            # compiled functions take rows in powers of two).
            fits = 1 << int(np.log2(max(AUTO_WINDOW_BYTES // row_bytes, 1)))
            window_rows = max(fits, MIN_AUTO_WINDOW_ROWS)
        self.window_rows = int(window_rows)

    def __repr__(self) -> str:
        return (
            f"Shards({len(self.files)} files, {self.n_rows} rows, "
            f"target={self.target!r}, window_rows={self.window_rows})"
        )

    def __len__(self) -> int:
        return self.n_rows

    def labels(self) -> np.ndarray:
        """Every row's label, read without the features."""
        parts = [reader.labels() for reader in self._readers]
        kinds = {
            file: part.dtype.kind in "biuf"
            for file, part in zip(self.files, parts, strict=True)
            if len(part)
        }
        if len(set(kinds.values())) > 1:
            # np.concatenate would turn the numbers into text: other classes.
            first = next(file for file, number in kinds.items() if number)
            other = next(file for file, number in kinds.items() if not number)
            raise DataError(
                f"The label {self.target!r} holds numbers in {first} but text in "
                f"{other}: give every shard labels of one kind."
            )
        # An empty shard's labels have a dtype of their own (np.array([]) is
        # float64), which np.concatenate would give every label.
        filled = [part for part in parts if len(part)] or parts
        try:
            return np.concatenate(filled)
        except ValueError:
            raise DataError(
                f"The label {self.target!r} has a different shape in some shards."
            ) from None

    def epoch_order(self, rng: np.random.RandomState | None) -> np.ndarray:
        """The order the shards are read in: shuffled by ``rng``, or as given."""
        order = np.arange(len(self.files))
        return order if rng is None else rng.permutation(order)

    def locate(self, rows: np.ndarray, order: np.ndarray) -> tuple:
        """Where rows (global ids) fall when the shards are read in ``order``:
        their window, and their position in it."""
        starts = np.empty(len(order), dtype=np.int64)
        starts[order] = np.concatenate([[0], np.cumsum(self.sizes[order])[:-1]])
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        position = starts[shard] + (rows - self.offsets[shard])
        return position // self.window_rows, position % self.window_rows

    def windows(
        self, order: np.ndarray | None = None, *, prepare: Callable | None = None
    ) -> Iterator[tuple]:
        """Windows of rows: ``(ids, features)``, the rows' global ids and
        their features as read (a ``DataFrame`` of Parquet columns, or an
        array), the shards read in ``order``; ``prepare(features)`` maps
        each window's features before it is handed over (a ``ValueError``
        it raises is raised again with the window's rows named).

        The next window is read (and prepared) in a thread while the caller
        works on this one."""
        order = self.epoch_order(None) if order is None else order
        return _read_ahead(self._prepared(order, prepare))

    def first_window(self, prepare: Callable | None = None) -> tuple:
        """The first window of :meth:`windows`, read alone (no read-ahead)."""
        return next(self._prepared(self.epoch_order(None), prepare))

    def _prepared(self, order: np.ndarray, prepare: Callable | None):
        for ids, window in self._read(order):
            if prepare is not None:
                try:
                    # The window as read is not kept beside the prepared one.
                    window = prepare(window)
                except ValueError as error:
                    raise ValueError(
                        f"Rows {ids[0]} to {ids[-1]} of the shards: {error}"
                    ) from error
            yield ids, window
            del window  # not kept while the next window is read

    def _read(self, order: np.ndarray) -> Iterator[tuple]:
        if not self.parquet:
            yield from self._array_windows(order)
            return
        ids, parts, held = [], [], 0
        for s in order:
            for start, block in self._readers[s].blocks(self.window_rows):
                while len(block):
                    take = min(len(block), self.window_rows - held)
                    first = self.offsets[s] + start
                    ids.append(np.arange(first, first + take))
                    parts.append(block[:take])
                    block, start, held = block[take:], start + take, held + take
                    if held == self.window_rows:
                        window = np.concatenate(ids), _concat(parts)
                        ids, parts, held = [], [], 0
                        yield window
                        # Not kept while the next window is read.
                        del window
        if held:
            yield np.concatenate(ids), _concat(parts)

    def _array_windows(self, order: np.ndarray) -> Iterator[tuple]:
        """The windows of ``.npz`` shards, each read straight into a new
        array of its rows (no copy of the parts)."""
        dtype = np.result_type(*(reader.dtype for reader in self._readers))
        left, ids, held, window = self.n_rows, [], 0, None
        for s in order:
            read, start, reader = self._readers[s].reader(), 0, self._readers[s]
            while start < reader.n_rows:
                if window is None:
                    rows = min(self.window_rows, left)
                    window = np.empty((rows, *self.sample_shape), dtype)
                take = min(reader.n_rows - start, len(window) - held)
                read(window[held : held + take], start)
                first = self.offsets[s] + start
                ids.append(np.arange(first, first + take))
                start, held, left = start + take, held + take, left - take
                if held == len(window):
                    full = np.concatenate(ids), window
                    ids, held, window = [], 0, None
                    yield full
                    # Not kept while the next window is read.
                    del full

    def stream(self, prepare: Callable) -> WindowStream:
        """The windows as a model takes them: ``prepare`` maps a window's
        features to a float32 array (the estimator's input checks)."""
        return WindowStream(self, prepare)


class WindowStream:
    """A :class:`Shards` whose windows come out prepared for the network.

    What the training engine reads: ``n`` rows, windows of ``window_rows``,
    shuffled shard orders and where a row falls in them.
    """

    def __init__(self, shards: Shards, prepare: Callable):
        self.shards, self.prepare = shards, prepare
        self.n, self.window_rows = shards.n_rows, shards.window_rows
        self.epoch_order, self.locate = shards.epoch_order, shards.locate

    def windows(self, order: np.ndarray | None = None) -> Iterator[tuple]:
        return self.shards.windows(order, prepare=self.prepare)

    def first_window(self) -> tuple:
        return self.shards.first_window(self.prepare)


_END = object()


def _read_ahead(windows: Iterator[tuple]) -> Iterator[tuple]:
    """``windows``, each produced in a thread while the caller works on the
    one before (the reads and NumPy's checks release the GIL, and on an
    accelerator the network's work is asynchronous).

    The prefetch of ``tf.data`` or a ``DataLoader`` worker, for a plain
    iterator on any backend; it holds one window more.  Closing the generator
    early waits for the window being read, so no thread outlives it.
    """
    # scikit-learn's settings (config_context) are per thread: the input
    # checks in the thread follow the caller's.
    config = sklearn.get_config()

    def read_next():
        with sklearn.config_context(**config):
            return next(windows, _END)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skimb-read") as pool:
        ahead = pool.submit(read_next)
        while (window := ahead.result()) is not _END:
            ahead = pool.submit(read_next)
            yield window
            del window  # not kept while the next one is read


def _concat(frames: list):
    if len(frames) == 1:
        return frames[0]
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


class _ParquetShard:
    """A Parquet shard, read by record batches (the label column apart)."""

    def __init__(self, path: Path, target: str):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(
                f"{path}: Parquet shards need pyarrow (pip install 'skimb[parquet]')."
            ) from None

        self.path, self.target = path, target
        try:
            metadata = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises many types; all mean unreadable
            raise DataError(f"{path}: not a readable Parquet file ({error}).") from None
        self.n_rows = metadata.metadata.num_rows
        names = [str(n) for n in metadata.schema_arrow.names]
        self.has_target = target in names
        self.columns = [n for n in names if n != target]
        if not self.columns:
            raise DataError(f"{path}: the table has no feature columns.")
        self.layout = tuple(self.columns)
        self.sample_shape = (len(self.columns),)

    def describe(self) -> str:
        return f"columns {_listing(self.columns)}"

    def labels(self) -> np.ndarray:
        import pyarrow.parquet as pq

        if not self.has_target:
            raise DataError(f"{self.path}: no label column {self.target!r}.")
        column = pq.read_table(self.path, columns=[self.target]).column(0)
        if column.null_count:
            raise DataError(
                f"{self.path}: the label column {self.target!r} has "
                f"{column.null_count} missing values."
            )
        return column.to_numpy()

    def blocks(self, rows: int) -> Iterator[tuple]:
        import pyarrow.parquet as pq

        start = 0
        for batch in pq.ParquetFile(self.path).iter_batches(
            batch_size=rows, columns=self.columns
        ):
            frame = batch.to_pandas()
            yield start, frame
            start += len(frame)


class _NpzShard:
    """An ``.npz`` shard; its ``X`` read a block at a time when stored
    uncompressed."""

    def __init__(self, path: Path, target: str):
        self.path, self.target = path, target
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if "X.npy" not in names:
                    listing = _listing(n.removesuffix(".npy") for n in names)
                    raise DataError(f"{path}: no array named 'X' (it has {listing}).")
                info = archive.getinfo("X.npy")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(member)
                    header = member.tell()
                self.has_target = f"{target}.npy" in names
                self.offset = None
                if info.compress_type == zipfile.ZIP_STORED and not fortran:
                    # The member's data start: its local header (30 bytes, the
                    # name and the extra field) and the .npy header.
                    with open(path, "rb") as raw:
                        raw.seek(info.header_offset + 26)
                        lengths = np.frombuffer(raw.read(4), dtype="<u2")
                    self.offset = info.header_offset + 30 + int(lengths.sum()) + header
        except DataError:
            raise
        except Exception as error:  # zip and format errors of many types
            raise DataError(f"{path}: not a readable .npz file ({error}).") from None
        if len(shape) not in (2, 3) or dtype.kind not in "biuf":
            raise DataError(
                f"{path}: X must be a numeric array of shape (n, n_features) or "
                f"(n, n_timesteps, n_features); got {dtype} {shape}."
            )
        self.shape, self.dtype = shape, dtype
        self.n_rows = shape[0]
        self.sample_shape = tuple(shape[1:])
        self.layout = self.sample_shape

    def describe(self) -> str:
        return f"X of shape (n, {', '.join(map(str, self.sample_shape))})"

    def labels(self) -> np.ndarray:
        if not self.has_target:
            raise DataError(
                f"{self.path}: no array named {self.target!r} (the labels)."
            )
        with np.load(self.path, allow_pickle=False) as archive:
            y = archive[self.target]
        if y.ndim != 1 or len(y) != self.n_rows:
            raise DataError(
                f"{self.path}: {self.target} must hold one label per row of X "
                f"({self.n_rows}); got shape {y.shape}."
            )
        return y

    def reader(self) -> Callable:
        """A function ``read(out, start)`` filling ``out`` with the rows of
        ``X`` from ``start``."""
        if self.offset is None:
            # Compressed: decompressed once for the pass over this shard.
            with np.load(self.path, allow_pickle=False) as archive:
                X = archive["X"]

            def read(out: np.ndarray, start: int) -> None:
                out[...] = X[start : start + len(out)]

            return read
        row_bytes = int(np.prod(self.sample_shape)) * self.dtype.itemsize

        def read(out: np.ndarray, start: int) -> None:
            # From the rows' place in the file: neither the shard nor a
            # mapping of it is held.
            offset = self.offset + start * row_bytes
            if out.dtype != self.dtype:
                count = len(out) * row_bytes // self.dtype.itemsize
                block = np.fromfile(self.path, self.dtype, count, offset=offset)
                out[...] = block.reshape(out.shape)
                return
            with open(self.path, "rb") as file:
                file.seek(offset)
                wanted = len(out) * row_bytes
                if file.readinto(memoryview(out).cast("B")) != wanted:
                    raise DataError(f"{self.path}: the file ends before its rows do.")

        return read
