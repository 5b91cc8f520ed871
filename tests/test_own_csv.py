"""Your own CSV: the task and each column's role are inferred by stated rules, and the track written reruns."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from automl import load_track
from automl.cli import main
from automl.data.inference import column_role, infer, infer_task
from automl.errors import AutomlError
from automl.families.own_csv import track_from_csv

ROWS = 60


def _own_table(rows: int = ROWS) -> pd.DataFrame:
    """make_table's binary table plus what real CSVs carry: blanks, an ID, a date and a free-text column."""
    frame = make_table("binary", rows=rows)
    frame.insert(0, "row_id", np.arange(1, rows + 1))
    frame["signed_up"] = pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    frame["comment"] = [f"customer {i} said the service was fine" for i in range(rows)]
    frame.loc[::7, "x1"] = np.nan
    frame.loc[::9, "colour"] = None
    return frame


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "shop.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _read_back(tmp_path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(_csv(tmp_path, frame))  # roles are inferred on what pandas reads, as in real use


# --- the task, from the target ---

def test_numbers_with_many_values_are_regression():
    assert infer_task(pd.Series(np.linspace(0, 1, 50)), "y")[0] == "regression"


def test_two_values_are_binary():
    assert infer_task(pd.Series(["yes", "no"] * 10), "y")[0] == "binary"


def test_a_few_text_labels_are_multiclass():
    assert infer_task(pd.Series(["low", "mid", "high"] * 10), "y")[0] == "multiclass"


def test_a_few_whole_number_labels_are_multiclass():
    assert infer_task(pd.Series([1, 2, 3, 4] * 10), "y")[0] == "multiclass"


def test_many_whole_numbers_are_regression():
    assert infer_task(pd.Series(np.arange(40)), "y")[0] == "regression"


def test_single_class_target_is_refused():
    with pytest.raises(AutomlError, match=r"target 'y' has a single class \('yes'\)"):
        infer_task(pd.Series(["yes"] * 30), "y")


# --- column roles ---

def test_numbers_are_numeric():
    assert column_role(pd.Series(np.linspace(0, 5, 30)), "x")[0] == "numeric"


def test_text_with_few_values_is_categorical():
    assert column_role(pd.Series(["red", "blue", None] * 10), "colour")[0] == "categorical"


def test_whole_numbers_with_few_values_are_categorical():
    assert column_role(pd.Series([1, 2, 3, 4, 5] * 6), "rooms")[0] == "categorical"


def test_a_row_counter_is_id_like():
    assert column_role(pd.Series(np.arange(100, 130)), "number")[0] == "id"


def test_unique_whole_numbers_named_like_an_id_are_id_like():
    assert column_role(pd.Series(np.random.default_rng(0).permutation(30) * 7), "customer_id")[0] == "id"


def test_unique_whole_numbers_that_are_quantities_stay_numeric():
    prices = pd.Series(np.random.default_rng(0).permutation(30) * 1000 + 5)
    assert column_role(prices, "price")[0] == "numeric"


def test_unique_short_text_is_id_like():
    assert column_role(pd.Series([f"AB{i:04d}" for i in range(30)]), "code")[0] == "id"


def test_long_text_is_free_text():
    role, reason = column_role(pd.Series([f"a long comment number {i}" for i in range(30)]), "comment")
    assert role == "text" and "words per value" in reason


def test_dates_are_dropped_as_dates():
    dates = pd.Series(pd.date_range("2024-01-01", periods=30).strftime("%Y-%m-%d"))
    assert column_role(dates, "day")[0] == "date"


def test_a_constant_column_is_dropped():
    assert column_role(pd.Series(["same"] * 30), "unit")[0] == "constant"


def test_an_all_missing_column_is_refused_with_the_fix():
    with pytest.raises(AutomlError, match=r"column 'empty' is empty .*--drop empty"):
        column_role(pd.Series([np.nan] * 30), "empty")


def test_inference_of_a_realistic_csv(tmp_path):
    inference = infer(_read_back(tmp_path, _own_table()), "y")
    assert inference.task == "binary"
    assert inference.numeric == ["x1", "x2"] and inference.categorical == ["colour"]
    assert inference.drop == ["row_id", "signed_up"] and inference.text == ["comment"]  # free text is kept
    assert any(n.startswith("dropping column 'signed_up': dates") for n in inference.notes)


def test_imbalanced_classes_get_balanced_class_weights(tmp_path):
    frame = make_table(rows=100).assign(y=["rare"] * 10 + ["common"] * 90)
    inference = infer(frame, "y")
    assert inference.class_weight == "balanced" and "10%" in inference.class_weight_reason


# --- the track file ---

def test_written_track_validates_and_says_what_was_inferred(tmp_path):
    written = track_from_csv(_csv(tmp_path, _own_table()), "y", tracks_dir=tmp_path / "tracks")
    track = load_track(written.path)
    assert (track.name, track.task, track.objective) == ("shop", "binary", "val_auc")
    assert track.data["categorical"] == ["colour"] and track.data["drop"] == ["row_id", "signed_up"]
    assert track.data["text"] == ["comment"]  # free text is kept
    assert track.data_path().resolve() == (tmp_path / "shop.csv").resolve()
    text = written.path.read_text()
    assert 'path = "../shop.csv"' in text
    assert re.search(r"#\s+comment: text - free text", text) and "# inferred: two distinct values" in text


def test_rerunning_with_the_same_csv_keeps_the_track(tmp_path):
    csv = _csv(tmp_path, _own_table())
    first = track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    stamp = first.path.stat().st_mtime_ns
    second = track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    assert second.path.stat().st_mtime_ns == stamp and "unchanged" in second.notes[-1]


def test_an_edited_track_is_not_overwritten_without_restart(tmp_path):
    csv = _csv(tmp_path, _own_table())
    written = track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    edited = written.path.read_text().replace("max_epochs = 30", "max_epochs = 5")
    written.path.write_text(edited)
    with pytest.raises(AutomlError, match=r"already exists and differs.*--track shop.*--restart"):
        track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    assert written.path.read_text() == edited
    track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks", replace=True)
    assert "max_epochs = 30" in written.path.read_text()


def test_a_name_taken_by_another_track_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"a track named 'boston' already exists"):
        track_from_csv(_csv(tmp_path, _own_table()), "y", name="boston", tracks_dir=tmp_path / "tracks")


def test_given_task_and_class_weight_win_over_inference(tmp_path):
    frame = make_table("multiclass", rows=60)
    written = track_from_csv(_csv(tmp_path, frame), "y", task="multiclass", class_weight="balanced",
                             tracks_dir=tmp_path / "tracks")
    track = load_track(written.path)
    assert track.task == "multiclass" and track.search["class_weight"] == "balanced"


# --- bad input: one line, exit status 2, nothing written ---

def _search_csv(capsys, tmp_path, monkeypatch, frame, *extra):
    monkeypatch.chdir(tmp_path)
    status = main(["search", "--csv", str(_csv(tmp_path, frame)), *extra])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("automl: error: "), err
    assert not (tmp_path / "tracks").exists()
    return lines[0]


def test_missing_target_column_lists_the_columns(tmp_path, capsys, monkeypatch):
    line = _search_csv(capsys, tmp_path, monkeypatch, make_table(), "--target", "price")
    assert "column 'price' not found; the columns are: x1, x2, colour, y" in line


def test_single_class_target_is_one_line(tmp_path, capsys, monkeypatch):
    line = _search_csv(capsys, tmp_path, monkeypatch, make_table().assign(y="yes"), "--target", "y")
    assert "single class ('yes')" in line


def test_all_missing_column_is_one_line(tmp_path, capsys, monkeypatch):
    line = _search_csv(capsys, tmp_path, monkeypatch, make_table().assign(empty=np.nan), "--target", "y")
    assert "column 'empty' is empty" in line


def test_one_row_csv_is_one_line(tmp_path, capsys, monkeypatch):
    line = _search_csv(capsys, tmp_path, monkeypatch, make_table(rows=1), "--target", "y")
    assert "has 1 row; a search needs at least 20" in line


def test_csv_without_target_is_one_line(tmp_path, capsys, monkeypatch):
    line = _search_csv(capsys, tmp_path, monkeypatch, make_table())
    assert "--csv needs --target" in line


def test_csv_options_with_track_are_refused(capsys):
    status = main(["search", "--track", "boston", "--target", "MEDV"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("automl: error: --target go with --csv")
