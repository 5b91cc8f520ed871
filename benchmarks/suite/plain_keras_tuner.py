"""Search efficiency: automl's search against a plain `keras_tuner.Hyperband`, same data, same wall-clock budget.

The plain search is what a user following Keras Tuner's getting-started guide
(keras.io/guides/keras_tuner/getting_started) would write for used cars: the guide's hypermodel (one
Dense layer of 32-512 units in steps of 32, relu or tanh, an optional Dropout of 0.25, Adam with a
learning rate of 1e-4 to 1e-2 on a log scale) with a one-unit linear head and the MAE loss; the
columns one-hot encoded (categories) and standardized (numbers) by scikit-learn outside the model,
fitted on the training split; the price standardized likewise (on raw prices the MAE loss barely
moves a network started near zero), predictions scaled back to pounds. Hyperband with the track's
max_epochs and factor, EarlyStopping(patience=5) as in Keras Tuner's Hyperband tutorial, batch 32
(Keras' default), stopped when automl's search time is spent. Same train/validation/test rows as automl.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.suite.runs import Context

TRACK = "used_cars"


def guide_hypermodel(features: int):
    """The getting-started guide's `build_model(hp)`, for `features` inputs and a regression head."""
    import keras
    from keras import layers

    def build_model(hp):
        model = keras.Sequential()
        model.add(keras.Input(shape=(features,)))
        model.add(layers.Flatten())
        model.add(layers.Dense(units=hp.Int("units", min_value=32, max_value=512, step=32),
                               activation=hp.Choice("activation", ["relu", "tanh"])))
        if hp.Boolean("dropout"):
            model.add(layers.Dropout(rate=0.25))
        model.add(layers.Dense(1))
        learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mae", metrics=["mae"])
        return model

    return build_model


def timed_hyperband(hypermodel, deadline: float, fit_args: tuple, fit_kwargs: dict, **tuner_kwargs):
    """A plain `keras_tuner.Hyperband` searched until `deadline` (on `time.monotonic`); returns the tuner.

    Keras Tuner has no time limit: a callback ends the running fit at the deadline, and the search
    ends before the next trial. Nothing else is added to what the guide's user writes.
    """
    import keras
    import keras_tuner as kt

    class TimeLimit(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() >= deadline:
                self.model.stop_training = True

    class TimedHyperband(kt.Hyperband):
        def pre_create_trial(self):
            if time.monotonic() >= deadline:
                raise StopIteration

    tuner = TimedHyperband(hypermodel, overwrite=True, **tuner_kwargs)
    fit_kwargs = {**fit_kwargs, "callbacks": [*fit_kwargs.get("callbacks", []), TimeLimit()]}
    try:
        tuner.search(*fit_args, verbose=0, **fit_kwargs)
    except StopIteration:
        pass
    return tuner


def plain_search(track, data, seconds: float, seed: int) -> dict[str, Any]:
    """The plain Keras Tuner search for `seconds`; its best model scored on validation and test, in pounds."""
    import keras
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical, numeric = list(data.schema.categorical), list(data.schema.numeric)
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
                                     (StandardScaler(), numeric))
    x_train = encode.fit_transform(data.train.x).astype("float32")
    x_val, x_test = (encode.transform(s.x).astype("float32") for s in (data.validation, data.test))
    mean, std = float(data.train.y.mean()), float(data.train.y.std())
    scale = lambda y: ((y - mean) / std).astype("float32")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        tuner = timed_hyperband(
            guide_hypermodel(x_train.shape[1]), started + seconds, (x_train, scale(data.train.y)),
            {"validation_data": (x_val, scale(data.validation.y)),
             "callbacks": [keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)]},
            objective="val_mae", max_epochs=track.search.max_epochs, factor=track.search.factor, seed=seed,
            directory=directory, project_name="plain")
        wall = time.monotonic() - started
        completed = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
        best = tuner.get_best_models(1)[0]
        predict = lambda x: best.predict(x, batch_size=1024, verbose=0).reshape(-1) * std + mean
        disk = sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
    keras.backend.clear_session()
    return {
        "validation_mae": float(np.mean(np.abs(predict(x_val) - data.validation.y))),
        "test_mae": float(np.mean(np.abs(predict(x_test) - data.test.y))),
        "trials_completed": len(completed),
        "seconds": round(wall, 1),
        "budget_seconds": round(seconds, 1),
        "disk_mb": round(disk / 2**20, 2),
    }


def efficiency(ctx: Context, quality_details: dict[str, Any] | None) -> dict[str, Any]:
    """automl's first-seed used-cars search (from the quality part) against the plain search with its wall time."""
    from automl.context import Run
    from automl.serving.models import load_best_model
    from automl.serving.predict import predict_with

    runs = (quality_details or {}).get(TRACK, {}).get("automl_runs")
    if not runs:
        return {"figures": {}, "details": {"skipped": "needs the quality part's used_cars searches"}}
    run = runs[0]
    searched = Run.open(ctx.track_file(TRACK, seed=run["seed"]), run["results_dir"])
    family, store, schema = searched.family, searched.store, searched.schema()
    data = searched.data()
    chosen = load_best_model(searched)
    validation_mae = float(np.mean(np.abs(predict_with(chosen, family, schema, family.model_inputs(data.validation.x,
                                                                                              schema))
                                          - data.validation.y)))
    # automl's whole run: the search, then the final fit or the refit of its choice (test_metrics.json says how
    # long each took), so that the plain search gets the same wall time for its training
    metrics = store.read_json(store.test_metrics) or {}
    retrained = sum(float((metrics.get(stage) or {}).get("seconds", 0.0)) for stage in ("final_fit", "refit"))
    seconds = run["search_seconds"] + retrained
    plain = plain_search(searched.track, data, seconds, seed=run["seed"])
    automl = {
        "validation_mae": validation_mae,
        "best_trial_validation_mae": run["best_validation"],
        "test_mae": run["test"]["mae"],
        "trials_completed": run["trials"],
        "seconds": round(seconds, 1),
        "search_seconds": run["search_seconds"],
        "retrain_seconds": round(retrained, 1),
        "disk_mb": round(_disk(store.tuner_dir) / 2**20, 2),
    }
    return {
        "figures": {f"{TRACK}_vs_plain_kt_mae_ratio": automl["test_mae"] / plain["test_mae"],
                    f"{TRACK}_plain_kt_trials": plain["trials_completed"],
                    f"{TRACK}_automl_trials": automl["trials_completed"]},
        "details": {"automl": automl, "plain_keras_tuner": plain,
                    "note": "validation_mae is the chosen (automl) or best (plain) model's, in pounds"},
    }


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
