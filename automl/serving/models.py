"""Load a search's models: a trial's network from its hyperparameters and checkpoint, or the exported chosen one.

The one place a trial's network is rebuilt (`trial_network`): serving, the final fit, the refit and the measures
all come here.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import keras_tuner as kt

import automl.hypermodels.registered  # noqa: F401  registers every layer automl saves, so that saved models load
from automl.context import Run
from automl.errors import AutomlError, last_line
from automl.hypermodels.base import SearchSpace
from automl.store import ENSEMBLE_ID, MODEL_FILES, read_json_file


@dataclass(frozen=True)
class TrialNetwork:
    """A trial's configuration: Keras Tuner's record of the trial and the run's HyperModel, which builds its
    network afresh (`build`), untrained."""

    trial: kt.engine.trial.Trial
    hypermodel: SearchSpace

    @property
    def hyperparameters(self) -> kt.HyperParameters:
        return self.trial.hyperparameters

    def build(self) -> keras.Model:
        return self.hypermodel.build(self.trial.hyperparameters)


def trial_network(run: Run, trial_id: str) -> TrialNetwork:
    """The configuration of the run's trial `trial_id`, read from its ``trial.json``."""
    trial = kt.engine.trial.Trial.load(str(run.store.trial_file(trial_id)))
    return TrialNetwork(trial, run.family.hypermodel(run.track, run.schema()))


def load_trial_model(run: Run, trial_id: str) -> keras.Model:
    """A trial's network with its best checkpoint's weights; `ENSEMBLE_ID`: the ensemble of the best trials the
    choice stage saved (`automl.selection.ensemble`)."""
    store = run.store
    if trial_id == ENSEMBLE_ID:
        if not store.ensemble_model.is_file():
            raise AutomlError(f"the ensemble's model {store.ensemble_model} is missing; rerun `automl report` to "
                              "build it again")
        return load_model_file(store.ensemble_model)
    checkpoint = store.checkpoint(trial_id)
    if not checkpoint.is_file() and store.pruned_record(trial_id).is_file():
        pruned = read_json_file(store.pruned_record(trial_id), {})
        raise AutomlError(
            f"trial {trial_id}'s checkpoint was pruned on {pruned.get('pruned', '?')}: its score "
            f"{pruned.get('score')} was outside the tolerance of the best ({pruned.get('threshold')}) and no "
            "Hyperband bracket could continue it; its row stays in the report. To keep every trial's weights, "
            "search with --keep-checkpoints (automl.search(..., keep_checkpoints=True))"
        )
    if not checkpoint.is_file():
        raise AutomlError(f"trial {trial_id} has no checkpoint in {store.trial_dir(trial_id)}; rerun the search to "
                          "retrain it")
    model = trial_network(run, trial_id).build()
    try:
        model.load_weights(str(checkpoint))
    except (OSError, ValueError) as error:
        raise DamagedCheckpoint(f"checkpoint {checkpoint} is damaged ({last_line(error, 200)}); rerun the search "
                                "with --restart to retrain it") from None
    return model


class DamagedCheckpoint(AutomlError):
    """A trial's weights cannot be read back (cut short, corrupted): the report leaves the trial out of the choice."""


def load_best_model(run: Run, by: str = "choice") -> keras.Model:
    """The exported model, loaded in safe mode: the chosen one (``by="choice"``) or the top-scoring one
    (``by="score"``)."""
    if by not in MODEL_FILES:
        raise AutomlError(f"by={by!r} is not a way to pick the model; use 'choice' (the default) or 'score'")
    path = run.searched().store.model_file(by)
    if not path.is_file():
        raise AutomlError(f"{path} not found; run `automl report --track {run.name}` to export the chosen model")
    try:
        return load_model_file(path)
    except (OSError, ValueError, KeyError) as error:
        raise AutomlError(f"{path} cannot be loaded ({last_line(error, 300)}); "
                          f"run `automl report --track {run.name}` to export it again") from None


def load_model_file(path) -> keras.Model:
    """A `.keras` file, in safe mode, as production loads it."""
    with warnings.catch_warnings():
        # The saved optimizer state is of no use for predicting; Keras warns it cannot match it.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.models.load_model(path, safe_mode=True)
