"""A search's budget: the clock (start, search deadline, final deadline) and Hyperband's schedule in epochs.

The clock is one value made when a run starts (`Budget.start`) and read by every stage: the tuner
stops starting trials at `search_deadline`, and the final fit trains until `final_deadline`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from automl.families import family_of
from automl.store import Store
from automl.track.duration import parse_duration
from automl.track.sections import Track


@dataclass(frozen=True)
class Budget:
    """When a run started and when its stages must end, on `time.monotonic`."""

    started: float
    search_deadline: float
    final_deadline: float

    @classmethod
    def start(cls, seconds: float, final_share: float = 0.0) -> Budget:
        """A budget of `seconds` from now, the last `final_share` of it kept for the final fit."""
        now = time.monotonic()
        return cls(now, now + seconds * (1.0 - final_share), now + seconds)

    @classmethod
    def unlimited(cls) -> Budget:
        """No clock of its own: a worker of a distributed search stops when its chief says so."""
        return cls(time.monotonic(), math.inf, math.inf)

    @classmethod
    def for_track(cls, track: Track, time_limit: str | float | None = None, *, worker: bool = False) -> Budget:
        """The run's clock from now: `time_limit` (else the track's ``search.time_limit``), with the track's
        ``search.final_fit`` share (or its family's refit share, `Family.refit_share`) kept at its end. A worker's
        time limit is the chief's: a worker that left on its own would keep the chief waiting."""
        if worker:
            return cls.unlimited()
        seconds = parse_duration(time_limit, "--time-limit") if time_limit is not None else track.time_limit_seconds
        return cls.start(seconds, track.search.final_fit or family_of(track).refit_share(track))

    def seconds_left(self) -> float:
        """Seconds until the final deadline (the end of the whole run)."""
        return self.final_deadline - time.monotonic()


def total_units(track: Track) -> tuple[float, str]:
    """The whole search's budget and its unit: Hyperband's schedule in epochs, else the number of trials.

    Hyperband's schedule is Keras Tuner's (`HyperbandOracle._get_size`/`_get_epochs`): bracket b,
    round r trains `size` models for the epochs between round r-1 and round r. Early stopping and
    Keras Tuner's skipping of duplicate hyperparameters can only make the search shorter, so an
    estimate from it is an upper bound.
    """
    search = track.search
    if search.tuner != "hyperband":
        return float(search.max_trials), "trials"
    max_epochs, factor = search.max_epochs, search.factor
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:  # Keras Tuner's min_epochs is 1
        epochs /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        previous = 0
        for round_number in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_number))
            trained = math.ceil(max_epochs / factor ** (bracket - round_number))
            total += size * (trained - previous)
            previous = trained
    return float(total * search.hyperband_iterations), "epochs"


def units_of(values: dict, unit: str) -> float:
    """What one trial (its hyperparameter values) used of the budget."""
    if unit == "trials":
        return 1.0
    return float(values.get("tuner/epochs", 0) - values.get("tuner/initial_epoch", 0))


def units_used(store: Store, unit: str) -> float:
    """The budget used by the trials already on disk (a resumed search starts from there)."""
    return sum(units_of(trial.values, unit) for trial in store.trials() if trial.finished)
