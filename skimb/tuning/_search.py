"""OptunaSearchCV: the search, its trials' cross-validation and the refit."""

from __future__ import annotations

import copy
import math
import time
from datetime import datetime
from numbers import Integral, Real

import numpy as np
import optuna
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import _safe_split, available_if
from sklearn.utils.validation import _check_method_params, check_is_fitted, indexable

from skimb._class_sizes import check_class_counts
from skimb._inputs import input_ndim, sequence_list
from skimb._random import seed_from
from skimb._splits import reads_groups
from skimb._state import restored_on_error
from skimb.metrics import PROBABILITY_SCORERS, SCORERS, get_scorer
from skimb.tuning._pruning import (
    TrialReporter,
    callbacks_param,
    epoch_log_key,
    pruning_callback_class,
)
from skimb.tuning._results import chosen_index, cv_results, default_score
from skimb.tuning._space import (
    check_space,
    conflict,
    default_search_space,
    draw,
    make_sampler,
    own_trial,
    sampler_steps,
)
from skimb.tuning._study import check_same_search, create_study, worker


def _estimator_has(attr: str):
    def check(self) -> bool:
        if hasattr(self, "best_estimator_"):
            return hasattr(self.best_estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class OptunaSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Hyper-parameter search with Optuna, cross-validated on macro-F1.

    Each trial draws parameters from ``param_distributions`` with Optuna's
    sampler, cross-validates a clone of ``estimator`` with them and scores
    it with ``scoring`` (macro-F1 by default).  Trials report their running
    mean score to Optuna's pruner after every fold but the last (whose
    score is the trial's value), and after every epoch
    of a Keras estimator of skimb where its epoch logs hold that score (its
    validation macro-F1, balanced accuracy or g-mean), so that poor trials
    stop early.  A trial that raises an exception, gets a non-finite score or a
    non-finite training loss is recorded as failed and the search goes on.

    The search is itself a classifier (``is_classifier`` follows the
    estimator), so it can be cross-validated: every ``fit`` runs a new
    study, unless ``storage`` and ``study_name`` name a study that exists,
    which is then resumed.

    Parameters
    ----------
    estimator : estimator or imblearn Pipeline
        The estimator to tune.
    param_distributions : dict of str to optuna distribution, optional
        Parameter names, addressed as in ``set_params`` (``step__param`` in a
        pipeline), to ``optuna.distributions`` objects.  ``None`` uses
        :func:`default_search_space`.  A pipeline step named as a parameter
        takes ``"passthrough"``, ``"random_over"`` or ``"smote"``.
    n_trials : int, default=20
        Number of trials the study holds when the search ends, counting
        those of a resumed study and those other workers run or ran.
    timeout : float, optional
        Seconds after which no new trial starts.
    cv : int, cross-validation generator or iterable, default=5
        An integer is the number of folds of a ``StratifiedKFold`` with
        shuffling, seeded from ``random_state`` (``KFold`` for a regressor;
        with ``random_state=None``, a seed drawn from NumPy's global state,
        so that ``cv_splitter_`` gives the trials' folds again).
    scoring : str, callable or None, default="f1_macro"
        The score each trial maximises, as for ``GridSearchCV``: a
        scikit-learn scorer name, a name of :func:`skimb.metrics.get_scorer`
        (``"macro_f1"``, ``"neg_log_loss"``, ...) or a callable; ``None``
        uses the estimator's ``score``.
    storage : str or optuna.storages.BaseStorage, optional
        Where the study lives: ``None`` in memory, a database URL such as
        ``"sqlite:///search.db"`` or ``"postgresql://user@host/db"``, the
        path of a journal file on a disk that every worker sees
        (``"/shared/search.journal"``; see :func:`storage_from`), or an
        Optuna storage object.
    study_name : str, optional
        With ``storage``, the name of the study; a study of that name that
        exists is resumed, on the same folds, data, space, estimator and
        scoring only (it records them; another ``fit`` raises
        :class:`~skimb.tuning.OtherSearchError`, naming what differs).  A
        stored study must maximise (a ``ValueError`` otherwise).
    sampler : optuna.samplers.BaseSampler, optional
        Optuna's sampler; default a ``TPESampler(multivariate=True,
        group=True)`` seeded from ``random_state``, which models the
        parameters that are drawn together (the space is conditional: see
        :func:`default_search_space`).
    pruner : "median", optuna.pruners.BasePruner or None, default="median"
        ``"median"`` is ``MedianPruner(n_startup_trials=5,
        n_warmup_steps=5)`` (``n_warmup_steps=1`` where the epochs do not
        report, and only the folds do); ``None`` never prunes.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the default sampler and the samplers of the
        pipeline's sampler step.
    refit : bool, default=True
        Fit ``best_estimator_`` on the whole data with the best parameters.
    start_from_estimator : bool, default=True
        Make the first trial of a study this ``fit`` creates the estimator's
        own parameters, so that the search does not end below the estimator
        as given, and so that ``default_score_`` tells what the search
        gained.  That trial keeps a string such as ``learning_rate="auto"``
        where the space draws numbers, and a sampler object (a pipeline's
        step, ``batch_sampler=SMOTE(...)``) where it draws names; every
        other value the trial uses must be one the space can draw (the
        default space holds every default of
        :class:`~skimb.ImbalancedKerasClassifier`), or there is no such
        trial: it would hold random values, not the estimator's.  A study the
        storage already holds (resumed, or created before several workers
        start on it) is not given that trial; enqueue it with
        ``study.enqueue_trial`` if you want it there.
    min_gain : float or "std_error", default="std_error"
        How far a trial's mean score must be above that of the estimator's
        own parameters (the first trial, see ``start_from_estimator``) for
        the search to choose it over them.  ``"std_error"``: the standard
        error of the two trials' fold-by-fold differences (on the same
        folds), so that the search keeps the estimator as given unless a
        trial beats it by more than the folds' noise; ``0`` chooses the
        highest mean score, as ``GridSearchCV`` does.  The best of many
        noisy means is biased upwards: on small tables this rule keeps the
        default where the best trial was only lucky (docs/tuning.rst, "Tuned
        against the default").  Without that trial, the highest mean score.

    Attributes
    ----------
    study_ : optuna.study.Study
        The study of the last ``fit``.
    best_params_ : dict
        Parameters of the chosen trial (see ``min_gain``), as drawn from the
        space.
    best_score_ : float
        Mean cross-validated score of the chosen trial.
    best_index_ : int
        Index of the chosen trial in ``cv_results_``.
    top_index_ : int
        Index of the trial with the highest mean score (``best_index_``
        unless ``min_gain`` kept the estimator's own parameters).
    best_estimator_ : estimator
        The estimator refitted with the best parameters (with ``refit=True``).
    default_score_ : float
        Mean cross-validated score of the estimator's own parameters, the
        first trial (``start_from_estimator``), on the same folds as every
        trial; NaN when that trial did not complete or was not run.
    cv_results_ : dict of str to ndarray
        One entry per trial of the study: ``number``, ``state``, ``params``
        (the parameters the trial drew: those it uses),
        ``param_<name>`` (masked where not drawn), ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``,
        ``mean_fit_time`` (over the folds the trial fitted: a pruned or
        failed trial's over those it finished, NaN where it finished none),
        ``last_intermediate_value`` (the running score a pruned or failed
        trial last reported), ``error`` (why a trial failed, was pruned or
        was skipped, else empty) and ``start`` (True for the estimator's own
        parameters).  Completed trials rank first, by score; the others
        after them.
    cv_splitter_ : cross-validation generator
        The folds every trial was scored on, to score other models on the
        same folds (``cross_val_score(model, X, y, cv=search.cv_splitter_)``).
    scorer_ : callable
        The scorer used.
    n_splits_ : int
        Number of cross-validation folds.
    refit_time_ : float
        Seconds taken to refit the best estimator.

    Examples
    --------
    >>> import optuna
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skimb.datasets import make_imbalanced_classification
    >>> from skimb.tuning import OptunaSearchCV
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = make_imbalanced_classification(300, random_state=0)
    >>> search = OptunaSearchCV(
    ...     DecisionTreeClassifier(random_state=0),
    ...     {"max_depth": optuna.distributions.IntDistribution(1, 8)},
    ...     n_trials=3, cv=3, random_state=0,
    ... ).fit(X, y)
    >>> len(search.cv_results_["mean_test_score"])
    3
    >>> search.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "param_distributions": [None, dict],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "timeout": [None, Interval(Real, 0, None, closed="neither")],
        "cv": ["cv_object"],
        "scoring": [
            None,
            StrOptions(
                set(get_scorer_names()) | set(SCORERS) | set(PROBABILITY_SCORERS)
            ),
            callable,
        ],
        "storage": [None, str, optuna.storages.BaseStorage],
        "study_name": [None, str],
        "sampler": [None, optuna.samplers.BaseSampler],
        "pruner": [None, StrOptions({"median"}), optuna.pruners.BasePruner],
        "random_state": ["random_state"],
        "refit": ["boolean"],
        "start_from_estimator": ["boolean"],
        "min_gain": [Interval(Real, 0, None, closed="left"), StrOptions({"std_error"})],
    }

    def __init__(
        self,
        estimator,
        param_distributions: dict | None = None,
        *,
        n_trials: int = 20,
        timeout: float | None = None,
        cv=5,
        scoring="f1_macro",
        storage=None,
        study_name: str | None = None,
        sampler=None,
        pruner="median",
        random_state=None,
        refit: bool = True,
        start_from_estimator: bool = True,
        min_gain: float | str = "std_error",
    ):
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.storage = storage
        self.study_name = study_name
        self.sampler = sampler
        self.pruner = pruner
        self.random_state = random_state
        self.refit = refit
        self.start_from_estimator = start_from_estimator
        self.min_gain = min_gain

    def __sklearn_tags__(self):
        # Like scikit-learn's searches: the search is whatever it wraps, so a
        # search over a classifier stratifies when it is cross-validated.
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = copy.deepcopy(inner.classifier_tags)
        tags.regressor_tags = copy.deepcopy(inner.regressor_tags)
        tags.target_tags.required = inner.target_tags.required
        tags.input_tags = copy.deepcopy(inner.input_tags)
        return tags

    # ------------------------------------------------------------ set-up

    def _check_cv(self, y, seed: int | None):
        if isinstance(self.cv, Integral) and seed is None:
            # A seed drawn from NumPy's global state (scikit-learn's rule
            # for None) rather than None: cv_splitter_ then gives the
            # trials' folds again, to score other models on.
            seed = int(np.random.randint(2**31 - 1))
        if isinstance(self.cv, Integral):
            if is_classifier(self.estimator):
                # scikit-learn's own message names neither the class nor its
                # count.
                check_class_counts(y, n_splits=self.cv)
                return StratifiedKFold(self.cv, shuffle=True, random_state=seed)
            return KFold(self.cv, shuffle=True, random_state=seed)
        return check_cv(self.cv, y, classifier=is_classifier(self.estimator))

    def _configure(self, params: dict, *, three_d: bool, seed: int | None):
        """A clone of the estimator with a trial's parameters set."""
        estimator = clone(self.estimator)
        params = dict(params)
        for name in sampler_steps(self.estimator, params):
            params[name] = make_sampler(
                params[name],
                current=estimator.named_steps[name],
                three_d=three_d,
                seed=seed,
            )
        return estimator.set_params(**params)

    # --------------------------------------------------------------- fit

    def fit(self, X, y, *, groups=None, **fit_params) -> OptunaSearchCV:
        """Run the search, then refit the best estimator on ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data, as the estimator takes it.
        y : array-like of shape (n_samples,)
            Target labels.
        groups : array-like of shape (n_samples,), optional
            Group labels for a group-wise ``cv`` (``GroupKFold``, ...), as
            ``GridSearchCV`` takes them.  Passed to the estimator's ``fit``
            too (split with the folds) where the estimator, or a step of a
            pipeline, cross-fits with a group-wise splitter of its own
            (``ImbalancedKerasClassifier(cv=StratifiedGroupKFold(5))``).
        **fit_params : dict
            Passed to the estimator's ``fit``; per-sample arrays are split
            with the folds.

        Returns
        -------
        self
        """
        # A search that fails (or is interrupted) leaves the search as it
        # was, not a former fit's results beside this one's folds and
        # scorer (the trials it finished stay in its storage, if any).
        with restored_on_error(self):
            X, y, fit_params, three_d, seed = self._search(
                X, y, groups=groups, **fit_params
            )
        # A refit that fails keeps the search's results (cv_results_,
        # best_params_, study_), as scikit-learn's searches keep theirs: with
        # storage=None the finished trials are nowhere else.
        if self.refit:
            start = time.perf_counter()
            best = self._configure(self.best_params_, three_d=three_d, seed=seed)
            self.best_estimator_ = best.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - start
        return self

    def _search(self, X, y, *, groups=None, **fit_params) -> tuple:
        """The trials of :meth:`fit` and their results, which :meth:`fit`
        undoes where this raises; returns what the refit needs: ``X, y``
        and ``fit_params`` as the trials read them, whether ``X`` holds
        sequences, and the seed."""
        self._validate_params()
        # A former fit's refitted estimator is not this search's best, where
        # this one ends without a refit (refit=False).
        for name in ("best_estimator_", "refit_time_"):
            self.__dict__.pop(name, None)
        X, y, groups = indexable(X, y, groups)
        if groups is not None:
            # Split with the folds, as every per-row fit parameter is.
            fit_params = {**_groups_for_estimator(self.estimator, groups), **fit_params}
        # Sequences: 3-D, or a list of (n_timesteps_i, n_features) arrays
        # (which np.ndim cannot take when their lengths differ).
        three_d = sequence_list(X) is not None or input_ndim(X) == 3
        space = self.param_distributions
        if space is None:
            space = default_search_space(self.estimator)
        space = check_space(space, self.estimator)
        seed = seed_from(self.random_state)
        self.cv_splitter_ = self._check_cv(y, seed)
        splits = list(self.cv_splitter_.split(X, y, groups))
        self.n_splits_ = len(splits)
        # skimb's own scorer names too ("macro_f1", ...), not only scikit-learn's.
        self.scorer_ = (
            get_scorer(self.scoring)
            if isinstance(self.scoring, str)
            else check_scoring(self.estimator, self.scoring)
        )
        epoch_key = epoch_log_key(self.scoring, self.estimator)
        study, created = create_study(
            storage=self.storage,
            study_name=self.study_name,
            sampler=self.sampler,
            pruner=self.pruner,
            seed=seed,
            # Without epoch reports, the folds' reports are the only steps.
            warmup_steps=5 if epoch_key is not None else 1,
        )
        check_same_search(
            study,
            splits=splits,
            X=X,
            y=y,
            space=space,
            estimator=self.estimator,
            scoring=self.scoring,
        )
        started = datetime.now()

        def counted() -> int:
            # Running trials count once they started after this fit began:
            # workers started together on one study stop together at
            # n_trials, and a trial left running by a killed process (which
            # Optuna cannot tell from a live one) does not use up the budget.
            trials = study.get_trials(deepcopy=False)
            return sum(
                t.state.is_finished()
                or (
                    t.state == TrialState.RUNNING
                    and t.datetime_start is not None
                    and t.datetime_start >= started
                )
                for t in trials
            )

        def stop_at_budget(study: optuna.Study, trial) -> None:
            if counted() >= self.n_trials:
                study.stop()

        defaults = self.estimator.get_params()

        def objective(trial: optuna.Trial) -> float:
            own = trial.user_attrs.get("start") == "estimator"
            params = draw(trial, space, defaults, own=own)
            reason = conflict(params, defaults)
            if reason is not None:
                trial.set_user_attr("error", f"skipped: {reason}")
                raise optuna.TrialPruned(reason)
            return self._cross_validate(
                trial,
                params,
                X,
                y,
                splits,
                fit_params,
                three_d=three_d,
                seed=seed,
                epoch_key=epoch_key,
            )

        # Only in a study this fit created: workers sharing one study would
        # each see it empty and enqueue the same trial.
        start = own_trial(space, defaults)
        if self.start_from_estimator and created and start is not None:
            study.enqueue_trial(start, user_attrs={"start": "estimator"})
        remaining = self.n_trials - counted()
        if remaining > 0:
            # Optuna records an exception as a failed trial and goes on
            # (catch), and a pruned or interrupted trial as such.
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=self.timeout,
                catch=(Exception,),
                callbacks=[stop_at_budget],
            )
        self.study_ = study
        self._store_results(study)
        return X, y, fit_params, three_d, seed

    def _cross_validate(
        self, trial, params, X, y, splits, fit_params, *, three_d, seed, epoch_key
    ) -> float:
        """Mean score of one trial over the folds, reporting as it goes
        (``epoch_key``: the epoch log that holds the score, if any)."""
        reporter = TrialReporter(trial, epoch_key=epoch_key)
        callbacks_name = callbacks_param(self.estimator)
        fit_times: list[float] = []
        try:
            for fold, (train, test) in enumerate(splits):
                if fold > 0:
                    reporter.report()
                estimator = self._configure(params, three_d=three_d, seed=seed)
                if callbacks_name is not None:
                    # Set after cloning: the callback holds the live trial,
                    # which must not be deep-copied.
                    given = estimator.get_params()[callbacks_name] or []
                    estimator.set_params(
                        **{
                            callbacks_name: [
                                *given,
                                pruning_callback_class()(reporter),
                            ]
                        }
                    )
                X_train, y_train = _safe_split(estimator, X, y, train)
                X_test, y_test = _safe_split(estimator, X, y, test, train)
                start = time.perf_counter()
                estimator.fit(
                    X_train, y_train, **_check_method_params(X, fit_params, train)
                )
                fit_times.append(time.perf_counter() - start)
                score = float(self.scorer_(estimator, X_test, y_test))
                if not math.isfinite(score):
                    raise FloatingPointError(f"The score of fold {fold} is {score}.")
                reporter.fold_scores.append(score)
        except Exception as error:
            # A pruned trial keeps its reason too (the step and mean score),
            # which is all a study whose every trial was pruned can show.
            pruned = isinstance(error, optuna.TrialPruned)  # "Pruned at step ..."
            trial.set_user_attr(
                "error", str(error) if pruned else f"{type(error).__name__}: {error}"
            )
            raise
        finally:
            self._record(trial, reporter, fit_times)
        return float(np.mean(reporter.fold_scores))

    @staticmethod
    def _record(trial, reporter: TrialReporter, fit_times: list[float]) -> None:
        # In the study's storage, so that a resumed search still has them,
        # with the worker that ran the trial when several share the study.
        trial.set_user_attr("split_test_scores", list(reporter.fold_scores))
        trial.set_user_attr("fit_times", fit_times)
        trial.set_user_attr("worker", worker())

    def _store_results(self, study: optuna.Study) -> None:
        trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        self.cv_results_ = results = cv_results(trials, self.n_splits_)
        # The estimator as given, scored on the same folds: what the search
        # has to beat.
        self.default_score_ = default_score(results)
        numbers = [t.number for t in trials]
        self.top_index_ = numbers.index(study.best_trial.number)
        self.best_index_ = chosen_index(
            results,
            self.top_index_,
            n_splits=self.n_splits_,
            min_gain=self.min_gain,
        )
        best = trials[self.best_index_]
        self.best_params_ = dict(best.params)
        self.best_score_ = float(best.value)

    # ------------------------------------------------------------ predict

    def _best_estimator(self):
        """The refitted best estimator, which predictions need."""
        if not hasattr(self, "best_estimator_") and hasattr(self, "best_params_"):
            why = (
                "its refit on the whole data failed"
                if self.refit
                else "it was fitted with refit=False"
            )
            raise NotFittedError(
                f"This {type(self).__name__} has no best estimator to predict "
                f"with: {why}. Fit it with refit=True, "
                "or fit estimator.set_params(**best_params_) yourself (a "
                "searched sampler step's value there is a name of "
                "skimb.tuning.SAMPLER_CHOICES: set that step to the sampler "
                "object it names)."
            )
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of the best estimator."""
        return self._best_estimator().classes_

    @property
    def n_features_in_(self) -> int:
        """Number of features seen by the best estimator."""
        return self._best_estimator().n_features_in_

    @available_if(_estimator_has("predict"))
    def predict(self, X) -> np.ndarray:
        """Predict with the best estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._best_estimator().predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the best estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._best_estimator().predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X) -> np.ndarray:
        """Decision function of the best estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
        """
        return self._best_estimator().decision_function(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities of the best estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._best_estimator().predict_log_proba(X)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """Names of the features seen by the best estimator (fitted on a
        DataFrame of string column names), as ``GridSearchCV`` gives them."""
        try:
            return self._best_estimator().feature_names_in_
        except NotFittedError as error:
            raise AttributeError(
                f"This {type(self).__name__} has no refitted best estimator "
                "(not fitted, or refit=False), so no feature_names_in_."
            ) from error

    def score(self, X, y, **params) -> float:
        """Score of the best estimator with ``scoring`` (macro-F1 by default).

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        **params : dict
            Passed to the scorer as they are (``sample_weight`` for the
            default and scikit-learn's named scorers); ``GridSearchCV``
            passes them so without metadata routing.

        Returns
        -------
        float
        """
        return float(self.scorer_(self._best_estimator(), X, y, **params))


def _groups_for_estimator(estimator, groups, prefix: str = "") -> dict:
    """The fit parameters that give ``groups`` to the estimator's own
    group-wise splitter: its ``cv``, or that of a step of a pipeline (at
    any depth).  Decided on the estimator as given, not as a trial sets it."""
    if reads_groups(getattr(estimator, "cv", None)):
        return {f"{prefix}groups": groups}
    params, resampled = {}, None
    for name, step in getattr(estimator, "steps", ()):
        found = _groups_for_estimator(step, groups, f"{prefix}{name}__")
        if found and resampled is not None:
            raise ValueError(
                f"The pipeline's step {resampled!r} resamples the rows before "
                f"step {name!r}, whose cv splits by group: the groups would no "
                "longer match the rows. Resample in that step's batches "
                "(batch_sampler=) instead."
            )
        params.update(found)
        if hasattr(step, "fit_resample"):
            resampled = name
    return params
