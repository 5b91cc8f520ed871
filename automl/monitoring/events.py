"""What happened in a search, as plain dicts: a new best score, a diverged trial, the search's end.

Events are data; what is done with them (a notify command, MLflow, W&B) lives in `automl.monitoring.trackers`.
"""
from __future__ import annotations

import math
import time
from typing import Any

from automl.errors import last_line
from automl.store import Store

MESSAGE_LENGTH = 500

NEW_BEST = "new_best"
TRIAL_DIVERGED = "trial_diverged"
SEARCH_ENDED = "search_ended"


def trial_record(trial) -> dict[str, Any]:
    """A Keras Tuner trial as a plain dict: id, status, score, last line of its message, hyperparameters."""
    status = trial.status if isinstance(trial.status, str) else str(trial.status)
    score = trial.score
    return {
        "trial_id": str(trial.trial_id),
        "status": status.lower(),
        "score": float(score) if score is not None and math.isfinite(score) else None,
        "message": last_line(trial.message, MESSAGE_LENGTH),
        "hyperparameters": {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")},
    }


def best_on_disk(store: Store, direction: str) -> tuple[str | None, float | None]:
    """The best completed trial already in the store (so a resumed search does not announce a worse 'best')."""
    best_id, best = None, None
    for trial in store.trials():
        if trial.status == "COMPLETED" and trial.score is not None and _better(trial.score, best, direction):
            best_id, best = trial.trial_id, float(trial.score)
    return best_id, best


class SearchEvents:
    """Turns finished trials into events; remembers the best score so far."""

    def __init__(self, track: str, objective: str, direction: str,
                 best_trial_id: str | None = None, best: float | None = None) -> None:
        self.track, self.objective, self.direction = track, objective, direction
        self.best_trial_id, self.best = best_trial_id, best
        self.trials = 0

    def after_trial(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The events one finished trial (a `trial_record`) causes: none, a new best, or a divergence."""
        self.trials += 1
        events = []
        score = record["score"]
        if record["status"] == "completed" and score is not None and _better(score, self.best, self.direction):
            events.append(self._event(NEW_BEST, trial_id=record["trial_id"], score=score, previous_best=self.best,
                                      hyperparameters=record["hyperparameters"]))
            self.best_trial_id, self.best = record["trial_id"], score
        if record["status"] == "failed" and "diverged" in record["message"]:
            message = record["message"][record["message"].index("diverged"):]
            events.append(self._event(TRIAL_DIVERGED, trial_id=record["trial_id"], message=message,
                                      hyperparameters=record["hyperparameters"]))
        return events

    def search_ended(self, stopped_by: str, seconds: float, trials: int) -> dict[str, Any]:
        return self._event(SEARCH_ENDED, stopped_by=stopped_by, seconds=round(seconds, 1), trials=trials,
                           trials_this_run=self.trials, best_trial_id=self.best_trial_id, best_score=self.best)

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"event": kind, "track": self.track, "objective": self.objective,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}


def _better(score: float, best: float | None, direction: str) -> bool:
    if not math.isfinite(score):
        return False
    return best is None or (score > best if direction == "max" else score < best)
