"""The study behind a search: its storage (a database or a journal file
that several workers share), its sampler and pruner, and which worker
created it."""

from __future__ import annotations

import copy
import hashlib
import os
import socket
import warnings
import zlib

import numpy as np
import optuna
from optuna.distributions import distribution_to_json


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
        needed.  A storage object or ``None`` (in memory) is returned as is.

    Returns
    -------
    optuna.storages.BaseStorage, str or None
        What :func:`optuna.create_study` takes as ``storage``.

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
    if not isinstance(address, str) or "://" in address:
        return address
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder = os.path.dirname(os.path.abspath(address))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"storage {address!r}: the folder {folder} of the journal file does "
            "not exist (a storage that is not a database URL, scheme://..., is a "
            "journal file's path)."
        )
    # Optuna's default lock (a symbolic link) works on local disks and NFS.
    return JournalStorage(JournalFileBackend(address))


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
        if sampler is None and seed is not None:
            # A resumed or shared study: the same seed would make TPE's
            # random start-up trials repeat those of the first run, or of
            # the other workers started with the same random_state (which
            # they need, for the same folds).  Seeded by this worker too.
            study.sampler = tpe(
                zlib.crc32(f"{seed}:{len(study.trials)}:{worker()}".encode())
            )
        return study, False
    return study, True


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


def check_same_search(study: optuna.Study, *, splits: list, y, space: dict) -> None:
    """Record what a study's trials are scored on, where it has no record
    yet, or check that a study resumed from storage (or shared by workers)
    was scored on the same: the same folds of the same labels (the same
    data, ``cv`` and ``random_state``) and the same space.  Trials scored
    on other folds do not compare, and Optuna would fail every trial that
    draws a parameter on another distribution.

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
        raise ValueError(
            f"The study {name!r} was scored on other folds (other data, cv or "
            "random_state): its trials' scores would not compare with this "
            "search's.  A resumed search, and workers sharing a study, need "
            "the same data, cv and random_state; or give another study_name."
        )
    before, now = stored["space"], record["space"]
    changed = sorted(
        n
        for n in set(before) | set(now)
        if before.get(n) != now.get(n) or (n in before) != (n in now)
    )
    if changed:
        raise ValueError(
            f"The study {name!r} searched another space: {changed} differ.  "
            "A resumed search, and workers sharing a study, need the same "
            "param_distributions; or give another study_name."
        )
