"""What the chosen model relies on: permutation importance of each raw input column, and possible leakage.

A column's importance is how much the track's objective worsens on the validation split when that
column alone is shuffled (its values kept, their link to the rows broken), averaged over a few seeded
repeats. It needs no retraining and treats the model as the black box it is in production: raw rows in,
predictions out. A column whose importance is within noise of 0 is one the model could do without.

A column that alone explains most of what the model knows, far more than any other, or that alone
predicts the target almost perfectly, is usually a leak: the target in disguise (its log, an ID that
encodes it), which the model will not have in production.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from automl.data.schema import Schema
from automl.families.base import Family
from automl.selection.scoring import Measure, constant_outputs, model_outputs

REPEATS = 3  # shuffles per column: enough for a spread, and 3 x 9 columns x 20k rows predict in seconds
BATCH = 8192  # rows per predict call of the shuffled copies: an MLP's per-batch overhead dominates below this
NEGLIGIBLE_SHARE = 0.02  # importance under 2 % of the top column's counts as none
LEAK_RATIO = 5.0  # a column this many times as important as the next...
LEAK_SHARE = 0.5  # ...that alone accounts for this share of what the model gains over a constant guess
PERFECT = 0.99  # a column alone this close to the target (|rank correlation|, or AUC either way) leaks it


@dataclass(frozen=True)
class Importance:
    """Permutation importance of a model's raw columns on one split.

    `table` has one row per column, most important first: ``column``, ``importance`` (mean worsening of
    `metric`, in its units), ``std`` (over the repeats), ``share`` (of what the model gains over a
    constant prediction) and ``negligible`` (the model could do without it).
    """

    table: pd.DataFrame
    metric: str
    baseline: float  # the model's figure on the unshuffled split
    constant: float  # the figure of a constant prediction (median or class shares)
    rows: int
    repeats: int


@dataclass(frozen=True)
class Leak:
    """A column flagged as possible leakage, with the figure behind it."""

    column: str
    reason: str

    def message(self) -> str:
        return (f"column '{self.column}' may leak the target: {self.reason}; if it would not be known when the "
                "model is used, drop it (data.drop in the track) and search again")


def permutation_importance(model, family: Family, schema: Schema, x: pd.DataFrame, y: np.ndarray, measure: Measure,
                           *, repeats: int = REPEATS, seed: int = 0,
                           outputs: np.ndarray | None = None) -> Importance | None:
    """Each raw column's permutation importance for `model` on rows `x` (a split the model did not train
    on); None when the family's inputs are not columns. `outputs`: the model's outputs on `x`, if at hand.

    All shuffled copies (repeats x columns) are stacked into one frame and predicted together, in large
    batches: one pass through the model instead of one per copy.
    """
    columns = family.columns(schema)
    if not columns or len(y) < 2:
        return None
    x = x.reset_index(drop=True)
    if outputs is None:
        outputs = model_outputs(model, family, schema, x, BATCH)
    baseline = float(measure.score(y, outputs))
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(repeats):
        for column in columns:
            copy = x.copy()
            copy[column] = x[column].to_numpy()[rng.permutation(len(x))]
            copies.append(copy)
    shuffled = model_outputs(model, family, schema, pd.concat(copies, ignore_index=True), BATCH)
    chunks = np.split(shuffled, len(copies))
    losses = np.array([measure.loss(baseline, float(measure.score(y, chunk))) for chunk in chunks])
    losses = losses.reshape(repeats, len(columns))
    constant = float(measure.score(y, constant_outputs(schema.task, y, len(y), len(schema.classes))))
    gain = abs(measure.loss(baseline, constant))
    table = pd.DataFrame({"column": columns, "importance": losses.mean(axis=0),
                          "std": losses.std(axis=0, ddof=1) if repeats > 1 else 0.0})
    table["share"] = table["importance"] / gain if gain > 0 else np.nan
    table = table.sort_values("importance", ascending=False, ignore_index=True)
    top = max(float(table["importance"].iloc[0]), 0.0)
    table["negligible"] = (table["importance"] <= table["std"]) | (table["importance"] <= NEGLIGIBLE_SHARE * top)
    return Importance(table, measure.name, baseline, constant, len(y), repeats)


def negligible_columns(importance: Importance) -> list[str]:
    return importance.table.loc[importance.table["negligible"], "column"].tolist()


def leaks(importance: Importance | None, x: pd.DataFrame, y: np.ndarray, task: str,
          exempt: Collection[str] = ()) -> list[Leak]:
    """Columns that look like the target in disguise: far more important than every other and alone
    most of what the model knows, or alone a near-perfect predictor of the target on this split. `exempt`: columns
    that are the thing itself (image files, whose photo is what a model should learn from), never flagged."""
    if importance is None:
        return []
    found: dict[str, str] = {}
    table = importance.table
    top = table.iloc[0]
    runner_up = float(table["importance"].iloc[1]) if len(table) > 1 else 0.0
    # Far above the next column: only where there is a next column (a model of one text column relies on it wholly).
    if (len(table) > 1 and top["importance"] > 0 and top["importance"] > LEAK_RATIO * max(runner_up, 0.0)
            and top["share"] >= LEAK_SHARE):
        found[top["column"]] = (
            f"shuffling it worsens validation {importance.metric} from {importance.baseline:.4g} by "
            f"{top['importance']:.4g}, {_times(top['importance'], runner_up)} the next column, "
            f"{top['share']:.0%} of what the model gains over a constant guess")
    for column in table["column"]:
        closeness = _alone(x[column], y, task)
        if closeness is not None and closeness >= PERFECT:
            what = "rank correlation" if task == "regression" else "AUC"
            alone = f"alone it has a {what} of {closeness:.3f} with the target on validation"
            found[column] = f"{found[column]}; {alone}" if column in found else alone
    return [Leak(column, reason) for column, reason in found.items() if column not in exempt]


def _times(value: float, other: float) -> str:
    return f"{value / other:.0f}x" if other > 0 else "far above"


def _alone(values: pd.Series, y: np.ndarray, task: str) -> float | None:
    """How well one numeric column alone orders the target: |Spearman| (regression) or AUC taken either
    way (binary); None for other columns and tasks."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    known = np.isfinite(numbers)
    if task == "multiclass" or not pd.api.types.is_numeric_dtype(values) or known.sum() < 3:
        return None
    numbers, target = numbers[known], y[known]
    if np.ptp(numbers) == 0 or np.ptp(target) == 0:
        return None
    if task == "regression":
        return float(abs(pd.Series(numbers).rank().corr(pd.Series(target).rank())))  # Spearman's rho
    auc = float(skm.roc_auc_score(target, numbers))
    return max(auc, 1.0 - auc)
