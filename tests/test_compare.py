"""The report compares the kinds of network a search tried (each text encoder): the best trial of each."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from automl.context import Run
from automl.reporting.page import kinds_lines
from automl.selection.compare import best_of_each
from automl.selection.scoring import HeldOutFigures

TABLE = pd.DataFrame({
    "trial_id": ["1", "2", "3", "4", "5"],
    "status": ["completed", "completed", "completed", "failed", "completed"],
    "score": [0.80, 0.82, 0.75, math.nan, 0.79],
    "text_encoder": ["bag", "embedding", "cnn", "cnn", "bag"],
    "latency_p50_ms": [0.2, 0.3, math.nan, math.nan, 0.2],
})


def test_the_best_trial_of_each_kind_comes_first_by_score():
    best = best_of_each(TABLE, "text_encoder", "max")
    assert list(best["text_encoder"]) == ["embedding", "bag", "cnn"] and list(best["trial_id"]) == ["2", "1", "3"]
    assert list(best_of_each(TABLE, "text_encoder", "min")["trial_id"]) == ["3", "5", "2"]


def test_a_space_of_one_kind_compares_nothing():
    assert best_of_each(TABLE, None, "max").empty
    assert best_of_each(TABLE.drop(columns="text_encoder"), "text_encoder", "max").empty


NOT_TESTED = HeldOutFigures("1", {}, {})  # no kind's test figures measured
CHOICE = SimpleNamespace(trial_id="1", reason="trial 1 is within the tolerance and the fastest.")


def test_the_report_says_which_kind_won_and_at_what_latency():
    lines, best = kinds_lines(Run.open("told_br"), TABLE, CHOICE, NOT_TESTED)
    assert "embedding won: trial 2, val_auc 0.82, p50 latency 0.3 ms" in lines[0]
    assert "bag: trial 1, 0.8, p50 latency 0.2 ms" in lines[0] and "val_auc" in best.columns
    assert "To production: bag (trial 1). trial 1 is within the tolerance" in lines[1]
    assert kinds_lines(Run.open("boston"), TABLE.assign(score=TABLE["score"]), CHOICE, NOT_TESTED) is None  # one kind


def test_each_kinds_test_figures_sit_beside_its_validation_score():
    compared = {"embedding": {"trial_id": "2", "roc_auc": 0.81, "rows": 10}, "bag": {"trial_id": "1", "roc_auc": 0.8}}
    lines, best = kinds_lines(Run.open("told_br"), TABLE, CHOICE, HeldOutFigures("1", {}, {}, compared=compared))
    assert list(best["test_roc_auc"][:2]) == [0.81, 0.8] and math.isnan(best["test_roc_auc"].iloc[2])
    assert "test_rows" not in best and any("never saw" in line for line in lines)
