"""The diagnosis rules on hand-made learning curves: one per label, and the edge cases."""
from __future__ import annotations

import math

import pandas as pd

from automl.selection.diagnosis import Reference, Thresholds, diagnose, diagnose_trials

FALLING = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.40, 0.39]


def test_steadily_improving_curves_are_healthy():
    found = diagnose({"loss": FALLING, "val_loss": [v + 0.05 for v in FALLING]})
    assert found.label == "healthy" and "still improving" in found.sentence


def test_validation_rising_while_training_falls_is_over_fitting_from_the_best_epoch():
    found = diagnose({"loss": [1.0, 0.6, 0.4, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.7, 0.6, 0.65, 0.7, 0.8]})
    assert found.label == "over-fitting"
    assert found.numbers["overfit_from_epoch"] == 3
    assert math.isclose(found.numbers["val_loss_rise"], 0.8 / 0.6 - 1)
    assert math.isclose(found.numbers["loss_gap"], 0.7)
    assert "from epoch 3" in found.sentence and "33%" in found.sentence


def test_over_fitting_epochs_count_from_the_trials_first_epoch():
    found = diagnose({"loss": [1.0, 0.6, 0.4, 0.3], "val_loss": [1.0, 0.7, 0.8, 0.9]}, epochs=[10, 11, 12, 13])
    assert found.numbers["overfit_from_epoch"] == 12  # Hyperband continued it from epoch 10 (0-based)


def test_one_noisy_epoch_after_the_minimum_is_not_over_fitting():
    found = diagnose({"loss": [1.0, 0.6, 0.4, 0.3], "val_loss": [1.0, 0.7, 0.6, 0.7]})
    assert found.label != "over-fitting"


def test_both_losses_well_above_the_top_trials_is_under_fitting():
    found = diagnose({"loss": [2.0, 1.8, 1.7], "val_loss": [2.1, 1.9, 1.8]}, reference=Reference(1.0, 1.2))
    assert found.label == "under-fitting"
    assert math.isclose(found.numbers["train_loss_vs_top"], 1.7) and math.isclose(found.numbers["val_loss_vs_top"], 1.5)


def test_high_validation_loss_alone_is_not_under_fitting():
    found = diagnose({"loss": [2.0, 1.0, 0.9], "val_loss": [2.1, 1.9, 1.8]}, reference=Reference(1.0, 1.2))
    assert found.label != "under-fitting"


def test_no_improvement_over_the_last_epochs_is_stalled():
    found = diagnose({"loss": [1.0, 0.5] + [0.5] * 6, "val_loss": [1.0, 0.5] + [0.5] * 6})
    assert found.label == "stalled"
    assert found.numbers["epochs_since_best"] == 6 and "last 5 epochs" in found.sentence


def test_stalling_is_judged_on_the_objective_in_its_direction():
    auc = [0.6, 0.7, 0.80, 0.80, 0.80, 0.80, 0.80, 0.85]
    flat_loss = [0.5] * len(auc)
    found = diagnose({"loss": flat_loss, "val_loss": flat_loss, "val_auc": auc}, objective="val_auc", direction="max")
    assert found.label == "healthy"


def test_improvement_just_above_the_threshold_is_healthy_and_just_below_is_stalled():
    thresholds = Thresholds(stall_epochs=2, min_improvement=0.01)
    above = diagnose({"loss": [1.0, 1.0, 1.0, 0.98], "val_loss": [1.0, 1.0, 1.0, 0.985]}, thresholds=thresholds)
    below = diagnose({"loss": [1.0, 1.0, 1.0, 0.98], "val_loss": [1.0, 1.0, 1.0, 0.995]}, thresholds=thresholds)
    assert above.label == "healthy" and below.label == "stalled"


def test_nan_loss_is_diverged_at_its_epoch():
    found = diagnose({"loss": [1.0, 0.8, math.nan], "val_loss": [1.0, 0.9, math.nan]})
    assert found.label == "diverged" and found.numbers["diverged_epoch"] == 3 and "epoch 3" in found.sentence


def test_exploding_training_loss_is_diverged():
    found = diagnose({"loss": [1.0, 0.5, 4.0, 60.0], "val_loss": [1.0, 0.6, 3.0, 50.0]})
    assert found.label == "diverged" and math.isclose(found.numbers["loss_growth"], 120.0)


def test_all_nan_curves_are_diverged_at_the_first_epoch():
    found = diagnose({"loss": [math.nan] * 3, "val_loss": [math.nan] * 3})
    assert found.label == "diverged" and found.numbers["diverged_epoch"] == 1


def test_one_epoch_is_healthy_but_says_it_is_too_short_to_judge():
    found = diagnose({"loss": [0.5], "val_loss": [0.6]})
    assert found.label == "healthy" and "too short" in found.sentence


def test_one_epoch_far_behind_the_top_trial_is_under_fitting():
    found = diagnose({"loss": [3.0], "val_loss": [3.0]}, reference=Reference(1.0, 1.0))
    assert found.label == "under-fitting" and "after 1 epoch" in found.sentence


def test_missing_curves_say_so():
    assert diagnose({}).label == "no curves"


def test_trials_are_judged_against_the_top_trial():
    records = {
        "0": {"history": {"loss": [1.0, 0.3, 0.2], "val_loss": [1.0, 0.4, 0.3]}, "epochs": [0, 1, 2]},
        "1": {"history": {"loss": [1.0, 0.9, 0.8], "val_loss": [1.0, 0.9, 0.8]}, "epochs": [0, 1, 2]},
    }
    columns = diagnose_trials(pd.DataFrame({"trial_id": ["0", "1", "2"]}), records, "0",
                              objective="val_loss", direction="min")
    assert list(columns["diagnosis"]) == ["healthy", "under-fitting", "no curves"]
    assert {"diagnosis_detail", "overfit_from_epoch", "loss_gap", "val_loss_vs_top"} <= set(columns.columns)
