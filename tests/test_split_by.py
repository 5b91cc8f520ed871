"""Splits by a group column (`group=`, --group, split.group) and in time order (`time=`, --time, split.time)."""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import make_table, write_track

from automl import load_track
from automl.cli import main
from automl.data.tabular import load_tabular
from automl.errors import AutomlError
from automl.families import get_family
from automl.families.own_csv import track_from_csv
from automl.families.own_memory import track_for


def _csv(tmp_path, rows=120, customers=12):
    frame = make_table(rows=rows)
    frame["customer"] = [f"c{i % customers}" for i in range(rows)]
    frame["day"] = pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")[::-1]
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_a_group_is_on_one_side_of_the_split_only_and_is_no_feature(tmp_path):
    path, frame = _csv(tmp_path)
    data = load_tabular(path, "y", "regression", group="customer")
    assert sum(len(getattr(data, part).y) for part in ("train", "validation", "test")) == len(frame)
    assert "customer" not in data.train.x.columns and "customer" not in data.schema.categorical
    loaded = pd.read_csv(path)
    seen = {}  # each part's customers, found by matching its rows (x1 and x2 are distinct) to the CSV
    for part in ("train", "validation", "test"):
        x = getattr(data, part).x
        merged = x.merge(loaded, on=["x1", "x2", "colour"], how="left")
        seen[part] = set(merged["customer"])
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["validation"])
    assert not (seen["validation"] & seen["test"])


def test_in_time_order_the_latest_rows_are_the_test_split(tmp_path):
    path, frame = _csv(tmp_path)
    data = load_tabular(path, "y", "regression", time="day", test=0.2, validation=0.2)
    loaded = pd.read_csv(path)
    days = {part: loaded.merge(getattr(data, part).x, on=["x1", "x2", "colour"])["day"]
            for part in ("train", "validation", "test")}
    assert days["train"].max() < days["validation"].min() <= days["validation"].max() < days["test"].min()
    assert len(data.test.y) == 24 and "day" not in data.train.x.columns


def test_a_group_column_with_one_value_is_one_clear_error(tmp_path):
    path, _ = _csv(tmp_path, customers=1)
    with pytest.raises(AutomlError, match="the group column 'customer' has 1 value; a split by group needs 3 or more"):
        load_tabular(path, "y", "regression", group="customer")


def test_a_time_column_that_is_not_dates_is_one_clear_error(tmp_path):
    path, _ = _csv(tmp_path)
    with pytest.raises(AutomlError, match="the time column 'colour' has values that are neither numbers nor dates"):
        load_tabular(path, "y", "regression", time="colour")


def test_the_written_track_keeps_the_split_and_the_report_says_it(tmp_path):
    path, _ = _csv(tmp_path)
    written = track_from_csv(path, "y", group="customer", tracks_dir=tmp_path / "tracks")
    track = load_track(written.path)
    assert track.split.group == "customer" and "customer" in track.data.drop
    assert "split by group 'customer'" in get_family("mlp").describe_data(track, None)


def test_a_dataframe_search_passes_its_time_column_to_the_track(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, frame = _csv(tmp_path)
    track = load_track(track_for(frame, "y", name="sales", time="day"))
    assert track.split.time == "day" and "day" in track.data.drop


@pytest.mark.parametrize(("extra", "message"), [
    ('group = "x1"\ntime = "x2"', "'split.group' and 'split.time' are both set"),
])
def test_a_track_cannot_split_both_ways(tmp_path, extra, message):
    track = write_track(tmp_path)
    track.write_text(track.read_text().replace("seed = 7", f"seed = 7\n{extra}"))
    with pytest.raises(AutomlError, match=message):
        load_track(track)


def test_group_with_a_track_is_refused_on_the_command_line(tiny_track, capsys):
    assert main(["search", "--track", str(tiny_track), "--group", "colour"]) == 2
    assert "--group go with --csv or --images" in capsys.readouterr().err


def test_images_are_not_split_by_group(tmp_path):
    with pytest.raises(AutomlError, match="group= and time= split the rows of a table"):
        track_for((None, [0]), group="g")
