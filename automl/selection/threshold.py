"""The decision threshold of a binary classifier: the probability above which it should say yes.

0.5 is right only when the classes are balanced and errors cost the same; with 6 % positives (caravan)
a model rarely says more than 0.5, and balanced accuracy at 0.5 is poor although its ranking (AUC) is
good. The threshold that maximises the decision metric on validation is the one to use in production.
Not yet wired into the pipeline: see the report of issue 19 for the design (stored in the .keras file).
"""
from __future__ import annotations

import numpy as np

DECISION_METRICS = ("balanced_accuracy", "f1")


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
