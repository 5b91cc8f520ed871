"""What the report says about the chosen model beyond its scores: what it relies on, and possible leakage.

Everything here is computed on predictions of splits the model did not train on: importance on the
validation split, the test figures on the test split (used once, as the rest of the report does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from automl.data.schema import Data, Schema
from automl.families.base import Family
from automl.selection.importance import Importance, Leak, leaks, permutation_importance
from automl.selection.scoring import objective_measure


@dataclass(frozen=True)
class Explanation:
    """The chosen model explained; `model` says in words which model (and which split) the figures are of."""

    model: str
    importance: Importance | None = None
    leaks: list[Leak] = field(default_factory=list)


def explain(model, family: Family, schema: Schema, data: Data, *, objective: str, model_name: str,
            test_outputs: np.ndarray) -> Explanation:
    """Explain `model` (the chosen one, named `model_name` for the page) on `data`'s validation split.

    `test_outputs` are its outputs on the test split, already computed for the test figures.
    """
    validation = data.validation
    importance = permutation_importance(model, family, schema, validation.x, validation.y,
                                        objective_measure(objective, schema.task))
    return Explanation(model=model_name, importance=importance,
                       leaks=leaks(importance, validation.x, validation.y, schema.task))
