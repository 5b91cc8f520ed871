"""Load a search's models: a trial's from its hyperparameters and checkpoint, or the exported chosen one."""
from __future__ import annotations

import os
import warnings

import keras
import keras_tuner as kt

import automl.hypermodels.registered  # noqa: F401  registers every layer automl saves, so that saved models load
from automl.errors import AutomlError, last_line
from automl.families import family_of
from automl.store import (
    CHECKPOINT_FILE,
    ENSEMBLE_ID,
    ENSEMBLE_MODEL_FILE,
    MODEL_FILES,
    PRUNED_FILE,
    TRIAL_FILE,
    Store,
    read_json_file,
)
from automl.track.parse import load_track
from automl.track.sections import Track


def load_trial_model(track: Track, trial_id: str, store: Store) -> keras.Model:
    """Rebuild a trial's model from its hyperparameters and load its best checkpoint; `ENSEMBLE_ID`: the
    ensemble of the best trials the choice stage saved (`automl.selection.ensemble`)."""
    if trial_id == ENSEMBLE_ID:
        path = store.path(ENSEMBLE_MODEL_FILE)
        if not path.is_file():
            raise AutomlError(f"the ensemble's model {path} is missing; rerun `automl report` to build it again")
        return load_model_file(path)
    trial_dir = store.trial_dir(trial_id)
    checkpoint = trial_dir / CHECKPOINT_FILE
    if not checkpoint.is_file() and (trial_dir / PRUNED_FILE).is_file():
        pruned = read_json_file(trial_dir / PRUNED_FILE, {})
        raise AutomlError(
            f"trial {trial_id}'s checkpoint was pruned on {pruned.get('pruned', '?')}: its score "
            f"{pruned.get('score')} was outside the tolerance of the best ({pruned.get('threshold')}) and no "
            "Hyperband bracket could continue it; its row stays in the report. To keep every trial's weights, "
            "search with --keep-checkpoints (automl.search(..., keep_checkpoints=True))"
        )
    if not checkpoint.is_file():
        raise AutomlError(f"trial {trial_id} has no checkpoint in {trial_dir}; rerun the search to retrain it")
    trial = kt.engine.trial.Trial.load(str(trial_dir / TRIAL_FILE))
    model = family_of(track).hypermodel(track, store.schema()).build(trial.hyperparameters)
    try:
        model.load_weights(str(checkpoint))
    except (OSError, ValueError) as error:
        raise AutomlError(f"checkpoint {checkpoint} is corrupt ({error}); rerun the search with --restart") from None
    return model


def load_best_model(track: str | Track, results_dir: str | os.PathLike | None = None, by: str = "choice"):
    """The exported model, loaded in safe mode: the chosen one (``by="choice"``) or the top-scoring one
    (``by="score"``)."""
    if by not in MODEL_FILES:
        raise AutomlError(f"by={by!r} is not a way to pick the model; use 'choice' (the default) or 'score'")
    track = load_track(track)
    store = Store(track.name, results_dir)
    store.require_search()
    path = store.path(MODEL_FILES[by])
    if not path.is_file():
        raise AutomlError(f"{path} not found; run `automl report --track {track.name}` to export the chosen model")
    try:
        return load_model_file(path)
    except (OSError, ValueError, KeyError) as error:
        raise AutomlError(f"{path} cannot be loaded ({last_line(error, 300)}); "
                          f"run `automl report --track {track.name}` to export it again") from None


def load_model_file(path) -> keras.Model:
    """A `.keras` file, in safe mode, as production loads it."""
    with warnings.catch_warnings():
        # The saved optimizer state is of no use for predicting; Keras warns it cannot match it.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.models.load_model(path, safe_mode=True)
