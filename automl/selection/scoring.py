"""Scores of predictions: the test figures, used once, and the track's objective computed on any split.

The search's objective (``val_mae``, ``val_auc``, ...) is a Keras metric on the validation split during
training; after the search, explaining the chosen model (permutation importance, the decision
threshold) needs the same figure on predictions of altered inputs, so it is computed here with sklearn.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from automl.data.schema import Schema
from automl.families.base import Family
from automl.serving.predict import predict_with
from automl.store import Store


def model_outputs(model, family: Family, schema: Schema, x: Any, batch_size: int | None = None) -> np.ndarray:
    """What the model says about raw inputs `x`: values (regression, shape (n,)) or class probabilities
    (classification, shape (n, classes))."""
    outputs = predict_with(model, family, schema, family.model_inputs(x, schema), proba=True, batch_size=batch_size)
    return np.asarray(outputs, dtype="float64")


def evaluate(model, family: Family, schema: Schema, x: Any, y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Test figures and predictions of raw inputs `x`: RMSE, MAE, R² and values (regression); accuracy,
    balanced accuracy, F1, ROC AUC and class indices (classification)."""
    return test_figures(schema, y, model_outputs(model, family, schema, x))


def test_figures(schema: Schema, y: np.ndarray, outputs: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """`evaluate`'s figures from the model's outputs (`model_outputs`), with the same measures as the objective's:
    RMSE, MAE, R² and the values (regression); accuracy, balanced accuracy, F1, ROC AUC and class indices."""
    if schema.task == "regression":
        names = {"rmse": "rmse", "mae": "mae", "r2": "r2"}
        measures, said = REGRESSION_MEASURES, outputs
    else:
        names = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1": "f1", "roc_auc": "auc"}
        measures, said = CLASSIFICATION_MEASURES, _classes(outputs)
    return {**{key: float(measures[name].score(y, outputs)) for key, name in names.items()}, "rows": len(y)}, said


@dataclass(frozen=True)
class HeldOutFigures:
    """What the test split said, used once after the choice: the record of ``test_metrics.json``, written from and
    read into this one type (`write`, `read`), which the command line, the report and the trackers all read.

    `figures` are the chosen model's (its measures, ``rows``, and a binary model's decision threshold and the
    figures at it); `top` the top-scoring trial's own weights' (with its ``trial_id``); `compared` the best trial
    of each kind of network, by kind; `final_fit` and `refit` the records of a retraining, when there was one.
    """

    trial_id: str
    figures: dict[str, float]
    top: dict[str, Any]
    compared: dict[str, dict[str, Any]] = field(default_factory=dict)
    final_fit: dict[str, Any] | None = None
    refit: dict[str, Any] | None = None

    KEYS = ("trial_id", "top", "compared", "final_fit", "refit")  # the rest of the record's keys are `figures`

    @property
    def rows(self) -> int:
        return int(self.figures["rows"])

    def shared(self) -> list[str]:
        """The figures both the chosen and the top-scoring model have, in order (the threshold's are the chosen
        model's alone)."""
        return [k for k in self.figures if k in self.top and k != "trial_id"]

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"trial_id": self.trial_id, **self.figures, "top": self.top}
        if self.compared:
            record["compared"] = self.compared
        if self.final_fit is not None:
            record["final_fit"] = self.final_fit
        if self.refit is not None:
            record["refit"] = self.refit
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> HeldOutFigures:
        return cls(trial_id=str(record["trial_id"]), figures={k: v for k, v in record.items() if k not in cls.KEYS},
                   top=dict(record.get("top") or {"trial_id": record["trial_id"]}),
                   compared=dict(record.get("compared") or {}), final_fit=record.get("final_fit"),
                   refit=record.get("refit"))

    def write(self, store: Store) -> None:
        store.write_json(store.test_metrics, self.to_dict())

    @classmethod
    def read(cls, store: Store) -> HeldOutFigures | None:
        """The search's test figures, or None before its first report."""
        record = store.read_json(store.test_metrics)
        return None if record is None else cls.from_dict(record)


@dataclass(frozen=True)
class Measure:
    """A figure of predictions, named as the track names its objective (without ``val_``), and its direction."""

    name: str
    direction: str  # "min" or "max"
    score: Callable[[np.ndarray, np.ndarray], float]  # (y, model outputs) -> the figure

    def loss(self, baseline: float, other: float) -> float:
        """How much worse `other` is than `baseline`, positive when worse, in the figure's units."""
        return other - baseline if self.direction == "min" else baseline - other


def _classes(outputs: np.ndarray) -> np.ndarray:
    return outputs.argmax(axis=1)


def _auc(y: np.ndarray, outputs: np.ndarray) -> float:
    if outputs.shape[1] == 2:
        return skm.roc_auc_score(y, outputs[:, 1])
    return skm.roc_auc_score(y, outputs, multi_class="ovr", labels=list(range(outputs.shape[1])))


def _log_loss(y: np.ndarray, outputs: np.ndarray) -> float:
    return skm.log_loss(y, np.clip(outputs, 1e-7, 1.0), labels=list(range(outputs.shape[1])))


def _binary(score: Callable) -> Callable:
    # F1, precision and recall of the positive class for two classes, macro-averaged for more.
    return lambda y, o: score(y, _classes(o), average="binary" if o.shape[1] == 2 else "macro", zero_division=0)


REGRESSION_MEASURES = {
    "mae": Measure("mae", "min", skm.mean_absolute_error),
    "rmse": Measure("rmse", "min", lambda y, o: float(np.sqrt(skm.mean_squared_error(y, o)))),
    "mse": Measure("mse", "min", skm.mean_squared_error),
    "loss": Measure("mse", "min", skm.mean_squared_error),
    "r2": Measure("r2", "max", skm.r2_score),
}
CLASSIFICATION_MEASURES = {
    "auc": Measure("auc", "max", _auc),
    "accuracy": Measure("accuracy", "max", lambda y, o: skm.accuracy_score(y, _classes(o))),
    "balanced_accuracy": Measure("balanced_accuracy", "max", lambda y, o: skm.balanced_accuracy_score(y, _classes(o))),
    "f1": Measure("f1", "max", _binary(skm.f1_score)),
    "precision": Measure("precision", "max", _binary(skm.precision_score)),
    "recall": Measure("recall", "max", _binary(skm.recall_score)),
    "loss": Measure("log_loss", "min", _log_loss),
}


def objective_measure(objective: str, task: str) -> Measure:
    """The track's objective as a `Measure` of predictions; an objective sklearn has no twin for is
    measured by the task's usual figure (MAE, or accuracy), whose name the measure then carries."""
    name = objective.removeprefix("val_")
    measures = REGRESSION_MEASURES if task == "regression" else CLASSIFICATION_MEASURES
    return measures.get(name, measures["mae" if task == "regression" else "accuracy"])


def constant_outputs(task: str, y_train_like: np.ndarray, rows: int, classes: int) -> np.ndarray:
    """What a model that ignores its inputs would say: the median (regression) or the class shares of
    `y_train_like`, for `rows` rows; the floor against which importance is a share."""
    if task == "regression":
        return np.full(rows, float(np.median(y_train_like)))
    shares = np.bincount(y_train_like.astype("int64"), minlength=classes) / max(len(y_train_like), 1)
    return np.tile(shares, (rows, 1))
