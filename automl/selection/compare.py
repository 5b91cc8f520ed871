"""The networks a search compared: the best trial of each kind (each text encoder, say), side by side.

A search space may name the hyperparameter that picks the kind of network (`SearchSpace.compared_by`); the
report then shows, for each of its values, the best completed trial with its validation score, speed, size
and training time, so that a reader sees which kind won and what it costs against the others.
"""
from __future__ import annotations

import pandas as pd

from automl.selection.trials import sort_by_score

COLUMNS = ["trial_id", "score", "latency_p50_ms", "rows_per_second", "model_bytes", "params", "seconds"]


def best_of_each(table: pd.DataFrame, by: str | None, direction: str) -> pd.DataFrame:
    """One row per value of `by`: its best completed trial, best first (empty when `by` is not searched); rows
    without a value of `by` are left out."""
    if not by or by not in table:
        return pd.DataFrame(columns=[by or "kind", *COLUMNS])
    # rows of no kind (the ensemble of the best trials, which may mix kinds) are not a kind of their own
    completed = table[table["status"].eq("completed") & table["score"].notna() & table[by].notna()]
    completed = sort_by_score(completed, direction)
    best = completed.drop_duplicates(by, keep="first")
    return best[[by, *[c for c in COLUMNS if c in best]]].reset_index(drop=True)
