"""Track files: the built-in ones load, and every mistake names the file and the key."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_track

from automl import load_track
from automl.errors import AutomlError
from automl.track import infer_direction, parse_duration


@pytest.mark.parametrize("name, task, objective, direction", [
    ("boston", "regression", "val_mae", "min"),
    ("used_cars", "regression", "val_mae", "min"),
    ("caravan", "binary", "val_auc", "max"),
])
def test_builtin_tracks_load_with_their_objective(name, task, objective, direction):
    track = load_track(name)
    assert (track.task, track.objective, track.direction) == (task, objective, direction)
    assert track.data_path().is_file()


def test_unknown_track_lists_the_known_ones():
    with pytest.raises(AutomlError, match=r"unknown track 'bostn'; known tracks: .*boston.*caravan.*used_cars"):
        load_track("bostn")


def test_track_loads_by_path(tiny_track: Path):
    assert load_track(str(tiny_track)).name == "tiny"


def _edit(path: Path, old: str, new: str) -> Path:
    path.write_text(path.read_text().replace(old, new))
    return path


def test_malformed_toml_names_the_file(tiny_track: Path):
    _edit(tiny_track, 'task = "regression"', "task = regression")
    with pytest.raises(AutomlError, match=r"tiny\.toml: not valid TOML"):
        load_track(str(tiny_track))


def test_unknown_key_is_named_with_its_section(tiny_track: Path):
    _edit(tiny_track, "max_epochs = 3", "max_epochs = 3\nmax_epoch = 3")
    with pytest.raises(AutomlError, match=r"unknown key 'search\.max_epoch'; known keys: .*max_epochs"):
        load_track(str(tiny_track))


def test_unknown_section_is_named(tiny_track: Path):
    tiny_track.write_text(tiny_track.read_text() + "\n[serch]\ntuner = 'random'\n")
    with pytest.raises(AutomlError, match=r"unknown section \[serch\]"):
        load_track(str(tiny_track))


def test_wrong_type_is_named_with_what_was_found(tiny_track: Path):
    _edit(tiny_track, "max_epochs = 3", 'max_epochs = "ten"')
    with pytest.raises(AutomlError, match=r"'search\.max_epochs' must be an integer, got str 'ten'"):
        load_track(str(tiny_track))


def test_missing_required_key_is_named(tiny_track: Path):
    _edit(tiny_track, 'objective = "val_mae"', "")
    with pytest.raises(AutomlError, match=r"missing required key 'search\.objective'"):
        load_track(str(tiny_track))


def test_bad_choice_lists_the_allowed_values(tiny_track: Path):
    _edit(tiny_track, 'task = "regression"', 'task = "regresion"')
    with pytest.raises(AutomlError, match=r"'task' is 'regresion'; use one of: regression, binary, multiclass"):
        load_track(str(tiny_track))


def test_objective_must_be_a_validation_metric(tiny_track: Path):
    _edit(tiny_track, 'objective = "val_mae"', 'objective = "mae"')
    with pytest.raises(AutomlError, match=r"select on validation data, e\.g\. 'val_mae'"):
        load_track(str(tiny_track))


def test_nonsense_time_limit_in_track_is_an_error(tiny_track: Path):
    _edit(tiny_track, 'time_limit = "5m"', 'time_limit = "soon"')
    with pytest.raises(AutomlError, match=r"search\.time_limit: 'soon' is not a duration"):
        load_track(str(tiny_track))


def test_tolerance_defaults_to_two_percent(tiny_track: Path):
    assert load_track(str(tiny_track)).search["tolerance"] == 0.02


def test_tolerance_outside_zero_to_one_is_an_error(tiny_track: Path):
    _edit(tiny_track, "patience = 3", "patience = 3\ntolerance = 1.5")
    with pytest.raises(AutomlError, match=r"'search\.tolerance' is 1\.5; use a fraction"):
        load_track(str(tiny_track))


def test_missing_data_file_says_where_it_looked(tmp_path: Path):
    track = load_track(str(write_track(tmp_path)))
    (tmp_path / "tiny.csv").unlink()
    with pytest.raises(AutomlError, match=r"data file 'tiny\.csv' not found \(looked in .*\); fix data\.path"):
        track.data_path()


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("0.5m", 30), (45, 45), ("45", 45)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "abc", "", "-5m", "15 minutes", "5x"])
def test_nonsense_durations_are_refused(text):
    with pytest.raises(AutomlError, match="duration|longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize("objective, direction", [("val_auc", "max"), ("val_accuracy", "max"), ("val_loss", "min"), ("val_mae", "min")])
def test_direction_is_inferred_from_the_objective(objective, direction):
    assert infer_direction(objective) == direction


def test_a_search_recorded_before_a_key_existed_compares_as_it_was():
    from automl.track.sections import search_settings

    current = json.loads(json.dumps(load_track("boston").as_dict()))
    older = json.loads(json.dumps(current))
    del older["model"]["backbones"], older["model"]["image_size"]  # track.json of a search begun before they existed
    assert search_settings(older) == search_settings(current)
    older["model"]["batch_sizes"] = [8]
    assert search_settings(older) != search_settings(current)


def test_a_recorded_track_is_rebuilt_with_its_data_beside_the_file_it_was_read_from(tiny_track, tmp_path, monkeypatch):
    from automl.track.parse import track_from_record

    track = load_track(tiny_track)
    record = json.loads(json.dumps(track.record()))
    monkeypatch.chdir(tmp_path.parent)
    rebuilt = track_from_record(record, tmp_path / "track.json")
    assert rebuilt == track and rebuilt.data_path() == tmp_path.resolve() / "tiny.csv"
