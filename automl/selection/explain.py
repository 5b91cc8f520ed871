"""What the report says about the chosen model beyond its scores: what it relies on, possible leakage, how
far its probabilities can be trusted, at which probability it should say yes, and where it goes wrong.

Everything here is computed on predictions of splits the model did not train on: importance on the
validation split, the test figures on the test split (used once, as the rest of the report does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from automl.data.schema import Data, Schema
from automl.families.base import Family
from automl.selection.calibration import Calibration, calibration
from automl.selection.importance import Importance, Leak, leaks, permutation_importance
from automl.selection.mistakes import Mistakes, mistakes
from automl.selection.scoring import objective_measure
from automl.selection.threshold import Threshold


@dataclass(frozen=True)
class Explanation:
    """The chosen model explained; `model` says in words which model (and which split) the figures are of."""

    model: str
    importance: Importance | None = None
    leaks: list[Leak] = field(default_factory=list)
    calibration: Calibration | None = None
    mistakes: Mistakes | None = None
    threshold: Threshold | None = None  # binary: the decision threshold stored in the model


def explain(model, family: Family, schema: Schema, data: Data, *, objective: str, model_name: str,
            validation_outputs: np.ndarray, test_outputs: np.ndarray,
            threshold: Threshold | None = None) -> Explanation:
    """Explain `model` (the chosen one, named `model_name` for the page) on `data`'s validation split.

    `validation_outputs` and `test_outputs` are its outputs on those splits (`model_outputs`), already
    computed by the pipeline for the decision threshold and the test figures: nothing is predicted twice.
    """
    validation, outputs = data.validation, validation_outputs
    importance = permutation_importance(model, family, schema, validation.x, validation.y,
                                        objective_measure(objective, schema.task), outputs=outputs)
    return Explanation(model=model_name, importance=importance,
                       leaks=leaks(importance, validation.x, validation.y, schema.task, exempt=schema.images),
                       calibration=calibration({"validation": (validation.y, outputs),
                                                "test": (data.test.y, test_outputs)}),
                       mistakes=mistakes(family, schema, data.test.x, data.test.y, test_outputs),
                       threshold=threshold)
