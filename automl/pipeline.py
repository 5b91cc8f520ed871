"""One run of automl, stage after stage: search → choice → final fit → test → report → export.

The command line and the Python API both call `run` (a search and all that follows) or `finish` (all that
follows a search, as ``automl report`` does). The run's clock is one `Budget`, made here and read by the
stages that need it; nothing else carries a deadline. What the caller wants to hear as the run goes (a
line per trial, the end of the search, the final fit, the chosen model) comes through `Hooks`.
"""
from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from automl.data.schema import Data, Schema
from automl.errors import AutomlError, AutomlWarning
from automl.families import family_of
from automl.families.base import Family
from automl.hypermodels.layers import with_decision_threshold
from automl.reporting.files import write_report
from automl.selection.choice import Choice
from automl.selection.compare import best_of_each
from automl.selection.ensemble import build_ensemble
from automl.selection.explain import Explanation, explain
from automl.selection.measures import LATENCY_ROWS, measure_model
from automl.selection.scoring import evaluate, model_outputs, test_figures
from automl.selection.table import report_table
from automl.selection.threshold import binary_threshold
from automl.selection.trials import no_model_to_choose
from automl.serving.models import load_trial_model
from automl.store import (
    BEST_MODEL_FILE,
    ENSEMBLE_ID,
    ENSEMBLE_JSON,
    FINAL_FIT_JSON,
    TEST_METRICS,
    TOP_MODEL_FILE,
    Store,
)
from automl.track.parse import load_track
from automl.track.sections import Track
from automl.tuning.budget import Budget
from automl.tuning.distributed import LOCAL, Role
from automl.tuning.final_fit import final_model
from automl.tuning.loop import SearchRun, search
from automl.tuning.refit import refit_model


class Hooks:
    """What a run tells its caller as it goes; every method does nothing unless overridden.

    The command line prints a line per trial and sends events to its trackers; the Python API needs none.
    """

    def trial_done(self, trial) -> None:
        """A trial ended (Keras Tuner's record, with its score)."""

    def search_ended(self, searched: SearchRun) -> None:
        """The search stage ended: complete, out of time, or stopped by Ctrl-C."""

    def final_fit_starting(self, track: Track) -> None:
        """The chosen configuration is about to be retrained with the time left."""

    def finished(self, finished: Finished) -> None:
        """The model is chosen, tested and exported, and the report written."""


@dataclass
class Finished:
    """What `finish` wrote: the test figures (the chosen model's, and the top one's under ``"top"``), the table,
    the choice, and the chosen model explained."""

    metrics: dict[str, Any]
    table: pd.DataFrame
    choice: Choice
    explanation: Explanation | None = None


@dataclass
class Outcome:
    """A run: its search stage, and what followed (None on a worker, which only trains)."""

    searched: SearchRun
    finished: Finished | None


def run(track: str | Track, *, time_limit: str | float | None = None, restart: bool = False,
        results_dir: str | os.PathLike | None = None, keep_checkpoints: bool = False, role: Role = LOCAL,
        hooks: Hooks | None = None, command: str = "", verbose: bool = False, tensorboard: bool = False) -> Outcome:
    """Search the track (or resume its search) within its budget, then `finish`: choose, test, report, export.

    Examples
    --------
    >>> outcome = run("boston", time_limit="5m")
    >>> outcome.finished.choice.trial_id
    '0051'
    """
    track = load_track(track)
    hooks = hooks or Hooks()
    budget = Budget.for_track(track, time_limit, worker=role.is_worker)
    searched = search(track, budget=budget, restart=restart, results_dir=results_dir, on_trial_done=hooks.trial_done,
                      command=command, verbose=verbose, tensorboard=tensorboard, role=role,
                      keep_checkpoints=keep_checkpoints)
    if role.is_worker:
        return Outcome(searched, None)
    hooks.search_ended(searched)
    finished = finish(track, results_dir, data=searched.data, budget=budget, hooks=hooks)
    hooks.finished(finished)
    return Outcome(searched, finished)


def finish(track: str | Track, results_dir: str | os.PathLike | None = None, *, data: Data | None = None,
           budget: Budget | None = None, hooks: Hooks | None = None) -> Finished:
    """Choose the trial, retrain it if the track has a final fit, export the chosen and top-scoring models,
    score both on the test split, and write the report.

    The test split is used here only, after the choice, to report the two models side by side. `data` is
    the split the search just used, if at hand; otherwise the track's data is loaded again. A track with a
    final fit (``search.final_fit``) retrains the chosen configuration until `budget` ends, unless that was
    done already; without a budget (a report of a finished search) the final fit on disk, if any, is the
    chosen model.
    """
    track = load_track(track)
    store = Store(track.name, results_dir)
    store.require_search()
    family = family_of(track)
    data = data or family.load(track)
    schema = store.schema()
    rows = latency_rows(family, schema, lambda: data)
    def validation():
        return data.validation

    table, choice = report_table(track, store, rows, validation=validation)
    if choice is None:
        raise no_model_to_choose(table)
    if track.search.builds_ensemble:
        # The best trials' ensemble, offered to the choice rule like one more trial (its validation score,
        # latency and size) when it beats its best member out of sample.
        ensemble = build_ensemble(track, store, family, schema, table, data, rows)
        if ensemble.get("candidate"):
            table, choice = report_table(track, store, rows, ensemble, validation)
    model, final_fit, refit = None, None, None
    if track.search.final_fit:
        if budget is not None and hooks is not None:
            hooks.final_fit_starting(track)
        score = float(table.loc[table["trial_id"] == choice.trial_id, "score"].iloc[0])
        model, final_fit = final_model(track, store, choice.trial_id, score, data, budget)
        if model is not None and final_fit.get("members", 1) > 1 and "measures" not in final_fit:
            # Several networks averaged: the model in production is not its trial's size, nor as fast.
            final_fit = {**final_fit, "measures": measure_model(model, rows(), store.root),
                         "params": int(model.count_params())}
            store.write_json(FINAL_FIT_JSON, final_fit)
    elif family.refit_share(track) and choice.trial_id != ENSEMBLE_ID:
        model, refit = refit_model(track, store, table.loc[table["trial_id"] == choice.trial_id].iloc[0], data,
                                   budget)
    retrained = bool((final_fit and final_fit["used"]) or (refit and refit["used"]))
    judged = model = model or load_trial_model(track, choice.trial_id, store)
    if refit and refit["used"]:
        # The refit trained on the validation split: what is judged there (the decision threshold, the
        # explanation) is the trial's own model, of the same configuration.
        judged = load_trial_model(track, choice.trial_id, store)
    validation_outputs = model_outputs(judged, family, schema, data.validation.x)
    test_outputs = model_outputs(model, family, schema, data.test.x)
    judged_test = test_outputs if judged is model else model_outputs(judged, family, schema, data.test.x)
    # Binary: the decision threshold, from the chosen model's own validation outputs (a final fit's, when it is
    # the model: it trained on the training split only), goes into the file production loads.
    threshold = binary_threshold(schema, track.search.decision_metric, (data.validation.y, validation_outputs),
                                 (data.test.y, test_outputs))
    (model if threshold is None else with_decision_threshold(model, threshold.value)).save(store.path(BEST_MODEL_FILE))
    chosen_metrics, predicted = test_figures(schema, data.test.y, test_outputs)
    if threshold is not None:  # the confusion matrix and the mistakes shown are of what production will say
        predicted = (test_outputs[:, 1] >= threshold.value).astype("int64")
    own = {}  # test figures of trials' own weights already measured
    if not retrained:
        own[choice.trial_id] = chosen_metrics
    elif judged is not model:
        own[choice.trial_id], _ = test_figures(schema, data.test.y, judged_test)
    if choice.top_trial_id == choice.trial_id and not retrained:
        shutil.copyfile(store.path(BEST_MODEL_FILE), store.path(TOP_MODEL_FILE))
    else:
        top_model = judged if choice.top_trial_id in own else load_trial_model(track, choice.top_trial_id, store)
        top_model.save(store.path(TOP_MODEL_FILE))
        if choice.top_trial_id not in own:
            own[choice.top_trial_id], _ = evaluate(top_model, family, schema, data.test.x, data.test.y)
    top_metrics = own[choice.top_trial_id]
    metrics = {"trial_id": choice.trial_id, **chosen_metrics, "top": {"trial_id": choice.top_trial_id, **top_metrics}}
    compared = kinds_on_test(track, store, family, schema, table, data, own)
    if compared:
        metrics["compared"] = compared
    if final_fit is not None:
        metrics["final_fit"] = final_fit
    if refit is not None:
        metrics["refit"] = {**refit, "trial_model_test": own.get(choice.trial_id, chosen_metrics)}
    if threshold is not None:
        metrics.update(threshold.test_metrics())
    store.write_json(TEST_METRICS, metrics)
    explanation = explain(judged, family, schema, data, objective=track.objective, test_outputs=judged_test,
                          validation_outputs=validation_outputs, threshold=threshold,
                          model_name=chosen_name(choice.trial_id, final_fit, refit))
    for leak in explanation.leaks:
        warnings.warn(leak.message(), AutomlWarning, stacklevel=2)
    write_report(track, table, choice, metrics, store, schema, data.test.y, predicted, explanation)
    return Finished(metrics, table, choice, explanation)


def kinds_on_test(track: Track, store: Store, family: Family, schema: Schema, table: pd.DataFrame, data: Data,
                  measured: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The test figures of the best trial of each kind of network the search compared (each family, each text
    encoder), by kind; `measured` holds those already known by trial id. Empty when the search had one kind.
    A kind whose best trial's weights were pruned is left out."""
    best = best_of_each(table, family.compared_by, track.direction)
    if len(best) < 2:
        return {}
    compared = {}
    for _, row in best.iterrows():
        trial_id = str(row["trial_id"])
        if trial_id not in measured:
            try:
                model = load_trial_model(track, trial_id, store)
            except AutomlError:
                continue
            measured[trial_id], _ = evaluate(model, family, schema, data.test.x, data.test.y)
        compared[str(row[family.compared_by])] = {"trial_id": trial_id, **measured[trial_id]}
    return compared


def chosen_name(trial_id: str, final_fit: dict[str, Any] | None, refit: dict[str, Any] | None = None) -> str:
    """The chosen model in words, for the page: the trial's own weights, its final fit, or the ensemble of the best
    trials. All trained on the training split only, so the validation split is unseen by them (the ensemble's
    weights were chosen on it)."""
    if refit and refit["used"]:
        return (f"trial {trial_id}'s model (trained on the training split); the model in production is its refit on "
                "training + validation, which validation cannot judge")
    if trial_id == ENSEMBLE_ID:
        return "the ensemble of the best trials (each trained on the training split, weighted on validation)"
    if final_fit and final_fit["used"]:
        return f"the final fit of trial {trial_id} (retrained on the training split)"
    return f"trial {trial_id}'s model (trained on the training split)"


def report(track: str | Track, results_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, Choice | None]:
    """Every trial with its diagnosis, measures and place in the choice, and the choice; nothing is written
    but the measures each trial caches. The data is loaded only if a trial must be measured, or a candidate
    tested against the top one."""
    track = load_track(track)
    store = Store(track.name, results_dir)
    store.require_search()
    family = family_of(track)
    ensemble = store.read_json(ENSEMBLE_JSON) if track.search.builds_ensemble else None
    data = functools.cache(lambda: family.load(track))
    return report_table(track, store, latency_rows(family, store.schema(), data), ensemble,
                        lambda: data().validation)


def latency_rows(family: Family, schema: Schema, data: Callable[[], Data]) -> Callable[[], Any]:
    """The model inputs latency is measured on: the first `LATENCY_ROWS` validation rows (or images), got
    only when a trial must be measured; the test split stays untouched."""
    return functools.cache(lambda: family.model_inputs(data().validation.x[:LATENCY_ROWS], schema))
