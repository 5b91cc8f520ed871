"""The paired bootstrap behind the choice rule's non-inferiority test."""
from __future__ import annotations

import numpy as np

from automl.selection.paired import gap_spread
from automl.selection.scoring import CLASSIFICATION_MEASURES, REGRESSION_MEASURES

MAE = REGRESSION_MEASURES["mae"]


def test_the_same_model_has_no_gap_on_any_resample():
    rng = np.random.default_rng(0)
    y, outputs = rng.normal(size=100), rng.normal(size=100)
    assert gap_spread(y, outputs, outputs, MAE) == 0.0


def test_resamples_are_paired_so_errors_two_models_share_cancel_out():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    top = y + rng.normal(scale=1.0, size=200)
    twin = top + 0.01  # the same errors, shifted: its gap barely moves from resample to resample
    stranger = y + rng.normal(scale=1.0, size=200)  # as good, with errors of its own
    assert gap_spread(y, top, twin, MAE) < 0.1 * gap_spread(y, top, stranger, MAE)


def test_spread_shrinks_with_more_validation_rows():
    rng = np.random.default_rng(2)
    y = rng.normal(size=4000)
    top, other = y + rng.normal(size=4000), y + rng.normal(size=4000)
    small, large = gap_spread(y[:100], top[:100], other[:100], MAE), gap_spread(y, top, other, MAE)
    assert large < 0.3 * small


def test_auc_resamples_of_a_single_class_are_left_out():
    y = np.array([0] * 49 + [1])
    outputs = np.column_stack([np.linspace(1, 0, 50), np.linspace(0, 1, 50)])
    spread = gap_spread(y, outputs, outputs[::-1], CLASSIFICATION_MEASURES["auc"], resamples=50)
    assert np.isfinite(spread) and spread >= 0.0
