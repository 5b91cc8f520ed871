"""Reading a user's CSV as it was saved: separator, decimal mark and encoding found by trying, each said in a note."""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from automl.cli import main
from automl.data.inference import infer
from automl.data.tabular import load_tabular, read_csv
from automl.errors import AutomlError, AutomlWarning

SPANISH = "precio;ciudad;año\n12,5;Peña;2020\n7,25;Logroño;2021\n"


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


# --- encoding ---

def test_latin1_file_is_read_as_windows_1252_with_a_note(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(SPANISH.encode("latin-1"))
    with pytest.warns(AutomlWarning) as notes:
        read = read_csv(path)
    assert [str(note.message).split(": ", 1)[1] for note in notes] == [
        "read as Windows-1252 (it is not UTF-8: byte 0xf1 on line 1)",
        "read with ';' between columns and ',' as the decimal mark (a spreadsheet's CSV)",
    ]
    assert list(read.columns) == ["precio", "ciudad", "año"] and read["ciudad"].tolist() == ["Peña", "Logroño"]


def test_utf8_file_with_a_byte_order_mark_is_read_without_a_note(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "nombre,año\nPeña,2020\n".encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutomlWarning)
        assert list(read_csv(path).columns) == ["nombre", "año"]


def test_undecodable_file_is_a_one_line_error_naming_the_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"x,y\n1,2\n3,\x81\x8d\n")  # 0x81 is neither UTF-8 here nor any Windows-1252 character
    monkeypatch.chdir(tmp_path)
    status = main(["search", "--csv", str(path), "--target", "y"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1, lines
    assert "is neither UTF-8 (byte 0x81 on line 3) nor Windows-1252 (byte 0x81 on line 3)" in lines[0]
    assert "save it as UTF-8" in lines[0]


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(AutomlError, match=r"book\.csv as CSV \(it holds binary data\); save it from the spreadsheet as CSV"):
        read_csv(path)


def test_corrupt_gzip_is_still_unreadable(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(b"x,y\n1,2\n")[:12])
    with pytest.raises(AutomlError, match=r"cannot read .*broken\.csv\.gz as CSV"):
        read_csv(path)


def test_search_csv_says_once_how_it_read_the_file(tmp_path, capsys, monkeypatch):
    path, _ = _spreadsheet_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    status = main(["search", "--csv", str(path), "--target", "Sales"])  # the column-not-found, now a true one
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and lines == [
        "automl: note: ventas.csv: read with ';' between columns and ',' as the decimal mark (a spreadsheet's CSV)",
        "automl: error: ventas.csv: column 'Sales' not found; the columns are: x1, x2, colour, y",
    ]


# --- a target with nothing to predict ---

def test_constant_numeric_target_is_the_same_value_not_a_class(tmp_path):
    path = tmp_path / "flat.csv"
    make_table(rows=30).assign(y=5.0).to_csv(path, index=False)
    message = r"flat\.csv: the target 'y' is the same value \(5\.0\) on every row; there is nothing to predict"
    with pytest.raises(AutomlError, match=message):
        infer(read_csv(path), "y", where=path.name)
    with pytest.raises(AutomlError, match=message):
        load_tabular(path, "y", "regression")


def test_messages_show_plain_values_not_numpy_reprs():
    frame = make_table(rows=40).assign(y=[7] * 36 + [3] * 4)
    with pytest.raises(AutomlError) as raised:
        infer(frame.assign(y=5.0), "y")
    assert "np." not in str(raised.value)
    inference = infer(frame, "y", task="binary")
    assert inference.class_weight_reason == "imbalanced: the rarest class (3) is 10% of rows"


# --- blank targets: rows left out with a note, unless the target is blank on most rows ---

def _blank_target(tmp_path: Path, blank: int, rows: int = 120) -> Path:
    frame = make_table(rows=rows)
    frame.loc[:blank - 1, "y"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    return path


def test_rows_with_a_blank_target_are_left_out_with_a_note(tmp_path):
    path = _blank_target(tmp_path, blank=7)
    with pytest.warns(AutomlWarning, match=r"gaps\.csv: leaving out 7 of 120 rows whose target 'y' is blank "
                                           r"\(line 2, 3, 4, 5, 6, \.\.\.\)"):
        data = load_tabular(path, "y", "regression")
    assert len(data.train.y) + len(data.validation.y) + len(data.test.y) == 113
    assert not np.isnan(data.train.y).any()


def test_the_track_and_the_search_see_the_same_rows(tmp_path):
    path = _blank_target(tmp_path, blank=7)
    with pytest.warns(AutomlWarning, match=r"leaving out 7 of 120 rows"):
        inference = infer(_read_quietly(path), "y", where=path.name)
    assert inference.rows == 113 and inference.task == "regression"


def test_a_target_blank_on_half_the_rows_still_searches(tmp_path):
    with pytest.warns(AutomlWarning, match=r"leaving out 60 of 120 rows"):
        load_tabular(_blank_target(tmp_path, blank=60), "y", "regression")


def test_a_target_blank_on_most_rows_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"gaps\.csv: target 'y' is blank on 61 of 120 rows \(more than 50%\); fill it in"):
        load_tabular(_blank_target(tmp_path, blank=61), "y", "regression")


def test_a_target_blank_on_every_row_is_refused(tmp_path):
    path = _blank_target(tmp_path, blank=120)
    with pytest.raises(AutomlError, match=r"target 'y' is blank on every row; choose another target column"):
        load_tabular(path, "y", "regression")
    with pytest.raises(AutomlError, match=r"target 'y' is empty \(all values missing\); choose another --target"):
        infer(_read_quietly(path), "y")


def test_lines_are_still_named_as_in_the_file_after_rows_are_left_out(tmp_path):
    frame = make_table().astype({"x1": object})
    frame.loc[0, "y"] = np.nan
    frame.loc[9, "x1"] = "n/a?"
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(AutomlError, match=r"column 'x1' is numeric but line 11 holds text \('n/a\?'\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AutomlWarning)
            load_tabular(path, "y", "regression")


def test_utf16_file_from_excel_is_read_with_a_note(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("nombre\tprecio\nPeña\t12,5\nLogroño\t7,25\n".encode("utf-16"))
    with pytest.warns(AutomlWarning) as notes:
        read = read_csv(path)
    assert "unicode.txt: read as UTF-16" in [str(note.message) for note in notes]
    assert read["precio"].tolist() == [12.5, 7.25] and read["nombre"].tolist() == ["Peña", "Logroño"]


def test_zipped_csv_is_read_as_pandas_reads_it(tmp_path):
    path = tmp_path / "table.csv.zip"
    make_table(rows=30).to_csv(path, index=False)  # pandas zips by the file name
    pd.testing.assert_frame_equal(read_csv(path), pd.read_csv(path))
