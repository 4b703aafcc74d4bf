"""Fitting and predicting from files: skimb.data.Shards, streamed a window at
a time by the training engine."""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import sklearn
from imblearn.over_sampling import SMOTE
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv

from skimb import ImbalancedKerasClassifier
from skimb.data import Shards
from skimb.datasets import make_imbalanced_classification


def _save_shards(folder: Path, X, y, parts: int, *, compressed_last=False):
    folder.mkdir(exist_ok=True)
    pieces = np.array_split(np.arange(len(X)), parts)
    for i, rows in enumerate(pieces):
        save = np.savez_compressed if compressed_last and i == parts - 1 else np.savez
        save(folder / f"part-{i}.npz", X=X[rows], y=y[rows])
    return folder


def _frame(X, y=None):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    if y is not None:
        frame["label"] = y
    return frame


@pytest.fixture(scope="module")
def larger():
    """Enough rows for several windows with every class in each."""
    X, y = make_imbalanced_classification(
        1200, n_features=6, n_informative=3, weights=(10, 100, 40, 20), random_state=0
    )
    X_test, y_test = make_imbalanced_classification(
        1200, n_features=6, n_informative=3, weights=(10, 100, 40, 20), random_state=1
    )
    return X, y, X_test, y_test


def test_windows_read_every_row_once_in_the_epoch_order(sequences, tmp_path):
    X, y = sequences
    shards = Shards(
        _save_shards(tmp_path / "s", X, y, 3, compressed_last=True), window_rows=64
    )
    assert (shards.n_rows, shards.sample_shape) == (len(X), X.shape[1:])
    np.testing.assert_array_equal(shards.labels(), y)
    order = shards.epoch_order(np.random.RandomState(1))
    assert sorted(order) == [0, 1, 2] and list(order) != [0, 1, 2]
    window, position = shards.locate(np.arange(len(X)), order)
    seen = []
    for w, (ids, features) in enumerate(shards.windows(order)):
        # Windows span shards; the last one is short.
        assert len(ids) == 64 or w == len(X) // 64
        np.testing.assert_array_equal(features, X[ids])
        np.testing.assert_array_equal(window[ids], w)
        np.testing.assert_array_equal(position[ids], np.arange(len(ids)))
        seen.append(ids)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(len(X)))


def test_the_next_window_is_read_in_a_thread_that_never_outlives_the_reading(
    sequences, tmp_path
):
    X, y = sequences
    shards = Shards(_save_shards(tmp_path / "s", X, y, 3), window_rows=64)

    def readers():
        return [t for t in threading.enumerate() if t.name.startswith("skimb-read")]

    prepared_in = []

    def prepare(raw):
        prepared_in.append(threading.current_thread().name)
        return raw * 2

    windows = shards.windows(prepare=prepare)
    ids, first = next(windows)
    np.testing.assert_array_equal(first, X[ids] * 2)
    # While the caller holds the first window, the second is read and
    # prepared in the reading thread.
    assert len(readers()) == 1
    windows.close()  # the caller stops early: the thread goes with it
    assert readers() == []
    assert prepared_in and all(n.startswith("skimb-read") for n in prepared_in)
    # An error while reading ahead reaches the caller, with its own message.

    calls = []

    def failing(raw):
        calls.append(len(raw))
        if len(calls) > 1:
            raise ValueError("a bad window")
        return raw

    # It names the window's rows.
    with pytest.raises(ValueError, match="Rows 64 to 127 of the shards: a bad window"):
        list(shards.windows(prepare=failing))
    assert readers() == []
    # The reading thread checks windows under the caller's scikit-learn
    # settings (which are per thread).
    with sklearn.config_context(assume_finite=True):
        seen = [
            ok
            for _, ok in shards.windows(
                prepare=lambda raw: sklearn.get_config()["assume_finite"]
            )
        ]
    assert len(seen) > 1 and all(seen)


def test_parquet_shards_read_the_target_apart(tabular, tmp_path):
    X, y = tabular
    for i, rows in enumerate(np.array_split(np.arange(len(X)), 2)):
        _frame(X[rows], y[rows]).to_parquet(tmp_path / f"part-{i}.parquet")
    shards = Shards(tmp_path / "*.parquet", target="label", window_rows=100)
    np.testing.assert_array_equal(shards.labels(), y)
    ids, frame = next(iter(shards.windows()))
    assert list(frame.columns) == [f"f{i}" for i in range(X.shape[1])]
    np.testing.assert_allclose(frame.to_numpy(), X[ids])


def test_an_empty_shard_leaves_the_labels_type_alone(tabular, tmp_path):
    # np.array([]) is float64: concatenated, it made every label a float
    # (and classes_ and the predictions with it).
    X, y = tabular
    folder = _save_shards(tmp_path / "shards", X, y, 2)
    np.savez(folder / "part-2.npz", X=np.empty((0, X.shape[1])), y=np.array([]))
    labels = Shards(folder).labels()
    assert labels.dtype == y.dtype
    np.testing.assert_array_equal(labels, y)


def test_shards_name_what_is_wrong(tabular, tmp_path):
    X, y = tabular
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .parquet, .pq or .npz files"):
        Shards(tmp_path / "empty")
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez(tmp_path / "b.npz", X=X[:, :4], y=y)
    with pytest.raises(ValueError, match=r"b.npz: its features \(X of shape \(n, 4"):
        Shards([tmp_path / "a.npz", tmp_path / "b.npz"])
    _frame(X, y).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(ValueError, match="all Parquet or all .npz"):
        Shards([tmp_path / "a.npz", tmp_path / "c.parquet"])
    with pytest.raises(ValueError, match="no label column 'target'"):
        Shards([tmp_path / "c.parquet"], target="target").labels()
    np.savez(tmp_path / "d.npz", X=X)
    with pytest.raises(ValueError, match="no array named 'y'"):
        Shards([tmp_path / "d.npz"]).labels()
    with pytest.raises(ValueError, match="window_rows must be a positive int"):
        Shards([tmp_path / "a.npz"], window_rows=0)
    # "auto": 32 MiB of float32 features, in a power of two of rows.
    assert Shards([tmp_path / "a.npz"]).window_rows == 2**20
    (tmp_path / "e.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="e.npz: not a readable .npz file"):
        Shards([tmp_path / "e.npz"])
    # Labels of two kinds would be cast to one: other classes.
    np.savez(tmp_path / "f.npz", X=X, y=np.array(list("abcd"))[y])
    with pytest.raises(ValueError, match=r"numbers in .*a.npz but text in .*f.npz"):
        Shards([tmp_path / "a.npz", tmp_path / "f.npz"]).labels()
    np.savez(tmp_path / "g.npz", X=np.empty((len(y), 0)), y=y)
    with pytest.raises(ValueError, match=r"g.npz: its rows have shape \(0,\)"):
        Shards([tmp_path / "g.npz"])


def test_shards_where_only_arrays_go_are_named(tabular, tmp_path, fast_params):
    X, y = tabular
    shards = Shards(_save_shards(tmp_path / "s", X, y, 2))
    clf = ImbalancedKerasClassifier(**fast_params)
    with pytest.raises(TypeError, match="partial_fit takes arrays, not Shards"):
        clf.partial_fit(shards, None, classes=[0, 1, 2, 3])
    with pytest.raises(TypeError, match="initialize takes arrays, not Shards"):
        clf.initialize(shards, None)
    assert not hasattr(clf, "model_")


@pytest.mark.parametrize("sampler", [None, "smote"])
def test_a_fit_streamed_in_one_window_is_the_fit_in_memory(
    tabular, tmp_path, sampler, fast_params
):
    X, y = tabular
    params = dict(fast_params, cv=3, batch_sampler=sampler)
    in_memory = ImbalancedKerasClassifier(**params).fit(X, y)
    shards = Shards(_save_shards(tmp_path / "s", X, y, 1))
    streamed = ImbalancedKerasClassifier(**params).fit(shards)
    assert streamed.n_networks_ == 3
    for ours, theirs in zip(streamed.histories_, in_memory.histories_, strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:
            # The held-out rows fit in one window, so both are scored alike,
            # up to the float32 rounding of a different summation order.
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(
        streamed.predict_proba(X), in_memory.predict_proba(X), rtol=1e-5, atol=1e-7
    )


def test_a_streamed_fit_takes_a_group_splitter_and_refuses_rows_left_out(
    tabular, tmp_path, fast_params
):
    X, y = tabular
    groups = np.arange(len(y)) // 5
    params = dict(fast_params, cv=StratifiedGroupKFold(3, shuffle=True, random_state=0))
    in_memory = ImbalancedKerasClassifier(**params).fit(X, y, groups=groups)
    shards = Shards(_save_shards(tmp_path / "s", X, y, 1))
    streamed = ImbalancedKerasClassifier(**params).fit(shards, groups=groups)
    assert streamed.n_networks_ == 3
    np.testing.assert_allclose(
        streamed.predict_proba(X), in_memory.predict_proba(X), rtol=1e-5, atol=1e-7
    )
    # 20 rows neither train nor validate: fine in memory, where each network
    # reads its own rows, not in one pass over the shards.
    train, held_out = next(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    partial = dict(fast_params, cv=check_cv([(train[20:], held_out)]))
    assert ImbalancedKerasClassifier(**partial).fit(X, y).n_networks_ == 1
    with pytest.raises(ValueError, match="leaves some rows out of both"):
        ImbalancedKerasClassifier(**partial).fit(shards)


def test_callbacks_count_the_steps_of_streamed_windows(tmp_path, monkeypatch):
    # One shard per group and a window per shard: each network has no row
    # in the window of the group it holds out.  Those steps weighed nothing
    # for it; the callbacks were told the steps of the longest fold (65
    # here), not the epoch's (96).
    from sklearn.model_selection import GroupKFold

    import skimb._schedule

    rng = np.random.RandomState(0)
    sizes = [1000, 1040, 1032]
    X = rng.normal(size=(sum(sizes), 2)).astype("float32")
    y = (X[:, 0] + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
    folder = tmp_path / "s"
    folder.mkdir()
    for i, (start, size) in enumerate(
        zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True)
    ):
        np.savez(
            folder / f"part-{i}.npz",
            X=X[start : start + size],
            y=y[start : start + size],
        )
    epoch = skimb._schedule.Schedule.epoch
    drawn = []

    def spy(self, number):
        for chunk in epoch(self, number):
            drawn.append((number, chunk[2]))
            yield chunk

    monkeypatch.setattr(skimb._schedule.Schedule, "epoch", spy)

    class Steps(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.told, self.ended = self.params["steps"], []

        def on_train_batch_end(self, batch, logs=None):
            self.ended.append(batch)

    steps = Steps()
    clf = ImbalancedKerasClassifier(
        units=4,
        epochs=2,
        batch_size=32,
        cv=GroupKFold(3),
        early_stopping=False,
        loss="crossentropy",
        random_state=0,
        callbacks=[steps],
    ).fit(Shards(folder, window_rows=1024), groups=np.repeat([0, 1, 2], sizes))
    per_epoch = [sum(len(W) for e, W in drawn if e == i) for i in range(2)]
    assert steps.told is None
    assert steps.ended == [n - 1 for n in per_epoch]
    # Some network had steps of weight 0 in each epoch (which it does not
    # take: tests/test_engine.py).
    for i in range(2):
        weighed = [(W.sum(axis=2) > 0).sum(axis=0) for e, W in drawn if e == i]
        assert (np.sum(weighed, axis=0) < per_epoch[i]).any()
    assert clf.n_networks_ == 3


@pytest.mark.slow
def test_a_fit_streamed_in_windows_matches_memory_within_seed_noise(
    larger, tmp_path, fast_params
):
    X, y, X_test, y_test = larger
    shards = Shards(_save_shards(tmp_path / "s", X, y, 4), window_rows=300)
    params = dict(fast_params, epochs=8, units=16, cv=3)
    scores = {"memory": [], "streamed": []}
    for seed in range(3):
        for kind, data in (("memory", (X, y)), ("streamed", (shards,))):
            clf = ImbalancedKerasClassifier(**dict(params, random_state=seed))
            predicted = clf.fit(*data).predict(X_test)
            scores[kind].append(f1_score(y_test, predicted, average="macro"))
    memory, streamed = np.array(scores["memory"]), np.array(scores["streamed"])
    # Seed noise: the spread of the in-memory fits over seeds.
    noise = max(memory.max() - memory.min(), 0.02)
    assert abs(streamed.mean() - memory.mean()) <= noise, scores
    assert streamed.min() > 0.5, scores


def test_streamed_prediction_is_the_in_memory_prediction(
    fitted_dense, tabular, tmp_path, fast_params
):
    X, _ = tabular
    for i, rows in enumerate(np.array_split(np.arange(len(X)), 3)):
        # Shards without labels: prediction does not need them.
        _frame(X[rows]).to_parquet(tmp_path / f"part-{i}.parquet")
    clf = ImbalancedKerasClassifier(**fast_params).fit(_frame(X), tabular[1])
    shards = Shards(tmp_path, window_rows=50)
    np.testing.assert_allclose(
        clf.predict_proba(shards), clf.predict_proba(_frame(X)), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(clf.predict(shards), clf.predict(_frame(X)))
    assert clf.decision_function(shards).shape == (len(X), 4)
    labelled = Shards(_save_shards(tmp_path / "labelled", X, tabular[1], 2))
    assert fitted_dense.score(labelled) == fitted_dense.score(X, tabular[1])
    # Feature names are checked per window, as for a DataFrame.
    _frame(X).rename(columns={"f0": "g0"}).to_parquet(tmp_path / "part-9.parquet")
    with pytest.raises(ValueError, match="Rows .* of the shards: .*feature names"):
        clf.predict(Shards(tmp_path / "part-9.parquet"))
    # The model fitted on arrays takes Shards of .npz arrays too.
    np.savez(tmp_path / "new.npz", X=X)
    np.testing.assert_array_equal(
        fitted_dense.predict(Shards([tmp_path / "new.npz"])), fitted_dense.predict(X)
    )


def test_a_streamed_fit_names_bad_input(tabular, tmp_path, fast_params):
    X, y = tabular
    shards = Shards(_save_shards(tmp_path / "s", X, y, 2), window_rows=100)
    clf = ImbalancedKerasClassifier(**fast_params)
    with pytest.raises(ValueError, match="pass neither y nor sample_weight"):
        clf.fit(shards, y)
    with pytest.raises(ValueError, match="pass neither y nor sample_weight"):
        clf.fit(shards, sample_weight=np.ones(len(y)))
    broken = X.copy()
    broken[150, 2] = np.nan
    np.savez(tmp_path / "s" / "part-1.npz", X=broken[170:], y=y[170:])
    np.savez(tmp_path / "s" / "part-0.npz", X=broken[:170], y=y[:170])
    with pytest.raises(ValueError, match="Rows 100 to 199 of the shards: .*NaN"):
        clf.fit(Shards(tmp_path / "s", window_rows=100))
    one_class = tmp_path / "one.npz"
    np.savez(one_class, X=X, y=np.zeros(len(X)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(Shards([one_class]))
    assert not np.isnan(X).any()  # the caller's arrays are untouched


def test_smote_in_a_window_too_small_says_so(larger, tmp_path, fast_params):
    X, y, _, _ = larger
    shards = Shards(_save_shards(tmp_path / "s", X, y, 2), window_rows=40)
    clf = ImbalancedKerasClassifier(**dict(fast_params, batch_sampler=SMOTE()))
    with pytest.raises(ValueError, match="each window of 40 rows.*window_rows"):
        clf.fit(shards)


CAPPED = """
import json, resource, sys
import numpy as np
from skimb import ImbalancedKerasClassifier
from skimb.data import Shards

folder, budget = sys.argv[1], int(sys.argv[2])
# Keras, the backend and their thread pools are loaded before the cap:
# the cap bounds what the data may add.
rng = np.random.RandomState(0)
X = rng.normal(size=(300, 512)).astype("float32")
ImbalancedKerasClassifier(epochs=1, cv=None).fit(X, rng.randint(0, 3, 300)).predict(X)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
cap = status("VmSize") + budget
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
shards = Shards(folder, window_rows=4096)
out = {"data_bytes": shards.n_rows * 512 * 4}
try:
    np.concatenate([np.load(f)["X"] for f in shards.files])
    out["in_memory"] = "loaded"
except MemoryError:
    out["in_memory"] = "MemoryError"
clf = ImbalancedKerasClassifier(epochs=1, cv=None, batch_size=1024, random_state=0)
proba = clf.fit(shards).predict_proba(shards)
y = shards.labels()
out["rows"] = len(proba)
out["accuracy"] = float((clf.classes_[proba.argmax(1)] == y).mean())
out["majority"] = float(np.bincount(y).max() / len(y))
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the memory cap test runs once, on the default backend",
)
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_fits_and_predicts_data_four_times_the_memory_cap(tmp_path):
    budget = 128 * 2**20
    rng = np.random.RandomState(0)
    centres = rng.normal(size=(3, 512)).astype("float32") * 0.1
    rows, written = 65_536, 0
    while written < 4.2 * budget:
        y = rng.choice(3, size=rows, p=[0.8, 0.15, 0.05])
        X = rng.normal(size=(rows, 512)).astype("float32") + centres[y]
        np.savez(tmp_path / f"part-{written // (rows * 2048):03d}.npz", X=X, y=y)
        written += X.nbytes
    script = tmp_path / "capped.py"
    script.write_text(textwrap.dedent(CAPPED))
    # Few malloc arenas: each thread's would reserve 64 MiB of address space.
    env = dict(os.environ, MALLOC_ARENA_MAX="2", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(budget)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["data_bytes"] >= 4 * budget
    # The cap binds: the same data do not load in memory under it.
    assert out["in_memory"] == "MemoryError"
    assert out["rows"] == out["data_bytes"] // 2048
    # The streamed network learned (the classes are shifted Gaussians).
    assert out["accuracy"] > out["majority"] + 0.05, out
