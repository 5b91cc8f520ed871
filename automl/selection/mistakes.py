"""Where the chosen model goes wrong on the test split: its largest errors and the classes it mixes up.

Regression: the residuals, and the rows with the largest errors shown with their raw columns, so a
reader can see what those rows have in common. Classification: the most confused class pairs, and,
when the family's inputs are pictures, the test images it got wrong most confidently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl.data.schema import Schema
from automl.families.base import Family

WORST_ROWS = 10
WORST_PICTURES = 16  # a 4 x 4 grid
CONFUSED_PAIRS = 5


@dataclass(frozen=True)
class Mistakes:
    """The chosen model's mistakes on the test split; each part is None where it does not apply."""

    target: str = ""
    predicted: np.ndarray | None = None  # regression: the predictions...
    residuals: np.ndarray | None = None  # ...and actual - predicted
    worst_rows: pd.DataFrame | None = None  # regression: the largest errors, with the raw columns
    confused: pd.DataFrame | None = None  # classification: true class, predicted class, rows, share of the true class
    pictures: np.ndarray | None = None  # the most confident wrong answers, as pictures
    captions: tuple[str, ...] = ()


def mistakes(family: Family, schema: Schema, x: Any, y: np.ndarray, outputs: np.ndarray) -> Mistakes:
    """The mistakes of a model whose outputs (`scoring.model_outputs`) on raw test inputs `x` are `outputs`."""
    if schema.task == "regression":
        return regression_mistakes(family, schema, x, y, outputs)
    return classification_mistakes(family, schema, x, y, outputs)


def regression_mistakes(family: Family, schema: Schema, x: Any, y: np.ndarray, predicted: np.ndarray) -> Mistakes:
    residuals = y - predicted
    worst = np.argsort(-np.abs(residuals), kind="stable")[:WORST_ROWS]
    columns = family.columns(schema)
    rows = x.iloc[worst][columns].reset_index(drop=True) if columns else pd.DataFrame(index=range(len(worst)))
    rows.insert(0, "test_row", worst)
    rows[f"actual {schema.target}"] = y[worst]
    rows[f"predicted {schema.target}"] = predicted[worst]
    rows["error"] = residuals[worst]
    return Mistakes(target=schema.target, predicted=predicted, residuals=residuals, worst_rows=rows)


def classification_mistakes(family: Family, schema: Schema, x: Any, y: np.ndarray,
                            probabilities: np.ndarray) -> Mistakes:
    predicted = probabilities.argmax(axis=1)
    classes = [str(c) for c in schema.classes]
    wrong = np.flatnonzero(predicted != y)
    pairs = pd.DataFrame({"true": y[wrong], "predicted": predicted[wrong]}).value_counts().head(CONFUSED_PAIRS)
    totals = np.bincount(y, minlength=len(classes))
    confused = pd.DataFrame([{"true class": classes[t], "predicted as": classes[p], "test rows": int(n),
                              "share of the true class": n / totals[t]} for (t, p), n in pairs.items()])
    confidence = probabilities[wrong, predicted[wrong]]
    worst = wrong[np.argsort(-confidence, kind="stable")][:WORST_PICTURES]
    pictures = family.pictures(x, worst, schema) if len(worst) else None
    captions = tuple(f"true {classes[y[i]]}\npredicted {classes[predicted[i]]} ({probabilities[i, predicted[i]]:.2f})"
                     for i in worst) if pictures is not None else ()
    return Mistakes(target=schema.target, confused=confused, pictures=pictures, captions=captions)
