"""`model.fixed`: hyperparameters held at one value while the others are searched."""
from __future__ import annotations

import json

import pytest
from conftest import write_track

import automl
from automl.errors import AutomlError
from automl.track import load_track

FIXED = 'fixed = { optimizer = "adam", numeric_encoding = "periodic", num_layers = 1 }\n'


def _with_model_lines(track_file, lines: str):
    text = track_file.read_text().replace("[model]\n", "[model]\n" + lines)
    track_file.write_text(text)
    return track_file


def test_every_trial_keeps_the_fixed_values_and_the_others_are_searched(tmp_path, results_dir):
    track = _with_model_lines(write_track(tmp_path, search_extra="ensemble = 0\nrefit = 0.0\n"), FIXED)
    assert load_track(track).model.fixed == {"optimizer": "adam", "numeric_encoding": "periodic", "num_layers": 1}
    automl.search(str(track), results_dir=results_dir)
    values = [json.loads(p.read_text())["hyperparameters"]["values"]
              for p in (results_dir / "tiny" / "tuner").glob("trial_*/trial.json")]
    assert len(values) >= 3
    assert all(v["optimizer"] == "adam" and v["numeric_encoding"] == "periodic" and v["num_layers"] == 1
               for v in values)
    assert len({v["learning_rate"] for v in values}) > 1  # the rest is still searched


def test_a_fixed_value_must_be_a_plain_value(tmp_path):
    track = _with_model_lines(write_track(tmp_path), "fixed = { optimizer = [\"adam\"] }\n")
    with pytest.raises(AutomlError, match=r"'model.fixed.optimizer' must be a string, number or boolean"):
        load_track(track)
