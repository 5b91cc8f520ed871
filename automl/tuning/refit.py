"""The refit of a table's chosen configuration on the training and validation splits together.

A trial trained on the training split alone, and the validation split judged it. Once the configuration is
chosen, the validation rows are more data to learn from: the chosen configuration is trained again from
scratch on both splits, for the epochs its trial found best (`best_epoch`; each epoch is then a pass over
the larger data, so it takes more steps), with the time the track keeps for it (``search.refit``, a share
of the time limit). The test split stays untouched until the final figures.

Validation can no longer judge the refit: it trained on it. So whether it replaces the trial's model is
decided by a rule fixed in advance, on what the refit itself shows (`refit_is_sound`):

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
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from automl.data.schema import Data
from automl.errors import AutomlWarning
from automl.families import family_of
from automl.hypermodels.training import StopAtDeadline
from automl.store import REFIT_JSON, REFIT_MODEL_FILE, TRIAL_FILE, Store
from automl.track.sections import Track
from automl.tuning.budget import Budget
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


def refit_model(track: Track, store: Store, row: pd.Series, data: Data | None,
                budget: Budget | None) -> tuple[keras.Model | None, dict[str, Any] | None]:
    """The chosen trial's refit: (its model, or None to keep the trial's weights; its record, or None).

    `row` is the trial's row in the trials table (``best_epoch``, ``seconds``, ``epochs_run``,
    ``train_loss``). A refit on disk of the same trial is reused; `budget` None (a report, not a search)
    never trains; otherwise it trains only if it is expected to end before the budget does.
    """
    trial_id = str(row["trial_id"])
    path = store.path(REFIT_MODEL_FILE)
    reused = retrained_on_disk(store.read_json(REFIT_JSON), path, trial_id)
    if reused is not None:
        return reused
    if budget is None or data is None:
        return None, None
    epochs = int(row["best_epoch"]) if pd.notna(row.get("best_epoch")) else 0
    rows = len(data.train.y) + len(data.validation.y)
    per_epoch = float(row["seconds"]) / max(float(row["epochs_run"]), 1.0) if pd.notna(row.get("seconds")) else 0.0
    expected = per_epoch * epochs * rows / max(len(data.train.y), 1)
    if epochs < 1 or expected * MARGIN > budget.seconds_left():
        warnings.warn(f"no time for the refit on training + validation ({expected:.0f} s expected, "
                      f"{max(budget.seconds_left(), 0):.0f} s left): trial {trial_id}'s own weights are the model",
                      AutomlWarning, stacklevel=2)
        return None, None
    trial = kt.engine.trial.Trial.load(str(store.trial_dir(trial_id) / TRIAL_FILE))
    family = family_of(track)
    schema = store.schema()
    hypermodel = family.hypermodel(track, schema)
    model = hypermodel.build(trial.hyperparameters)
    x = family.model_inputs(pd.concat([data.train.x, data.validation.x], ignore_index=True), schema)
    y = np.concatenate([data.train.y, data.validation.y])
    batch_size = hypermodel.active_hyperparameters(trial.hyperparameters.values)["batch_size"]
    weights = class_weight(track, y, len(schema.classes))  # balanced as the trials were, on the joined labels
    train, options = hypermodel.training_pipeline(x, y, batch_size, 0, weights)
    started = time.monotonic()
    history = model.fit(train, epochs=epochs, verbose=0, shuffle=False, **options,
                        callbacks=[keras.callbacks.TerminateOnNaN(), StopAtDeadline(budget.final_deadline)])
    loss = [float(v) for v in history.history.get("loss", [])]
    trial_loss = float(row["train_loss"]) if pd.notna(row.get("train_loss")) else math.nan
    used, reason = refit_is_sound(loss, epochs, trial_loss)
    refit = Refit(trial_id=trial_id, used=used, reason=reason, epochs_planned=epochs, epochs_run=len(loss),
                  rows=rows, seconds=round(time.monotonic() - started, 1), loss=loss, trial_train_loss=trial_loss)
    if used:
        model.save(path)
    else:
        path.unlink(missing_ok=True)
        warnings.warn(f"the refit of trial {trial_id} on training + validation is not used: {reason}; the trial's "
                      "own weights stay the model", AutomlWarning, stacklevel=2)
    store.write_json(REFIT_JSON, refit.to_dict())
    return (model if used else None), refit.to_dict()
