"""The production choice: among trials within a tolerance of the best validation score, the fastest, then the smallest.

The top-scoring trial is not always the one to deploy: on small validation splits, scores a few
per cent apart are within the noise of retraining the same network (see README, "The choice"),
while a network twice as fast or ten times smaller is a real gain in production.

The tolerance is about configurations (retrain one and its score moves that much); what goes to production
is one trained model, judged on one validation split. So a candidate other than the top one is taken only
if, besides its score being within the tolerance, the validation rows show it no worse than the top by more
than the tolerance at one-sided 95 % confidence: its gap to the top, plus `CONFIDENCE_Z` times that gap's
standard deviation over paired bootstrap resamples of the validation rows (`automl.selection.paired`), is
within the tolerance. This is a non-inferiority test with the tolerance as its margin. Otherwise the next
candidate is tried, and the top one always passes.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

import pandas as pd

from automl.selection.trials import is_ensemble, no_model_to_choose
from automl.store import ENSEMBLE_ID

LATENCY_TIE = 0.10  # latencies within 10 % of the fastest count as equal: timing jitter on a shared CPU
# Besides the candidates, the top few by score are measured, so the speed/score plot has a context;
# checkpoint pruning keeps their weights whatever the tolerance.
MEASURED_TOP = 5
CONFIDENCE_Z = 1.645  # one-sided 95 %, the non-inferiority test's usual level


@dataclass(frozen=True)
class Choice:
    """The chosen trial, the top-scoring one, the candidates, and why, in words and numbers."""

    trial_id: str
    top_trial_id: str
    candidates: tuple[str, ...]
    tolerance: float
    threshold: float
    reason: str
    # Candidates passed over: their score was within the tolerance, but not their gap's 95 % bound (relative).
    passed_over: tuple[tuple[str, float], ...] = ()

    def rule(self, objective: str, direction: str) -> str:
        """The rule and its parameters, in one sentence for the report."""
        side = "at most" if direction == "min" else "at least"
        return (
            f"Among completed trials whose {objective} is within {self.tolerance:.1%} of the best "
            f"({side} {self.threshold:.4g}), take the lowest p50 latency at batch 1 (latencies within "
            f"{LATENCY_TIE:.0%} of the fastest count as equal), then the smallest saved model, then the best score; "
            f"a candidate other than the top one only if, on paired bootstrap resamples of the validation rows, "
            f"its gap to the top is within the tolerance at one-sided 95 % confidence."
        )


def score_threshold(best: float, direction: str, tolerance: float) -> float:
    """The worst validation score still within `tolerance` (relative) of `best`."""
    margin = tolerance * abs(best)
    return best + margin if direction == "min" else best - margin


def choose(table: pd.DataFrame, direction: str, tolerance: float, *, objective: str = "score",
           latency_tie: float = LATENCY_TIE, spread: Callable[[str, str], float] | None = None,
           only_when_best: Collection[str] = ()) -> Choice:
    """Apply the choice rule to a trials table.

    Parameters
    ----------
    table : DataFrame
        One row per trial with ``trial_id``, ``status``, ``score`` and, where measured,
        ``latency_p50_ms``, ``model_bytes`` and ``params``.
    direction : {"min", "max"}
        Whether the validation objective is minimised or maximised.
    tolerance : float
        Relative distance from the best score within which trials count as equally good.
    objective : str
        The objective's name, for the reason sentence.
    spread : callable, optional
        ``spread(candidate_id, top_id)``: the standard deviation of the candidate's relative gap to the top
        over paired bootstrap resamples of the validation rows (`automl.selection.paired.GapSpreads`). Without
        it, every candidate within the tolerance may be chosen.
    only_when_best : collection of str
        Trials chosen only if they have the best score (a network over more inputs than the others,
        `SearchSpace.chosen_only_when_best`): otherwise they are no candidates, however fast.

    Examples
    --------
    >>> table = pd.DataFrame({"trial_id": ["a", "b"], "status": ["completed"] * 2, "score": [2.00, 2.02],
    ...                       "latency_p50_ms": [0.9, 0.3], "model_bytes": [90_000, 40_000], "params": [9000, 2000]})
    >>> choose(table, "min", 0.02).trial_id
    'b'
    """
    completed = table[(table["status"] == "completed") & pd.to_numeric(table["score"], errors="coerce").notna()]
    if completed.empty:
        raise no_model_to_choose(table)
    scores = completed["score"].astype(float)
    top_index = scores.idxmin() if direction == "min" else scores.idxmax()
    best = float(scores[top_index])
    threshold = score_threshold(best, direction, tolerance)
    within = scores <= threshold if direction == "min" else scores >= threshold
    if "pruned" in completed:  # weights pruned (a tolerance widened since): the trial cannot be deployed
        kept = ~completed["pruned"].fillna(False).astype(bool)
        within &= kept if (within & kept).any() else True
    held_back = completed["trial_id"].astype(str).isin(list(only_when_best)) & (completed.index != top_index)
    left_out = tuple(completed.loc[within & held_back, "trial_id"].astype(str))
    within &= ~held_back
    candidates = completed[within].copy()
    ranked = _rank(candidates, direction, latency_tie)
    top = completed.loc[top_index]
    passed_over = []
    for _, chosen in ranked.iterrows():
        if chosen["trial_id"] == top["trial_id"] or spread is None:
            break
        bound = relative_gap(float(chosen["score"]), best, direction) + \
            CONFIDENCE_Z * spread(str(chosen["trial_id"]), str(top["trial_id"]))
        if bound <= tolerance:
            break
        passed_over.append((str(chosen["trial_id"]), float(bound)))
    return Choice(
        trial_id=str(chosen["trial_id"]),
        top_trial_id=str(top["trial_id"]),
        candidates=tuple(str(t) for t in ranked["trial_id"]),
        tolerance=tolerance,
        threshold=threshold,
        reason=_reason(chosen, top, len(candidates), tolerance, objective, direction,
                       with_ensemble=bool(is_ensemble(candidates).any()), tested=bool(passed_over))
        + _passed_over(passed_over, tolerance) + _left_out(left_out),
        passed_over=tuple(passed_over),
    )


def relative_gap(score: float, best: float, direction: str) -> float:
    """How much worse `score` is than `best`, as a fraction of `best` (0 for the best itself)."""
    worse = score - best if direction == "min" else best - score
    return worse / abs(best) if best else (math.inf if worse > 0 else 0.0)


def _passed_over(passed_over: list[tuple[str, float]], tolerance: float) -> str:
    if not passed_over:
        return ""
    names = ", ".join(f"{candidate_name(t)} (up to {bound:.1%})" for t, bound in passed_over)
    return (f" Passed over, though their scores are within the tolerance: {names}; on paired bootstrap resamples "
            f"of the validation rows, their gap to the top could exceed the {tolerance:.1%} tolerance (one-sided 95 % "
            "bound).")


def _left_out(trial_ids: tuple[str, ...]) -> str:
    if not trial_ids:
        return ""
    return (f" Not candidates, though within the tolerance: {', '.join(map(candidate_name, trial_ids))}, networks over "
            "more inputs than the others, taken only when they score best.")


def _rank(candidates: pd.DataFrame, direction: str, latency_tie: float) -> pd.DataFrame:
    """Candidates best first: the group as fast as the fastest by size then score, then slower, then unmeasured."""
    frame = candidates.copy()
    for column in ("latency_p50_ms", "model_bytes", "params"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce") if column in frame else math.nan
    frame["_score_key"] = frame["score"].astype(float) * (1 if direction == "min" else -1)
    fastest = frame["latency_p50_ms"].min()
    # Within the fastest group latency differences are noise, so size decides there.
    fast = frame["latency_p50_ms"] <= fastest * (1 + latency_tie) if pd.notna(fastest) else frame["score"].isna()
    by_size = ["model_bytes", "params", "_score_key"]
    ranked = pd.concat([
        frame[fast].sort_values(by_size, na_position="last", kind="stable"),
        frame[~fast].sort_values(["latency_p50_ms", *by_size], na_position="last", kind="stable"),
    ])
    return ranked.drop(columns="_score_key")


def candidate_name(trial_id: str) -> str:
    """A candidate in words: "trial 0012", or "the ensemble" of the best trials (`automl.selection.ensemble`)."""
    return "the ensemble" if trial_id == ENSEMBLE_ID else f"trial {trial_id}"


def _reason(chosen: pd.Series, top: pd.Series, count: int, tolerance: float, objective: str, direction: str, *,
            with_ensemble: bool = False, tested: bool = False) -> str:
    """Why `chosen`; `tested`: faster candidates were passed over (`_passed_over` then says which and why)."""
    what = "candidate" if with_ensemble else "trial"  # the best trials' ensemble is a candidate, not a trial
    within = f"the {count} {what}{'s' if count != 1 else ''} within {tolerance:.1%} of the best {objective}"
    if chosen["trial_id"] == top["trial_id"]:
        if tested:
            return (f"{candidate_name(top['trial_id']).capitalize()} has the best {objective} ({top['score']:.4g}; "
                    f"{_speed_and_size(chosen)}).")
        return (f"{candidate_name(top['trial_id']).capitalize()} has the best {objective} ({top['score']:.4g}) and "
                f"is also the fastest and smallest choice among {within} ({_speed_and_size(chosen)}).")
    gap = relative_gap(float(chosen["score"]), float(top["score"]), direction)
    return (
        f"{candidate_name(chosen['trial_id']).capitalize()} is chosen over {candidate_name(top['trial_id'])}, "
        f"the top score: its "
        f"{objective} {chosen['score']:.4g} is {gap:.1%} from the best {top['score']:.4g}, within the {tolerance:.1%} "
        f"tolerance, and among {within} it is the fastest, then smallest"
        f"{', that passes the non-inferiority test' if tested else ''}: {_compare(chosen, top)}."
    )


def _speed_and_size(row: pd.Series) -> str:
    parts = []
    if pd.notna(row.get("latency_p50_ms")):
        parts.append(f"p50 latency {row['latency_p50_ms']:.3g} ms")
    if pd.notna(row.get("model_bytes")):
        parts.append(f"{row['model_bytes'] / 1024:,.0f} KiB on disk")
    if pd.notna(row.get("params")):
        parts.append(f"{int(row['params']):,} parameters")
    return ", ".join(parts) or "latency and size not measured"


def _compare(chosen: pd.Series, top: pd.Series) -> str:
    parts = []
    for column, unit, scale in (("latency_p50_ms", "ms p50 latency", 1.0), ("model_bytes", "KiB", 1024.0),
                                ("params", "parameters", 1.0)):
        a, b = chosen.get(column), top.get(column)
        if pd.notna(a) and pd.notna(b) and a > 0:
            parts.append(f"{_figure(a / scale)} vs {_figure(b / scale)} {unit} ({b / a:.2g}x)")
    return "; ".join(parts) or "latency and size not measured"


def _figure(value: float) -> str:
    """Three significant figures, without an exponent: 0.238, 2,840, 649,000."""
    if abs(value) < 1000:
        return f"{value:.3g}"
    digits = len(str(int(abs(value))))
    return f"{round(value, 3 - digits):,.0f}"
