"""The choice rule on a small table: within tolerance of the best, the fastest, then the smallest."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from automl.errors import SearchFailed
from automl.selection.choice import _figure, choose, score_threshold


def _table(rows):
    columns = ["trial_id", "status", "score", "latency_p50_ms", "model_bytes", "params"]
    return pd.DataFrame(rows, columns=columns)


TRIALS = _table([
    ("top", "completed", 2.00, 1.00, 400_000, 90_000),
    ("close_fast", "completed", 2.03, 0.30, 100_000, 9_000),
    ("far_faster", "completed", 2.50, 0.10, 20_000, 1_000),
    ("failed", "failed", math.nan, math.nan, math.nan, math.nan),
])


def test_fastest_trial_within_tolerance_is_chosen_over_the_top_scoring_one():
    choice = choose(TRIALS, "min", 0.02)
    assert (choice.trial_id, choice.top_trial_id) == ("close_fast", "top")
    assert math.isclose(choice.threshold, 2.04)


def test_trials_outside_the_tolerance_are_never_chosen_however_fast():
    assert "far_faster" not in choose(TRIALS, "min", 0.02).candidates


def test_zero_tolerance_chooses_the_top_scoring_trial():
    choice = choose(TRIALS, "min", 0.0)
    assert choice.trial_id == choice.top_trial_id == "top"


def test_latencies_within_ten_percent_are_a_tie_broken_by_size():
    table = _table([("a", "completed", 1.00, 0.50, 300_000, 30_000), ("b", "completed", 1.01, 0.54, 50_000, 5_000)])
    assert choose(table, "min", 0.02).trial_id == "b"


def test_a_clearly_faster_trial_wins_over_a_smaller_one():
    table = _table([("a", "completed", 1.00, 0.30, 300_000, 30_000), ("b", "completed", 1.01, 0.60, 50_000, 5_000)])
    assert choose(table, "min", 0.02).trial_id == "a"


def test_maximised_objective_tolerance_is_below_the_best():
    table = _table([("a", "completed", 0.80, 1.0, 10, 1), ("b", "completed", 0.79, 0.2, 10, 1),
                    ("c", "completed", 0.70, 0.1, 10, 1)])
    choice = choose(table, "max", 0.02)
    assert choice.trial_id == "b" and math.isclose(choice.threshold, score_threshold(0.80, "max", 0.02))


def test_unmeasured_candidates_come_after_measured_ones():
    table = _table([("a", "completed", 1.00, math.nan, math.nan, math.nan), ("b", "completed", 1.01, 0.9, 10, 1)])
    assert choose(table, "min", 0.02).candidates == ("b", "a")


def test_reason_names_both_trials_and_their_numbers():
    reason = choose(TRIALS, "min", 0.02, objective="val_mae").reason
    assert "Trial close_fast is chosen over trial top, the top score:" in reason
    assert "among the 2 trials within 2.0% of the best val_mae" in reason
    assert "2.03" in reason and "2" in reason and "0.3 vs 1 ms p50 latency (3.3x)" in reason and "2.0%" in reason


def test_reason_writes_sizes_without_exponents():
    assert [_figure(v) for v in (0.238, 2.0, 2838.4, 15402.0, 649123.0)] == ["0.238", "2", "2,840", "15,400", "649,000"]


def test_no_completed_trial_is_a_failed_search_not_a_user_error():
    with pytest.raises(SearchFailed, match="no trial completed"):
        choose(TRIALS[TRIALS["status"] == "failed"], "min", 0.02)


def test_a_candidate_the_validation_rows_cannot_show_as_good_as_the_top_is_passed_over():
    # close_fast is 1.5 % from the top: within the 2 % tolerance on its score, but with a gap that could be
    # 1.5 % + 1.645 x 1 % = 3.1 % on resamples of the rows, over it; the top one passes without a test.
    choice = choose(TRIALS, "min", 0.02, spread=lambda trial, top: 0.01)
    assert choice.trial_id == choice.top_trial_id == "top"
    assert choice.passed_over == (("close_fast", pytest.approx(0.015 + 1.645 * 0.01)),)
    assert "close_fast" in choice.candidates and "Passed over" in choice.reason and "trial close_fast" in choice.reason
    assert "fastest and smallest" not in choice.reason  # close_fast is faster: the top won on the test, not on speed


def test_a_candidate_whose_gap_the_rows_pin_down_is_still_chosen():
    asked = []
    choice = choose(TRIALS, "min", 0.02, spread=lambda trial, top: asked.append((trial, top)) or 0.001)
    assert choice.trial_id == "close_fast" and choice.passed_over == ()
    assert asked == [("close_fast", "top")]


def test_the_next_candidate_is_tried_when_the_fastest_is_passed_over():
    table = _table([("top", "completed", 2.00, 1.00, 400_000, 90_000),
                    ("fastest", "completed", 2.03, 0.20, 100_000, 9_000),
                    ("faster", "completed", 2.01, 0.50, 200_000, 19_000)])
    choice = choose(table, "min", 0.02, spread=lambda trial, top: {"fastest": 0.01, "faster": 0.001}[trial])
    assert choice.trial_id == "faster" and [t for t, _ in choice.passed_over] == ["fastest"]
