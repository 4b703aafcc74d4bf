"""Pruning of :class:`skimb.tuning.OptunaSearchCV` trials from Keras epochs.

A trial's running mean score (``TrialReporter``) is reported to Optuna after
every fold, and after every epoch through a Keras callback added to the
final step's ``callbacks`` (``pruning_callback_class``) where the epoch logs
hold the search's score (``epoch_log_key``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import optuna

from skimb.metrics import SCORERS
from skimb.tuning._space import is_pipeline


def callbacks_param(estimator) -> str | None:
    """The ``set_params`` name of the final estimator's Keras callbacks."""
    if is_pipeline(estimator):
        name, final = estimator.steps[-1]
        inner = callbacks_param(final)
        return None if inner is None else f"{name}__{inner}"
    return "callbacks" if "callbacks" in estimator.get_params(deep=False) else None


# The search's scores that a Keras classifier of skimb logs every epoch on its
# validation rows, by scorer name: with another scoring, epochs report
# nothing (a mean of two scores on two scales would mean nothing).
_EPOCH_LOGS = {
    "macro_f1": "val_macro_f1",
    "f1_macro": "val_macro_f1",
    "balanced_accuracy": "val_balanced_accuracy",
    "g_mean": "val_g_mean",
}


def epoch_log_key(scoring, estimator) -> str | None:
    """The epoch log that holds the score of ``scoring`` (a name, one of
    :data:`skimb.metrics.SCORERS`, or None: the estimator's ``score``), if
    any."""
    final = estimator.steps[-1][1] if is_pipeline(estimator) else estimator
    if callbacks_param(final) is None:
        # No Keras epochs to report from, whatever the scoring.
        return None
    if scoring is None:
        # skimb's classifier scores macro-F1, unless a subclass overrides
        # its score.  Told by where the method is defined: this module,
        # below the estimator, does not import it.
        score = type(final).score
        own = (score.__module__, score.__qualname__) == (
            "skimb._classifier",
            "ImbalancedKerasClassifier.score",
        )
        scoring = "macro_f1" if own else None
    elif callable(scoring):
        scoring = next((n for n, s in SCORERS.items() if s is scoring), None)
    return _EPOCH_LOGS.get(scoring) if isinstance(scoring, str) else None


class TrialReporter:
    """Report one trial's running mean score to Optuna, and prune.

    The value at each step is the mean over the folds so far, where the fold
    in progress counts with its latest epoch's validation score (the epoch
    log ``epoch_key``, on the scale of the search's scoring) and a finished
    fold with its test score.  Steps count reports: one per epoch (where
    ``epoch_key`` is given) and one at the end of each fold but the last.
    """

    def __init__(self, trial: optuna.Trial, *, epoch_key: str | None = None):
        self.trial = trial
        self.epoch_key = epoch_key
        self.fold_scores: list[float] = []
        self.step = 0

    def report(self, current: float | None = None) -> None:
        scores = self.fold_scores + ([] if current is None else [current])
        value = float(np.mean(scores))
        self.trial.report(value, self.step)
        self.step += 1
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"Pruned at step {self.step - 1}: mean score {value:.4f}."
            )


@functools.cache
def pruning_callback_class():
    # Defined on first use so that importing this module, and a search over
    # an estimator without Keras callbacks, does not load Keras.
    import keras

    class PruningCallback(keras.callbacks.Callback):
        """Report the epoch's validation score (the reporter's
        ``epoch_key``) after each epoch; fail on a non-finite loss.

        optuna-integration's ``KerasPruningCallback`` reports the raw epoch
        value at ``step=epoch``, so the second fold's epochs would reuse the
        first fold's steps (Optuna ignores a step reported twice); this one
        reports the running mean over folds on the trial's own step count.
        """

        def __init__(self, reporter: TrialReporter):
            super().__init__()
            self.reporter = reporter

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            loss = logs.get("loss")
            if loss is not None and not math.isfinite(loss):
                raise FloatingPointError(
                    f"The training loss is {loss} at epoch {epoch}."
                )
            key = self.reporter.epoch_key
            if key is not None and key in logs:
                self.reporter.report(float(logs[key]))

    return PruningCallback
