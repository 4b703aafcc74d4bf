"""Model files: pickle-free round trips, refusals, damage and interrupted saves."""

import hashlib
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skimb import ImbalancedKerasClassifier
from skimb.losses import FocalLoss
from skimb.metrics import macro_f1
from skimb.persistence import FORMAT_VERSION, ModelFileError, load, save
from skimb.persistence._archive import seal as seal_bytes


@pytest.fixture(scope="module")
def dense_file(fitted_dense, tmp_path_factory):
    return save(fitted_dense, tmp_path_factory.mktemp("models") / "dense.skimb")


def _rewrite(source, target, change, *, seal=True):
    """Copy a model file, letting ``change(members)`` edit its members, and
    seal it as ``save`` does (as anyone can: the seal is not a signature)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = b"skimb-sha256:" + b"0" * 64
    data = buffer.getvalue()
    target.write_bytes(seal_bytes(data) if seal else data)
    return target


def _edit_estimator(members, edit, *, fix_checksum=True):
    tree = json.loads(members["estimator.json"])
    edit(tree)
    members["estimator.json"] = json.dumps(tree).encode()
    if fix_checksum:
        manifest = json.loads(members["manifest.json"])
        manifest["sha256"]["estimator.json"] = hashlib.sha256(
            members["estimator.json"]
        ).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()


# ---------------------------------------------------------------- round trips


def test_round_trip_gives_identical_probabilities_and_state(
    fitted_dense, dense_file, tabular
):
    X, _ = tabular
    loaded = load(dense_file)
    assert type(loaded) is ImbalancedKerasClassifier
    np.testing.assert_array_equal(
        loaded.predict_proba(X), fitted_dense.predict_proba(X)
    )
    assert loaded.get_params() == fitted_dense.get_params()
    for name in ("classes_", "class_weight_"):
        original, restored = getattr(fitted_dense, name), getattr(loaded, name)
        assert restored.dtype == original.dtype
        np.testing.assert_array_equal(restored, original)
    assert loaded.input_shape_ == fitted_dense.input_shape_
    assert isinstance(loaded.input_shape_, tuple)
    assert loaded.history_ == fitted_dense.history_
    assert loaded.best_epoch_ == fitted_dense.best_epoch_


def test_sequence_model_round_trip(fitted_lstm, sequences, tmp_path):
    X, _ = sequences
    loaded = load(save(fitted_lstm, tmp_path / "lstm.skimb"))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_lstm.predict_proba(X))


def test_load_never_unpickles(dense_file, tabular, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load used pickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert load(dense_file).predict(tabular[0][:3]).shape == (3,)


def test_every_fitted_attribute_is_kept_with_its_type(dense_file, tmp_path):
    # Attributes that other parts of skimb add (decision offsets and the
    # like) must be saved without this module knowing their names.
    model = load(dense_file)
    model.decision_offsets_ = np.array([0.5, -1.25, 0.0, 2.0], dtype=np.float32)
    model.threshold_ = np.float32(0.25)
    model.names_ = np.array(["a", "bb"])
    model.labels_ = np.array(["x", 3, 2.5], dtype=object)
    model.notes_ = {
        "rows": [1, 2.5, "x", None, True],
        3: (1, 2),
        "nan": np.nan,
        # NumPy 2 writes this np.float64(-inf), which float() cannot read.
        "inf": np.float64("-inf"),
    }
    loaded = load(save(model, tmp_path / "extra.skimb"))
    assert loaded.decision_offsets_.dtype == np.float32
    np.testing.assert_array_equal(loaded.decision_offsets_, model.decision_offsets_)
    assert type(loaded.threshold_) is np.float32 and loaded.threshold_ == 0.25
    assert loaded.names_.dtype == model.names_.dtype
    assert loaded.names_.tolist() == ["a", "bb"]
    assert loaded.labels_.dtype == object
    assert loaded.labels_.tolist() == ["x", 3, 2.5]
    assert loaded.notes_["rows"] == [1, 2.5, "x", None, True]
    assert loaded.notes_[3] == (1, 2)
    assert np.isnan(loaded.notes_["nan"])
    assert loaded.notes_["inf"] == -np.inf


def test_string_labels_and_sklearn_pipelines(tmp_path):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]] * 4)
    y = np.array(["low", "low", "mid", "high", "high"] * 4, dtype=object)
    for pipeline in (
        make_pipeline(StandardScaler(), LogisticRegression()),
        make_imblearn_pipeline(
            RandomOverSampler(random_state=0), StandardScaler(), LogisticRegression()
        ),
    ):
        pipeline.fit(X, y)
        loaded = load(save(pipeline, tmp_path / "pipeline.skimb"))
        assert type(loaded) is type(pipeline)
        np.testing.assert_array_equal(
            loaded.predict_proba(X), pipeline.predict_proba(X)
        )
        assert loaded.classes_.tolist() == pipeline.classes_.tolist()


def test_keras_and_skimb_loss_parameters_round_trip(tmp_path):
    path = tmp_path / "unfitted.skimb"
    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    loaded = load(save(ImbalancedKerasClassifier(loss=smoothed), path))
    assert isinstance(loaded.loss, keras.losses.CategoricalCrossentropy)
    assert loaded.loss.get_config()["label_smoothing"] == 0.1
    function = keras.losses.categorical_crossentropy
    assert load(save(ImbalancedKerasClassifier(loss=function), path)).loss is function
    focal = load(save(ImbalancedKerasClassifier(loss=FocalLoss(gamma=3.0)), path))
    assert isinstance(focal.loss, FocalLoss) and focal.loss.gamma == 3.0


def test_losses_named_outside_keras_are_not_loaded(tmp_path):
    path = save(ImbalancedKerasClassifier(loss=FocalLoss()), tmp_path / "m.skimb")

    def hostile(tree):
        tree["params"]["loss"]["config"] = {
            "module": "os",
            "class_name": "function",
            "config": "system",
            "registered_name": "function",
        }

    hostile_path = _rewrite(
        path, tmp_path / "hostile.skimb", lambda m: _edit_estimator(m, hostile)
    )
    with pytest.raises(ModelFileError, match="outside Keras and skimb"):
        load(hostile_path)


# ------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "params, named",
    [
        ({"callbacks": [keras.callbacks.TerminateOnNaN()]}, "callbacks=None"),
        ({"random_state": np.random.RandomState(0)}, "integer random_state"),
        (
            {"cv": KFold(3, shuffle=True, random_state=np.random.RandomState(0))},
            "parameter 'cv' parameter 'random_state'",
        ),
        ({"loss": lambda y_true, y_pred: y_pred}, "'loss'"),
    ],
)
def test_what_cannot_be_stored_is_refused_by_name(params, named, tmp_path):
    path = tmp_path / "model.skimb"
    with pytest.raises(TypeError, match="Cannot store") as error:
        save(ImbalancedKerasClassifier(**params), path)
    assert named in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "func",
    [macro_f1, keras.ops.relu],
    ids=["skimb-function", "keras-op"],
)
def test_functions_keras_cannot_rebuild_by_name_are_refused(func, tmp_path):
    # A function of skimb's that Keras has not registered was saved and
    # never loaded; keras.ops.relu loaded as keras.activations.relu.
    with pytest.raises(TypeError, match="Cannot store .*could not load it back"):
        save(FunctionTransformer(func), tmp_path / "model.skimb")
    assert list(tmp_path.iterdir()) == []
    # What Keras rebuilds by name still round-trips.
    loss = keras.losses.categorical_crossentropy
    assert load(save(FunctionTransformer(loss), tmp_path / "ok.skimb")).func is loss


def test_unknown_attribute_types_and_foreign_estimators_are_refused(
    dense_file, tmp_path
):
    model = load(dense_file)
    model.cache_ = object()
    with pytest.raises(TypeError, match=r"ImbalancedKerasClassifier\.cache_"):
        save(model, tmp_path / "model.skimb")

    class Custom(LogisticRegression):
        pass

    with pytest.raises(TypeError, match="pickle or joblib"):
        save(Custom(), tmp_path / "model.skimb")
    assert list(tmp_path.iterdir()) == []


def test_splitters_outside_trusted_packages_are_refused(tmp_path):
    class Folds(KFold):
        pass

    with pytest.raises(TypeError, match="Folds comes from .*pickle or joblib"):
        save(ImbalancedKerasClassifier(cv=Folds(3)), tmp_path / "model.skimb")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------- damaged or hostile files


def test_truncated_file_fails_clearly(dense_file, tmp_path):
    data = dense_file.read_bytes()
    for size in (0, 100, len(data) // 2, len(data) - 100, len(data) - 10):
        path = tmp_path / f"cut{size}.skimb"
        path.write_bytes(data[:size])
        with pytest.raises(ModelFileError, match="truncated or damaged"):
            load(path)


def test_any_flipped_byte_fails_clearly(dense_file, tmp_path):
    data = dense_file.read_bytes()
    path = tmp_path / "flipped.skimb"
    # Bytes across the whole file: headers, the JSON, the network, the
    # zip directory.
    for position in np.linspace(0, len(data) - 1, 40).astype(int):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with pytest.raises(ModelFileError):
            load(path)


def test_edited_member_fails_its_checksum(dense_file, tmp_path):
    def more_units(tree):
        tree["params"]["units"] = 9

    def edit(members):
        _edit_estimator(members, more_units, fix_checksum=False)

    unsealed = _rewrite(dense_file, tmp_path / "a.skimb", edit, seal=False)
    with pytest.raises(ModelFileError, match="altered or damaged: its checksum"):
        load(unsealed)
    path = _rewrite(dense_file, tmp_path / "b.skimb", edit)
    with pytest.raises(ModelFileError, match="altered or damaged.*estimator.json"):
        load(path)


def test_other_files_are_not_model_files(tmp_path):
    text = tmp_path / "notes.skimb"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a skimb model file"):
        load(text)
    other_zip = tmp_path / "other.skimb"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("data.txt", "x")
    with pytest.raises(ModelFileError, match="not a skimb model file"):
        load(other_zip)
    sealed_zip = _rewrite(other_zip, tmp_path / "sealed.skimb", lambda m: None)
    with pytest.raises(ModelFileError, match="not a skimb model file.*no manifest"):
        load(sealed_zip)
    with pytest.raises(FileNotFoundError, match="No model file"):
        load(tmp_path / "missing.skimb")


def test_newer_format_version_fails_with_upgrade_message(dense_file, tmp_path):
    def newer(members):
        manifest = json.loads(members["manifest.json"])
        manifest["format_version"] = FORMAT_VERSION + 1
        manifest["skimb_version"] = "99.0"
        members["manifest.json"] = json.dumps(manifest).encode()

    path = _rewrite(dense_file, tmp_path / "newer.skimb", newer)
    with pytest.raises(ModelFileError, match="skimb 99.0 .*Upgrade skimb"):
        load(path)


@pytest.mark.parametrize(
    "name, problem",
    [
        ("os:system", "not loaded"),
        ("sklearn.linear_model:LogisticRegression", "not a splitter"),
    ],
)
def test_a_splitter_entry_names_a_splitter(name, problem, tmp_path):
    path = save(ImbalancedKerasClassifier(cv=KFold(3)), tmp_path / "model.skimb")

    def hostile(tree):
        assert tree["params"]["cv"]["type"] == "splitter"
        tree["params"]["cv"]["class"] = name

    hostile_path = _rewrite(
        path, tmp_path / "hostile.skimb", lambda m: _edit_estimator(m, hostile)
    )
    with pytest.raises(ModelFileError, match=problem):
        load(hostile_path)


@pytest.mark.parametrize(
    "name", ["os:system", "builtins:eval", "sklearn:show_versions"]
)
def test_classes_outside_trusted_estimators_are_not_loaded(name, dense_file, tmp_path):
    def hostile(tree):
        tree["class"] = name

    path = _rewrite(
        dense_file, tmp_path / "hostile.skimb", lambda m: _edit_estimator(m, hostile)
    )
    with pytest.raises(ModelFileError, match="not loaded|not an estimator"):
        load(path)


def test_lambda_layers_are_refused_by_keras_safe_mode(dense_file, tmp_path):
    # A network that would run Python code of the file's author on loading.
    inputs = keras.Input((6,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    model = load(dense_file)
    model.model_ = keras.Model(inputs, outputs)
    path = save(model, tmp_path / "lambda.skimb")
    with pytest.raises(ModelFileError, match="(?i)lambda"):
        load(path)


# ----------------------------------------------------------- interrupted save


def test_interrupted_save_leaves_previous_file_untouched(
    fitted_dense, tmp_path, monkeypatch
):
    path = tmp_path / "model.skimb"
    path.write_bytes(b"previous")

    real_replace = os.replace

    def interrupted(source, target):
        if Path(target).parent != tmp_path:
            return real_replace(source, target)
        # The temporary file is written by now, and must go.
        assert Path(source).is_file() and Path(source).parent == tmp_path
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(fitted_dense, path)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skimb"]
    with pytest.raises(KeyboardInterrupt):
        save(fitted_dense, tmp_path / "new.skimb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skimb"]


def test_save_into_missing_folder_fails_clearly(fitted_dense, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save(fitted_dense, tmp_path / "nowhere" / "model.skimb")


def test_a_model_trained_by_partial_fit_is_saved_without_its_compiled_epoch(
    tabular, fast_params, tmp_path
):
    X, y = tabular
    clf = ImbalancedKerasClassifier(**fast_params)
    for rows in np.array_split(np.arange(len(y)), 2):
        clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2, 3])
    assert hasattr(clf, "_program")
    loaded = load(save(clf, tmp_path / "model.skimb"))
    assert not hasattr(loaded, "_program")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    loaded.partial_fit(X, y)  # compiles its own epoch
    assert len(loaded.history_["loss"]) == 3


def test_an_unregistered_layer_inside_a_recurrent_layer_is_refused(
    dense_file, tmp_path
):
    class UserCell(keras.layers.Layer):  # not registered as serialisable
        state_size = 2

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 2))

        def call(self, inputs, states):
            output = keras.ops.matmul(inputs, self.kernel) + states[0]
            return output, [output]

    inputs = keras.Input((3, 4))
    network = keras.Model(inputs, keras.layers.RNN(UserCell())(inputs))
    model = load(dense_file)
    model.model_ = network
    with pytest.raises(TypeError, match="'user_cell'.*UserCell"):
        save(model, tmp_path / "model.skimb")
    assert list(tmp_path.iterdir()) == []


def test_a_registered_layer_may_build_unregistered_layers_of_its_own(
    dense_file, tmp_path
):
    class Helper(keras.layers.Layer):  # not registered: Doubling builds it
        def call(self, x):
            return x * 2.0

    @keras.saving.register_keras_serializable(package="skimb_tests")
    class Doubling(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.helper = Helper()

        def build(self, input_shape):
            self.helper.build(input_shape)

        def call(self, x):
            return self.helper(x)

    inputs = keras.Input((3,))
    model = load(dense_file)
    model.model_ = keras.Model(inputs, Doubling()(inputs))
    save(model, tmp_path / "model.skimb")
    loaded = load(tmp_path / "model.skimb").model_
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), 2 * x)
