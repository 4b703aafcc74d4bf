"""
===========================================
Your own Keras network, with skimb's tools
===========================================

Most people with imbalanced sequences already have a network: an LSTM with
a ``TimeDistributed(Dense(1))`` and ``Flatten`` before the softmax, or a
``Conv1D`` stack with ``BatchNormalization``.  Pass it as ``model=``, as to
scikeras' ``KerasClassifier``, and skimb trains it with its imbalance
strategy, stratified validation and tuned decision rule.  Here both networks
run through ``cross_val_score`` next to the same networks trained by plain
scikeras, the LSTM in an imbalanced-learn pipeline with a sampler, and the
Conv1D network under :class:`~skimb.OptunaSearchCV` over one of its own
hyper-parameters.
"""

# %%
# Data and the two networks
# -------------------------
# Build functions take scikeras' ``meta`` (the shape of one sample is
# ``meta["input_shape_"]``, and scikeras' ``meta["X_shape_"][1:]``) and
# their own hyper-parameters.
import keras
import matplotlib.pyplot as plt
import numpy as np
import optuna
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from optuna.distributions import IntDistribution
from scikeras.wrappers import KerasClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skimb import ImbalancedKerasClassifier, OptunaSearchCV
from skimb.datasets import make_imbalanced_sequences
from skimb.sampling import SequenceSampler

X, y = make_imbalanced_sequences(
    1500, n_timesteps=12, n_features=6, n_informative=3, class_sep=1.0, random_state=0
)
print("sequences:", X.shape, "class sizes:", np.bincount(y))


def lstm_network(meta, units=16, dropout=0.2):
    return keras.Sequential(
        [
            keras.Input(meta["X_shape_"][1:]),
            keras.layers.LSTM(units, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(1)),
            keras.layers.Dropout(dropout),
            keras.layers.Flatten(),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


def conv_network(meta, filters=16):
    return keras.Sequential(
        [
            keras.Input(meta["X_shape_"][1:]),
            keras.layers.Conv1D(filters, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


networks = {"LSTM + TimeDistributed": lstm_network, "Conv1D + BatchNorm": conv_network}
folds = StratifiedKFold(3, shuffle=True, random_state=0)
training = dict(epochs=30, batch_size=32, random_state=0)

# %%
# The same network under scikeras and under skimb
# -----------------------------------------------
# scikeras trains it with crossentropy and predicts the argmax.  skimb, with
# its defaults, trains it with the logit-adjusted loss and cross-fits it
# (here five networks per fit, as the rarest class is small): each network
# stops on the macro-F1 of the rows it did not see, and the decision rule is
# tuned for macro-F1 on every training row's out-of-fold prediction.  Your
# network sees ``X`` as you give it, as under scikeras.
scores = {}
for name, build in networks.items():
    plain = KerasClassifier(
        model=build,
        loss="categorical_crossentropy",
        optimizer="adam",
        verbose=0,
        **training,
    )
    ours = ImbalancedKerasClassifier(model=build, **training)
    for label, estimator in (("scikeras", plain), ("skimb", ours)):
        scores[name, label] = cross_val_score(
            estimator, X, y, cv=folds, scoring="f1_macro"
        )
        print(f"{name:<24} {label:<9} macro-F1 {scores[name, label].mean():.3f}")

# %%
# In a pipeline with a sampler
# ----------------------------
# :class:`~skimb.sampling.SequenceSampler` lets an imbalanced-learn sampler
# resample whole sequences in front of the network.  From here on skimb
# trains one network per fit (``cv=None``), to keep the example short; its
# decision rule is then tuned on a 10% validation split, a noisier estimate
# on classes this small.  That split is cut from the sampler's output, so
# its rare-class rows are copies of training rows: early stopping and the
# rule read optimistic scores (the SMOTE example measures how far).
# ``batch_sampler="over"``, without a pipeline, resamples the training rows
# only and keeps the validation split original.
name = "LSTM + TimeDistributed"
pipeline = make_pipeline(
    SequenceSampler(RandomOverSampler(random_state=0)),
    ImbalancedKerasClassifier(model=lstm_network, cv=None, **training),
)
scores[name, "skimb + oversampling"] = cross_val_score(
    pipeline, X, y, cv=folds, scoring="f1_macro"
)
print(
    f"{name:<24} skimb + oversampling macro-F1 "
    f"{scores[name, 'skimb + oversampling'].mean():.3f}"
)

# %%
# Tuning the network's own hyper-parameter
# ----------------------------------------
# A build function's hyper-parameters are estimator parameters
# (``model__units``, ``model__filters``), so Optuna can search them.  The
# first trial is the network as given.  Here, the Conv1D network's width.
optuna.logging.set_verbosity(optuna.logging.WARNING)
search = OptunaSearchCV(
    ImbalancedKerasClassifier(
        model=conv_network, cv=None, model__filters=16, **training
    ),
    {"model__filters": IntDistribution(4, 64, log=True)},
    n_trials=4,
    cv=2,
    random_state=0,
).fit(X, y)
print(
    f"best model__filters={search.best_params_['model__filters']}: "
    f"cross-validated macro-F1 {search.best_score_:.3f} "
    f"(as given: {search.default_score_:.3f})"
)

# %%
# Macro-F1 over the three folds.
labels = list(scores)
fig, ax = plt.subplots(figsize=(8, 3.8))
ax.barh(
    [f"{network}\n{how}" for network, how in labels],
    [scores[key].mean() for key in labels],
    xerr=[scores[key].std() for key in labels],
)
ax.set_xlabel("macro-F1 (3-fold cross-validation)")
ax.invert_yaxis()
fig.tight_layout()
plt.show()
