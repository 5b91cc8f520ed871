"""`model.fixed`: hyperparameters held at one value while the others are searched."""
from __future__ import annotations

import json

import pytest
from conftest import first_trials, write_track

import automl
from automl import load_track
from automl.errors import AutomlError

# periodic_sigma is asked for only under numeric_encoding == "periodic" (a conditional scope), and 0.3 is not its
# default: a Fixed made outside that scope would lose to the oracle's draw for the scoped one.
FIXED = 'fixed = { optimizer = "adam", numeric_encoding = "periodic", periodic_sigma = 0.3, num_layers = 1 }\n'


def _with_model_lines(track_file, lines: str):
    text = track_file.read_text().replace("[model]\n", "[model]\n" + lines)
    track_file.write_text(text)
    return track_file


def test_every_trial_keeps_the_fixed_values_and_the_others_are_searched(tmp_path, results_dir):
    track = _with_model_lines(write_track(tmp_path, search_extra="ensemble = 0\nrefit = 0.0\n"), FIXED)
    assert load_track(track).model.fixed == {"optimizer": "adam", "numeric_encoding": "periodic", "periodic_sigma": 0.3,
                                        "num_layers": 1}
    automl.search(str(track), results_dir=results_dir)
    values = [json.loads(p.read_text())["hyperparameters"]["values"]
              for p in (results_dir / "tiny" / "tuner").glob("trial_*/trial.json")]
    assert len(values) >= 3
    assert all(v["optimizer"] == "adam" and v["numeric_encoding"] == "periodic" and v["num_layers"] == 1
               and v["periodic_sigma"] == 0.3 for v in values)
    assert len({v["learning_rate"] for v in values}) > 1  # the rest is still searched


def test_a_fixed_value_must_be_a_plain_value(tmp_path):
    track = _with_model_lines(write_track(tmp_path), "fixed = { optimizer = [\"adam\"] }\n")
    with pytest.raises(AutomlError, match=r"'model.fixed.optimizer' must be a string, number or boolean"):
        load_track(track)



def _first_trials(track_file, results, count: int, *, opens_with_start: bool | None = None) -> list[dict]:
    """The values of the first `count` trials the track's Hyperband oracle hands out, without Hyperband's own."""
    return [{k: v for k, v in values.items() if not k.startswith("tuner/")}
            for values in first_trials(track_file, results, count, recipe=opens_with_start)]


def test_a_recipes_search_opens_with_its_start_then_draws_what_keras_tuner_would_have(tmp_path):
    recipe = _with_model_lines(write_track(tmp_path), FIXED)
    start, *after = _first_trials(recipe, tmp_path / "a", 3)
    # the fixed values, and every open hyperparameter at its default: Adam's own 1e-3, no dropout (the batch size,
    # declared when the trial trains, is the first of the track's, as in every first trial)
    assert start["optimizer"] == "adam" and start["num_layers"] == 1 and start["numeric_encoding"] == "periodic"
    assert start["learning_rate"] == 1e-3 and start["dropout"] == 0.0
    assert start["l1"] == start["l2"] == 0.0 and start["activation"] == "relu" and start["units_0"] == 16
    # the seed's stream is untouched: the trials after the start are those the same search without it draws
    assert after == _first_trials(recipe, tmp_path / "b", 2, opens_with_start=False)
    assert after[0] != start


def test_a_search_without_a_recipe_opens_with_a_random_draw_as_keras_tuner_does(tmp_path):
    (first,) = _first_trials(write_track(tmp_path), tmp_path / "results", 1)
    assert first["learning_rate"] != 1e-3 and 1e-4 <= first["learning_rate"] <= 1e-2
