"""Hyper-parameter search with Optuna, scored on macro-F1.

:class:`OptunaSearchCV` is a scikit-learn meta-estimator around an Optuna
study: stratified folds, pruning from per-epoch validation macro-F1, and a
study that can live in a database so that a search resumes after an
interruption and several worker processes share it.
:func:`default_search_space` is the space it searches when given none,
:func:`storage_from` the study's storage for an address, and
:class:`OtherSearchError` what a search raises rather than resume a stored
study scored on other folds, data, space, estimator or scoring.

Modules: ``_search`` (the estimator), ``_space`` (the space, drawn by run),
``_study`` (storage, sampler, workers), ``_pruning`` (reports from Keras
epochs), ``_results`` (``cv_results_``).

optuna-integration has an ``OptunaSearchCV`` too; it is not used here because
``is_classifier`` is false for it (so integer ``cv`` does not stratify), it
reuses one study across ``fit`` calls (so nested cross-validation leaks), and
it prunes only through ``partial_fit`` iterations, not through the epochs of
a Keras fit.
"""

from skimb.tuning._search import OptunaSearchCV
from skimb.tuning._space import CONDITIONS, SAMPLER_CHOICES, default_search_space
from skimb.tuning._study import OtherSearchError, storage_from

# Named by its public module in model files and pickles, which then load
# whatever the private module holding it is called.
OptunaSearchCV.__module__ = OtherSearchError.__module__ = __name__

__all__ = [
    "CONDITIONS",
    "SAMPLER_CHOICES",
    "OptunaSearchCV",
    "OtherSearchError",
    "default_search_space",
    "storage_from",
]
