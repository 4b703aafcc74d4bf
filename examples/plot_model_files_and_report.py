"""
Save a model without pickle and write a report
==============================================

A trained classifier goes into a model file that loads without pickle
(:func:`skimb.persistence.save`), comes back with identical probabilities,
and its results go into a self-contained HTML report
(:class:`skimb.report.Report`), the same report ``skimb tune`` writes.
"""

# %%
# Train a small network on imbalanced data
# ----------------------------------------
import tempfile
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skimb import ImbalancedKerasClassifier, persistence
from skimb.datasets import make_imbalanced_classification
from skimb.report import Report

X, y = make_imbalanced_classification(3000, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
clf = ImbalancedKerasClassifier(units=32, epochs=15, random_state=0).fit(
    X_train, y_train
)

# %%
# A model file, and what it holds
# -------------------------------
# The file is a zip archive: the network in the Keras format, the
# estimator's parameters and fitted attributes as JSON, and a manifest with
# versions and checksums.
folder = Path(tempfile.mkdtemp())
path = persistence.save(clf, folder / "model.skimb")
print(zipfile.ZipFile(path).namelist(), f"{path.stat().st_size / 1024:.0f} KiB")

loaded = persistence.load(path)
print(
    "identical probabilities:",
    np.array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test)),
)

# %%
# A damaged file fails clearly
# ----------------------------
damaged = folder / "damaged.skimb"
damaged.write_bytes(path.read_bytes()[:-100])
try:
    persistence.load(damaged)
except persistence.ModelFileError as error:
    print(error)

# %%
# The report
# ----------
# One HTML file with the figures embedded, and the same figures as PNG files
# next to it.
report = Report("Held-out evaluation")
scores = report.add_classification(
    "Dense network, the default loss and decision rule",
    y_test,
    loaded.predict_proba(X_test),
    classes=loaded.classes_,
    y_pred=loaded.predict(X_test),
    name="dense",
    history=loaded.history_,
    best_epoch=loaded.best_epoch_,
)
page = report.write(folder / "report")
print({k: round(float(v), 3) for k, v in scores.items()})
print(sorted(p.name for p in page.parent.iterdir()))

# %%
# One of its figures, the confusion matrix of the held-out rows, as the
# report wrote it:
image = plt.imread(page.parent / "dense_confusion_matrix.png")
plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100))
plt.imshow(image)
plt.axis("off")
plt.show()
