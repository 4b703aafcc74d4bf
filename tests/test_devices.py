"""Data-parallel training on several devices (``devices=``).

The several-device fits run in a subprocess on Keras' JAX backend with the
CPU split into four logical devices (XLA's
``--xla_force_host_platform_device_count``), which must be set before JAX
starts.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from skimb import ImbalancedKerasClassifier

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    from sklearn.metrics import f1_score
    from skimb import ImbalancedKerasClassifier
    from skimb._program import Program
    from skimb.datasets import make_imbalanced_classification

    # What each epoch trains on: the devices holding the weights and the data.
    seen = []
    run_epoch = Program.run_epoch

    def spy(self, *args, **kwargs):
        seen.append([
            len(self._state[0][0].sharding.device_set),
            len(self.X.sharding.device_set),
        ])
        return run_epoch(self, *args, **kwargs)

    Program.run_epoch = spy
    X, y = make_imbalanced_classification(2000, random_state=0)
    X_test, y_test = make_imbalanced_classification(4000, random_state=1)
    results = {}
    for devices in (None, 4, 3):
        seen.clear()
        X_given = X.copy()
        clf = ImbalancedKerasClassifier(
            devices=devices, cv=None, epochs=25, batch_size=128, random_state=0
        ).fit(X_given, y)
        predicted = clf.predict(X_test)
        results[str(devices)] = {
            "seen": seen[:],
            "after": len(clf.model_.trainable_variables[0].value.sharding.device_set),
            "f1": f1_score(y_test, predicted, average="macro"),
            "predicted": predicted.tolist(),
            "unchanged": bool(np.array_equal(X_given, X)),
        }
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_several_logical_devices_train_like_one():
    # CI runs this file again after installing JAX (.ci/run).
    pytest.importorskip("jax")
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    output = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert output.returncode == 0, output.stderr[-3000:]
    results = json.loads(output.stdout.strip().splitlines()[-1])
    one, four, three = results["None"], results["4"], results["3"]
    # Trained on the devices asked for: weights and data replicated on each
    # (a batch of 128 rows splits unevenly over 3), every epoch.
    assert one["seen"] and all(s == [1, 1] for s in one["seen"])
    assert four["seen"] and all(s == [4, 4] for s in four["seen"])
    assert three["seen"] and all(s == [3, 3] for s in three["seen"])
    # The fitted model lives on one device, as after a one-device fit.
    assert one["after"] == four["after"] == three["after"] == 1
    # The same steps up to the order of float additions: the same model
    # within seed noise.
    for several in (four, three):
        assert abs(several["f1"] - one["f1"]) < 0.02
        agree = sum(
            a == b for a, b in zip(several["predicted"], one["predicted"], strict=True)
        ) / len(one["predicted"])
        assert agree > 0.95
        assert several["unchanged"]


def test_devices_beyond_those_keras_sees_are_named(tabular):
    X, y = tabular
    count = len(keras.distribution.list_devices())
    # On JAX the devices Keras sees are named; elsewhere, that several need JAX.
    beyond = (
        "but Keras sees" if keras.backend.backend() == "jax" else "KERAS_BACKEND=jax"
    )
    with pytest.raises(ValueError, match=f"devices={count + 1}.*{beyond}"):
        ImbalancedKerasClassifier(devices=count + 1, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="name each device once"):
        ImbalancedKerasClassifier(devices=["tpu:9"], epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="name each device once"):
        ImbalancedKerasClassifier(devices=[], epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="devices"):
        ImbalancedKerasClassifier(devices=0, epochs=1).fit(X, y)


def test_one_device_by_name_or_all_is_a_plain_fit(tabular):
    X, y = tabular
    first = keras.distribution.list_devices()[0]
    params = dict(epochs=3, cv=None, random_state=0)
    plain = ImbalancedKerasClassifier(**params).fit(X, y).predict_proba(X)
    named = ImbalancedKerasClassifier(devices=[first], **params).fit(X, y)
    assert named.predict_proba(X) == pytest.approx(plain, abs=1e-6)
    if len(keras.distribution.list_devices()) == 1:
        every = ImbalancedKerasClassifier(devices="all", **params).fit(X, y)
        assert every.predict_proba(X) == pytest.approx(plain, abs=1e-6)


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="the other backends' refusal"
)
def test_several_devices_on_tensorflow_say_to_use_jax(tabular, monkeypatch):
    X, y = tabular
    monkeypatch.setattr(
        keras.distribution, "list_devices", lambda *a: ["gpu:0", "gpu:1"]
    )
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        ImbalancedKerasClassifier(devices="all", epochs=1).fit(X, y)
    # A number of devices beyond those seen says so too: more would not help.
    monkeypatch.setattr(keras.distribution, "list_devices", lambda *a: ["cpu:0"])
    with pytest.raises(ValueError, match="asks for 2 devices.*KERAS_BACKEND=jax"):
        ImbalancedKerasClassifier(devices=2, epochs=1).fit(X, y)
