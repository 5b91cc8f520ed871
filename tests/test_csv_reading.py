"""Reading a user's CSV as it was saved: separator and decimal mark found by trying, each said in a note."""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from automl.data.inference import infer
from automl.data.tabular import load_tabular, read_csv
from automl.errors import AutomlError, AutomlWarning


def _spreadsheet_csv(tmp_path: Path, rows: int = 60) -> tuple[Path, pd.DataFrame]:
    """make_table saved the way a Spanish-locale spreadsheet saves it: ';' between columns, decimal commas."""
    frame = make_table(rows=rows)
    path = tmp_path / "ventas.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    return path, frame


def _read_quietly(path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AutomlWarning)
        return read_csv(path)


# --- separator and decimal mark ---

def test_semicolon_csv_with_decimal_commas_is_read_with_a_note(tmp_path):
    path, frame = _spreadsheet_csv(tmp_path)
    with pytest.warns(AutomlWarning, match=r"ventas\.csv: read with ';' between columns and ',' as the decimal mark"):
        read = read_csv(path)
    assert list(read.columns) == ["x1", "x2", "colour", "y"]
    assert np.allclose(read["x1"], frame["x1"]) and read["x2"].dtype == "float64"


def test_semicolon_csv_is_inferred_with_numeric_columns(tmp_path):
    path, _ = _spreadsheet_csv(tmp_path)
    inference = infer(_read_quietly(path), "y", where=path.name)
    assert inference.task == "regression"
    assert inference.numeric == ["x1", "x2"] and inference.categorical == ["colour"]


def test_semicolon_csv_is_searched_with_numeric_columns(tmp_path):
    path, _ = _spreadsheet_csv(tmp_path)
    with pytest.warns(AutomlWarning, match=r"decimal mark"):
        data = load_tabular(path, "y", "regression")
    assert list(data.schema.numeric) == ["x1", "x2"] and list(data.schema.categorical) == ["colour"]


def test_tab_separated_csv_is_read_with_a_note(tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text("a\tb\n1,5\t2\n3,5\t4\n")
    with pytest.warns(AutomlWarning, match=r"read with tabs between columns and ',' as the decimal mark"):
        read = read_csv(path)
    assert read["a"].tolist() == [1.5, 3.5]


def test_semicolon_csv_with_decimal_points_keeps_them(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a;b\n1.5;2\n3.5;4\n")
    with pytest.warns(AutomlWarning, match=r"read with ';' between columns \(a spreadsheet's CSV\)"):
        assert read_csv(path)["a"].tolist() == [1.5, 3.5]


def test_comma_csv_is_read_as_pandas_reads_it_without_a_note(tmp_path):
    frame = make_table(rows=30).assign(note="a; b")  # semicolons inside a comma CSV do not make it a ';' CSV
    path = tmp_path / "plain.csv.gz"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutomlWarning)
        read = read_csv(path)
    pd.testing.assert_frame_equal(read, pd.read_csv(path))


def test_corrupt_gzip_is_still_unreadable(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(b"x,y\n1,2\n")[:12])
    with pytest.raises(AutomlError, match=r"cannot read .*broken\.csv\.gz as CSV"):
        read_csv(path)
