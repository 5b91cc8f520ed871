"""An ensemble of the search's best trials, as one more candidate for the production choice.

Greedy ensemble selection (Caruana et al. 2004, "Ensemble Selection from Libraries of Models"): start from
nothing, and `ROUNDS` times add (with replacement) the trial whose addition makes the running mean of the
members' validation outputs score best on the track's objective; keep the best prefix. A trial added twice
weighs twice. The members are the `MEMBERS` best completed trials whose weights the search kept (a network of a
kind the choice takes only when it scores best, `SearchSpace.chosen_only_when_best`, only when one does).

Weights searched on the validation split fit its noise too, as a searched decision threshold does
(`automl.selection.threshold`). So the ensemble becomes a candidate only when it beats the best single
member out of sample (`out_of_bag_gain`): the selection is rerun on bootstrap resamples of the validation
split, and each result judged on the rows its resample left out against the member that scored best on
the resample. Then it enters the table as the row ``ensemble``, with its latency and size and, as its
score, the best member's validation score improved by that out-of-sample gain (its score on the rows its
weights were chosen on would flatter it); the choice rule decides whether its gain is worth its cost, as
for any trial.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.context import Run
from automl.data.schema import Data
from automl.errors import AutomlError
from automl.hypermodels.ensemble import ensemble_model
from automl.selection.measures import measure_model
from automl.selection.scoring import Measure, model_outputs, objective_measure
from automl.selection.trials import is_ensemble, only_when_best, sort_by_score
from automl.serving.models import load_trial_model
from automl.store import ENSEMBLE_ID

MEMBERS = 5  # at most; checkpoint pruning keeps the 5 best trials' weights (automl.tuning.pruning)
ROUNDS = 20
RESAMPLES = 50


def greedy_weights(outputs: list[np.ndarray], y: np.ndarray, measure: Measure,
                   rounds: int = ROUNDS) -> tuple[np.ndarray, float]:
    """Caruana's greedy selection with replacement: the members' weights (summing to one) and the score of
    their weighted mean on (`outputs`, `y`).

    Examples
    --------
    >>> y = np.array([0.0, 1.0]); measure = REGRESSION_MEASURES["mae"]
    >>> greedy_weights([np.array([0.0, 2.0]), np.array([0.0, 0.0])], y, measure)
    (array([0.5, 0.5]), 0.0)
    """
    sign = 1.0 if measure.direction == "min" else -1.0
    counts = np.zeros(len(outputs))
    total = np.zeros_like(outputs[0], dtype="float64")
    best_counts, best_score = None, np.inf
    for step in range(1, rounds + 1):
        scores = [sign * measure.score(y, (total + member) / step) for member in outputs]
        pick = int(np.argmin(scores))  # ties: the earlier member, the better-ranked trial
        counts[pick] += 1
        total += outputs[pick]
        if scores[pick] < best_score - 1e-12:
            best_counts, best_score = counts.copy(), scores[pick]
    return best_counts / best_counts.sum(), float(sign * best_score)


def out_of_bag_gain(outputs: list[np.ndarray], y: np.ndarray, measure: Measure, resamples: int = RESAMPLES,
                    seed: int = 0) -> float:
    """How much the greedy ensemble beats the best single member on rows it was not selected on, on average over
    `resamples` bootstrap resamples of the validation split, in the objective's units (positive: better)."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if measure.direction == "min" else -1.0
    gains = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(y), len(y))
        left = np.setdiff1d(np.arange(len(y)), drawn)
        if len(left) == 0 or (measure.name == "auc" and min(len(np.unique(y[left])), len(np.unique(y[drawn]))) < 2):
            continue
        weights, _ = greedy_weights([o[drawn] for o in outputs], y[drawn], measure)
        single = int(np.argmin([sign * measure.score(y[drawn], o[drawn]) for o in outputs]))
        mixed = sum(w * o[left] for w, o in zip(weights, outputs, strict=True))
        gains.append(measure.loss(measure.score(y[left], mixed), measure.score(y[left], outputs[single][left])))
    return float(np.mean(gains)) if gains else 0.0


@dataclass
class Ensemble:
    """The ensemble the choice stage built, as ``ensemble.json`` records it."""

    members: list[str]  # trial ids, best validation score first; those of weight 0 left out
    weights: list[float]
    score: float  # the best member's validation score improved by `out_of_bag_gain`: what enters the choice
    fitted_score: float  # the weighted mean's score on the validation split its weights were chosen on
    best_member_score: float
    out_of_bag_gain: float
    candidate: bool  # whether it entered the choice: it beat the best member out of sample
    measures: dict[str, float] = field(default_factory=dict)  # size and latency, as a trial's
    params: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row(self) -> dict[str, Any]:
        """Its row in the trials table."""
        members = ", ".join(f"{t} ({w:.0%})" for t, w in zip(self.members, self.weights, strict=True))
        return {"trial_id": ENSEMBLE_ID, "status": "completed", "score": self.score, "params": self.params,
                "pruned": False,
                **self.measures, "diagnosis": "ensemble",
                "diagnosis_detail": f"weighted mean of trials {members}; beats the best of them by "
                                    f"{self.out_of_bag_gain:.4g} out of sample"}


def select(outputs: dict[str, np.ndarray], y: np.ndarray, measure: Measure,
           best_score: float | None = None) -> Ensemble | None:
    """The greedy ensemble of the trials whose validation `outputs` are given (by trial id, best first), or None
    when it is one trial alone. `best_score`: the first trial's score as the trials table has it (the search's own
    figure of the objective), which the ensemble's score is reckoned from; by default `measure`'s."""
    if len(outputs) < 2:
        return None
    ids, arrays = list(outputs), [np.asarray(o, dtype="float64") for o in outputs.values()]
    weights, fitted = greedy_weights(arrays, y, measure)
    if (weights > 0).sum() < 2:
        return None
    gain = out_of_bag_gain(arrays, y, measure)
    best = float(measure.score(y, arrays[0]) if best_score is None else best_score)
    kept = [(t, float(w)) for t, w in zip(ids, weights, strict=True) if w > 0]
    return Ensemble(members=[t for t, _ in kept], weights=[w for _, w in kept],
                    score=best - gain if measure.direction == "min" else best + gain, fitted_score=fitted,
                    best_member_score=best, out_of_bag_gain=gain, candidate=gain > 0)


def with_ensemble(table: pd.DataFrame, ensemble: dict[str, Any] | None) -> pd.DataFrame:
    """`table` with the ensemble's row added when it is a candidate (`ensemble` as ``ensemble.json`` holds it)."""
    if not ensemble or not ensemble.get("candidate"):
        return table
    row = Ensemble(**ensemble).row()
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True)


def build_ensemble(run: Run, table: pd.DataFrame, data: Data, rows) -> dict[str, Any]:
    """Select the ensemble of the track's best trials (at most ``search.ensemble``) on the validation split; when
    it is a candidate, save its model and measure it as a trial is (`rows()`: the latency rows). Writes and
    returns ``ensemble.json``'s record: empty when there is no ensemble of two trials or more to make."""
    track, store, family, schema = run.track, run.store, run.family, run.schema()
    measure = objective_measure(track.objective, schema.task)
    if measure.name != track.objective.removeprefix("val_"):
        # An objective with no twin among the measures of predictions (val_loss, whose loss the space searches):
        # the ensemble could not be scored as the trials are.
        store.write_json(store.ensemble_record, {})
        return {}
    completed = table[table["status"].eq("completed") & table["score"].notna() & ~is_ensemble(table)]
    if "pruned" in completed:
        completed = completed[~completed["pruned"].fillna(False).astype(bool)]
    models, outputs = {}, {}
    ranked = sort_by_score(completed, track.direction)
    # A network over more inputs joins only where it scores best, as the choice rule takes it on its own only then.
    held_back = set(only_when_best(ranked, family)) - {str(ranked["trial_id"].iloc[0])} if len(ranked) else set()
    ranked = ranked[~ranked["trial_id"].astype(str).isin(held_back)]
    for trial_id in ranked["trial_id"].head(track.search.ensemble):
        try:
            models[str(trial_id)] = load_trial_model(run, str(trial_id))
        except AutomlError:
            continue  # its weights are gone: it cannot be a member
        outputs[str(trial_id)] = model_outputs(models[str(trial_id)], family, schema, data.validation.x)
    scores = dict(zip(ranked["trial_id"].astype(str), ranked["score"].astype(float), strict=True))
    ensemble = select(outputs, data.validation.y, measure, best_score=scores[next(iter(outputs))] if outputs else None)
    previous = store.read_json(store.ensemble_record) or {}
    if ensemble is not None and store.ensemble_model.is_file() and previous.get("measures") and \
            (previous.get("members"), previous.get("weights")) == (ensemble.members, ensemble.weights):
        # The same ensemble as last time (`automl report` after a search): its model and measures stand, so
        # that a report does not re-time it and maybe change the choice.
        ensemble.measures, ensemble.params = previous["measures"], previous["params"]
        record = ensemble.to_dict()
        store.write_json(store.ensemble_record, record)
        return record
    store.ensemble_model.unlink(missing_ok=True)
    if ensemble is None:
        store.write_json(store.ensemble_record, {})
        return {}
    if ensemble.candidate:
        model = ensemble_model([models[t] for t in ensemble.members], ensemble.weights,
                               [f"trial_{t}" for t in ensemble.members])
        ensemble.params = int(model.count_params())
        ensemble.measures = measure_model(model, rows(), store.root)
        model.save(store.ensemble_model)
    record = ensemble.to_dict()
    store.write_json(store.ensemble_record, record)
    return record
