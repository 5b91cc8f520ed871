"""The baselines a user would pick instead of automl, and their test figures: what the quality part compares.

scikit-learn's HistGradientBoosting, RandomForest, RidgeCV or LogisticRegression (with class weights) on the
track's columns, and the course's default Keras MLP with automl's in-model preprocessing.
"""
from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
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
from automl.selection.scoring import CLASSIFICATION_MEASURES, REGRESSION_MEASURES

# "The course's default Keras MLP": 2x64 ReLU, Adam 1e-3, batch 32, with automl's in-model preprocessing.
DEFAULT_MLP = {"num_layers": 2, "units_0": 64, "units_1": 64, "activation": "relu", "dropout": 0.0, "l1": 0.0,
               "l2": 0.0, "batch_norm": False, "optimizer": "adam", "learning_rate": 1e-3, "batch_size": 32,
               "reduce_lr_on_plateau": False, "categorical_encoding": "one_hot"}


def scores(task: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """A baseline's test figures, measured as automl measures its own (`automl.selection.scoring`): RMSE, MAE and
    R² of values (regression); ROC AUC and balanced accuracy of the positive class's probability (yes/no)."""
    if task == "regression":
        return {name: float(REGRESSION_MEASURES[name].score(y, predicted)) for name in ("rmse", "mae", "r2")}
    outputs = np.column_stack([1.0 - predicted, predicted])  # the two classes' probabilities, as a model gives them
    return {"roc_auc": float(CLASSIFICATION_MEASURES["auc"].score(y, outputs)),
            "balanced_accuracy": float(CLASSIFICATION_MEASURES["balanced_accuracy"].score(y, outputs))}


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
