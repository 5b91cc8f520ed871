"""Test figures of a model: scored once, on the test split, after the choice."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from automl.data.schema import Schema
from automl.families.base import Family
from automl.serving.predict import predict_with


def evaluate(model, family: Family, schema: Schema, x: Any, y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Test figures and predictions of raw inputs `x`: RMSE, MAE, R² and values (regression); accuracy,
    balanced accuracy, F1, ROC AUC and class indices (classification)."""
    inputs = family.model_inputs(x, schema)
    if schema.task == "regression":
        predicted = predict_with(model, family, schema, inputs)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
            "rows": len(y),
        }, predicted
    probabilities = predict_with(model, family, schema, inputs, proba=True).to_numpy()
    predicted = probabilities.argmax(axis=1)
    binary = schema.task == "binary"
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "f1": float(skm.f1_score(y, predicted, average="binary" if binary else "macro")),
        "roc_auc": float(
            skm.roc_auc_score(y, probabilities[:, 1]) if binary
            else skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=list(range(len(schema.classes))))
        ),
        "rows": len(y),
    }, predicted
