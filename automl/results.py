"""Read a finished (or running) search back from disk: one row per trial, the chosen trial, its model."""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.data.tabular import Schema
from automl.errors import AutomlError, SearchFailed
from automl.store import CHECKPOINT_FILE, PRUNED_FILE, Store
from automl.tracks import Track, load_track

BEST_MODEL_FILE = "best_model.keras"  # the chosen model (the choice rule), what goes to production
TOP_MODEL_FILE = "top_model.keras"  # the top-scoring model, kept for comparison
MODEL_FILES = {"choice": BEST_MODEL_FILE, "score": TOP_MODEL_FILE}
TUNER_COLUMNS = {  # Keras Tuner's reserved hyperparameters, under names a report reader understands
    "tuner/epochs": "budget_epochs",
    "tuner/initial_epoch": "initial_epoch",
    "tuner/bracket": "bracket",
    "tuner/round": "round",
    "tuner/trial_id": "continues_trial",
}
STATUS_NAMES = {"RUNNING": "interrupted", "IDLE": "interrupted"}


def trials_table(track: str | Track, results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per trial: id, status, score, epochs, hyperparameters, metrics at the best epoch, size, time.

    Examples
    --------
    >>> trials_table("boston").sort_values("score").head()
    """
    track = load_track(track)
    store = Store(track.name, results_dir)
    store.require_search()
    rows = [_trial_row(path, track) for path in store.trial_dirs() if (path / "trial.json").is_file()]
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ordered = ["trial_id", "status", "score", "best_epoch", "epochs_run"]
    return table[ordered + [c for c in table.columns if c not in ordered]]


def _trial_row(trial_dir: Path, track: Track) -> dict[str, Any]:
    from automl.hypermodels.mlp import active_hyperparameters

    trial = json.loads((trial_dir / "trial.json").read_text(encoding="utf-8"))
    record = _read_history(trial_dir)
    values = trial["hyperparameters"]["values"]
    status = STATUS_NAMES.get(trial["status"], trial["status"].lower())
    row: dict[str, Any] = {
        "trial_id": trial["trial_id"],
        "status": status,
        "score": trial["score"] if status == "completed" else math.nan,
        "best_epoch": (trial["best_step"] + 1) if status == "completed" and trial["best_step"] is not None else math.nan,
        "epochs_run": len(record.get("epochs", [])),
    }
    for name, value in active_hyperparameters({k: v for k, v in values.items() if not k.startswith("tuner/")}).items():
        row[name] = value
    for name, column in TUNER_COLUMNS.items():
        if name in values:
            row[column] = values[name]
    row.update(_metrics_at_best_epoch(record, trial.get("best_step")))
    row["params"] = record.get("params", math.nan)
    row["seconds"] = record.get("seconds", math.nan)
    row["message"] = _short_message(trial.get("message")) if status != "completed" else ""
    # Its weights were deleted (automl.pruning): its row stays, its model cannot be loaded or chosen.
    row["pruned"] = (trial_dir / PRUNED_FILE).is_file()
    return row


def read_histories(store: Store) -> dict[str, dict[str, Any]]:
    """Trial id -> its ``history.json`` record (curves, epochs, seconds, params); empty for trials without one."""
    return {path.name.removeprefix("trial_"): _read_history(path) for path in store.trial_dirs()}


def _read_history(trial_dir: Path) -> dict[str, Any]:
    return _read_json(trial_dir / "history.json")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}  # a trial killed while writing this file: its curves (or record) are lost, not the trial


def _metrics_at_best_epoch(record: dict[str, Any], best_step: int | None) -> dict[str, float]:
    history, epochs = record.get("history", {}), record.get("epochs", [])
    if not history or best_step is None or best_step not in epochs:
        return {}
    index = epochs.index(best_step)
    metrics = {}
    for name, values in history.items():
        if name == "learning_rate":
            continue
        column = name if name.startswith("val_") else f"train_{name}"
        metrics[column] = values[index] if index < len(values) else math.nan
    return metrics


def _short_message(message: str | None) -> str:
    if not message:
        return ""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def no_model_to_choose(table: pd.DataFrame) -> SearchFailed:
    """The error for a search with no completed trial, with the trials' failure reasons."""
    messages = table["message"] if "message" in table else pd.Series(dtype=str)
    reasons = sorted({m for m in messages if isinstance(m, str) and m})
    return SearchFailed(
        f"no trial completed ({len(table)} failed or interrupted), so there is no model to choose"
        + (f"; reasons: {'; '.join(reasons[:3])}" if reasons else "")
    )


def best_trial_id(table: pd.DataFrame, direction: str) -> str:
    """The completed trial with the best validation score."""
    completed = table[(table["status"] == "completed") & table["score"].notna()]
    if completed.empty:
        raise no_model_to_choose(table)
    scores = completed["score"].astype(float)
    best = scores.idxmax() if direction == "max" else scores.idxmin()
    return str(completed.loc[best, "trial_id"])


def schema_of(store: Store) -> Schema:
    values = store.read_json("schema.json")
    if values is None:
        raise AutomlError(f"{store.root} has no schema.json; rerun `automl search --track {store.track_name}`")
    return Schema.from_dict(values)


def load_trial_model(track: Track, trial_id: str, store: Store):
    """Rebuild a trial's model from its hyperparameters and load its best checkpoint."""
    import keras_tuner as kt

    from automl.tuning import make_hypermodel

    trial_dir = store.tuner_dir / f"trial_{trial_id}"
    checkpoint = trial_dir / CHECKPOINT_FILE
    if not checkpoint.is_file() and (trial_dir / PRUNED_FILE).is_file():
        pruned = _read_json(trial_dir / PRUNED_FILE)
        raise AutomlError(
            f"trial {trial_id}'s checkpoint was pruned on {pruned.get('pruned', '?')}: its score "
            f"{pruned.get('score')} was outside the tolerance of the best ({pruned.get('threshold')}) and no "
            "Hyperband bracket could continue it; its row stays in the report. To keep every trial's weights, "
            "search with --keep-checkpoints (automl.search(..., keep_checkpoints=True))"
        )
    if not checkpoint.is_file():
        raise AutomlError(f"trial {trial_id} has no checkpoint in {trial_dir}; rerun the search to retrain it")
    trial = kt.engine.trial.Trial.load(str(trial_dir / "trial.json"))
    model = make_hypermodel(track, schema_of(store)).build(trial.hyperparameters)
    try:
        model.load_weights(str(checkpoint))
    except (OSError, ValueError) as error:
        raise AutomlError(f"checkpoint {checkpoint} is corrupt ({error}); rerun the search with --restart") from None
    return model


def load_best_model(track: str | Track, results_dir: str | os.PathLike | None = None, by: str = "choice"):
    """The exported model, loaded in safe mode: the chosen one (``by="choice"``) or the top-scoring one (``by="score"``)."""
    import keras

    import automl.hypermodels.mlp  # noqa: F401  registers automl's layers for loading

    if by not in MODEL_FILES:
        raise AutomlError(f"by={by!r} is not a way to pick the model; use 'choice' (the default) or 'score'")
    track = load_track(track)
    store = Store(track.name, results_dir)
    store.require_search()
    path = store.path(MODEL_FILES[by])
    if not path.is_file():
        raise AutomlError(f"{path} not found; run `automl report --track {track.name}` to export the chosen model")
    try:
        with warnings.catch_warnings():
            # The saved optimizer state is of no use for predicting; Keras warns it cannot match it.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.models.load_model(path, safe_mode=True)
    except (OSError, ValueError, KeyError) as error:
        raise AutomlError(f"{path} cannot be loaded ({_short_message(str(error))}); run `automl report --track {track.name}` to export it again") from None


def checked_inputs(data: pd.DataFrame | np.ndarray, schema: Schema) -> dict[str, np.ndarray] | np.ndarray:
    """Raw rows (the model's named input arrays) or uint8 images, checked against what the model was trained on."""
    if schema.kind == "images":
        from automl.data.images import image_inputs

        return image_inputs(data, schema)
    from automl.data.tabular import model_inputs

    if not isinstance(data, pd.DataFrame):
        raise AutomlError(f"predict takes a pandas DataFrame of raw columns, got {type(data).__name__}")
    return model_inputs(data, schema)


def predict_with(model, schema: Schema, frame: pd.DataFrame | np.ndarray, proba: bool = False) -> np.ndarray | pd.DataFrame:
    """Raw rows (or, for an image track, uint8 images) in, predictions out: values (regression), labels,
    or class probabilities with `proba`."""
    from automl.hypermodels.cnn import VALIDATION_BATCH, image_dataset
    from automl.hypermodels.mlp import to_dataset

    inputs = checked_inputs(frame, schema)
    dataset = (image_dataset(inputs, None, VALIDATION_BATCH) if schema.kind == "images"
               else to_dataset(inputs, None, batch_size=1024))
    outputs = model.predict(dataset, verbose=0)
    if schema.task == "regression":
        return outputs.reshape(-1)
    if schema.task == "binary":
        positive = outputs.reshape(-1)
        probabilities = np.stack([1.0 - positive, positive], axis=1)
    else:
        probabilities = outputs
    if proba:
        return pd.DataFrame(probabilities, columns=[str(c) for c in schema.classes])
    return np.asarray(schema.classes, dtype=object)[probabilities.argmax(axis=1)]


def prediction_table(model, schema: Schema, frame: pd.DataFrame, *, proba: bool = False,
                     id_column: str | None = None) -> pd.DataFrame:
    """A `prediction` column (values or class labels), `proba_<class>` columns with `proba`, the id column first."""
    if id_column is not None and id_column not in frame.columns:
        raise AutomlError(
            f"--id column '{id_column}' not found in the input; the columns are: {', '.join(map(str, frame.columns))}"
        )
    table = pd.DataFrame(index=range(len(frame)))
    if id_column is not None:
        table[id_column] = frame[id_column].to_numpy()
    if schema.task == "regression":
        table["prediction"] = predict_with(model, schema, frame)
        return table
    probabilities = predict_with(model, schema, frame, proba=True)
    table["prediction"] = np.asarray(schema.classes, dtype=object)[probabilities.to_numpy().argmax(axis=1)]
    if proba:
        for column in probabilities.columns:
            table[f"proba_{column}"] = probabilities[column].to_numpy()
    return table


def ignored_columns(frame: pd.DataFrame, schema: Schema, id_column: str | None = None) -> list[str]:
    """Input columns the model does not use (the target, dropped or extra columns), the id column aside."""
    used = set(schema.columns) | {id_column}
    return [str(c) for c in frame.columns if c not in used]
