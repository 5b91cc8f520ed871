"""The decision threshold of a binary classifier: the probability above which it should say yes.

0.5 is right only when the classes are balanced and errors cost the same; with 6 % positives (caravan)
a model rarely says more than 0.5, and balanced accuracy at 0.5 is poor although its ranking (AUC) is
good. The threshold that maximises the decision metric on validation is the one to use in production:
the pipeline stores it in the chosen model (`automl.hypermodels.layers.DecisionThreshold`), where
`automl predict` and the exported SavedModel find it, and reports the test figures at 0.5 and at it.

A threshold searched on validation fits that split's noise too: caravan's 70 validation positives put it at
0.17, which scored 0.031 above 0.5 there and 0.041 below it on test. So the searched threshold is used only
when it beats 0.5 out of sample (`out_of_bag_gain`): the search is rerun on bootstrap resamples of the
validation split and each threshold judged on the rows its resample left out. A class-weighted model, whose
probabilities are already balanced around 0.5, keeps 0.5; a model whose rare class never reaches 0.5 gets the
searched threshold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from automl.data.schema import Schema
from automl.track.sections import DECISION_METRICS


def decision_threshold(y: np.ndarray, probability: np.ndarray,
                       metric: str = "balanced_accuracy") -> tuple[float, float]:
    """The threshold t (say yes when probability >= t) that maximises `metric` on (y, probability), and
    that maximum; t lies halfway between two neighbouring probabilities, where the decisions change.

    Every distinct probability is tried at once from cumulative counts (sorted once), so validation
    splits of any size cost a sort. Ties go to the threshold nearest 0.5.

    Examples
    --------
    >>> decision_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.9]))
    (0.25, 1.0)
    """
    if metric not in DECISION_METRICS:
        raise ValueError(f"decision metric {metric!r}; use one of {DECISION_METRICS}")
    order = np.argsort(-probability, kind="stable")
    p, truth = probability[order], y[order].astype("float64")
    last = np.r_[np.flatnonzero(np.diff(p) != 0), len(p) - 1]  # the last row of each run of equal probabilities
    true_pos, false_pos = np.cumsum(truth)[last], np.cumsum(1.0 - truth)[last]
    positives, negatives = truth.sum(), len(truth) - truth.sum()
    if metric == "balanced_accuracy":
        values = 0.5 * (true_pos / max(positives, 1) + (negatives - false_pos) / max(negatives, 1))
    else:
        values = 2 * true_pos / np.maximum(true_pos + false_pos + positives, 1)
    below = np.r_[p[last[:-1] + 1], 0.0]  # the next lower probability, 0 after the lowest
    thresholds = (p[last] + below) / 2
    best = np.flatnonzero(np.isclose(values, values.max()))
    pick = best[np.argmin(np.abs(thresholds[best] - 0.5))]
    return float(thresholds[pick]), float(values[pick])


RESAMPLES = 200  # bootstrap resamples of the validation split; a sort each, so a second on 100,000 rows


def out_of_bag_gain(y: np.ndarray, probability: np.ndarray, metric: str = "balanced_accuracy",
                    resamples: int = RESAMPLES, seed: int = 0) -> float:
    """How much a threshold searched on `resamples` bootstrap resamples beats 0.5 on the rows each resample left
    out, on average: the gain to expect from searching the threshold on this split, net of its noise."""
    rng = np.random.default_rng(seed)
    score = _DECISION_SCORES[metric]
    gains = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(y), len(y))
        left = np.setdiff1d(np.arange(len(y)), drawn)
        if len(np.unique(y[left])) < 2 or len(np.unique(y[drawn])) < 2:
            continue
        threshold, _ = decision_threshold(y[drawn], probability[drawn], metric)
        gains.append(score(y[left], probability[left] >= threshold) - score(y[left], probability[left] >= 0.5))
    return float(np.mean(gains)) if gains else 0.0


_DECISION_SCORES = {
    "accuracy": lambda y, said: float(skm.accuracy_score(y, said)),
    "balanced_accuracy": lambda y, said: float(skm.balanced_accuracy_score(y, said)),
    "f1": lambda y, said: float(skm.f1_score(y, said, zero_division=0)),
}


@dataclass(frozen=True)
class Threshold:
    """A binary model's chosen decision threshold, and the test figures at 0.5 and at it."""

    metric: str  # the decision metric it maximises on validation
    value: float  # the threshold used: `searched`, or 0.5 when searching did not pay out of sample
    positive: str  # the class said from the threshold on
    validation_rows: int
    validation: dict[str, float]  # the decision metric at 0.5 and at the searched threshold, on validation
    test: pd.DataFrame  # accuracy, balanced accuracy and F1 (rows) at 0.5 and at the searched threshold (columns)
    searched: float  # the threshold that maximises the metric on the validation split
    gain: float  # `out_of_bag_gain`: what searching it gains over 0.5 on rows it was not searched on

    @property
    def used_searched(self) -> bool:
        return self.value == self.searched

    def test_metrics(self) -> dict[str, float]:
        """What `test_metrics.json` records of it: the threshold used and the test figure there, and the searched
        one's (the same when it is used)."""
        used = "at_threshold" if self.used_searched else "at_0.5"
        return {"decision_threshold": self.value,
                "balanced_accuracy_at_threshold": float(self.test.loc["balanced_accuracy", used]),
                "searched_decision_threshold": self.searched,
                "balanced_accuracy_at_searched_threshold": float(self.test.loc["balanced_accuracy", "at_threshold"]),
                "threshold_out_of_bag_gain": self.gain}


def binary_threshold(schema: Schema, metric: str, validation: tuple[np.ndarray, np.ndarray],
                     test: tuple[np.ndarray, np.ndarray]) -> Threshold | None:
    """The decision threshold of a binary model from its (labels, class probabilities) on validation, with its
    effect on test; None for other tasks, which say their most probable class. The searched threshold is used
    when its `out_of_bag_gain` is positive, 0.5 otherwise.

    The threshold is rounded to float32, the precision of the model's output, so that a probability compares
    alike in numpy, in `automl predict` and in the exported SavedModel.
    """
    if schema.task != "binary":
        return None
    (y_validation, p_validation), (y_test, p_test) = validation, test
    value, _ = decision_threshold(y_validation, p_validation[:, 1], metric)
    value = float(np.float32(value))
    gain = out_of_bag_gain(y_validation, p_validation[:, 1], metric)
    score = _DECISION_SCORES[metric]
    return Threshold(
        metric=metric, value=value if gain > 0 else 0.5, searched=value, gain=gain,
        positive=str(schema.classes[1]), validation_rows=len(y_validation),
        validation={"at_0.5": score(y_validation, p_validation[:, 1] >= 0.5),
                    "at_threshold": score(y_validation, p_validation[:, 1] >= value)},
        test=pd.DataFrame({"at_0.5": figures_at(y_test, p_test[:, 1], 0.5),
                           "at_threshold": figures_at(y_test, p_test[:, 1], value)}),
    )


def figures_at(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, balanced accuracy and F1 of saying yes where `probability` reaches `threshold`."""
    said = probability >= threshold
    return {name: score(y, said) for name, score in _DECISION_SCORES.items()}
