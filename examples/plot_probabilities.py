"""
==========================================================
Probabilities you can use, and class frequencies that move
==========================================================

An imbalance strategy changes what a network learns about the class prior:
the logit-adjusted loss (skimb's default) takes it out of the logits, class
weights and balanced batches change it.  skimb's ``predict_proba`` undoes
each of these and calibrates the result on held-out predictions, so that it
is the posterior :math:`P(y \\mid x)` of the data, the probabilities that
log-loss scoring, stacking and threshold choices assume.  This example
checks that against the true posterior, then moves the model to new data
whose class frequencies differ (label shift).
"""

# %%
# Data with a known posterior
# ---------------------------
# :func:`skimb.datasets.make_imbalanced_classification` draws from a known
# density, so every test row comes with its true posterior.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score, log_loss

from skimb import ImbalancedKerasClassifier
from skimb.datasets import make_imbalanced_classification
from skimb.metrics import expected_calibration_error

X, y = make_imbalanced_classification(3000, random_state=0)
X_test, y_test, posterior = make_imbalanced_classification(
    20000, random_state=1, return_posterior=True
)
print("class sizes:", np.bincount(y))

# %%
# The default's probabilities against plain crossentropy's and the truth
# ----------------------------------------------------------------------
# ``class_prior="balanced"`` asks for the probabilities of a balanced prior
# instead (what the logit-adjusted network outputs on its own).
models = {
    "default": ImbalancedKerasClassifier(random_state=0),
    "crossentropy": ImbalancedKerasClassifier(loss="crossentropy", random_state=0),
    'class_prior="balanced"': ImbalancedKerasClassifier(
        class_prior="balanced", random_state=0
    ),
}
probabilities = {"true posterior": posterior}
for name, model in models.items():
    probabilities[name] = model.fit(X, y).predict_proba(X_test)
for name, proba in probabilities.items():
    print(
        f"{name:<24} log-loss {log_loss(y_test, proba):.3f}   "
        f"ECE {expected_calibration_error(y_test, proba):.3f}"
    )

# %%
# Reliability: how often the most probable class is right, against how
# probable the model said it was.  A calibrated model lies on the diagonal.
fig, ax = plt.subplots(figsize=(5, 4.5))
bins = np.linspace(0, 1, 11)
for name, proba in probabilities.items():
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_test
    which = np.digitize(confidence, bins[1:-1])
    shown = [b for b in range(10) if np.any(which == b)]
    ax.plot(
        [confidence[which == b].mean() for b in shown],
        [correct[which == b].mean() for b in shown],
        marker="o",
        label=name,
    )
ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
ax.set_xlabel("predicted probability of the predicted class")
ax.set_ylabel("how often it is right")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Label shift
# -----------
# New data arrives where the class frequencies are reversed: the rarest
# class is now the second rarest, and the majority class the second most
# frequent.  ``fit_class_prior`` estimates the
# new frequencies from the unlabelled rows alone (EM, Saerens et al., 2002),
# and ``predict_proba`` and ``predict`` follow them.
default = models["default"]
X_new, y_new = make_imbalanced_classification(
    20000, weights=(30_000, 90_000, 500_000, 10_000), random_state=2
)
before = f1_score(y_new, default.predict(X_new), average="macro")
default.fit_class_prior(X_new)
after = f1_score(y_new, default.predict(X_new), average="macro")
print("true frequencies:     ", np.round(np.bincount(y_new) / len(y_new), 3))
print("estimated frequencies:", np.round(default.class_prior_, 3))
print(f"macro-F1 on the new data: {before:.3f} before, {after:.3f} after")
