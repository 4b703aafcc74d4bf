"""
==========================================================
SMOTE before an LSTM, and the training picture
==========================================================

The real case behind skimb, at a size that runs in under a minute: sequences
of 20 steps x 18 features, four classes sized like 10K / 500K / 90K / 30K.
imbalanced-learn's samplers reject 3-D data;
:class:`~skimb.sampling.SequenceSampler` lets SMOTE sit in a pipeline in
front of an LSTM, where cross-validation resamples the training folds only.
Inside such a pipeline, though, the network's own validation split is cut
from resampled data; ``batch_sampler="smote"`` resamples after that split,
every epoch, and the training picture (loss and validation scores per epoch,
confusion matrix, per-class precision-recall) stays honest.
"""

# %%
# Data
# ----
import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.model_selection import StratifiedKFold, cross_validate

from skimb import ImbalancedKerasClassifier
from skimb.datasets import make_imbalanced_sequences
from skimb.sampling import SequenceSampler

X, y = make_imbalanced_sequences(1500, random_state=0)
print(X.shape, "class sizes:", np.bincount(y))

# %%
# SMOTE in a pipeline, cross-validated on macro-F1
# ------------------------------------------------
# SMOTE interpolates between whole sequences of one class, step by step.  In
# the pipeline it runs on the training part of each fold only: the scored
# fold holds original sequences, never synthetic ones.
pipeline = make_pipeline(
    SequenceSampler(SMOTE(random_state=0)),
    ImbalancedKerasClassifier(
        "lstm", units=16, epochs=6, patience=3, learning_rate=5e-3, random_state=0
    ),
)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
results = cross_validate(
    pipeline, X, y, cv=cv, scoring="f1_macro", return_estimator=True
)
scores = results["test_score"]
print("macro-F1 per fold:", scores.round(3), "mean:", scores.mean().round(3))

# %%
# What the network saw while it trained
# -------------------------------------
# The pipeline hands the classifier resampled data, so the classifier's
# validation split (for early stopping and the per-epoch scores) is cut from
# it and is mostly synthetic: its validation macro-F1 is far above the
# cross-validated one, and early stopping trusts it.
for fitted in results["estimator"]:
    history = fitted[-1].history_
    print(f"validation macro-F1 seen in training: {max(history['val_macro_f1']):.3f}")

# %%
# SMOTE per epoch, after the validation split
# -------------------------------------------
# With ``batch_sampler="smote"`` the classifier first holds out its
# stratified validation split, then draws new SMOTE batches from the
# training rows at every epoch.  :class:`~skimb.callbacks.TrainingFigures`
# and :class:`~skimb.callbacks.ClassificationReport` receive that
# validation split of original sequences.  The figures are drawn without a
# display and each file is replaced atomically.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

from skimb.callbacks import ClassificationReport, TrainingFigures  # noqa: E402

folder = Path(tempfile.mkdtemp())
clf = ImbalancedKerasClassifier(
    "lstm",
    units=16,
    epochs=6,
    patience=3,
    learning_rate=5e-3,
    batch_sampler="smote",
    validation_fraction=0.2,
    # One network and one validation split for the figures (on classes this
    # small cv="auto" would cross-fit five networks, and the callbacks would
    # follow each in turn).
    cv=None,
    callbacks=[TrainingFigures(folder), ClassificationReport()],
    random_state=0,
).fit(X, y)
print(sorted(path.name for path in folder.iterdir()))


# %%
# The files, shown at their own size:
def show(path):
    image = plt.imread(path)
    fig = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image)
    ax.axis("off")


for name in ("history.png", "confusion_matrix.png", "precision_recall.png"):
    show(folder / name)

# %%
# Per-epoch scores are in ``history_`` too, for ``EarlyStopping``,
# ``ReduceLROnPlateau`` or Optuna pruning to monitor:
print({key: round(values[-1], 3) for key, values in clf.history_.items()})
