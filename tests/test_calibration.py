"""The Brier score and the reliability curve, on hand-made probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from automl.selection.calibration import brier_score, calibration, reliability


def test_brier_score_is_zero_for_certain_right_answers_and_the_usual_formula_for_two_classes():
    y = np.array([0, 1, 1, 0])
    assert brier_score(y, np.eye(2)[y]) == 0.0
    p = np.array([0.2, 0.7, 0.6, 0.1])
    assert brier_score(y, np.stack([1 - p, p], axis=1)) == pytest.approx(np.mean((p - y) ** 2))


def test_brier_score_of_several_classes_sums_over_the_classes():
    y = np.array([0, 2])
    p = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    assert brier_score(y, p) == pytest.approx((0.25 + 0.0625 + 0.0625) / 2)


def test_reliability_of_calibrated_probabilities_follows_the_diagonal():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=p.size) < p).astype("int64")
    curve = reliability(y, np.stack([1 - p, p], axis=1))
    assert len(curve.predicted) == 10 and curve.rows.sum() == p.size
    assert np.abs(curve.predicted - curve.observed).max() < 0.03


def test_reliability_of_several_classes_is_the_confidence_against_accuracy():
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.95, 0.05, 0.0], [0.05, 0.95, 0.0], [0.96, 0.04, 0.0], [0.0, 0.0, 1.0]])
    curve = reliability(y, p)
    assert curve.predicted.tolist() == pytest.approx([0.965]) and curve.observed.tolist() == [0.75]


def test_a_regression_has_no_calibration():
    assert calibration({"validation": (np.zeros(3), np.zeros(3))}) is None
