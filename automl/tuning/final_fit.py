"""The final fit: retrain the chosen configuration on the whole training split with the time the search left.

Hyperband judges candidates on parts of the data and short runs; on a budget of an hour, what wins is
the configuration, not the weights of its trial. A track with ``search.final_fit`` set keeps that share
of its time limit for one more training of the chosen configuration from scratch: full passes over the
training split on a one-cycle learning rate over the time left (`TimeBudgetSchedule`), so that it ends
annealed when the budget does. The result is the chosen model; the trial's own weights stay the model
when there is no time left for it.

With ``search.final_fit_members`` over 1, the time is shared among that many networks of the configuration,
each from its own seed (initial weights, order of the rows), and their mean is the model: one Keras model over
the same raw inputs (`automl.hypermodels.ensemble`), scored on validation as one. A network of the used-cars
recipe stops improving well before the final fit's 13 minutes end; two of half the time each, averaged,
score better (benchmarks/studies/table_recipe.py; docs/tracks.md). Each network gets at least `MIN_MEMBER_SECONDS`:
on a short budget there are fewer of them.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from automl.context import Run
from automl.data.schema import Data
from automl.errors import AutomlWarning
from automl.hypermodels.ensemble import ensemble_model
from automl.selection.scoring import model_outputs, objective_measure
from automl.serving.models import TrialNetwork, trial_network
from automl.track.sections import Track
from automl.tuning.loop import fit_arguments

# What the final fit leaves of the time limit for scoring the test split and writing the report:
# 45 s (CIFAR-10's report takes about 20 s here), or a tenth of the time left on a small budget.
REPORT_RESERVE_SECONDS = 45.0
MIN_SECONDS = 10.0  # below this, no final fit is tried
MIN_MEMBER_SECONDS = 120.0  # the least time each of several networks gets; fewer are trained on less
SCORED_SAMPLE = 256  # validation images or rows timed to foresee what scoring the splits will take


@dataclass
class FinalFit:
    """A finished final fit, as `final_fit.json` records it."""

    trial_id: str
    used: bool  # False when it scored worse on validation than the trial's own weights, which stay the model
    seconds: float
    epochs: float  # full passes over the training split, the last one possibly partial (of all its networks)
    images: int
    train_images: int
    images_per_second: float
    validation: dict[str, float]  # the last epoch's validation figures
    trial_score: float  # the chosen trial's validation score, to compare
    history: dict[str, list[float]]  # per pass: loss, accuracy and their validation figures
    unit: str = "images"  # what `images` counts: "images", or "rows" of a table
    members: int = 1  # networks trained and averaged (search.final_fit_members); `history` is the first one's
    member_scores: list[float] | None = None  # each network's own validation score, when there are several
    scoring_reserve: float = 0.0  # seconds kept from training for scoring the splits (`scoring_seconds`)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def final_model(run: Run, trial_id: str, trial_score: float, data: Data | None) -> tuple[Any, dict[str, Any] | None]:
    """The chosen trial's final fit: (its model, or None to keep the trial's weights; its record, or None).

    A final fit already on disk for the same trial is reused, so a rerun of a finished search does
    not train again; a run without a clock (a report, not a search) never trains; otherwise it trains until the
    budget's final deadline. The final fit becomes the
    model only if it scores at least as well on validation as the trial's own weights did.
    """
    track, store, budget = run.track, run.store, run.budget
    record = store.read_json(store.final_fit_record)
    path = store.final_model
    reused = retrained_on_disk(record, path, trial_id)
    if reused is not None:
        return reused
    if budget is None:
        if record is not None:
            warnings.warn(f"the final fit on disk is of trial {record.get('trial_id')}, not of the chosen trial "
                          f"{trial_id}; its own weights are the model (rerun the search to retrain it)",
                          AutomlWarning, stacklevel=2)
        return None, None
    left = budget.seconds_left()
    seconds = left - min(REPORT_RESERVE_SECONDS, 0.1 * left)
    if seconds < MIN_SECONDS:
        warnings.warn(f"no time left for the final fit ({max(seconds, 0):.0f} s): the chosen trial's own "
                      "weights are the model (rerun with a longer --time-limit to retrain it)",
                      AutomlWarning, stacklevel=2)
        return None, None
    network = trial_network(run, trial_id)
    if not network.hypermodel.can_fit_final(network.hyperparameters):
        warnings.warn(f"trial {trial_id}'s kind of network has no final fit: its own weights are the model",
                      AutomlWarning, stacklevel=2)
        return None, None
    model, fit = train(run, network, trial_score, data, seconds)
    if fit.used:
        model.save(path)
    else:
        path.unlink(missing_ok=True)
        score = fit.validation.get(track.objective, float("nan"))
        warnings.warn(f"the final fit reached {track.objective} {score:.4f} "
                      f"in {fit.seconds:.0f} s, worse than trial {trial_id}'s {trial_score:.4f}: the trial's own "
                      "weights stay the model", AutomlWarning, stacklevel=2)
    store.write_json(store.final_fit_record, fit.to_dict())
    return (model if fit.used else None), fit.to_dict()


def retrained_on_disk(record: dict[str, Any] | None, path, trial_id: str) -> tuple[Any, dict[str, Any]] | None:
    """A retraining of `trial_id` already done (its `record` and, if it was used, its model at `path`): (the model,
    or None when the trial's own weights stayed the model; the record). None when there is none to reuse, so a
    rerun of a finished search, or a report, does not train again. Shared by the final fit and the refit."""
    if record is None or record.get("trial_id") != trial_id:
        return None
    if not record["used"]:
        return None, record
    if path.is_file():
        return keras.models.load_model(path, safe_mode=True), record
    return None


def members_for(track: Track, seconds: float) -> int:
    """How many networks the final fit trains in `seconds`: the track's ``search.final_fit_members``, fewer
    when each would get under `MIN_MEMBER_SECONDS`, and always one."""
    return max(1, min(track.search.final_fit_members, int(seconds // MIN_MEMBER_SECONDS)))


def train(run: Run, network: TrialNetwork, trial_score: float, data: Data, seconds: float):
    """Build the trial's configuration with fresh weights and train it for `seconds` on the training split; with
    several members (`members_for`), that many networks from their own seeds, each on an equal share of the
    time, averaged into one model."""
    track, trial, hypermodel = run.track, network.trial, network.hypermodel
    (x, y), kwargs = fit_arguments(track, run.family, data)  # the model's inputs, as the search's trials took them
    members = members_for(track, seconds)
    started = time.monotonic()
    models, histories, images, reserve = [], [], 0, 0.0
    batch_size = hypermodel.active_hyperparameters(trial.hyperparameters.values)["batch_size"]
    first_seed = hypermodel.seed
    try:
        for i in range(members):
            hypermodel.seed = first_seed + i  # its own order of the rows (and seeded layers); the weights draw anew
            model = hypermodel.build(trial.hyperparameters)
            if i == 0:  # the time its scoring will take comes off the training
                reserve = scoring_seconds(run, model, data)
                seconds -= reserve
            share = (started + seconds - time.monotonic()) / (members - i)
            histories.append(hypermodel.fit_final(trial.hyperparameters, model, x, y,
                                                  validation_data=kwargs["validation_data"], seconds=share,
                                                  class_weight=kwargs.get("class_weight")))
            images += int(model.optimizer.iterations.numpy()) * batch_size
            models.append(model)
    finally:
        hypermodel.seed = first_seed
    elapsed = time.monotonic() - started
    history = histories[0]
    train_images = len(data.train.y)
    validation = {k: float(v[-1]) for k, v in history.history.items() if k.startswith("val_")}
    member_scores = None
    if members > 1:
        member_scores = [float(h.history[track.objective][-1]) for h in histories]
        model = ensemble_model(models, [1.0] * members, [f"network_{i}" for i in range(members)])
        validation = ensemble_validation(run, model, data)
    score = validation.get(track.objective, float("nan"))
    better_or_equal = score >= trial_score if track.direction == "max" else score <= trial_score
    return model, FinalFit(
        trial_id=trial.trial_id,
        used=bool(better_or_equal),
        seconds=round(elapsed, 1),
        epochs=round(images / train_images, 2),
        images=images,
        train_images=train_images,
        images_per_second=round(images / elapsed, 1),
        validation=validation,
        trial_score=float(trial_score),
        history={k: [float(x) for x in v] for k, v in history.history.items() if k != "learning_rate"},
        unit=track.examples,
        members=members,
        member_scores=member_scores,
        scoring_reserve=round(reserve, 1),
    )


def scoring_seconds(run: Run, model: keras.Model, data: Data) -> float:
    """The time scoring the validation and test splits twice will take with `model` (the final fit's last validation,
    and the report's predictions), from a timed prediction of `SCORED_SAMPLE` validation images or rows after one
    that compiles: a test-time average of six passes an image makes it minutes on a CPU, past the report's reserve.
    Nothing for inputs that are not one array."""
    x = data.validation.x
    if not isinstance(x, np.ndarray) or not len(x):
        return 0.0
    sample = x[:SCORED_SAMPLE]
    model_outputs(model, run.family, data.schema, sample)
    began = time.perf_counter()
    model_outputs(model, run.family, data.schema, sample)
    return (time.perf_counter() - began) / len(sample) * 2 * (len(data.validation.y) + len(data.test.y))


def ensemble_validation(run: Run, model: keras.Model, data: Data) -> dict[str, float]:
    """The averaged networks' validation score, by the track's objective (`objective_measure`, as the choice
    stage scores its ensemble); NaN for an objective with no twin among the measures of predictions."""
    track = run.track
    measure = objective_measure(track.objective, data.schema.task)
    if measure.name != track.objective.removeprefix("val_"):
        return {track.objective: float("nan")}
    outputs = model_outputs(model, run.family, data.schema, data.validation.x)
    return {track.objective: float(measure.score(data.validation.y, outputs))}
