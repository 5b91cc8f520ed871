"""A search read back from disk as a table: one row per trial with its status, score, hyperparameters and curves."""
from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pandas as pd

from automl.context import Run
from automl.errors import AutomlWarning, SearchFailed, last_line
from automl.families.base import Family
from automl.store import ENSEMBLE_ID, Store, TrialFile

TUNER_COLUMNS = {  # Keras Tuner's reserved hyperparameters, under names a report reader understands
    "tuner/epochs": "budget_epochs",
    "tuner/initial_epoch": "initial_epoch",
    "tuner/bracket": "bracket",
    "tuner/round": "round",
    "tuner/trial_id": "continues_trial",
}
STATUS_NAMES = {"RUNNING": "interrupted", "IDLE": "interrupted"}
MESSAGE_LENGTH = 300


def trials_table(run: Run) -> pd.DataFrame:
    """One row per trial: id, status, score, epochs, hyperparameters, metrics at the best epoch, size, time.

    A trial whose ``trial.json`` is damaged is left out, with a note (a rerun of the search records it as failed:
    `automl.tuning.restore`).

    Examples
    --------
    >>> trials_table(Run.open("boston")).sort_values("score").head()
    """
    store = run.searched().store
    trials = store.trials()
    for trial in trials:
        error = _read_error(store, trial.trial_id) if trial.record is None else None
        if error is not None:
            why = damaged_record(store, trial.trial_id, error)
            warnings.warn(f"trial {trial.trial_id} is left out of the report: {why}; rerun the search to record it as "
                          "failed", AutomlWarning, stacklevel=2)
    rows = [_trial_row(trial, run.family.active_hyperparameters) for trial in trials if trial.record is not None]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ordered = ["trial_id", "status", "score", "best_epoch", "epochs_run"]
    return table[ordered + [c for c in table.columns if c not in ordered]]


def damaged_record(store: Store, trial_id: str, error: BaseException) -> str:
    """How a note names a trial's ``trial.json`` that `error` stopped from being read."""
    return f"its record {store.trial_file(trial_id)} is damaged ({last_line(error, 120)})"


def _read_error(store: Store, trial_id: str) -> Exception | None:
    """Why a ``trial.json`` that `Store.trials` could not read cannot be read, read again; None if now it can."""
    try:
        json.loads(store.trial_file(trial_id).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return error
    return None


def _trial_row(trial: TrialFile, active_hyperparameters) -> dict[str, Any]:
    record, history = trial.record, trial.history()
    values = trial.values
    status = STATUS_NAMES.get(trial.status, trial.status.lower())
    # Keras Tuner's best step counts this run's epochs from 0 (tuner_utils.get_best_step); a Hyperband trial that
    # continues another starts at its initial epoch, and epochs are counted from 1 across rounds.
    best_step = record.get("best_step")
    first = int(history.get("initial_epoch", 0))
    row: dict[str, Any] = {
        "trial_id": trial.trial_id,
        "status": status,
        "score": trial.score if status == "completed" else math.nan,
        "best_epoch": (first + best_step + 1) if status == "completed" and best_step is not None else math.nan,
        "epochs_run": len(history.get("epochs", [])),
    }
    for name, value in active_hyperparameters({k: v for k, v in values.items() if not k.startswith("tuner/")}).items():
        row[name] = value
    for name, column in TUNER_COLUMNS.items():
        if name in values:
            row[column] = values[name]
    row.update(_metrics_at_best_epoch(history, best_step))
    row["params"] = history.get("params", math.nan)
    row["seconds"] = history.get("seconds", math.nan)
    row["message"] = last_line(record.get("message"), MESSAGE_LENGTH) if status != "completed" else ""
    # Its weights were deleted (automl.tuning.pruning): its row stays, its model cannot be loaded or chosen.
    row["pruned"] = trial.pruned
    return row


def _metrics_at_best_epoch(record: dict[str, Any], best_step: int | None) -> dict[str, float]:
    """The run's figures at Keras Tuner's best step, an index into this run's epochs."""
    history = record.get("history", {})
    if not history or best_step is None or not 0 <= best_step < len(record.get("epochs", [])):
        return {}
    metrics = {}
    for name, values in history.items():
        if name == "learning_rate":
            continue
        column = name if name.startswith("val_") else f"train_{name}"
        metrics[column] = values[best_step] if best_step < len(values) else math.nan
    return metrics


def no_model_to_choose(table: pd.DataFrame) -> SearchFailed:
    """The error for a search with no completed trial, with the trials' failure reasons."""
    messages = table["message"] if "message" in table else pd.Series(dtype=str)
    reasons = sorted({m for m in messages if isinstance(m, str) and m})
    return SearchFailed(
        f"no trial completed ({len(table)} failed or interrupted), so there is no model to choose"
        + (f"; reasons: {'; '.join(reasons[:3])}" if reasons else "")
    )


def best_trial_id(table: pd.DataFrame, direction: str) -> str:
    """The completed trial with the best validation score."""
    completed = table[(table["status"] == "completed") & table["score"].notna()]
    if completed.empty:
        raise no_model_to_choose(table)
    scores = completed["score"].astype(float)
    best = scores.idxmax() if direction == "max" else scores.idxmin()
    return str(completed.loc[best, "trial_id"])


def sort_by_score(table: pd.DataFrame, direction: str) -> pd.DataFrame:
    return table.sort_values("score", ascending=direction == "min", na_position="last").reset_index(drop=True)


def is_ensemble(table: pd.DataFrame) -> pd.Series:
    """Which rows of a report's table are the best trials' ensemble (a candidate, not a trial)."""
    return table["trial_id"].astype(str) == ENSEMBLE_ID


def only_when_best(table: pd.DataFrame, family: Family) -> list[str]:
    """The trials of the kinds of network the family's space lets the choice take only when one scores best
    (`SearchSpace.chosen_only_when_best`: a network over more inputs than the others)."""
    by, kinds = family.compared_by, family.chosen_only_when_best
    if not kinds or not by or by not in table:
        return []
    return table.loc[table[by].isin(kinds), "trial_id"].astype(str).tolist()
