"""Does the temperature suit the averaged model?

The default cross-fits five networks and fits its temperature (and bias) on
their out-of-fold outputs, one network per row, but predicts with their
average.  On ``skimb.datasets.make_imbalanced_classification`` (6,300
training rows, 20,000 fresh test rows with their true posterior), for the
logit-adjusted loss (the default) and plain crossentropy, cross-fitted and
as one network: the test log-loss of ``predict_proba`` with the fitted
temperature, with the temperature that would be best on the test rows (the
bias as fitted), and with none.  Run ``python benchmarks/bench_temperature.py
[SEED]``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy.special import log_softmax  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402

from skimb import ImbalancedKerasClassifier  # noqa: E402
from skimb.datasets import make_imbalanced_classification  # noqa: E402


def main(seed: int = 0) -> None:
    X, y = make_imbalanced_classification(6300, random_state=seed)
    X_test, y_test, posterior = make_imbalanced_classification(
        20_000, random_state=10_000 + seed, return_posterior=True
    )
    print(f"true posterior: log-loss {log_loss(y_test, posterior):.4f}")
    grid = np.exp(np.linspace(np.log(0.5), np.log(6.0), 60))
    for loss in ("logit_adjusted", "crossentropy"):
        for cv in ("auto", None):
            clf = ImbalancedKerasClassifier(
                "dense", loss=loss, cv=cv, random_state=seed
            ).fit(X, y)
            # predict_proba's log-posterior, with the temperature left free
            # (the class prior is the training one: no shift).
            z = clf._log_proba(X_test) + clf.posterior_offsets_

            def test_log_loss(T: float, z=z, clf=clf) -> float:
                scaled = log_softmax(z / T + clf.calibration_bias_, axis=1)
                return log_loss(y_test, np.exp(scaled))

            best = min(grid, key=test_log_loss)
            print(
                f"{loss:<15} {clf.n_networks_} network(s): fitted T "
                f"{clf.temperature_:.2f} -> {test_log_loss(clf.temperature_):.4f}; "
                f"best T on the test rows {best:.2f} -> {test_log_loss(best):.4f}; "
                f"T = 1 -> {test_log_loss(1.0):.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
