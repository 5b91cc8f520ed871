"""One run of automl, stage after stage: search → choice → retraining → test → export → report.

The command line and the Python API resolve a `Run` once (`automl.context.Run.open`) and call `run` (a search
and all that follows) or `finish` (all that follows a search, as ``automl report`` does). `run` starts the run's
clock (`Run.started`), the one `Budget` every stage reads; nothing else carries a deadline. `finish` is a few
named steps, each returning a typed value: `choose` (`Chosen`), `retrain` (`Retrained`), `judge` (`Judged`),
`export_chosen`, `score_test_split` (`HeldOutFigures`, which also exports the top-scoring model), then the
report. What the caller wants to hear as the run goes (a line per trial, the end of the search, the final fit,
the chosen model) comes through `Hooks`.
"""
from __future__ import annotations

import dataclasses
import functools
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd

from automl.context import Run
from automl.data.schema import Data, Schema
from automl.errors import AutomlError, AutomlWarning, SearchFailed
from automl.families.base import Family
from automl.hypermodels.layers import with_decision_threshold
from automl.reporting.files import write_report
from automl.selection.choice import Choice
from automl.selection.compare import best_of_each
from automl.selection.ensemble import build_ensemble
from automl.selection.explain import Explanation, explain
from automl.selection.measures import LATENCY_ROWS, measure_model
from automl.selection.scoring import HeldOutFigures, evaluate, model_outputs, test_figures
from automl.selection.table import report_table
from automl.selection.threshold import Threshold, binary_threshold
from automl.selection.trials import no_model_to_choose
from automl.serving.models import load_trial_model
from automl.store import ENSEMBLE_ID
from automl.tuning.distributed import LOCAL, Role
from automl.tuning.final_fit import final_model
from automl.tuning.loop import SearchRun, search
from automl.tuning.refit import refit_model


class Hooks:
    """What a run tells its caller as it goes; every method does nothing unless overridden.

    The command line prints a line per trial and sends events to its trackers; the Python API needs none.
    """

    def run_opened(self, run: Run) -> None:
        """The run is resolved and its clock not yet started: set up what takes time (reading the trials on disk)
        here, so that it does not eat into the time limit."""

    def run_started(self, run: Run) -> None:
        """The run's clock has started (``run.budget``); the search is next."""

    def trial_done(self, trial) -> None:
        """A trial ended (Keras Tuner's record, with its score)."""

    def search_ended(self, searched: SearchRun) -> None:
        """The search stage ended: complete, out of time, or stopped by Ctrl-C."""

    def final_fit_starting(self, run: Run) -> None:
        """The chosen configuration is about to be retrained with the time left."""

    def finished(self, run: Run, finished: Finished) -> None:
        """The model is chosen, tested and exported, and the report written."""


@dataclass
class Finished:
    """What `finish` wrote: the test figures (`tested`), the table, the choice, and the chosen model explained."""

    tested: HeldOutFigures
    table: pd.DataFrame
    choice: Choice
    explanation: Explanation | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """The test figures as ``test_metrics.json`` records them."""
        return self.tested.to_dict()


@dataclass
class Outcome:
    """A run: its search stage, and what followed (None on a worker, which only trains)."""

    searched: SearchRun
    finished: Finished | None


@dataclass
class Chosen:
    """The choice step: every trial (and the ensemble, when it was a candidate) with the choice made among them."""

    table: pd.DataFrame
    choice: Choice

    def row(self, trial_id: str) -> pd.Series:
        return self.table.loc[self.table["trial_id"] == trial_id].iloc[0]


@dataclass
class Retrained:
    """The retraining step: the model in production (`model`), and the one validation can judge (`judged`: the
    trial's own weights when a refit trained on the validation split, else `model` itself), with the records of a
    final fit or a refit, when the track has one."""

    model: keras.Model
    judged: keras.Model
    final_fit: dict[str, Any] | None = None
    refit: dict[str, Any] | None = None

    @property
    def used(self) -> bool:
        """Whether the model in production is a retraining, not its trial's own weights."""
        return bool((self.final_fit and self.final_fit["used"]) or (self.refit and self.refit["used"]))


@dataclass
class Judged:
    """The judging step: the outputs of the retrained and judged models on validation and test, and a binary
    model's decision threshold chosen on validation."""

    validation: np.ndarray  # the judged model's
    test: np.ndarray  # the model's in production
    judged_test: np.ndarray  # the judged model's (the same array when it is the model in production)
    threshold: Threshold | None


def run(context: Run, *, time_limit: str | float | None = None, restart: bool = False,
        keep_checkpoints: bool = False, role: Role = LOCAL, hooks: Hooks | None = None, command: str = "",
        verbose: bool = False, tensorboard: bool = False) -> Outcome:
    """Search the run's track (or resume its search) within `time_limit` (else the track's), then `finish`:
    choose, retrain, test, export, report. The clock starts here.

    Examples
    --------
    >>> outcome = run(Run.open("boston"), time_limit="5m")
    >>> outcome.finished.choice.trial_id
    '0051'
    """
    hooks = hooks or Hooks()
    hooks.run_opened(context)  # before the clock: what the caller sets up does not eat into the time limit
    context = context.started(time_limit, worker=role.is_worker)
    store = context.store
    ended = None if restart or role.is_worker else store.read_json(store.unfinished_record)
    if ended is not None:
        # The last run's search ended, and the run was killed before its report: finish it, searching nothing.
        warnings.warn(f"the last run's search ended ({ended.get('stopped_by')}) but the run stopped before its "
                      "report: finishing it without searching again", AutomlWarning, stacklevel=2)
        context = dataclasses.replace(context, budget=context.budget.final_only())
        hooks.run_started(context)
        trials = len(store.trials())
        searched = SearchRun(context.name, "search already ended", 0.0, trials, trials)
    else:
        hooks.run_started(context)
        with store.guard("searching"):
            searched = search(context, restart=restart, on_trial_done=hooks.trial_done, command=command,
                              verbose=verbose, tensorboard=tensorboard, role=role, keep_checkpoints=keep_checkpoints)
        if role.is_worker:
            return Outcome(searched, None)
        store.write_json(store.unfinished_record, {"stopped_by": searched.stopped_by})
    hooks.search_ended(searched)
    try:
        finished = finish(context, data=searched.data, hooks=hooks)
    except SearchFailed:
        store.unfinished_record.unlink(missing_ok=True)  # no model to choose: searching more is the way on
        raise
    hooks.finished(context, finished)
    return Outcome(searched, finished)


def finish(run: Run, *, data: Data | None = None, hooks: Hooks | None = None) -> Finished:
    """Choose the trial, retrain it if the track says so, score the chosen and top-scoring models on the test
    split, export both, and write the report.

    The test split is used here only, after the choice, to report the two models side by side. `data` is
    the split the search just used, if at hand; otherwise the track's data is loaded again. A track with a
    final fit (``search.final_fit``) retrains the chosen configuration until the run's budget ends, unless that
    was done already; a run without a clock (a report of a finished search) takes the final fit on disk, if any.
    """
    run.searched()
    data = data or run.data()
    rows = latency_rows(run.family, run.schema(), lambda: data)
    # Each step under its own guard: a full disk, or a folder made read-only or gone, ends in one line naming it.
    guard = run.store.guard
    with guard("measuring and choosing the trials"):
        chosen = choose(run, data, rows)
    with guard("retraining the chosen model"):
        retrained = retrain(run, chosen, data, rows, hooks)
    judged = judge(run, retrained, data)
    with guard("exporting the chosen model"):
        export_chosen(run, retrained, judged.threshold)
    with guard("scoring the test split"):
        tested, predicted = score_test_split(run, chosen, retrained, judged, data)
        tested.write(run.store)
    with guard("writing the report"):
        explanation = explain(retrained.judged, run.family, run.schema(), data, objective=run.track.objective,
                              test_outputs=judged.judged_test, validation_outputs=judged.validation,
                              threshold=judged.threshold,
                              model_name=chosen_name(chosen.choice.trial_id, retrained.final_fit, retrained.refit))
        for leak in explanation.leaks:
            warnings.warn(leak.message(), AutomlWarning, stacklevel=2)
        write_report(run, chosen.table, chosen.choice, tested, data.test.y, predicted, explanation)
        run.store.unfinished_record.unlink(missing_ok=True)  # the search is finished: a rerun may search again
    return Finished(tested, chosen.table, chosen.choice, explanation)


def choose(run: Run, data: Data, rows: Callable[[], Any]) -> Chosen:
    """The trials table and the choice; the best trials' ensemble, offered to the choice rule like one more trial
    (its validation score, latency and size) when it beats its best member out of sample."""
    def validation():
        return data.validation

    table, choice = report_table(run, rows, validation=validation)
    if choice is None:
        raise no_model_to_choose(table)
    if run.track.search.builds_ensemble:
        ensemble = build_ensemble(run, table, data, rows)
        if ensemble.get("candidate"):
            table, choice = report_table(run, rows, ensemble, validation)
    return Chosen(table, choice)


def retrain(run: Run, chosen: Chosen, data: Data, rows: Callable[[], Any], hooks: Hooks | None = None) -> Retrained:
    """The final fit (``search.final_fit``) or the refit (tables) of the chosen configuration, when the track has
    one and the run's clock leaves time for it; else the chosen trial's (or ensemble's) own weights."""
    track, store, trial_id = run.track, run.store, chosen.choice.trial_id
    model, final_fit, refit = None, None, None
    if track.search.final_fit:
        if run.budget is not None and hooks is not None:
            hooks.final_fit_starting(run)
        model, final_fit = final_model(run, trial_id, float(chosen.row(trial_id)["score"]), data)
        if model is not None and final_fit.get("members", 1) > 1 and "measures" not in final_fit:
            # Several networks averaged: the model in production is not its trial's size, nor as fast.
            final_fit = {**final_fit, "measures": measure_model(model, rows(), store.root),
                         "params": int(model.count_params())}
            store.write_json(store.final_fit_record, final_fit)
    elif run.family.refit_share(track) and trial_id != ENSEMBLE_ID:
        model, refit = refit_model(run, chosen.row(trial_id), data)
    model = model or load_trial_model(run, trial_id)
    # The refit trained on the validation split: what is judged there (the decision threshold, the explanation)
    # is the trial's own model, of the same configuration.
    judged = load_trial_model(run, trial_id) if refit and refit["used"] else model
    return Retrained(model, judged, final_fit, refit)


def judge(run: Run, retrained: Retrained, data: Data) -> Judged:
    """The models' outputs, and a binary model's decision threshold from the judged model's own validation outputs
    (a final fit's, when it is the model: it trained on the training split only)."""
    family, schema = run.family, run.schema()
    validation = model_outputs(retrained.judged, family, schema, data.validation.x)
    test_outputs = model_outputs(retrained.model, family, schema, data.test.x)
    judged_test = (test_outputs if retrained.judged is retrained.model
                   else model_outputs(retrained.judged, family, schema, data.test.x))
    threshold = binary_threshold(schema, run.track.search.decision_metric, (data.validation.y, validation),
                                 (data.test.y, test_outputs))
    return Judged(validation, test_outputs, judged_test, threshold)


def export_chosen(run: Run, retrained: Retrained, threshold: Threshold | None) -> None:
    """``best_model.keras``: the model in production, with a binary model's decision threshold inside."""
    model = retrained.model if threshold is None else with_decision_threshold(retrained.model, threshold.value)
    model.save(run.store.best_model)


def score_test_split(run: Run, chosen: Chosen, retrained: Retrained, judged: Judged,
                     data: Data) -> tuple[HeldOutFigures, np.ndarray]:
    """The test figures of the chosen model, of the top-scoring trial (whose model is exported beside it as
    ``top_model.keras``) and of the best trial of each kind of network; and what the chosen model said of each test
    row (with its decision threshold), for the report."""
    store, schema, choice = run.store, run.schema(), chosen.choice
    figures, predicted = test_figures(schema, data.test.y, judged.test)
    if judged.threshold is not None:  # the confusion matrix and the mistakes shown are of what production will say
        predicted = (judged.test[:, 1] >= judged.threshold.value).astype("int64")
    own = {}  # test figures of trials' own weights already measured
    if not retrained.used:
        own[choice.trial_id] = figures
    elif retrained.judged is not retrained.model:
        own[choice.trial_id], _ = test_figures(schema, data.test.y, judged.judged_test)
    if choice.top_trial_id == choice.trial_id and not retrained.used:
        shutil.copyfile(store.best_model, store.top_model)
    else:
        top_model = (retrained.judged if choice.top_trial_id in own
                     else load_trial_model(run, choice.top_trial_id))
        top_model.save(store.top_model)
        if choice.top_trial_id not in own:
            own[choice.top_trial_id], _ = evaluate(top_model, run.family, schema, data.test.x, data.test.y)
    refit = retrained.refit
    if refit is not None:
        refit = {**refit, "trial_model_test": own.get(choice.trial_id, figures)}
    threshold = judged.threshold.test_metrics() if judged.threshold is not None else {}
    return HeldOutFigures(choice.trial_id, {**figures, **threshold}, {"trial_id": choice.top_trial_id,
                                                                       **own[choice.top_trial_id]},
                          compared=kinds_on_test(run, chosen.table, data, own), final_fit=retrained.final_fit,
                          refit=refit), predicted


def kinds_on_test(run: Run, table: pd.DataFrame, data: Data,
                  measured: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The test figures of the best trial of each kind of network the search compared (each family, each text
    encoder), by kind; `measured` holds those already known by trial id. Empty when the search had one kind.
    A kind whose best trial's weights were pruned is left out."""
    family = run.family
    best = best_of_each(table, family.compared_by, run.track.direction)
    if len(best) < 2:
        return {}
    compared = {}
    for _, row in best.iterrows():
        trial_id = str(row["trial_id"])
        if trial_id not in measured:
            try:
                model = load_trial_model(run, trial_id)
            except AutomlError:
                continue
            measured[trial_id], _ = evaluate(model, family, run.schema(), data.test.x, data.test.y)
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


def report(run: Run) -> tuple[pd.DataFrame, Choice | None]:
    """Every trial with its diagnosis, measures and place in the choice, and the choice; nothing is written
    but the measures each trial caches. The data is loaded only if a trial must be measured, or a candidate
    tested against the top one."""
    store = run.searched().store
    ensemble = store.read_json(store.ensemble_record) if run.track.search.builds_ensemble else None
    data = functools.cache(run.data)
    return report_table(run, latency_rows(run.family, run.schema(), data), ensemble, lambda: data().validation)


def latency_rows(family: Family, schema: Schema, data: Callable[[], Data]) -> Callable[[], Any]:
    """The model inputs latency is measured on: the first `LATENCY_ROWS` validation rows (or images), got
    only when a trial must be measured; the test split stays untouched."""
    return functools.cache(lambda: family.model_inputs(data().validation.x[:LATENCY_ROWS], schema))
