"""Permutation importance and the leakage warning, on synthetic tables and a model that is a formula."""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.data.schema import Schema
from automl.families import get_family
from automl.selection.importance import Importance, leaks, negligible_columns, permutation_importance
from automl.selection.scoring import objective_measure


class Formula:
    """A stand-in for a Keras model: predicts 3*signal + 0.1*weak from the named inputs, ignores noise."""

    def predict(self, dataset, verbose=0):
        rows = [batch for batch in dataset]
        signal = np.concatenate([b["signal"] for b in rows]).reshape(-1)
        weak = np.concatenate([b["weak"] for b in rows]).reshape(-1)
        return (3.0 * signal + 0.1 * weak).reshape(-1, 1)


def _table(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Schema]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"noise": rng.normal(size=rows), "signal": rng.normal(size=rows),
                          "weak": rng.normal(size=rows)})
    y = (3.0 * frame["signal"] + 0.1 * frame["weak"] + rng.normal(scale=0.1, size=rows)).to_numpy()
    stats = {"mean": 0.0, "variance": 1.0}
    schema = Schema(task="regression", target="y", numeric={c: dict(stats) for c in frame.columns})
    return frame, y, schema


def test_importance_ranks_the_planted_informative_column_first():
    frame, y, schema = _table()
    found = permutation_importance(Formula(), get_family("mlp"), schema, frame, y, objective_measure("val_mae", "regression"))
    assert found.table["column"].tolist() == ["signal", "weak", "noise"]
    assert found.metric == "mae" and found.repeats == 3 and found.rows == len(y)
    assert found.table["importance"].iloc[0] > 1.0 and found.table["std"].iloc[0] > 0


def test_a_column_the_model_ignores_is_named_as_one_it_could_do_without():
    frame, y, schema = _table()
    found = permutation_importance(Formula(), get_family("mlp"), schema, frame, y, objective_measure("val_mae", "regression"))
    assert "noise" in negligible_columns(found) and "signal" not in negligible_columns(found)


def test_families_without_columns_have_no_importance():
    frame, y, schema = _table()
    assert get_family("cnn").columns(schema) == []
    assert permutation_importance(Formula(), get_family("cnn"), schema, frame, y,
                                  objective_measure("val_mae", "regression")) is None


def test_the_leakage_warning_fires_on_a_log_of_the_target_column():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"hours": rng.uniform(10, 50, 300), "age": rng.uniform(18, 65, 300)})
    wage = np.exp(0.02 * frame["hours"] + rng.normal(scale=0.3, size=300)).to_numpy() * 100
    frame["logwage"] = np.log(wage)
    schema = Schema(task="regression", target="wage", numeric={c: {"mean": 0.0, "variance": 1.0} for c in frame})

    class Leaky:
        def predict(self, dataset, verbose=0):
            return np.exp(np.concatenate([b["logwage"] for b in dataset]).reshape(-1, 1))

    found = permutation_importance(Leaky(), get_family("mlp"), schema, frame, wage,
                                   objective_measure("val_mae", "regression"))
    flagged = leaks(found, frame, wage, "regression")
    assert [leak.column for leak in flagged] == ["logwage"]
    assert "rank correlation of 1.000" in flagged[0].message() and "far above the next" in flagged[0].message()


def test_no_leakage_warning_when_two_columns_share_the_signal_with_noise():
    frame, _, schema = _table()
    y = 3.0 * frame["signal"].to_numpy() + 1.5 * frame["weak"].to_numpy()
    y = y + np.random.default_rng(2).normal(scale=1.5, size=len(y))

    class TwoColumns:
        def predict(self, dataset, verbose=0):
            batches = list(dataset)
            return np.concatenate([3.0 * b["signal"] + 1.5 * b["weak"] for b in batches]).reshape(-1, 1)

    found = permutation_importance(TwoColumns(), get_family("mlp"), schema, frame, y,
                                   objective_measure("val_mae", "regression"))
    assert leaks(found, frame, y, "regression") == []


def test_importance_in_the_objectives_direction_for_a_maximised_objective():
    frame, y, schema = _table()
    labels = (y > np.median(y)).astype("int64")
    schema.task, schema.classes = "binary", ["no", "yes"]

    class Classifier:
        def predict(self, dataset, verbose=0):
            signal = np.concatenate([b["signal"] for b in dataset]).reshape(-1, 1)
            return 1.0 / (1.0 + np.exp(-5.0 * signal))

    found = permutation_importance(Classifier(), get_family("mlp"), schema, frame, labels,
                                   objective_measure("val_auc", "binary"))
    assert found.metric == "auc" and found.table["column"].iloc[0] == "signal"
    assert found.table["importance"].iloc[0] > 0.3  # AUC falls from about 0.97 to about 0.5


def test_a_model_of_a_single_column_is_not_flagged_for_relying_on_it():
    # One text column carries all a text model knows: "far above the next column" needs a next column.
    table = pd.DataFrame({"column": ["text"], "importance": [0.3], "std": [0.01], "share": [1.0], "negligible": [False]})
    importance = Importance(table, "auc", 0.8, 0.5, 100, 3)
    x = pd.DataFrame({"text": ["a b c"] * 100})
    assert leaks(importance, x, np.zeros(100), "binary") == []
