"""How far apart two models' validation scores could be: the spread of their gap over paired bootstrap resamples.

Two models scored on the same validation rows are compared row for row: each resample draws rows with
replacement and scores both models on the same draw, so what the two have in common (hard rows, easy rows)
cancels out of the gap. The standard deviation of the relative gap over `RESAMPLES` draws is what the choice
rule's non-inferiority test (`automl.selection.choice`) adds, times its confidence factor, to the gap itself.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from automl.context import Run
from automl.errors import AutomlError
from automl.selection.scoring import Measure, model_outputs
from automl.serving.models import load_trial_model

RESAMPLES = 200


def gap_spread(y: np.ndarray, top: np.ndarray, other: np.ndarray, measure: Measure, resamples: int = RESAMPLES,
               seed: int = 0) -> float:
    """The standard deviation of `other`'s relative gap to `top` (`measure`'s loss over the top's score) over
    paired bootstrap resamples of the rows of (`y`, outputs).

    Examples
    --------
    >>> y = np.zeros(4); same = np.array([0.0, 1.0, 0.0, 1.0])
    >>> gap_spread(y, same, same, REGRESSION_MEASURES["mae"])
    0.0
    """
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(y), len(y))
        if measure.name == "auc" and len(np.unique(y[drawn])) < 2:
            continue
        best = measure.score(y[drawn], top[drawn])
        if best:
            gaps.append(measure.loss(best, measure.score(y[drawn], other[drawn])) / abs(best))
    return float(np.std(gaps)) if len(gaps) > 1 else 0.0


class GapSpreads:
    """`gap_spread` for trials (or the ensemble) by id, on the validation split: the `spread` the choice rule takes.
    Each model is loaded and run on the validation rows once, when first asked for; `validation()` gives the
    split (raw ``x`` and ``y``), loaded only then."""

    def __init__(self, run: Run, measure: Measure, validation: Callable[[], Any]):
        self.run, self.measure, self.validation = run, measure, validation
        self.outputs: dict[str, np.ndarray | None] = {}

    def __call__(self, trial_id: str, top_id: str) -> float:
        other, top = self._outputs(trial_id), self._outputs(top_id)
        if other is None or top is None:
            return float("inf")  # a model that cannot be loaded cannot be shown as good as the top
        return gap_spread(np.asarray(self.validation().y), top, other, self.measure)

    def _outputs(self, trial_id: str) -> np.ndarray | None:
        if trial_id not in self.outputs:
            try:
                model = load_trial_model(self.run, trial_id)
            except AutomlError:
                self.outputs[trial_id] = None
            else:
                self.outputs[trial_id] = model_outputs(model, self.run.family, self.run.schema(), self.validation().x)
        return self.outputs[trial_id]
