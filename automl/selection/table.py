"""The report's table: every trial with its diagnosis, size, latency and place in the choice, and the choice."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from automl.context import Run
from automl.selection.choice import MEASURED_TOP, Choice, choose, score_threshold
from automl.selection.compare import best_of_each
from automl.selection.diagnosis import Thresholds, diagnose_trials
from automl.selection.ensemble import with_ensemble
from automl.selection.measures import DAMAGED, measure_trials
from automl.selection.paired import GapSpreads
from automl.selection.scoring import objective_measure
from automl.selection.trials import best_trial_id, only_when_best, sort_by_score, trials_table
from automl.track.sections import Track

FIRST_COLUMNS = ["trial_id", "status", "score", "chosen", "top_score", "within_tolerance", "diagnosis",
                 "latency_p50_ms", "latency_p95_ms", "rows_per_second", "model_bytes", "params", "seconds",
                 "best_epoch", "epochs_run"]
LAST_COLUMNS = ["diagnosis_detail", "message"]


def thresholds_for(track: Track) -> Thresholds:
    """The diagnosis thresholds; "stalled" never waits longer than the track's EarlyStopping patience."""
    return Thresholds(stall_epochs=min(Thresholds.stall_epochs, track.search.patience))


def report_table(run: Run, rows: Callable[[], Any], ensemble: dict[str, Any] | None = None,
                 validation: Callable[[], Any] | None = None) -> tuple[pd.DataFrame, Choice | None]:
    """Every trial with its diagnosis, size, latency and place in the choice, best score first; and the choice.
    With `ensemble` (``ensemble.json``'s record) a candidate, its row joins the table before the choice.
    With `validation` (a function giving the validation split, called only if needed), a candidate other
    than the top one must pass the choice rule's non-inferiority test on its rows (`automl.selection.choice`).

    Size and latency are measured (once, then read from each trial's ``measures.json``) for the
    candidates within the tolerance and the `MEASURED_TOP` best, on the model inputs `rows()` gives
    (called only if something must be measured); other trials are left blank.
    """
    track, store = run.track, run.store
    table = trials_table(run)
    if table.empty:
        return table, None
    completed = table["status"].eq("completed") & table["score"].notna()
    top = best_trial_id(table, track.direction) if completed.any() else None
    diagnoses = diagnose_trials(table, store.histories(), top, objective=track.objective,
                                direction=track.direction, thresholds=thresholds_for(track))
    table = table.merge(diagnoses, on="trial_id", how="left")
    if top is None:
        return _ordered(sort_by_score(table, track.direction)), None
    measured = measure_trials(run, trials_to_measure(table, run), rows)
    table = table.merge(measured, on="trial_id", how="left")
    damaged = table.pop(DAMAGED)
    if damaged.notna().any():  # weights that cannot be read back: the trial's row stays, as failed, out of the choice
        table.loc[damaged.notna(), "status"] = "failed"
        table.loc[damaged.notna(), "message"] = damaged[damaged.notna()]
    table = with_ensemble(table, ensemble)
    choice = choose(table, track.direction, track.search.tolerance, objective=track.objective,
                    spread=None if validation is None else gap_spreads(run, validation),
                    only_when_best=only_when_best(table, run.family))
    table["chosen"] = table["trial_id"] == choice.trial_id
    table["top_score"] = table["trial_id"] == choice.top_trial_id
    table["within_tolerance"] = table["trial_id"].isin(choice.candidates)
    return _ordered(sort_by_score(table, track.direction)), choice


def gap_spreads(run: Run, validation: Callable[[], Any]) -> GapSpreads | None:
    """The spread the choice rule's non-inferiority test takes, or None when the objective has no twin among the
    measures of predictions (``val_loss``): the rows could not be scored as the trials were."""
    objective = run.track.objective
    measure = objective_measure(objective, run.schema().task)
    if measure.name != objective.removeprefix("val_"):
        return None
    return GapSpreads(run, measure, validation)


def trials_to_measure(table: pd.DataFrame, run: Run) -> list[str]:
    """The completed trials within the tolerance of the best score, plus the `MEASURED_TOP` best, plus the best of
    each kind of network the family's space compares (so the report can set their speeds side by side)."""
    track = run.track
    completed = sort_by_score(table[table["status"].eq("completed") & table["score"].notna()], track.direction)
    best = float(completed["score"].iloc[0])
    threshold = score_threshold(best, track.direction, track.search.tolerance)
    within = completed["score"] <= threshold if track.direction == "min" else completed["score"] >= threshold
    kinds = best_of_each(completed, run.family.compared_by, track.direction)["trial_id"]
    return list(dict.fromkeys([*completed[within]["trial_id"], *completed["trial_id"].head(MEASURED_TOP), *kinds]))


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in FIRST_COLUMNS if c in table.columns]
    last = [c for c in LAST_COLUMNS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first + last] + last]
