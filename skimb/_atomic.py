"""Files written atomically: under a temporary name next to the target,
renamed over it when complete, removed on an error (an interrupt included),
so that no reader sees a half-written file and none is left behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name next to ``path`` to write to; renamed to ``path``
    when the block ends, removed if it raises.

    Same folder, so that ``os.replace`` is a rename on one file system; the
    caller opens it with ``"x"`` rather than using ``mkstemp``, so that the
    file gets the umask's permissions instead of ``mkstemp``'s owner-only
    ones.
    """
    # Through a symbolic link to the file it names: replacing the link
    # would leave that file as it was.
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(
            f"{str(parent)!r} is a file, not a folder to write {path.name!r} in."
        )
    if not parent.is_dir():
        raise FileNotFoundError(f"The folder {str(parent)!r} does not exist.")
    if path.is_dir():
        # Checked first: the rename would fail naming the temporary file.
        raise IsADirectoryError(
            f"{str(path)!r} is a folder: give the path of a file to write."
        )
    temporary = parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes, *, sync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``sync``: on disk (``fsync``)
    before the rename, so that a crash leaves the old file or the new one."""
    with atomic_path(path) as temporary, open(temporary, "xb") as file:
        file.write(data)
        if sync:
            file.flush()
            os.fsync(file.fileno())
