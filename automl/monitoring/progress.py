"""The line printed after each trial: its score, the best so far, time spent, an estimate of time left."""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from automl.tuning.budget import units_of


class TrialProgress:
    """One line per finished trial: its score, the best so far, time spent and an estimate of time left.

    The estimate is the smaller of what the time limit leaves and what the rest of the budget
    (Hyperband's epochs, or max_trials) would take at this run's pace; early stopping only shortens it.
    `budget` is the time limit in seconds and `started` the run's clock's start (`automl.context.Budget`), so the
    line counts from the same moment as the deadlines the stages keep.
    """

    def __init__(self, objective: str, direction: str, budget: float, write: Callable[[str], None], *,
                 total: float = math.nan, unit: str = "trials", used_before: float = 0.0,
                 best: float | None = None, started: float | None = None) -> None:
        self.objective, self.direction, self.budget, self.write = objective, direction, budget, write
        self.total, self.unit, self.used_before = total, unit, used_before
        self.started = time.monotonic() if started is None else started  # the run's clock (`Budget.started`)
        self.best = math.nan if best is None else best
        self.used = 0.0
        self.count = 0

    def __call__(self, trial) -> None:
        score = trial.score
        if score is not None and math.isfinite(score) and (
            math.isnan(self.best) or (score > self.best if self.direction == "max" else score < self.best)
        ):
            self.best = score
        self.used += units_of(trial.hyperparameters.values, self.unit)
        self.count += 1
        elapsed = time.monotonic() - self.started
        status = trial.status.lower() if isinstance(trial.status, str) else str(trial.status).lower()
        shown = f"{self.objective} {score:.4g}" if score is not None else status
        self.write(f"trial {trial.trial_id} {shown} | best {self.best:.4g} | {duration(elapsed)} elapsed | "
                   f"{self.time_left(elapsed)}")

    def time_left(self, elapsed: float) -> str:
        limit_left = max(0.0, self.budget - elapsed)
        done = self.used_before + self.used
        if not math.isfinite(self.budget):
            return "time left: see the chief"
        if not math.isfinite(self.total) or self.used <= 0:
            return f"{duration(limit_left)} left of the time limit"
        by_budget = max(0.0, self.total - done) * elapsed / self.used
        budget = f"{min(done, self.total):g}/{self.total:g} {self.unit} of the budget done"
        if by_budget < limit_left:
            return f"about {duration(by_budget)} left ({budget})"
        return f"{duration(limit_left)} left of the time limit ({budget})"


def duration(seconds: float) -> str:
    """90 -> '1m30s'; 5400 -> '1h30m'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
