"""Checkpoint pruning: delete the weights of trials that can no longer be chosen, continued or reported on.

Keras Tuner keeps ``checkpoint.weights.h5`` in every ``trial_*`` directory and never deletes one, so a
search's disk grows with its trials (Keras Tuner users report searches reaching a terabyte). A
trial's checkpoint is still needed when

- the choice rule may pick it: its score is within ``search.tolerance`` of the best so far (the
  threshold moves as better trials arrive, so a trial kept now may be pruned later, never the other
  way round), or it is among the `KEEP_TOP` best, which the report measures for context;
- Hyperband may still continue it: a trial continues another by loading the checkpoint named in
  its ``tuner/trial_id``. Until every trial of a bracket has been created (the oracle's
  ``brackets`` state in ``oracle.json``; Keras Tuner drops a bracket once its last round is full),
  any trial of it may be picked for the next round, so all of that bracket is kept; and a trial
  that continues another and has not finished (running, interrupted and to be redone on resume)
  still needs the checkpoint it starts from;
- it has not finished: only completed and failed trials are pruned.

Random and Bayesian searches never continue a trial, so only the choice matters there. A pruned
trial keeps its ``trial.json``, curves and report row; ``pruned.json`` beside them says when and why.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from automl.selection.choice import MEASURED_TOP, score_threshold
from automl.store import Store, TrialFile, write_json

KEEP_TOP = MEASURED_TOP  # the best few by score keep their weights whatever the tolerance: the report measures them
FINISHED = ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class TrialState:
    """What pruning needs of one trial's ``trial.json``."""

    trial_id: str
    status: str
    score: float | None
    continues: str | None  # tuner/trial_id: the trial whose checkpoint this one starts from
    kind: str | None = None  # the value of the space's `compared_by` hyperparameter (a text encoder), if any


def prune_checkpoints(store: Store, direction: str, tolerance: float, keep_top: int | None = None,
                      compared_by: str | None = None, finished: dict[str, TrialFile] | None = None) -> list[str]:
    """Delete the checkpoints no longer needed (see the module's docstring); returns the pruned trial ids.

    Reads the search's state from disk, ``oracle.json`` before the trials: the oracle writes a new
    trial's ``trial.json`` before recording it in ``oracle.json``, so a continuation recorded there is
    always seen. Anything unreadable (a file being written) prunes nothing this time. With `compared_by` (the
    hyperparameter that picks the kind of network), the best trial of each kind stays too: the report measures it.
    `finished` is `Store.trials`'s memory of the finished trials, kept by a search that prunes after every trial.
    """
    state = store.oracle_state()
    if state is None:
        return []
    files = store.trials(finished)
    if any(t.record is None for t in files):
        return []
    trials = [TrialState(t.trial_id, t.status, t.score, _continued(t.values),
                         str(t.values[compared_by]) if compared_by in t.values else None) for t in files]
    keep = checkpoints_to_keep(trials, state, direction, tolerance, KEEP_TOP if keep_top is None else keep_top)
    threshold = _threshold(trials, direction, tolerance)
    pruned = []
    for trial in trials:
        checkpoint = store.checkpoint(trial.trial_id)
        if trial.trial_id in keep or trial.status not in FINISHED or not checkpoint.is_file():
            continue
        # The record first: a kill between the two leaves a checkpoint that loads, never a silent gap.
        write_json(store.pruned_record(trial.trial_id), {
            "pruned": time.strftime("%Y-%m-%d %H:%M:%S"),
            "status": trial.status.lower(),
            "score": trial.score,
            "threshold": threshold,
            "bytes": checkpoint.stat().st_size,
        })
        checkpoint.unlink()
        pruned.append(trial.trial_id)
    return pruned


def checkpoints_to_keep(trials: list[TrialState], oracle_state: dict[str, Any], direction: str,
                        tolerance: float, keep_top: int = KEEP_TOP) -> set[str]:
    """The trials whose checkpoints must stay: choosable, among the top few, continuable, or unfinished."""
    keep = {t.trial_id for t in trials if t.status not in FINISHED}
    # A continuation that has not finished (running, or interrupted and to be retried) reloads its start.
    keep |= {t.continues for t in trials if t.continues and t.status not in FINISHED}
    keep |= open_bracket_trials(oracle_state)
    scored = sorted((t for t in trials if t.status == "COMPLETED" and _finite(t.score)),
                    key=lambda t: t.score, reverse=direction == "max")
    if scored:
        threshold = score_threshold(scored[0].score, direction, tolerance)
        keep |= {t.trial_id for t in scored
                 if (t.score <= threshold if direction == "min" else t.score >= threshold)}
        keep |= {t.trial_id for t in scored[:keep_top]}
        best_of_kind: dict[str, str] = {}
        for t in scored:
            if t.kind is not None:
                best_of_kind.setdefault(t.kind, t.trial_id)
        keep |= set(best_of_kind.values())
    return keep


def open_bracket_trials(oracle_state: dict[str, Any]) -> set[str]:
    """Every trial of the Hyperband brackets whose last round is not full yet (none for other tuners).

    Keras Tuner's `HyperbandOracle._remove_completed_brackets` drops a bracket when its last round has
    its size; it does so only when asked for a new trial, so ``oracle.json`` may still list finished
    brackets: the size is computed here with the oracle's own formula.
    """
    ids: set[str] = set()
    for bracket in oracle_state.get("brackets") or []:
        rounds = bracket["rounds"]
        last = len(rounds) - 1
        if len(rounds[last]) == _bracket_size(oracle_state, bracket["bracket_num"], last):
            continue
        for round_info in rounds:
            for entry in round_info:
                ids.update(i for i in (entry.get("id"), entry.get("past_id")) if i)
    return ids


def _bracket_size(state: dict[str, Any], bracket_num: int, round_num: int) -> int:
    # keras_tuner.src.tuners.hyperband.HyperbandOracle._get_size
    end_size = math.ceil(1 + math.log(state["max_epochs"], state["factor"])) / (bracket_num + 1)
    return math.ceil(end_size * state["factor"] ** (bracket_num - round_num))


def _threshold(trials: list[TrialState], direction: str, tolerance: float) -> float | None:
    scores = [t.score for t in trials if t.status == "COMPLETED" and _finite(t.score)]
    if not scores:
        return None
    return score_threshold(min(scores) if direction == "min" else max(scores), direction, tolerance)


def _finite(score: float | None) -> bool:
    return score is not None and math.isfinite(score)


def _continued(values: dict[str, Any]) -> str | None:
    continues = values.get("tuner/trial_id")
    return str(continues) if continues else None
