"""A search's ``cv_results_``, from its study's trials: completed trials
ranked by score, pruned and failed ones after them with their state, last
report and error, and each trial's parameters only where it drew them."""

from __future__ import annotations

import numpy as np
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import rankdata


def cv_results(trials: list[FrozenTrial], n_splits: int) -> dict:
    """``cv_results_`` of the trials, in their order."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not trials:
        # Optuna checks the timeout before every trial, the first too.
        raise ValueError(
            "No trial ran: the study is empty (a timeout that ran out before "
            "the first trial, or n_trials already reached by no trial)."
        )
    if not complete:
        states = [t.state.name for t in trials]
        errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
        raise ValueError(
            f"No trial of the study completed (states: {states}); "
            f"first error: {errors[0] if errors else 'none recorded'}."
        )
    n_trials = len(trials)
    results: dict = {
        "number": np.array([t.number for t in trials]),
        "state": np.array([t.state.name for t in trials], dtype=object),
        "params": [dict(t.params) for t in trials],
    }
    names = sorted({name for t in trials for name in t.params})
    for name in names:
        column = np.ma.masked_all(n_trials, dtype=object)
        for i, t in enumerate(trials):
            if name in t.params:
                column[i] = t.params[name]
        results[f"param_{name}"] = column
    splits = np.full((n_trials, n_splits), np.nan)
    fit_time = np.full(n_trials, np.nan)
    for i, t in enumerate(trials):
        if t.state == TrialState.COMPLETE:
            scores = t.user_attrs.get("split_test_scores", [])[:n_splits]
            splits[i, : len(scores)] = scores
        times = t.user_attrs.get("fit_times")
        if times:
            fit_time[i] = np.mean(times)
    for k in range(n_splits):
        results[f"split{k}_test_score"] = splits[:, k]
    mean = np.array(
        [t.value if t.state == TrialState.COMPLETE else np.nan for t in trials]
    )
    results["mean_test_score"] = mean
    std = np.full(n_trials, np.nan)
    scored = ~np.isnan(mean)
    std[scored] = splits[scored].std(axis=1)
    results["std_test_score"] = std
    # Rank 1 is best, ties share the best rank of their group, and trials
    # without a score share the last, as in scikit-learn's searches.
    lowest = np.nanmin(mean) - 1 if scored.any() else 0.0
    results["rank_test_score"] = rankdata(
        -np.where(scored, mean, lowest), method="min"
    ).astype(np.int32)
    results["mean_fit_time"] = fit_time
    # What a pruned or failed trial had reached: its last report.
    results["last_intermediate_value"] = np.array(
        [
            t.intermediate_values[max(t.intermediate_values)]
            if t.intermediate_values
            else np.nan
            for t in trials
        ]
    )
    results["start"] = np.array(
        [t.user_attrs.get("start") == "estimator" for t in trials]
    )
    results["error"] = np.array(
        [t.user_attrs.get("error", "") for t in trials], dtype=object
    )
    return results


def start_index(results: dict) -> int | None:
    """The index of the completed trial that ran the estimator as given, or
    None."""
    started = np.flatnonzero(results["start"] & (results["state"] == "COMPLETE"))
    return int(started[0]) if len(started) else None


def default_score(results: dict) -> float:
    """The mean score of the trial that ran the estimator as given (NaN
    where none completed)."""
    start = start_index(results)
    return np.nan if start is None else float(results["mean_test_score"][start])


def chosen_index(results: dict, best: int, *, n_splits: int, min_gain) -> int:
    """The trial the search keeps: ``best`` (the highest mean score), unless
    the estimator's own trial scores within ``min_gain`` of it on the same
    folds (a number, or ``"std_error"``: the standard error of the two
    trials' fold-by-fold differences), which is then kept.

    The highest of many noisy means is biased upwards: on small data, where
    a fold's score moves by several hundredths from one fit to the next,
    the best of 20 trials is often a trial that was lucky on these folds
    rather than better than the default (docs/tuning.rst, "Tuned against
    the default").
    """
    start = start_index(results)
    if start is None or start == best:
        return best
    splits = np.array([results[f"split{k}_test_score"] for k in range(n_splits)])
    gains = splits[:, best] - splits[:, start]
    if min_gain == "std_error":
        margin = gains.std(ddof=1) / np.sqrt(n_splits) if n_splits > 1 else 0.0
    else:
        margin = min_gain
    return start if gains.mean() <= margin else best
