"""The refit of a table's chosen configuration on the training and validation splits together.

A trial trained on the training split alone, and the validation split judged it. Once the configuration is
chosen, the validation rows are more data to learn from: the chosen configuration is trained again from
scratch on both splits, for the epochs its trial found best (`best_epoch`; each epoch is then a pass over
the larger data, so it takes more steps), with the time the track keeps for it (``search.refit``, a share
of the time limit). The test split stays untouched until the final figures.

Validation can no longer judge the refit: it trained on it. So whether it replaces the trial's model is
decided by a rule fixed in advance. First, before the refit, a cross-fit asks whether training on more rows
beats the trial's own weights at all (`cross_fit_check`): the configuration is trained as the refit would
be on training + one half of the validation split, and scored on the other half, then the halves swap. The
trial's weights are scored on the same rows. They were chosen on those rows, out of every trial, so the test
leans their way: what the refit gives up is a network that was picked, for one trained afresh. On a small
split the pick is worth more than a few more rows to learn from, and on a large one the rows are worth more.
The refit is run only if the cross-fit's score is at least as good as the trial's. Then, on what the refit
itself shows (`refit_is_sound`):

- it ran every planned epoch (a refit the clock cut short is not the configuration the trial validated);
- its training loss stayed finite, and its last epoch's is within `DIVERGED` of its own lowest (it did not
  diverge at the end, when no early stopping could restore better weights);
- its last training loss is within `WORSE_THAN_TRIAL` of the trial's training loss at its best epoch (it
  learned the training rows about as well as the trial did: an unlucky start shows here).

Otherwise the trial's own weights stay the model, and the report says why. This is not the CIFAR-10 final
fit (`automl.tuning.final_fit`): that one retrains on the training split alone, and validation decides.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd

from automl.context import Run
from automl.data.schema import Data
from automl.errors import AutomlWarning
from automl.hypermodels.training import StopAtDeadline
from automl.selection.scoring import Measure, model_outputs, objective_measure
from automl.serving.models import TrialNetwork, load_trial_model, trial_network
from automl.tuning.final_fit import retrained_on_disk
from automl.tuning.loop import class_weight

DIVERGED = 0.10  # the last epoch's training loss may be this much above the refit's lowest
WORSE_THAN_TRIAL = 0.25  # the last training loss may be this much above the trial's at its best epoch
MARGIN = 1.5  # the refit is started only if its expected time, times this, fits in the time left


@dataclass
class Refit:
    """A finished refit, as ``refit.json`` records it."""

    trial_id: str
    used: bool
    reason: str  # why it is, or is not, the model: the rule's verdict in words
    epochs_planned: int
    epochs_run: int
    rows: int  # training + validation rows it trained on
    seconds: float
    loss: list[float]  # training loss per epoch
    trial_train_loss: float  # the trial's training loss at its best epoch
    cross_fit: dict[str, float] = field(default_factory=dict)  # its validation score, and the trial's, on the same rows

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def refit_is_sound(loss: list[float], epochs_planned: int, trial_train_loss: float) -> tuple[bool, str]:
    """The rule, fixed before the refit runs: (whether the refit becomes the model, why in words).

    Examples
    --------
    >>> refit_is_sound([0.9, 0.5, 0.4], 3, 0.45)
    (True, 'ran its 3 epochs; training loss 0.4 at the end, its lowest 0.4, the trial's 0.45')
    """
    if len(loss) < epochs_planned:
        return False, f"the clock stopped it after {len(loss)} of its {epochs_planned} epochs"
    if not all(math.isfinite(v) for v in loss):
        return False, "its training loss became NaN or infinite"
    last, lowest = loss[-1], min(loss)
    if last > lowest + DIVERGED * abs(lowest):
        return False, f"its training loss diverged at the end ({last:.4g}, against its lowest {lowest:.4g})"
    if math.isfinite(trial_train_loss) and last > trial_train_loss + WORSE_THAN_TRIAL * abs(trial_train_loss):
        return False, (f"its training loss {last:.4g} is over {WORSE_THAN_TRIAL:.0%} above the trial's "
                       f"{trial_train_loss:.4g}")
    return True, (f"ran its {epochs_planned} epochs; training loss {last:.4g} at the end, its lowest {lowest:.4g}, "
                  f"the trial's {trial_train_loss:.4g}")


def cross_fit_check(cross: float, trial: float, objective: str, direction: str) -> tuple[bool, str]:
    """The rule's first step: (whether to refit, why in words), from the cross-fit's validation score and the
    trial's own on the same rows.

    Examples
    --------
    >>> cross_fit_check(2.2, 1.9, "val_mae", "min")[0]
    False
    """
    better = cross <= trial if direction == "min" else cross >= trial
    if better:
        return True, (f"beat the trial's own weights in the cross-fit (trained on training + half the validation "
                      f"split, it scored {objective} {cross:.4g} on the other half, each half in turn, against "
                      f"{trial:.4g})")
    return False, (f"the configuration trained on training + half the validation split scored {objective} "
                   f"{cross:.4g} on the other half (each half in turn), worse than the trial's own weights "
                   f"({trial:.4g}): more rows do not make up for retraining the network the search picked")


def refit_model(run: Run, row: pd.Series, data: Data | None) -> tuple[keras.Model | None, dict[str, Any] | None]:
    """The chosen trial's refit: (its model, or None to keep the trial's weights; its record, or None).

    `row` is the trial's row in the trials table (``best_epoch``, ``seconds``, ``epochs_run``,
    ``train_loss``). A refit on disk of the same trial is reused; a run without a clock (a report, not a
    search) never trains; otherwise it trains only if it is expected to end before the budget does.
    """
    trial_id = str(row["trial_id"])
    track, store, budget = run.track, run.store, run.budget
    path = store.refit_model
    reused = retrained_on_disk(store.read_json(store.refit_record), path, trial_id)
    if reused is not None:
        return reused
    if budget is None or data is None:
        return None, None
    epochs = int(row["best_epoch"]) if pd.notna(row.get("best_epoch")) else 0
    rows = len(data.train.y) + len(data.validation.y)
    per_epoch = float(row["seconds"]) / max(float(row["epochs_run"]), 1.0) if pd.notna(row.get("seconds")) else 0.0
    expected = per_epoch * epochs * rows / max(len(data.train.y), 1)
    if epochs < 1 or expected * CROSS_FIT_COST * MARGIN > budget.seconds_left():
        warnings.warn(f"no time for the refit on training + validation ({expected:.0f} s expected, "
                      f"{max(budget.seconds_left(), 0):.0f} s left): trial {trial_id}'s own weights are the model",
                      AutomlWarning, stacklevel=2)
        return None, None
    train = _Trainer(run, trial_network(run, trial_id), epochs)
    started = time.monotonic()
    trial_loss = float(row["train_loss"]) if pd.notna(row.get("train_loss")) else math.nan
    # The objective as a measure of predictions; `val_loss` has none, and is judged by the task's usual figure,
    # whose own name and direction the check then takes.
    measure = objective_measure(track.objective, train.schema.task)
    cross, own = _cross_fit(train, measure, run, trial_id, data)
    used, reason = cross_fit_check(cross, own, f"val_{measure.name}", measure.direction)
    model, loss = None, []
    if used:
        model, loss = train(pd.concat([data.train.x, data.validation.x], ignore_index=True),
                            np.concatenate([data.train.y, data.validation.y]))
        used, sound = refit_is_sound(loss, epochs, trial_loss)
        reason = f"{reason}, and {sound}" if used else sound
    refit = Refit(trial_id=trial_id, used=used, reason=reason, epochs_planned=epochs, epochs_run=len(loss),
                  rows=rows, seconds=round(time.monotonic() - started, 1), loss=loss, trial_train_loss=trial_loss,
                  cross_fit={"score": cross, "trial_score": own})
    if used:
        model.save(path)
    else:
        path.unlink(missing_ok=True)
        warnings.warn(f"the refit of trial {trial_id} on training + validation is not used: {reason}; the trial's "
                      "own weights stay the model", AutomlWarning, stacklevel=2)
    store.write_json(store.refit_record, refit.to_dict())
    return (model if used else None), refit.to_dict()


CROSS_FIT_COST = 3.0  # the cross-fit's two trainings (on 90 % of the refit's rows or so, each) and the refit itself


class _Trainer:
    """Trains the chosen configuration from scratch, as the refit does, on the raw rows it is given: (model, loss
    per epoch)."""

    def __init__(self, run: Run, network: TrialNetwork, epochs: int):
        self.track, self.schema, self.family = run.track, run.schema(), run.family
        self.hypermodel, self.hyperparameters = network.hypermodel, network.hyperparameters
        self.epochs, self.budget = epochs, run.budget

    def __call__(self, x_frame: pd.DataFrame, y: np.ndarray) -> tuple[keras.Model, list[float]]:
        model = self.hypermodel.build(self.hyperparameters)
        x = self.family.model_inputs(x_frame, self.schema)
        batch_size = self.hypermodel.active_hyperparameters(self.hyperparameters.values)["batch_size"]
        weights = class_weight(self.track, y, len(self.schema.classes))  # balanced as the trials were
        train, options = self.hypermodel.training_pipeline(x, y, batch_size, 0, weights)
        history = model.fit(train, epochs=self.epochs, verbose=0, shuffle=False, **options,
                            callbacks=[keras.callbacks.TerminateOnNaN(), StopAtDeadline(self.budget.final_deadline)])
        return model, [float(v) for v in history.history.get("loss", [])]


def _cross_fit(train: _Trainer, measure: Measure, run: Run, trial_id: str,
               data: Data) -> tuple[float, float]:
    """The cross-fit's validation `measure` and the trial's own weights' on the same rows (`cross_fit_check`)."""
    rows = len(data.validation.y)
    half = np.random.default_rng(run.track.search.seed).permutation(rows) < rows // 2
    outputs = None
    for held in (half, ~half):
        model, _ = train(pd.concat([data.train.x, data.validation.x[~held]], ignore_index=True),
                         np.concatenate([data.train.y, data.validation.y[~held]]))
        said = model_outputs(model, train.family, train.schema, data.validation.x[held])
        outputs = np.zeros((rows, *said.shape[1:])) if outputs is None else outputs
        outputs[held] = said
    own = model_outputs(load_trial_model(run, trial_id), train.family, train.schema, data.validation.x)
    if not np.isfinite(outputs).all():  # a cross-fit that diverged: more rows did not help
        cross = math.inf if measure.direction == "min" else -math.inf
    else:
        cross = measure.score(data.validation.y, outputs)
    return cross, measure.score(data.validation.y, own)
