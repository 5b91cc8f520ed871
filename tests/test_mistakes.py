"""Where the chosen model goes wrong: the largest errors with their raw columns, confused classes, wrong pictures."""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data.schema import Schema
from automl.families import get_family
from automl.selection.mistakes import mistakes


def test_the_rows_with_the_largest_errors_come_with_their_raw_columns():
    schema = Schema(task="regression", target="price", numeric={"area": {}}, categorical={"town": {}})
    x = pd.DataFrame({"area": [50.0, 80.0, 120.0], "town": ["a", "b", "c"], "ignored": [1, 2, 3]})
    found = mistakes(get_family("mlp"), schema, x, np.array([100.0, 200.0, 300.0]), np.array([101.0, 150.0, 290.0]))
    assert found.worst_rows["test_row"].tolist()[:2] == [1, 2]
    assert list(found.worst_rows.columns) == ["test_row", "area", "town", "actual price", "predicted price", "error"]
    assert found.worst_rows["error"].iloc[0] == 50.0 and found.residuals.tolist() == [-1.0, 50.0, 10.0]


def test_the_most_confused_pairs_and_the_most_confident_wrong_pictures():
    schema = Schema(task="multiclass", target="label", classes=["cat", "dog", "ship"], kind="images",
                    image_shape=[2, 2, 3])
    images = np.arange(5 * 12, dtype="uint8").reshape(5, 2, 2, 3)
    y = np.array([0, 0, 0, 1, 2])
    probabilities = np.array([[0.1, 0.9, 0.0], [0.4, 0.6, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.0, 0.7]])
    found = mistakes(get_family("cnn"), schema, images, y, probabilities)
    assert found.confused.iloc[0].tolist()[:3] == ["cat", "dog", 2]
    assert (found.pictures == images[[0, 1]]).all()
    assert found.captions[0] == "true cat\npredicted dog (0.90)"


def test_a_table_classifier_shows_no_pictures():
    schema = Schema(task="binary", target="y", numeric={"a": {}}, classes=["no", "yes"])
    x = pd.DataFrame({"a": [1.0, 2.0]})
    found = mistakes(get_family("mlp"), schema, x, np.array([0, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert found.pictures is None and found.confused["test rows"].sum() == 2
