"""The decision threshold: the probability that maximises the decision metric, on toy cases with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from automl.data.schema import Schema
from automl.selection.threshold import binary_threshold, decision_threshold, out_of_bag_gain


def test_separable_classes_get_the_threshold_halfway_between_them():
    y = np.array([0, 0, 0, 1, 1])
    assert decision_threshold(y, np.array([0.1, 0.2, 0.3, 0.4, 0.9])) == (pytest.approx(0.35), 1.0)


def test_rare_positives_with_low_probabilities_get_a_threshold_well_below_one_half():
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0.05, 0.1, 0.1, 0.15, 0.2, 0.3])
    threshold, best = decision_threshold(y, p)
    assert threshold == pytest.approx(0.175) and best == 1.0
    assert balanced_accuracy_score(y, p >= 0.5) == 0.5  # at 0.5 it never says yes


@pytest.mark.parametrize("metric, score", [("balanced_accuracy", balanced_accuracy_score), ("f1", f1_score)])
def test_the_threshold_found_is_the_best_of_every_threshold_tried_one_by_one(metric, score):
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=300) < 0.2).astype("int64")
    p = np.clip(0.15 + 0.3 * y + rng.normal(scale=0.15, size=300), 0, 1).round(2)
    threshold, best = decision_threshold(y, p, metric)
    brute = max(score(y, p >= t) for t in np.unique(p))
    assert best == pytest.approx(brute) and score(y, p >= threshold) == pytest.approx(brute)


def test_a_threshold_that_only_fits_validation_noise_leaves_one_half_in_place():
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=1000) < 0.06).astype("int64")
    p = np.clip(0.5 + 0.1 * (y - 0.5) + rng.normal(scale=0.15, size=1000), 0, 1)  # balanced around 0.5
    schema = Schema(task="binary", target="y", classes=["no", "yes"])
    two = lambda q: np.stack([1 - q, q], axis=1)  # noqa: E731
    found = binary_threshold(schema, "balanced_accuracy", (y, two(p)), (y, two(p)))
    assert found.validation["at_threshold"] > found.validation["at_0.5"]  # the search always finds some gain...
    assert found.gain <= 0 and found.value == 0.5 and not found.used_searched  # ...that does not hold out of bag


def test_a_rare_class_that_never_reaches_one_half_gets_the_searched_threshold():
    rng = np.random.default_rng(2)
    y = (rng.uniform(size=1000) < 0.06).astype("int64")
    p = np.clip(0.05 + 0.15 * y + rng.normal(scale=0.04, size=1000), 0, 1)
    schema = Schema(task="binary", target="y", classes=["no", "yes"])
    two = lambda q: np.stack([1 - q, q], axis=1)  # noqa: E731
    found = binary_threshold(schema, "balanced_accuracy", (y, two(p)), (y, two(p)))
    assert out_of_bag_gain(y, p) > 0.2 and found.used_searched and found.value < 0.3
    assert found.test_metrics()["decision_threshold"] == found.value
