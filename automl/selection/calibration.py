"""Whether the chosen classifier's probabilities mean what they say: the Brier score and a reliability curve.

A model can rank well (high AUC) and still say 0.9 where it is right 60 % of the time; whoever acts on
its probabilities needs to know. Two classes: the positive class's probability against how often the row
is positive. More classes: the top class's probability (the confidence) against how often it is right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 10  # equal-width bins of probability: enough points for a curve on a few thousand rows


@dataclass(frozen=True)
class Reliability:
    """Per non-empty bin: the mean predicted probability, the observed frequency, and the rows in it."""

    predicted: np.ndarray
    observed: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """The Brier score and the reliability curve of each split ("validation", "test")."""

    brier: dict[str, float]
    curves: dict[str, Reliability]
    probability: str  # what the curves' x axis is, in words


def brier_score(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared distance between the class probabilities and the one-hot truth; for two classes, the
    usual (p - y)² of the positive class (half the multiclass sum), 0 is perfect."""
    truth = np.eye(probabilities.shape[1])[y.astype("int64")]
    total = ((probabilities - truth) ** 2).sum(axis=1).mean()
    return float(total / 2 if probabilities.shape[1] == 2 else total)


def reliability(y: np.ndarray, probabilities: np.ndarray, bins: int = BINS) -> Reliability:
    """The reliability curve: predicted probability against observed frequency, bin by bin."""
    if probabilities.shape[1] == 2:
        said, happened = probabilities[:, 1], (y == 1)
    else:
        said, happened = probabilities.max(axis=1), probabilities.argmax(axis=1) == y
    which = np.minimum((said * bins).astype("int64"), bins - 1)
    rows = np.bincount(which, minlength=bins)
    kept = rows > 0
    predicted = np.bincount(which, weights=said, minlength=bins)[kept] / rows[kept]
    observed = np.bincount(which, weights=happened.astype("float64"), minlength=bins)[kept] / rows[kept]
    return Reliability(predicted, observed, rows[kept])


def calibration(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> Calibration | None:
    """The calibration of class probabilities on each split, given as name -> (y, probabilities); None
    for a regression (values, not probabilities)."""
    first = next(iter(splits.values()))[1]
    if first.ndim != 2:
        return None
    what = "probability of the positive class" if first.shape[1] == 2 else "confidence (top class probability)"
    return Calibration(brier={name: brier_score(y, p) for name, (y, p) in splits.items()},
                       curves={name: reliability(y, p) for name, (y, p) in splits.items()}, probability=what)
