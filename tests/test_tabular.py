"""Tables: checks with errors that name the column and the fix, type inference, and the split."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from automl.data.tabular import load_tabular, model_inputs, read_csv
from automl.errors import AutomlError, AutomlWarning


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_split_is_disjoint_and_sized_by_the_fractions(tmp_path):
    data = load_tabular(_csv(tmp_path, make_table(rows=200)), "y", "regression", test=0.2, validation=0.25)
    assert (len(data.train), len(data.validation), len(data.test)) == (110, 50, 40)
    rows = lambda split: set(map(tuple, split.x.round(9).to_numpy().tolist()))
    assert not rows(data.train) & rows(data.test) and not rows(data.train) & rows(data.validation)


def test_split_is_reproducible_with_the_seed(tmp_path):
    path = _csv(tmp_path, make_table())
    first, second = (load_tabular(path, "y", "regression", seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.test.y, second.test.y)


def test_schema_is_learned_on_the_training_split_only(tmp_path):
    data = load_tabular(_csv(tmp_path, make_table()), "y", "regression")
    assert data.schema.numeric["x1"]["mean"] == pytest.approx(data.train.x["x1"].mean())
    assert data.schema.target_mean == pytest.approx(data.train.y.mean(), rel=1e-6)
    assert data.schema.categorical["colour"]["vocabulary"] == sorted(data.train.x["colour"].unique())


def test_text_columns_become_categorical_and_integer_codes_stay_integers(tmp_path):
    frame = make_table().assign(code=lambda f: np.arange(len(f)) % 4)
    data = load_tabular(_csv(tmp_path, frame), "y", "regression", categorical=["code"])
    assert data.schema.categorical["colour"]["dtype"] == "string"
    assert data.schema.categorical["code"] == {"dtype": "int", "vocabulary": [0, 1, 2, 3]}
    assert list(data.schema.numeric) == ["x1", "x2"]


def test_classification_split_keeps_the_class_shares(tmp_path):
    frame = make_table("binary", rows=300)
    frame["y"] = np.where(np.arange(300) % 10 == 0, "rare", "common")
    data = load_tabular(_csv(tmp_path, frame), "y", "binary", positive="rare")
    assert data.schema.classes == ["common", "rare"]
    for split in (data.train, data.validation, data.test):
        assert split.y.mean() == pytest.approx(0.1, abs=0.02)


def test_missing_target_column_lists_the_columns(tmp_path):
    with pytest.raises(AutomlError, match=r"column 'price' not found; the columns are: x1, x2, colour, y"):
        load_tabular(_csv(tmp_path, make_table()), "price", "regression")


def test_rows_with_a_blank_target_are_left_out_with_a_note_naming_their_line(tmp_path):
    # Issue 16: as AutoGluon does, rows without a target are left out and the search goes on (it used to stop).
    frame = make_table()
    frame.loc[4, "y"] = np.nan
    with pytest.warns(AutomlWarning, match=r"leaving out 1 of 120 rows whose target 'y' is blank \(line 6\)"):
        data = load_tabular(_csv(tmp_path, frame), "y", "regression")
    assert len(data.train) + len(data.validation) + len(data.test) == 119


def test_text_in_a_numeric_column_names_the_value(tmp_path):
    frame = make_table().astype({"x2": object})
    frame.loc[9, "x2"] = "n/a?"
    with pytest.raises(AutomlError, match=r"column 'x2' is numeric but line 11 holds text \('n/a\?'\)"):
        load_tabular(_csv(tmp_path, frame), "y", "regression")


def test_text_target_for_regression_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"target 'y' has text .* set task"):
        load_tabular(_csv(tmp_path, make_table("binary")), "y", "regression")


def test_single_class_target_is_refused(tmp_path):
    frame = make_table("binary").assign(y="yes")
    with pytest.raises(AutomlError, match=r"single class \('yes'\)"):
        load_tabular(_csv(tmp_path, frame), "y", "binary")


def test_binary_task_with_three_classes_suggests_multiclass(tmp_path):
    with pytest.raises(AutomlError, match=r"3 classes; set task = \"multiclass\""):
        load_tabular(_csv(tmp_path, make_table("multiclass")), "y", "binary")


def test_too_few_rows_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"has 5 rows; a search needs at least"):
        load_tabular(_csv(tmp_path, make_table(rows=5)), "y", "regression")


def test_all_missing_column_is_refused(tmp_path):
    frame = make_table().assign(empty=np.nan)
    with pytest.raises(AutomlError, match=r"column 'empty' is empty .*data\.drop"):
        load_tabular(_csv(tmp_path, frame), "y", "regression")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(AutomlError, match=r"empty.csv is empty"):
        read_csv(path)


def test_header_only_file_is_refused(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("x1,x2,y\n")
    with pytest.raises(AutomlError, match=r"has a header but no rows"):
        read_csv(path)


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08 not really gzip")
    with pytest.raises(AutomlError, match=r"cannot read .*broken\.csv\.gz as CSV"):
        read_csv(path)


def test_model_inputs_name_the_missing_columns(tmp_path):
    data = load_tabular(_csv(tmp_path, make_table()), "y", "regression")
    with pytest.raises(AutomlError, match=r"input is missing column 'colour'; the model needs: x1, x2, colour"):
        model_inputs(data.test.x.drop(columns=["colour"]), data.schema)


def test_model_inputs_keep_blanks_as_nan_and_empty_token(tmp_path):
    data = load_tabular(_csv(tmp_path, make_table()), "y", "regression")
    rows = pd.DataFrame({"x1": [np.nan], "x2": [1.0], "colour": [None], "extra": ["ignored"]})
    inputs = model_inputs(rows, data.schema)
    assert np.isnan(inputs["x1"][0, 0]) and inputs["colour"][0, 0] == ""
    assert set(inputs) == {"x1", "x2", "colour"}
