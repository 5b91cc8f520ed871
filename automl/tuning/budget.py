"""A search's budget in epochs (or trials): Hyperband's schedule, what one trial used, what is done.

The clock (`automl.context.Budget`) is the run's, made once by the pipeline; this is the other half of the
budget, the work the search plans, which the progress line sets against the clock.
"""
from __future__ import annotations

import math

from automl.store import Store
from automl.track.sections import Track


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
