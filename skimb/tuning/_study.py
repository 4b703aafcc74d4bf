"""The study behind a search: its storage (a database or a journal file
that several workers share), its sampler and pruner, and which worker
created it."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import socket
import warnings
import zlib

import joblib
import numpy as np
import optuna
from optuna.distributions import distribution_to_json
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples
from sqlalchemy.exc import SQLAlchemyError

from skimb._splits import is_splitter, splitter_parameters


def worker() -> str:
    """This process among the workers of a shared study: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def storage_from(address):
    """Optuna's storage for a study's address.

    Parameters
    ----------
    address : str, optuna.storages.BaseStorage or None
        A database URL (``"sqlite:///search.db"``,
        ``"postgresql://user@host/db"``: anything with ``://``) is Optuna's
        ``RDBStorage``; any other string is the path of a journal file
        (``JournalStorage`` with a ``JournalFileBackend``), which workers on
        several machines share through a shared disk, no database server
        needed (``~`` is the user's home folder).  A storage object or
        ``None`` (in memory) is returned as is.

    Returns
    -------
    optuna.storages.BaseStorage, str or None
        What :func:`optuna.create_study` takes as ``storage``.

    Raises
    ------
    FileNotFoundError
        When the folder of a journal file or of an SQLite database does not
        exist.
    ValueError
        When the journal file exists but is no Optuna journal (a database
        file given without ``sqlite:///``, a data file).

    Examples
    --------
    >>> import tempfile, os
    >>> from skimb.tuning import storage_from
    >>> folder = tempfile.mkdtemp()
    >>> type(storage_from(os.path.join(folder, "search.journal"))).__name__
    'JournalStorage'
    >>> storage_from("sqlite:///search.db")
    'sqlite:///search.db'
    """
    if not isinstance(address, str):
        return address
    if "://" in address:
        path = address.partition(":///")[2] if address.startswith("sqlite:") else ""
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise FileNotFoundError(
                f"storage {address!r}: the folder of the database file {path} "
                "does not exist."
            )
        return address
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    address = os.path.expanduser(address)
    folder = os.path.dirname(os.path.abspath(address))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"storage {address!r}: the folder {folder} of the journal file does "
            "not exist (a storage that is not a database URL, scheme://..., is a "
            "journal file's path)."
        )
    _check_journal(address)
    # Optuna's default lock (a symbolic link) works on local disks and NFS.
    return JournalStorage(JournalFileBackend(address))


def _check_journal(path: str) -> None:
    """Refuse an existing file that is no journal (a database file given
    without ``sqlite:///``, a data file), whose reading Optuna would fail
    with a decoding error that names neither the file nor the storage."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    # Its first byte only: every line of a journal is a JSON object, and a
    # worker may be writing the first line right now (without the lock).
    with open(path, "rb") as file:
        first = file.read(1)
    if first != b"{":
        raise ValueError(
            f"storage {path!r}: the file is not an Optuna journal (a storage "
            "that is not a database URL is a journal file's path; for an "
            f"SQLite database give sqlite:///{path})."
        )


def tpe(seed: int | None) -> optuna.samplers.TPESampler:
    """TPE for a conditional space: ``multivariate`` models the parameters
    together, ``group`` models each set of parameters that occur together
    (those of one loss, say) on its own, as Optuna recommends for spaces
    defined by run; plain TPE models each parameter alone and learns a
    conditional one only from the trials that drew it."""
    with warnings.catch_warnings():
        # Both options are marked experimental in Optuna (since 2.2 and 2.8).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def create_study(
    *,
    storage,
    study_name: str | None,
    sampler,
    pruner,
    seed: int | None,
    warmup_steps: int = 5,
) -> tuple[optuna.Study, bool]:
    """The study of a search, and whether this call created it (rather than
    loaded one that a storage already held).

    ``storage``, ``study_name``, ``sampler`` and ``pruner`` are
    :class:`~skimb.tuning.OptunaSearchCV`'s parameters of those names
    (``sampler=None``: :func:`tpe`; ``pruner="median"``: Optuna's median
    pruner after 5 trials and ``warmup_steps`` reports; ``None``: no
    pruning).
    """
    settings = dict(
        storage=storage_from(storage),
        sampler=tpe(seed) if sampler is None else copy.deepcopy(sampler),
        pruner=(
            optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup_steps)
            if pruner == "median"
            else optuna.pruners.NopPruner()
            if pruner is None
            else copy.deepcopy(pruner)
        ),
    )
    try:
        study = optuna.create_study(
            study_name=study_name, direction="maximize", **settings
        )
    except optuna.exceptions.DuplicatedStudyError:
        if storage is None or study_name is None:
            raise
        # Creating fails for all but one of the processes that try at
        # once, which makes "created" the race-free test of who starts
        # the study (and so enqueues the estimator's own parameters).
        study = optuna.load_study(study_name=study_name, **settings)
        directions = [d.name.lower() for d in study.directions]
        if directions != ["maximize"]:
            # Optuna's own default (optuna.create_study, `optuna
            # create-study`) minimises: the search would pick the worst trial.
            raise ValueError(
                f"The study {study_name!r} in the storage has the directions "
                f"{directions}; a search maximises its one score.  Create it "
                "with direction='maximize' (optuna create-study --direction "
                "maximize), or give another study_name."
            ) from None
        if sampler is None and seed is not None:
            # A resumed or shared study: the same seed would make TPE's
            # random start-up trials repeat those of the first run, or of
            # the other workers started with the same random_state (which
            # they need, for the same folds).  Seeded by this worker too.
            study.sampler = tpe(
                zlib.crc32(f"{seed}:{len(study.trials)}:{worker()}".encode())
            )
        return study, False
    except SQLAlchemyError as error:
        raise storage_error(storage, error) from error
    return study, True


def storage_error(address, error, *, name: str = "storage") -> ValueError:
    """One line naming a storage, its password hidden, and what is wrong
    with it: SQLAlchemy's errors (a scheme with no driver, a database it
    cannot open) name neither."""
    shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(address))
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return ValueError(f"{name} {shown!r}: {message}")


class OtherSearchError(ValueError):
    """A stored study's trials were scored on other folds, data, space,
    estimator or scoring than this search's, so it cannot resume it."""


# The study's user attribute that records what its trials are scored on.
SEARCH_RECORD = "skimb_search"


def _described(distribution) -> str | None:
    """A distribution as Optuna stores it; None where its choices are objects
    (a loss instance), which no storage holds and which cannot be compared
    across processes."""
    try:
        return distribution_to_json(distribution)
    except TypeError:
        return None


def _described_value(value) -> str:
    """A parameter's value as text that is the same in every process: plain
    values by their repr, functions and classes by name (not by module,
    which differs between a script and the same file imported), and other
    objects by their class (their repr may hold a memory address; the
    parameters of an estimator inside are compared on their own)."""
    if isinstance(value, np.generic):  # (NumPy 1 and 2 repr them apart)
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{', '.join(map(_described_value, value))}]"
    if isinstance(value, dict):
        items = (
            f"{_described_value(k)}: {_described_value(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    if is_splitter(value):
        # A splitter (``cv``) by its parameters, which scikit-learn's keep
        # under their names, so that 3 and 5 group-wise folds differ.
        cls = type(value)
        params = (
            f"{name}={_described_value(_param(value, name))}"
            for name in splitter_parameters(cls)
        )
        return f"{cls.__qualname__}({', '.join(params)})"
    if isinstance(value, np.ndarray):  # (PredefinedSplit's test_fold)
        return f"ndarray({joblib.hash(value)})"
    return f"<{type(value).__qualname__}>"


def _param(splitter, name: str):
    """A splitter's parameter as scikit-learn's repr of it reads it (the
    repeated splitters keep theirs in ``cvargs``)."""
    value = getattr(splitter, name, None)
    if value is None and isinstance(getattr(splitter, "cvargs", None), dict):
        value = splitter.cvargs.get(name)
    return value


# Parameters that change where and how fast a fit runs, or what it prints
# or logs, not what it learns (XLA and several devices change it by float
# rounding only): workers sharing a study may set them apart (each its own
# GPU, its own cache folder, its own logger).
_UNSCORED = (
    "verbose",
    "n_jobs",
    "pre_dispatch",
    "devices",
    "jit_compile",
    "memory",
    "callbacks",
)


def _estimator_record(estimator, space: dict, scoring) -> dict:
    """The estimator's class, the parameters that the trials do not draw,
    and the scoring, described."""
    searched = tuple(space)
    record = {
        name: _described_value(value)
        for name, value in estimator.get_params(deep=True).items()
        if name not in searched
        and not name.startswith(tuple(f"{s}__" for s in searched))
        and name.rpartition("__")[2] not in _UNSCORED
    }
    # (Keys no parameter can have: parameter names hold no "<".)
    record["<class>"] = type(estimator).__qualname__
    record["<scoring>"] = _described_value(scoring)
    return record


def _data_digest(X) -> str:
    """A digest of ``X``: its number of rows and up to 1,000 rows spread
    over it, as arrays (hashing every row of a large ``X`` would cost more
    than the check is worth; changed features show in a spread sample)."""
    n = _num_samples(X)
    rows = np.unique(np.linspace(0, n - 1, min(n, 1000)).astype(np.int64))
    sample = _safe_indexing(X, rows)
    # A DataFrame's values, not its pickle, in C order (the hash tells the
    # orders apart): as the same array's.
    if isinstance(sample, list):  # sequences of several lengths
        sample = [np.ascontiguousarray(s) for s in sample]
    else:
        sample = np.ascontiguousarray(sample)
    return joblib.hash((n, sample))


def check_same_search(
    study: optuna.Study, *, splits: list, X, y, space: dict, estimator, scoring
) -> None:
    """Record what a study's trials are scored on, where it has no record
    yet, or check that a study resumed from storage (or shared by workers)
    was scored on the same: the same folds of the same labels (the same
    data, ``cv`` and ``random_state``), the same features, the same space
    and the same estimator (its parameters that the trials do not draw).
    Trials scored on other folds, data or estimator do not compare (the
    refit would pair one estimator with another's best parameters), and
    Optuna would fail every trial that draws a parameter on another
    distribution.

    Raises
    ------
    ValueError
        Naming what differs.
    """
    digest = hashlib.sha256(np.asarray(y).astype(str).tobytes())
    for _, test in splits:
        digest.update(b"|" + np.asarray(test, dtype=np.int64).tobytes())
    record = {
        "folds": digest.hexdigest(),
        "data": _data_digest(X),
        "estimator": _estimator_record(estimator, space, scoring),
        "space": {name: _described(d) for name, d in space.items()},
    }
    stored = study.user_attrs.get(SEARCH_RECORD)
    if stored is None:
        # A new study, or one created empty for several workers: one write
        # (a second attribute could be read between two).  Workers started
        # together may both write; the record read back is the one to match.
        study.set_user_attr(SEARCH_RECORD, record)
        stored = study.user_attrs.get(SEARCH_RECORD, record)
    name = study.study_name
    if stored["folds"] != record["folds"]:
        raise OtherSearchError(
            f"The study {name!r} was scored on other folds (other data, cv or "
            "random_state): its trials' scores would not compare with this "
            "search's.  A resumed search, and workers sharing a study, need "
            "the same data, cv and random_state; or give another study_name."
        )
    # Records written before "data" and "estimator" were kept lack them.
    if stored.get("data", record["data"]) != record["data"]:
        raise OtherSearchError(
            f"The study {name!r} was scored on other data (the same labels "
            "and folds, other features): its trials' scores would not "
            "compare with this search's.  A resumed search, and workers "
            "sharing a study, need the same X; or give another study_name."
        )
    changed = _differing(stored["space"], record["space"])
    if changed:
        raise OtherSearchError(
            f"The study {name!r} searched another space: {changed} differ.  "
            "A resumed search, and workers sharing a study, need the same "
            "param_distributions; or give another study_name."
        )
    before, now = stored.get("estimator", record["estimator"]), record["estimator"]
    # A parameter one side lacks is another library version's (a new
    # parameter of scikit-learn's), not another setting.
    changed = _differing(
        {n: v for n, v in before.items() if n in now},
        {n: v for n, v in now.items() if n in before},
    )
    if changed:
        raise OtherSearchError(
            f"The study {name!r} searched another estimator: its parameters "
            f"{changed} differ, so its best trial would be refitted on an "
            "estimator it never scored.  A resumed search, and workers "
            "sharing a study, need the same estimator; or give another "
            "study_name."
        )


def _differing(before: dict, now: dict) -> list[str]:
    return sorted(
        n
        for n in set(before) | set(now)
        if before.get(n) != now.get(n) or (n in before) != (n in now)
    )
