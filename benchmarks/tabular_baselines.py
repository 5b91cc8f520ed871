"""The chosen models of the reference runs beside standard baselines, on the same train/test splits.

Baselines are fitted on the training split (the Keras MLP also early-stops on the validation split,
as automl's trials do) and scored once on the test split. automl's figures are read from
``search_results/<track>/test_metrics.json`` (the committed reference runs), not retrained.
Run: ``python benchmarks/tabular_baselines.py``; writes ``benchmarks/results/tabular_baselines.json``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from automl.data.tabular import model_inputs
from automl.families import family_of
from automl.hypermodels.mlp import to_dataset
from automl.track import load_track

ROOT = Path(__file__).resolve().parents[1]
# "The course's default Keras MLP": 2x64 ReLU, Adam 1e-3, batch 32, with automl's in-model preprocessing.
DEFAULT_MLP = {"num_layers": 2, "units_0": 64, "units_1": 64, "activation": "relu", "dropout": 0.0, "l1": 0.0,
               "l2": 0.0, "batch_norm": False, "optimizer": "adam", "learning_rate": 1e-3, "batch_size": 32,
               "reduce_lr_on_plateau": False, "categorical_encoding": "one_hot"}


def scores(task: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if task == "regression":
        return {"rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
                "mae": float(skm.mean_absolute_error(y, predicted)), "r2": float(skm.r2_score(y, predicted))}
    return {"roc_auc": float(skm.roc_auc_score(y, predicted)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted >= 0.5))}


def sklearn_models(task: str, categorical: list[str], numeric: list[str]) -> dict[str, object]:
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric))
    if task == "regression":
        return {
            "hist_gradient_boosting": HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0),
            "random_forest": make_pipeline(encode, RandomForestRegressor(n_estimators=200, n_jobs=-1, random_state=0)),
            "ridge_cv": make_pipeline(encode, RidgeCV(alphas=np.logspace(-3, 3, 13))),
        }
    return {
        "hist_gradient_boosting": HistGradientBoostingClassifier(
            categorical_features="from_dtype", class_weight="balanced", random_state=0),
        "logistic_regression": make_pipeline(encode, LogisticRegression(class_weight="balanced", max_iter=2000)),
    }


def default_mlp(track, data, seed: int = 0, epochs: int = 200) -> np.ndarray:
    """The course's default MLP trained on the training split (early-stopped on validation); its test predictions."""
    keras.utils.set_random_seed(seed)
    hypermodel = family_of(track).hypermodel(track, data.schema)
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    hp.values.update({k: v for k, v in DEFAULT_MLP.items() if k in hp.values})
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, model_inputs(data.train.x, data.schema), data.train.y,
                   validation_data=(model_inputs(data.validation.x, data.schema), data.validation.y),
                   epochs=epochs, verbose=0)
    return model.predict(to_dataset(model_inputs(data.test.x, data.schema), None, 1024), verbose=0).reshape(-1)


def benchmark(track_name: str) -> dict:
    track = load_track(track_name)
    data = family_of(track).load(track)
    categorical, numeric = list(data.schema.categorical), list(data.schema.numeric)

    def typed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: "category" for c in categorical}) if categorical else frame

    train_x, test_x = typed(data.train.x), typed(data.test.x)
    results: dict[str, dict] = {}
    for name, model in sklearn_models(track.task, categorical, numeric).items():
        started = time.perf_counter()
        model.fit(train_x, data.train.y)
        predicted = model.predict(test_x) if track.task == "regression" else model.predict_proba(test_x)[:, 1]
        results[name] = {**scores(track.task, data.test.y, predicted),
                         "seconds": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    results["keras_mlp_2x64"] = {**scores(track.task, data.test.y, default_mlp(track, data)),
                                 "seconds": round(time.perf_counter() - started, 1)}
    reference = ROOT / "search_results" / track.name / "test_metrics.json"
    if reference.is_file():
        chosen = json.loads(reference.read_text())
        results["automl_chosen"] = {k: v for k, v in chosen.items() if isinstance(v, float)}
    return {"track": track.name, "test_rows": len(data.test), "results": results}


def main(tracks: list[str]) -> dict:
    report = {"measured": time.strftime("%Y-%m-%d"), "machine": "2 CPU cores, no GPU",
              "tracks": [benchmark(name) for name in tracks]}
    out = Path(__file__).parent / "results" / "tabular_baselines.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:] or ["boston", "caravan", "used_cars"]), indent=2))
