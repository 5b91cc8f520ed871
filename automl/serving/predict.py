"""Predict with a search's model: raw inputs in (rows, images), values, class labels or probabilities out.

A binary model that carries a decision threshold (`automl.hypermodels.layers.DecisionThreshold`) says its
positive class from that probability on; other classifiers, and models saved before thresholds were stored,
say the most probable class.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from automl.context import Run
from automl.data.schema import Schema
from automl.families.base import Family
from automl.hypermodels.layers import decision_threshold_of
from automl.serving.models import load_best_model


def predict_with(model, family: Family, schema: Schema, inputs: Any, proba: bool = False,
                 batch_size: int | None = None) -> np.ndarray | pd.DataFrame:
    """Model inputs (`Family.model_inputs` of raw rows or images) in, predictions out: values (regression),
    class labels, or class probabilities with `proba`; `batch_size` None takes the family's."""
    tensorflow = logging.getLogger("tensorflow")  # tf.get_logger(): its tf.function retracing warnings would lead a
    level = tensorflow.level  # notebook cell's output when several models predict in turn; they are by design
    tensorflow.setLevel(logging.ERROR)
    try:
        outputs = model.predict(family.dataset(inputs, batch_size), verbose=0)
    finally:
        tensorflow.setLevel(level)
    if schema.task == "regression":
        return outputs.reshape(-1)
    if schema.task == "binary":
        positive = outputs.reshape(-1)
        probabilities = np.stack([1.0 - positive, positive], axis=1)
    else:
        probabilities = outputs
    if proba:
        return pd.DataFrame(probabilities, columns=[str(c) for c in schema.classes])
    return class_labels(schema, probabilities, decision_threshold_of(model))


def class_labels(schema: Schema, probabilities: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """The classes said for rows of class `probabilities`: the positive (second) class where its probability
    reaches `threshold`, if one is given (binary), else the most probable class."""
    if threshold is not None:
        chosen = (probabilities[:, 1] >= threshold).astype("int64")
    else:
        chosen = probabilities.argmax(axis=1)
    return np.asarray(schema.classes, dtype=object)[chosen]


def predict(run: Run, raw: Any, *, proba: bool = False, by: str = "choice") -> np.ndarray | pd.DataFrame:
    """The run's chosen model (``by="score"``: the top-scoring one) on `raw` inputs (a DataFrame of rows, an
    array of images): values, class labels, or class probabilities with `proba`. What `automl.predict` returns."""
    model, schema, inputs = _checked(run, raw, by)
    return predict_with(model, run.family, schema, inputs, proba=proba)


def prediction_table(run: Run, raw: Any, *, proba: bool = False, leading: dict[str, Any] | None = None,
                     by: str = "choice") -> pd.DataFrame:
    """A `prediction` column (values or class labels), `proba_<class>` columns with `proba`, and the `leading`
    columns first (`PredictInputs.leading`: a CSV's id column, the file of each image). What `automl predict`
    writes."""
    model, schema, inputs = _checked(run, raw, by)
    table = pd.DataFrame(index=range(len(raw)))
    for column, values in (leading or {}).items():
        table[column] = np.asarray(values)
    if schema.task == "regression":
        table["prediction"] = predict_with(model, run.family, schema, inputs)
        return table
    probabilities = predict_with(model, run.family, schema, inputs, proba=True)
    table["prediction"] = class_labels(schema, probabilities.to_numpy(), decision_threshold_of(model))
    if proba:
        for column in probabilities.columns:
            table[f"proba_{column}"] = probabilities[column].to_numpy()
    return table


def _checked(run: Run, raw: Any, by: str) -> tuple[Any, Schema, Any]:
    """The model, the schema and the model inputs of `raw`: a wrong input is the user's mistake, found before the
    model loads."""
    schema = run.searched().schema()
    inputs = run.family.model_inputs(raw, schema)
    return load_best_model(run, by), schema, inputs
