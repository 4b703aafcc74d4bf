"""
=====================================================
Tuning an LSTM pipeline with SMOTE on macro-F1
=====================================================

:class:`~skimb.OptunaSearchCV` searches hyper-parameters with Optuna,
cross-validated on stratified folds and scored on macro-F1.  Here it tunes
a pipeline of a sampler (none or SMOTE) and an LSTM on imbalanced sequences,
and saves Optuna's optimisation-history and parameter-importance plots.
"""

# %%
# Data
# ----
# Sequences of 10 steps x 6 features, four imbalanced classes.
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from skimb import ImbalancedKerasClassifier, OptunaSearchCV
from skimb.datasets import make_imbalanced_sequences
from skimb.sampling import SequenceSampler
from skimb.tuning import default_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
n_timesteps = 10
X, y = make_imbalanced_sequences(
    1200, n_timesteps=n_timesteps, n_features=6, n_informative=3, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print("class sizes:", np.bincount(y_train))

# %%
# The pipeline and its search space
# ---------------------------------
# imbalanced-learn samplers take 2-D tables; :class:`~skimb.sampling.SequenceSampler`
# lets SMOTE interpolate whole sequences in front of the LSTM.  Parameters
# are addressed the scikit-learn way, ``step__param``; the sampler step
# chooses between no resampling and SMOTE (wrapped for sequences).  The
# default space (``param_distributions=None``) is larger; it can be
# inspected:
pipe = Pipeline(
    [
        ("sampler", SequenceSampler(SMOTE(random_state=0))),
        (
            "clf",
            # One network per fit keeps this search quick (cv="auto" would
            # cross-fit five on these small classes).
            ImbalancedKerasClassifier(
                "lstm", epochs=5, patience=3, cv=None, random_state=0
            ),
        ),
    ]
)
print(sorted(default_search_space(pipe)))

space = {
    "sampler": CategoricalDistribution(["passthrough", "smote"]),
    "clf__units": IntDistribution(8, 32, log=True),
    "clf__learning_rate": FloatDistribution(1e-3, 2e-2, log=True),
    "clf__class_weight": CategoricalDistribution([None, "balanced"]),
}

# %%
# The search
# ----------
# Integer ``cv`` means stratified, shuffled folds.  Every epoch reports the
# validation macro-F1 to Optuna's pruner (the mean over the folds so far), so
# poor trials can stop early; ``storage="sqlite:///search.db"`` with a
# ``study_name`` would keep the study on disk and resume it.  A trial with
# the SMOTE step reports on a validation split cut from SMOTE's output,
# mostly synthetic and scored high, so the pruner is lenient with it; each
# trial's fold scores, which rank them, are of original rows.  Searching
# ``clf__batch_sampler`` (None or ``"smote"``) instead keeps every trial's
# validation split original.
search = OptunaSearchCV(
    pipe, space, n_trials=5, cv=2, scoring="f1_macro", random_state=0
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated macro-F1: {search.best_score_:.3f}")
print(f"test macro-F1: {f1_score(y_test, search.predict(X_test), average='macro'):.3f}")

# %%
# Optuna's plots, saved to files
# ------------------------------
# ``optuna.visualization.matplotlib`` is marked experimental by Optuna; its
# warning says nothing about this use.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    history = optuna.visualization.matplotlib.plot_optimization_history(search.study_)
    # The first trial is the pipeline as given: it keeps the classifier's
    # units="auto" and learning_rate="auto" instead of drawing numbers, so
    # the importances are of the trials that drew every parameter.
    importances = optuna.visualization.matplotlib.plot_param_importances(
        search.study_, params=list(space)
    )
output = Path(tempfile.mkdtemp(prefix="skimb-tuning-"))
for name, ax in (("history", history), ("importances", importances)):
    ax.figure.tight_layout()
    ax.figure.savefig(output / f"tuning_{name}.png", dpi=100)
print("saved:", sorted(p.name for p in output.iterdir()))
plt.show()
