"""`model.start`: a search's first trial, and the known-good network a CSV's track starts from (issue 31)."""
from __future__ import annotations

import json

import pytest
from conftest import first_trials, make_table, write_track

from automl import load_track
from automl.errors import AutomlError
from automl.families.own_csv import track_from_csv
from automl.hypermodels.mlp import START, start_for

START_LINES = "[model.start]\nnum_layers = 2\nunits_0 = 24\nunits_1 = 17\noptimizer = \"adamw\"\nlearning_rate = 3e-3\n"


def _with_start(track_file, lines: str = START_LINES):
    track_file.write_text(track_file.read_text() + "\n" + lines)
    return track_file


def _searched(values: dict) -> dict:
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def test_a_search_opens_with_its_start_trained_to_max_epochs_then_draws_as_before(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    started = _with_start(write_track(tmp_path / "a", max_epochs=9))
    assert load_track(started).model.start["units_1"] == 17
    first, *after = first_trials(started, tmp_path / "ra", 3)
    # the start's values, those of its second layer too (declared only when a trial has two), the rest at defaults
    assert (first["num_layers"], first["units_0"], first["units_1"]) == (2, 24, 17)
    assert first["optimizer"] == "adamw" and first["learning_rate"] == 3e-3 and first["dropout"] == 0.0
    # trained to convergence (early stopping, or the time limit), not for its bracket's first rung
    assert first["tuner/epochs"] == 9 and first["tuner/initial_epoch"] == 0
    assert all(t["tuner/epochs"] < 9 for t in after)
    # the next trial is the first random draw of the same search without a start; the units the start declared
    # early (its second layer's) are drawn too, so the draws after that one differ from such a search's
    (plain,) = first_trials(write_track(tmp_path / "b", max_epochs=9), tmp_path / "rb", 1)
    assert {k: v for k, v in _searched(after[0]).items() if k in plain} == _searched(plain)
    assert set(after[0]) - set(plain) == {"units_1"}


@pytest.mark.parametrize(("lines", "message"), [
    ("[model.start]\nunits_0 = 4000\n", r"'model.start.units_0' is 4000, outside its range \(16 to 32\)"),
    ("[model.start]\noptimizer = \"lion\"\n", r"'model.start.optimizer' is 'lion', outside its range \(one of"),
    ("[model.start]\nwidth = 3\n", r"model.start.width is no hyperparameter of this search; its hyperparameters"),
    ("[model.start]\nnum_layers = 3\nunits_0 = 64\n", r"'model.start.num_layers' is 3, outside its range \(1 to 2\); "
     r"'model.start.units_0' is 64, outside its range \(16 to 32\); change or remove them$"),
])
def test_a_start_outside_the_space_is_one_clear_error(tmp_path, lines, message):
    track = _with_start(write_track(tmp_path), lines)
    with pytest.raises(AutomlError, match=message):
        first_trials(track, tmp_path / "results", 1)


def test_a_start_value_must_be_plain_and_not_also_fixed(tmp_path):
    listed = _with_start(write_track(tmp_path), "[model.start]\noptimizer = [\"adam\"]\n")
    with pytest.raises(AutomlError, match=r"'model.start.optimizer' must be a string, number or boolean"):
        load_track(listed)
    both = write_track(tmp_path, name="both")
    both.write_text(both.read_text().replace("[model]\n", '[model]\nfixed = { optimizer = "adam" }\n'))
    with pytest.raises(AutomlError, match=r"optimizer in both model.fixed and model.start"):
        load_track(_with_start(both, "[model.start]\noptimizer = \"adamw\"\n"))


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_a_csvs_track_carries_the_start_and_runs_it_first(tmp_path, task):
    csv = tmp_path / "mine.csv"
    make_table(task, rows=80).to_csv(csv, index=False)
    written = track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    text = written.path.read_text()
    assert "[model.start]\nnum_layers = 3\n" in text and "[model]" not in text.replace("[model.start]", "")
    track = load_track(written.path)
    assert track.model.start == start_for(task)
    assert ("loss" in track.model.start) == (task == "regression")  # the objective is val_mae: its own loss
    (first,) = first_trials(written.path, tmp_path / "results", 1)
    assert {k: first[k] for k in start_for(task)} == start_for(task)
    assert first["units_2"] == START["units_2"] == 256


def test_a_table_without_numbers_opens_with_the_start_less_its_numeric_encoding(tmp_path):
    csv = tmp_path / "words.csv"
    table = make_table("binary", rows=80)
    table[["colour", "y"]].to_csv(csv, index=False)  # a category and the target: nothing numeric to encode
    written = track_from_csv(csv, "y", tracks_dir=tmp_path / "tracks")
    track = load_track(written.path)
    assert track.model.start == start_for("binary", numeric=False) and "numeric_encoding" not in track.model.start
    (first,) = first_trials(written.path, tmp_path / "results", 1)
    assert {k: first[k] for k in track.model.start} == track.model.start


def test_the_start_trial_is_trained_and_recorded_in_a_real_search(tmp_path, results_dir):
    import automl

    track = _with_start(write_track(tmp_path, max_epochs=4, search_extra="ensemble = 0\nrefit = 0.0\n"))
    automl.search(str(track), results_dir=results_dir, time_limit="40s")
    first = json.loads((results_dir / "tiny" / "tuner" / "trial_0000" / "trial.json").read_text())
    values = first["hyperparameters"]["values"]
    assert first["status"] == "COMPLETED" and values["units_1"] == 17 and values["tuner/epochs"] == 4
